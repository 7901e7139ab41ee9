//! `buildslave stop` and `buildslave restart`.

use std::process::ExitCode;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, DEFAULT_STOP_WAIT, Signal, StopOutcome};

use crate::cli::PROGRAM;
use crate::options::{StartOptions, StopOptions};
use crate::{start, tac};

/// Signals the slave of `basedir` and waits (unless `no_wait`).
fn stop_slave(basedir: &std::path::Path, no_wait: bool) -> Result<StopOutcome, CliError> {
    tac::load(basedir)?;
    let pidfile = PROGRAM.pid_file(basedir);
    daemon::stop(
        &pidfile,
        Signal::Term,
        (!no_wait).then_some(DEFAULT_STOP_WAIT),
    )
    .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))
}

pub fn stop(o: &StopOptions) -> anyhow::Result<ExitCode> {
    let outcome = stop_slave(&o.basedir, o.no_wait)?;
    PROGRAM.report_stop(outcome, Signal::Term, o.quiet)?;
    Ok(ExitCode::SUCCESS)
}

pub fn restart(o: &StartOptions) -> anyhow::Result<ExitCode> {
    let outcome = stop_slave(&o.basedir, false)?;
    if !PROGRAM.report_stop_for_restart(outcome, o.quiet)? {
        ui::say(o.quiet, "no old buildslave process found to stop");
    }
    start::start(o)
}
