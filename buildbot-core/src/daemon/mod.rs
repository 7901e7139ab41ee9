//! Process-life utilities shared by the `buildbot` and `buildslave` programs.
//!
//! Everything a long-running Buildbot daemon needs around its actual work, in the
//! shape Twisted's `twistd` gave it to the Python programs:
//!
//! * [`PidFile`]: `twistd.pid` with liveness *and* ownership checks, so a stale file
//!   left by a crash (or naming a recycled pid) never blocks a start;
//! * [`daemonize`]: double fork + `setsid` with a readiness pipe, so the launching
//!   command learns whether the daemon really started ([`Launcher::wait`]);
//! * [`LogFile`] and [`init_logging`]: `twistd.log` in Twisted's line layout, size
//!   rotation (`twistd.log.1` … `.N`) or re-open-after-move for external `logrotate`;
//!   [`LogFollower`] reads it as it grows (across a rotation);
//! * [`Signals`]: SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2 as async events;
//! * [`stop`]: the `stop` command (signal the pid, wait for it to go away);
//! * [`expand_basedir`] and [`read_tac`]: BASEDIR arguments and TOML `buildbot.tac`
//!   files with `file:line:col` in errors; [`tac_head`], [`toml_string`],
//!   [`toml_setting`] and [`tac_rotation`] to write them;
//! * [`ui`], for the two binaries only: their terminal output, error kinds and exit codes.
//!
//! Nothing here is specific to the master or the slave, and nothing outside [`ui`]
//! prints: the programs decide what the user sees.
//!
//! The order matters: a program must call [`daemonize`] before any thread exists
//! (before the async runtime starts), then set up logging, then its runtime; once
//! it is really up it calls [`Readiness::ready`].
//!
//! ```no_run
//! use buildbot_core::daemon::{self, DaemonOptions, Detached};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let basedir = daemon::expand_basedir(Some("~/slave"))?;
//! let opts = DaemonOptions::new(&basedir);
//! match daemon::daemonize(&opts)? {
//!     Detached::Parent(launcher) => {
//!         let outcome = launcher.wait(|line| eprintln!("{line}"));
//!         println!("{outcome:?}");
//!     }
//!     Detached::Daemon(mut readiness) => {
//!         // set up logging, start the runtime, then:
//!         readiness.ready();
//!     }
//! }
//! # Ok(()) }
//! ```

mod detach;
mod error;
mod executor;
mod follow;
mod logfile;
mod memory;
mod paths;
mod pidfile;
mod signals;
mod stop;
pub mod ui;
mod umask;

pub use detach::{
    DEFAULT_DAEMON_UMASK, DEFAULT_START_TIMEOUT, DaemonOptions, Detached, LaunchOutcome, Launcher,
    Readiness, apply_umask, daemonize, running_as_root, start_timeout_from_env,
};
pub use error::DaemonError;
pub use executor::{init_executor, master_executor_threads};
pub use follow::LogFollower;
pub use logfile::{
    DEFAULT_MAX_ROTATED_FILES, DEFAULT_ROTATE_LENGTH, LogFile, LogHandle, LogTarget, Rotation,
    format_log_line, init_logging, log_component, log_line_now,
};
pub use memory::{
    IDLE_RELEASE_AFTER, release_idle_memory, release_memory_when_idle, release_program_pages,
};
pub use paths::{
    TAC_FILE_NAME, TacText, expand_basedir, parse_toml, read_tac, tac_head, tac_rotation,
    toml_setting, toml_string,
};
pub use pidfile::{PID_FILE_NAME, PidFile, PidStatus, process_exists};
pub use signals::{Signal, Signals};
pub use stop::{DEFAULT_STOP_WAIT, StopOutcome, send_signal, stop};
pub use umask::{deserialize_umask, parse_octal};
