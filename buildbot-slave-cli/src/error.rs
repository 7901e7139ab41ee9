//! Error kinds of the `buildslave` command and their exit codes.
//!
//! | kind | exit code | examples |
//! |---|---|---|
//! | (success) | 0 | also `stop` when nothing was running |
//! | `Usage` | 1 | wrong number of arguments, invalid option value |
//! | `InvalidDirectory` | 1 | no `buildbot.tac`, a master directory, a Python tac |
//! | `AlreadyRunning` | 1 | `start` while the slave of this directory runs |
//! | `StartFailed` | 1 | the daemon reported a failure or exited |
//! | `NotConfirmed` | 1 | no connection to the master within the start timeout |
//! | `StopTimedOut` | 1 | the process did not go away after SIGTERM |
//! | `Failure` | 1 | any other error (I/O, ...) |

use std::fmt;

/// Kinds of failure, each with its documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Usage,
    InvalidDirectory,
    AlreadyRunning,
    StartFailed,
    NotConfirmed,
    StopTimedOut,
    Failure,
}

impl ErrorKind {
    /// The exit code of this kind of failure (the table above).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage
            | ErrorKind::InvalidDirectory
            | ErrorKind::AlreadyRunning
            | ErrorKind::StartFailed
            | ErrorKind::NotConfirmed
            | ErrorKind::StopTimedOut
            | ErrorKind::Failure => 1,
        }
    }
}

/// An error the command reports to the user.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub message: String,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
        }
    }

    /// A usage error of `subcommand`: the problem, then the usage line.
    pub fn usage(subcommand: &str, problem: impl fmt::Display) -> Self {
        let synopsis = crate::cli::synopsis(subcommand);
        CliError::new(
            ErrorKind::Usage,
            format!(
                "{problem}\nUsage: buildslave {subcommand} {synopsis}\nTry 'buildslave {subcommand} --help' for more information."
            ),
        )
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Exit code for an error returned by `run`.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.downcast_ref::<CliError>()
        .map_or(ErrorKind::Failure, |c| c.kind)
        .exit_code()
}
