use std::io;
use std::time::{Duration, Instant};

use super::{DaemonError, PidFile, PidStatus, Signal, process_exists};

/// Default time [`stop`] waits for the process to go away.
pub const DEFAULT_STOP_WAIT: Duration = Duration::from_secs(10);

/// Result of [`stop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopOutcome {
    /// No pid file: nothing was running.
    NotRunning,
    /// The pid file was stale (dead or foreign process, or garbage) and was removed.
    StaleRemoved(Option<u32>),
    /// The process received the signal and went away.
    Dead(u32),
    /// The process received the signal but was still there when the wait ended.
    StillRunning(u32),
    /// The signal was sent; not waited for (`--no-wait`).
    Signalled(u32),
}

/// Sends `signal` to `pid`.
pub fn send_signal(pid: u32, signal: Signal) -> Result<(), DaemonError> {
    let raw = libc::pid_t::try_from(pid).map_err(|_| DaemonError::Sys {
        call: "kill",
        source: io::Error::from_raw_os_error(libc::ESRCH),
    })?;
    // SAFETY: sending a signal to a pid we read from our pid file.
    if unsafe { libc::kill(raw, signal.number()) } != 0 {
        return Err(DaemonError::sys("kill"));
    }
    Ok(())
}

/// The `stop` command: signals the daemon named by `pidfile` and, with
/// `wait = Some(d)`, polls until it has gone (at most `d`).
///
/// A stale pid file is removed and reported, never signalled: the pid may belong
/// to someone else's process by now.
pub fn stop(
    pidfile: &PidFile,
    signal: Signal,
    wait: Option<Duration>,
) -> Result<StopOutcome, DaemonError> {
    let pid = match pidfile.status()? {
        PidStatus::Absent => return Ok(StopOutcome::NotRunning),
        PidStatus::Stale(old) => {
            pidfile.remove()?;
            return Ok(StopOutcome::StaleRemoved(old));
        }
        PidStatus::Running(pid) => pid,
    };
    send_signal(pid, signal)?;
    let Some(wait) = wait else {
        return Ok(StopOutcome::Signalled(pid));
    };
    let deadline = Instant::now() + wait;
    loop {
        if !process_exists(pid) {
            // normally the daemon removed it; clean up after a crash
            if matches!(pidfile.read()?, Some(Some(p)) if p == pid) {
                pidfile.remove()?;
            }
            return Ok(StopOutcome::Dead(pid));
        }
        if Instant::now() >= deadline {
            return Ok(StopOutcome::StillRunning(pid));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
