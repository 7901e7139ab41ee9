//! `buildslave stop` and `buildslave restart`.

use std::process::ExitCode;

use buildbot_core::daemon::{self, DEFAULT_STOP_WAIT, PidFile, Signal, StopOutcome};

use crate::error::{CliError, ErrorKind};
use crate::options::{StartOptions, StopOptions};
use crate::start::{self, PROGRAM};
use crate::{tac, ui};

/// Signals the slave of `basedir` and waits (unless `no_wait`).
fn stop_slave(basedir: &std::path::Path, no_wait: bool) -> Result<StopOutcome, CliError> {
    tac::load(basedir)?;
    let pidfile = PidFile::new(basedir, PROGRAM);
    daemon::stop(
        &pidfile,
        Signal::Term,
        (!no_wait).then_some(DEFAULT_STOP_WAIT),
    )
    .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))
}

pub fn stop(o: &StopOptions) -> anyhow::Result<ExitCode> {
    match stop_slave(&o.basedir, o.no_wait)? {
        StopOutcome::Dead(pid) => ui::say(o.quiet, &format!("buildslave process {pid} is dead")),
        StopOutcome::Signalled(pid) => ui::say(o.quiet, &format!("sent SIGTERM to process {pid}")),
        StopOutcome::StillRunning(_) => {
            return Err(CliError::new(ErrorKind::StopTimedOut, "never saw process go away").into());
        }
        StopOutcome::StaleRemoved(_) => ui::say(
            o.quiet,
            "buildslave not running (removed a stale twistd.pid)",
        ),
        _ => ui::say(o.quiet, "buildslave not running"),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restart(o: &StartOptions) -> anyhow::Result<ExitCode> {
    match stop_slave(&o.basedir, false)? {
        StopOutcome::Dead(pid) => {
            ui::say(o.quiet, &format!("buildslave process {pid} is dead"));
            ui::say(o.quiet, "now restarting buildslave process..");
        }
        StopOutcome::StillRunning(_) => {
            return Err(CliError::new(
                ErrorKind::StopTimedOut,
                "never saw process go away; not starting a second one",
            )
            .into());
        }
        _ => ui::say(o.quiet, "no old buildslave process found to stop"),
    }
    start::start(o)
}
