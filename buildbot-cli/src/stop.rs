//! `buildbot stop` and `buildbot restart`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, DEFAULT_STOP_WAIT, Signal, StopOutcome};

use crate::cli::PROGRAM;
use crate::options::{StartOptions, StopOptions};
use crate::{start, tac};

/// How long `stop --clean` waits: "however long the builds take".
const CLEAN_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Signals the master of `basedir` and waits (unless `no_wait`).
fn stop_master(basedir: &Path, clean: bool, no_wait: bool) -> Result<StopOutcome, CliError> {
    tac::load(basedir)?;
    let pidfile = PROGRAM.pid_file(basedir);
    let (signal, wait) = if clean {
        (Signal::Usr1, CLEAN_WAIT)
    } else {
        (Signal::Term, DEFAULT_STOP_WAIT)
    };
    daemon::stop(&pidfile, signal, (!no_wait).then_some(wait))
        .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))
}

pub fn stop(o: &StopOptions) -> anyhow::Result<ExitCode> {
    let outcome = stop_master(&o.basedir, o.clean, o.no_wait)?;
    let signal = if o.clean { Signal::Usr1 } else { Signal::Term };
    PROGRAM.report_stop(outcome, signal, o.quiet)?;
    Ok(ExitCode::SUCCESS)
}

pub fn restart(o: &StartOptions) -> anyhow::Result<ExitCode> {
    let outcome = stop_master(&o.basedir, o.clean, false)?;
    if !PROGRAM.report_stop_for_restart(outcome, o.quiet)? {
        ui::say(
            o.quiet,
            "no old buildbot process found to stop; starting it",
        );
    }
    start::start(o)
}
