//! The terminal side of the `buildbot` and `buildslave` programs, for those two binaries
//! only: the kinds of failure with the exit codes they document ([`ErrorKind`],
//! [`CliError`], [`finish`]), what they print ([`say`], [`error`]), and the messages both
//! programs give alike (usage errors, pid-file and stop reports) for the [`Program`] they
//! run as.
//!
//! The rest of the library never prints; this module is the binaries' own code, kept here
//! so that both programs share one copy (the slave links `buildbot-core` without its
//! `master` feature).
//!
//! | kind | exit code | examples |
//! |---|---|---|
//! | (success) | 0 | also `stop` when nothing was running |
//! | [`Usage`](ErrorKind::Usage) | 1 | wrong number of arguments, invalid option value, no command |
//! | [`InvalidDirectory`](ErrorKind::InvalidDirectory) | 1 | no `buildbot.tac`, the other program's directory, a Python tac, a moved directory |
//! | [`AlreadyRunning`](ErrorKind::AlreadyRunning) | 1 | `start` (or `upgrade-master`) while the daemon of this directory runs |
//! | [`Config`](ErrorKind::Config) | 1 | `buildbot checkconfig`, `start`, `upgrade-master` found configuration errors |
//! | [`Database`](ErrorKind::Database) | 1 | `buildbot`: unparsable URL, unreachable server, out-of-date schema |
//! | [`StartFailed`](ErrorKind::StartFailed) | 1 | the daemon reported a failure or exited |
//! | [`NotConfirmed`](ErrorKind::NotConfirmed) | 1 | no "BuildMaster is running" (`buildbot`), no connection to the master (`buildslave`) within the start timeout |
//! | [`StopTimedOut`](ErrorKind::StopTimedOut) | 1 | the process did not go away after SIGTERM |
//! | [`NotRunning`](ErrorKind::NotRunning) | 1 | `buildbot reconfig` without a running master |
//! | [`ReconfigFailed`](ErrorKind::ReconfigFailed) | 1 | `buildbot reconfig`: aborted, or no progress within the timeout |
//! | [`Retired`](ErrorKind::Retired) | 1 | `buildbot statuslog`, `statusgui`, `debugclient` |
//! | [`Failure`](ErrorKind::Failure) | 1 | any other error (I/O, ...) |
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{DaemonError, PidFile, Signal, StopOutcome, apply_umask, expand_basedir, log_line_now};

/// Kinds of failure of a command, each with its documented exit code (the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command line is wrong.
    Usage,
    /// The base directory is not one the program can use.
    InvalidDirectory,
    /// The daemon of the directory already runs.
    AlreadyRunning,
    /// The master's configuration has errors.
    Config,
    /// The master's database cannot be used.
    Database,
    /// The daemon reported a failure or exited.
    StartFailed,
    /// The daemon did not confirm its start within the start timeout.
    NotConfirmed,
    /// The daemon did not go away after being signalled.
    StopTimedOut,
    /// The command needs a running master and none runs.
    NotRunning,
    /// A reconfiguration failed or made no progress.
    ReconfigFailed,
    /// The command was retired.
    Retired,
    /// Any other failure.
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

/// An error a command reports to the user: its kind (hence its exit code) and the text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct CliError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// What the user reads.
    pub message: String,
}

impl CliError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
        }
    }
}

/// The `--help` paragraph on exit statuses, in both programs (the table above in short).
pub const EXIT_STATUS_HELP: &str =
    "Exit status: 0 on success (also `stop` when nothing runs), 1 on any failure or usage error.";

/// The program the shared code runs in, as its messages name it.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The command: `buildbot` or `buildslave` (usage lines, pid-file ownership,
    /// "buildbot process 42 is dead").
    pub name: &'static str,
    /// What its daemon is called: `buildmaster` or `buildslave`.
    pub daemon: &'static str,
    /// The synopsis of each subcommand, for usage errors.
    pub synopsis: fn(&str) -> &'static str,
}

impl Program {
    /// A usage error of `subcommand`: the problem, then the usage line and where to find
    /// help.
    pub fn usage(&self, subcommand: &str, problem: impl fmt::Display) -> CliError {
        let (program, synopsis) = (self.name, (self.synopsis)(subcommand));
        CliError::new(
            ErrorKind::Usage,
            format!(
                "{problem}\nUsage: {program} {subcommand} {synopsis}\nTry '{program} {subcommand} --help' for more information."
            ),
        )
    }

    /// The BASEDIR argument of `subcommand`, expanded ([`expand_basedir`]): at most one,
    /// none is the current directory.
    pub fn basedir(&self, subcommand: &str, args: &[String]) -> Result<PathBuf, CliError> {
        if args.len() > 1 {
            return Err(self.usage(subcommand, "I wasn't expecting so many arguments"));
        }
        expand_basedir(args.first().map(String::as_str)).map_err(|e| self.usage(subcommand, e))
    }

    /// The `--log-count` of `subcommand`: a number of rotated log files, or `None` (all).
    pub fn log_count(&self, subcommand: &str, arg: &str) -> Result<Option<u32>, CliError> {
        if arg == "None" {
            return Ok(None);
        }
        let count = arg.trim().parse::<u32>().map_err(|_| {
            self.usage(subcommand, "log-count parameter needs to be an int or None")
        })?;
        Ok(Some(count))
    }

    /// Refuses a directory that was moved: its tac (at `tac_path`) records `recorded` as
    /// the base directory, not `basedir`, and is not relocatable (`basedir = "."`).
    pub fn check_location(
        &self,
        tac_path: &Path,
        recorded: &str,
        basedir: &Path,
    ) -> Result<(), CliError> {
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let recorded = Path::new(recorded);
        if recorded == Path::new(".") || canonical(recorded) == canonical(basedir) {
            return Ok(());
        }
        Err(CliError::new(
            ErrorKind::InvalidDirectory,
            format!(
                "{}: this {} was created in '{}' but is now in '{}'; set basedir = \"{}\" (or \".\" to make it relocatable) in buildbot.tac",
                tac_path.display(),
                self.daemon,
                recorded.display(),
                basedir.display(),
                basedir.display()
            ),
        ))
    }

    /// The pid file of the daemon of `basedir`.
    pub fn pid_file(&self, basedir: &Path) -> PidFile {
        PidFile::new(basedir, self.name)
    }

    /// The pid-file check before a start: a stale or invalid `twistd.pid` is removed
    /// (saying so unless `quiet`); when the daemon runs in `basedir` already, an
    /// [`ErrorKind::AlreadyRunning`] error.
    pub fn clear_stale_pid_file(&self, basedir: &Path, quiet: bool) -> Result<(), CliError> {
        let (pidfile, daemon) = (self.pid_file(basedir), self.daemon);
        match pidfile.check_and_clear() {
            Ok(None) => {}
            Ok(Some(Some(old))) => say(
                quiet,
                &format!(
                    "removing stale pid file {} (process {old} is not this {daemon})",
                    pidfile.path().display()
                ),
            ),
            Ok(Some(None)) => say(
                quiet,
                &format!("removing invalid pid file {}", pidfile.path().display()),
            ),
            Err(DaemonError::AlreadyRunning { pid, .. }) => {
                return Err(CliError::new(
                    ErrorKind::AlreadyRunning,
                    format!(
                        "{daemon} in '{}' is already running, pid {pid}",
                        basedir.display()
                    ),
                ));
            }
            Err(e) => return Err(CliError::new(ErrorKind::Failure, e.to_string())),
        }
        Ok(())
    }

    /// Tells how a `stop` that sent `signal` went (unless `quiet`); a daemon still there
    /// after the wait is an [`ErrorKind::StopTimedOut`] error.
    pub fn report_stop(
        &self,
        outcome: StopOutcome,
        signal: Signal,
        quiet: bool,
    ) -> Result<(), CliError> {
        let (program, daemon) = (self.name, self.daemon);
        match outcome {
            StopOutcome::Dead(pid) => say(quiet, &format!("{program} process {pid} is dead")),
            StopOutcome::Signalled(pid) => {
                say(quiet, &format!("sent {} to process {pid}", signal.name()));
            }
            StopOutcome::StillRunning(_) => {
                return Err(CliError::new(
                    ErrorKind::StopTimedOut,
                    "never saw process go away",
                ));
            }
            StopOutcome::StaleRemoved(_) => say(
                quiet,
                &format!("{daemon} not running (removed a stale twistd.pid)"),
            ),
            _ => say(quiet, &format!("{daemon} not running")),
        }
        Ok(())
    }

    /// Tells how the stop before a restart went (unless `quiet`) and whether a daemon was
    /// stopped; a daemon still there after the wait is an [`ErrorKind::StopTimedOut`] error
    /// (a second one is not started).
    pub fn report_stop_for_restart(
        &self,
        outcome: StopOutcome,
        quiet: bool,
    ) -> Result<bool, CliError> {
        let program = self.name;
        match outcome {
            StopOutcome::Dead(pid) => {
                say(quiet, &format!("{program} process {pid} is dead"));
                say(quiet, &format!("now restarting {program} process.."));
                Ok(true)
            }
            StopOutcome::StillRunning(_) => Err(CliError::new(
                ErrorKind::StopTimedOut,
                "never saw process go away; not starting a second one",
            )),
            _ => Ok(false),
        }
    }
}

/// Running in the foreground (`--nodaemon`): changes into `basedir` and applies the tac's
/// `umask`, as [`daemonize`](super::daemonize) does for a daemon.
pub fn enter_foreground(basedir: &Path, umask: Option<u32>) -> Result<(), CliError> {
    std::env::set_current_dir(basedir).map_err(|e| {
        CliError::new(
            ErrorKind::StartFailed,
            format!("cannot change into '{}': {e}", basedir.display()),
        )
    })?;
    if let Some(mask) = umask {
        apply_umask(mask);
    }
    Ok(())
}

/// Progress text on stdout, unless quiet.
pub fn say(quiet: bool, msg: &str) {
    if !quiet {
        println!("{msg}");
        let _ = std::io::stdout().flush();
    }
}

/// Warnings and errors on stderr (never suppressed by `-q`).
pub fn error(msg: &str) {
    eprintln!("{msg}");
}

/// Reports a command line that did not parse: `help` (the text of `--help`) goes to stdout
/// with status 0, anything else is a usage error on stderr (status 1, as documented).
pub fn parse_failed(message: &str, help: bool) -> ExitCode {
    if help {
        println!("{message}");
        ExitCode::SUCCESS
    } else {
        eprintln!("{message}");
        ExitCode::from(ErrorKind::Usage.exit_code())
    }
}

/// What `main` returns for the result of a command: its exit code, or the error printed
/// once on stderr with its causes (`error: cause: cause`, as `anyhow` writes `{:#}`) and
/// the exit code of its kind ([`ErrorKind::Failure`] unless a [`CliError`] says otherwise).
pub fn finish<E: AsRef<dyn Error>>(result: Result<ExitCode, E>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            let (text, kind) = describe(e.as_ref());
            error(&text);
            ExitCode::from(kind.exit_code())
        }
    }
}

/// The text of `e` with its causes, and the kind of the first [`CliError`] among them.
fn describe(e: &(dyn Error + 'static)) -> (String, ErrorKind) {
    let mut text = e.to_string();
    let mut kind = e.downcast_ref::<CliError>().map(|c| c.kind);
    let mut cause = e.source();
    while let Some(c) = cause {
        let _ = write!(text, ": {c}");
        kind = kind.or_else(|| c.downcast_ref::<CliError>().map(|c| c.kind));
        cause = c.source();
    }
    (text, kind.unwrap_or(ErrorKind::Failure))
}

/// Leaves the reason of a failed start in an existing `basedir/twistd.log` too, so a start
/// from cron or init that fails is visible where the daemon's log is read.
pub fn note_start_failure(basedir: &Path, msg: &str) {
    let path = basedir.join("twistd.log");
    if !path.is_file() {
        return;
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
        for line in msg.lines() {
            let _ = f.write_all(log_line_now("start", &format!("start failed: {line}")).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_name_program_and_subcommand() {
        const SLAVE: Program = Program {
            name: "buildslave",
            daemon: "buildslave",
            synopsis: |_| "[options] [BASEDIR]",
        };
        let e = SLAVE.usage("start", "too many");
        assert_eq!(e.kind, ErrorKind::Usage);
        assert_eq!(
            e.to_string(),
            "too many\nUsage: buildslave start [options] [BASEDIR]\nTry 'buildslave start --help' for more information."
        );
        let e = SLAVE
            .basedir("stop", &["a".into(), "b".into()])
            .unwrap_err();
        assert!(
            e.message
                .starts_with("I wasn't expecting so many arguments\nUsage: buildslave stop")
        );
        assert_eq!(SLAVE.log_count("create-slave", "None").unwrap(), None);
        assert_eq!(SLAVE.log_count("create-slave", " 7").unwrap(), Some(7));
        assert!(SLAVE.log_count("create-slave", "x").is_err());
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start")]
    struct Outer(#[source] CliError);

    #[test]
    fn errors_are_described_with_their_causes_and_kind() {
        let e = Outer(CliError::new(ErrorKind::StopTimedOut, "still running"));
        assert_eq!(
            describe(&e),
            (
                "cannot start: still running".to_owned(),
                ErrorKind::StopTimedOut
            )
        );
        let e = std::io::Error::other("disk full");
        assert_eq!(describe(&e), ("disk full".to_owned(), ErrorKind::Failure));
    }
}
