//! `buildbot reconfig` (alias `sighup`): SIGHUP, then follow `twistd.log` to the outcome.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, LogFollower, PidStatus, Signal};

use crate::cli::PROGRAM;
use crate::options::ReconfigOptions;
use crate::tac;

pub fn reconfig(o: &ReconfigOptions) -> anyhow::Result<ExitCode> {
    let dir = tac::load(&o.basedir)?;
    let pidfile = PROGRAM.pid_file(&dir.basedir);
    let pid = match pidfile.status() {
        Ok(PidStatus::Running(pid)) => pid,
        _ => {
            return Err(CliError::new(
                ErrorKind::NotRunning,
                format!(
                    "buildmaster in '{}' is not running (no live twistd.pid); start it with `buildbot start`",
                    dir.basedir.display()
                ),
            )
            .into());
        }
    };
    let log_path =
        crate::start::log_path(&dir, false).unwrap_or_else(|| dir.basedir.join("twistd.log"));
    let mut log = LogFollower::at_end(&log_path);
    daemon::send_signal(pid, Signal::Hup)
        .map_err(|e| CliError::new(ErrorKind::Failure, e.to_string()))?;
    if o.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    ui::say(false, &format!("sent SIGHUP to process {pid}"));
    let mut started = false;
    let mut last_progress = Instant::now();
    let mut errors = Vec::new();
    loop {
        for line in log.lines() {
            if !started {
                if line.contains("beginning configuration update") {
                    started = true;
                } else {
                    continue;
                }
            }
            last_progress = Instant::now();
            ui::say(false, &line);
            if line.contains("configuration update complete") {
                ui::say(
                    false,
                    "Reconfiguration appears to have completed successfully",
                );
                return Ok(ExitCode::SUCCESS);
            }
            if line.contains("reconfig aborted") || line.contains("partially applied") {
                errors.push(line);
                return Err(CliError::new(
                    ErrorKind::ReconfigFailed,
                    format!(
                        "Reconfiguration failed ({}). Please inspect the config file {} for errors, correct them, then try 'buildbot reconfig' again.",
                        errors.join("; "),
                        dir.config_path().display()
                    ),
                )
                .into());
            }
        }
        if last_progress.elapsed() > o.progress_timeout {
            return Err(CliError::new(
                ErrorKind::ReconfigFailed,
                format!(
                    "Never saw reconfiguration {} within {} seconds; see {}",
                    if started { "finish" } else { "begin" },
                    o.progress_timeout.as_secs_f64(),
                    log_path.display()
                ),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
