use std::io;
use std::path::PathBuf;

/// Errors of the process-life utilities ([`crate::daemon`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// A file or directory operation failed.
    #[error("{what} '{}'", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot create", ...).
        what: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A system call failed.
    #[error("{call} failed")]
    Sys {
        /// The call ("fork", "setsid", "pipe", ...).
        call: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The pid file names a live process that is this daemon.
    #[error("already running, pid {pid} (from '{}')", path.display())]
    AlreadyRunning {
        /// The running process.
        pid: u32,
        /// The pid file.
        path: PathBuf,
    },
    /// A BASEDIR argument could not be turned into a path (e.g. `~user`).
    #[error("cannot expand '{arg}': {reason}")]
    BadPath {
        /// The argument as given.
        arg: String,
        /// Why.
        reason: String,
    },
    /// A TOML file (e.g. `buildbot.tac`) is malformed.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error (0 if unknown).
        line: usize,
        /// 1-based column of the error (0 if unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// [`crate::daemon::daemonize`] was called in a process that already runs threads
    /// (fork would copy only the calling one).
    #[error(
        "cannot daemonize: the process already runs {0} threads (daemonize before starting any)"
    )]
    ThreadsRunning(usize),
    /// Logging was already initialised in this process.
    #[error("logging already initialised")]
    LoggingAlreadySet,
}

impl DaemonError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        DaemonError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(call: &'static str) -> Self {
        DaemonError::Sys {
            call,
            source: io::Error::last_os_error(),
        }
    }
}
