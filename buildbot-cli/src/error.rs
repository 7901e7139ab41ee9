//! Error kinds of the `buildbot` command and their exit codes.
//!
//! | kind | exit code | examples |
//! |---|---|---|
//! | (success) | 0 | also `stop` when nothing was running |
//! | `Usage` | 1 | wrong number of arguments, invalid option value, no command |
//! | `InvalidDirectory` | 1 | no `buildbot.tac`, a slave directory, a Python tac, a moved directory |
//! | `AlreadyRunning` | 1 | `start` or `upgrade-master` while the master of this directory runs |
//! | `Config` | 1 | `checkconfig`, `start`, `upgrade-master` found configuration errors |
//! | `Database` | 1 | unparsable URL, unreachable server, out-of-date schema |
//! | `StartFailed` | 1 | the daemon reported a failure or exited |
//! | `NotConfirmed` | 1 | no "BuildMaster is running" within the start timeout |
//! | `StopTimedOut` | 1 | the process did not go away after SIGTERM |
//! | `NotRunning` | 1 | `reconfig` without a running master |
//! | `ReconfigFailed` | 1 | reconfig aborted, or no progress within the timeout |
//! | `Retired` | 1 | `statuslog`, `statusgui`, `debugclient` |
//! | `Failure` | 1 | any other error (I/O, ...) |

use std::fmt;

/// Kinds of failure, each with its documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Usage,
    InvalidDirectory,
    AlreadyRunning,
    Config,
    Database,
    StartFailed,
    NotConfirmed,
    StopTimedOut,
    NotRunning,
    ReconfigFailed,
    Retired,
    Failure,
}

impl ErrorKind {
    /// The exit code of this kind of failure (the table above).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage
            | ErrorKind::InvalidDirectory
            | ErrorKind::AlreadyRunning
            | ErrorKind::Config
            | ErrorKind::Database
            | ErrorKind::StartFailed
            | ErrorKind::NotConfirmed
            | ErrorKind::StopTimedOut
            | ErrorKind::NotRunning
            | ErrorKind::ReconfigFailed
            | ErrorKind::Retired
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
                "{problem}\nUsage: buildbot {subcommand} {synopsis}\nTry 'buildbot {subcommand} --help' for more information."
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
