//! `buildbot stop` and `buildbot restart`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use buildbot_core::daemon::{self, DEFAULT_STOP_WAIT, PidFile, Signal, StopOutcome};

use crate::error::{CliError, ErrorKind};
use crate::options::{StartOptions, StopOptions};
use crate::start::{self, PROGRAM};
use crate::{tac, ui};

/// How long `stop --clean` waits: "however long the builds take".
const CLEAN_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Signals the master of `basedir` and waits (unless `no_wait`).
fn stop_master(basedir: &Path, clean: bool, no_wait: bool) -> Result<StopOutcome, CliError> {
    tac::load(basedir)?;
    let pidfile = PidFile::new(basedir, PROGRAM);
    let (signal, wait) = if clean {
        (Signal::Usr1, CLEAN_WAIT)
    } else {
        (Signal::Term, DEFAULT_STOP_WAIT)
    };
    daemon::stop(&pidfile, signal, (!no_wait).then_some(wait))
        .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))
}

pub fn stop(o: &StopOptions) -> anyhow::Result<ExitCode> {
    let sig = if o.clean { "SIGUSR1" } else { "SIGTERM" };
    match stop_master(&o.basedir, o.clean, o.no_wait)? {
        StopOutcome::Dead(pid) => ui::say(o.quiet, &format!("buildbot process {pid} is dead")),
        StopOutcome::Signalled(pid) => ui::say(o.quiet, &format!("sent {sig} to process {pid}")),
        StopOutcome::StillRunning(_) => {
            return Err(CliError::new(ErrorKind::StopTimedOut, "never saw process go away").into());
        }
        StopOutcome::StaleRemoved(_) => ui::say(
            o.quiet,
            "buildmaster not running (removed a stale twistd.pid)",
        ),
        _ => ui::say(o.quiet, "buildmaster not running"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restart(o: &StartOptions) -> anyhow::Result<ExitCode> {
    match stop_master(&o.basedir, o.clean, false)? {
        StopOutcome::Dead(pid) => {
            ui::say(o.quiet, &format!("buildbot process {pid} is dead"));
            ui::say(o.quiet, "now restarting buildbot process..");
        }
        StopOutcome::StillRunning(_) => {
            return Err(CliError::new(
                ErrorKind::StopTimedOut,
                "never saw process go away; not starting a second one",
            )
            .into());
        }
        _ => ui::say(
            o.quiet,
            "no old buildbot process found to stop; starting it",
        ),
    }
    start::start(o)
}
