use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{DaemonError, LogFollower};

/// Default time the launching command waits for the daemon's report.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Umask of a daemon whose configuration sets none (as `twistd` did).
pub const DEFAULT_DAEMON_UMASK: u32 = 0o077;

/// How to detach a daemon from the launching command.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DaemonOptions {
    /// Directory the daemon changes into.
    pub basedir: PathBuf,
    /// Umask of the daemon; `None` means [`DEFAULT_DAEMON_UMASK`].
    pub umask: Option<u32>,
    /// How long [`Launcher::wait`] waits for the daemon's report.
    pub start_timeout: Duration,
    /// A log file whose new lines [`Launcher::wait`] hands to its callback.
    pub log_file: Option<PathBuf>,
}

impl DaemonOptions {
    /// Options for a daemon in `basedir`: umask 077, 10 s timeout, showing `twistd.log`.
    pub fn new(basedir: &Path) -> Self {
        DaemonOptions {
            basedir: basedir.to_path_buf(),
            umask: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            log_file: Some(basedir.join("twistd.log")),
        }
    }
}

/// The start timeout from the `START_TIMEOUT` environment variable (seconds), if set
/// and valid.
pub fn start_timeout_from_env() -> Option<Duration> {
    std::env::var("START_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Sets the process umask, returning the previous one.
pub fn apply_umask(mask: u32) -> u32 {
    // SAFETY: umask has no failure mode and touches only process state.
    let old = unsafe { libc::umask((mask & 0o777) as libc::mode_t) };
    old as u32
}

/// Whether the process runs as root (both programs warn: neither needs it).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Which side of [`daemonize`] this process is on.
#[derive(Debug)]
pub enum Detached {
    /// The launching command: wait for the daemon's report with [`Launcher::wait`].
    Parent(Launcher),
    /// The daemon: report with [`Readiness::ready`] or [`Readiness::failed`].
    Daemon(Readiness),
}

/// What the launching command learnt about the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LaunchOutcome {
    /// The daemon reported that it is up.
    Ready,
    /// The daemon reported a failure (and has probably exited).
    Failed(String),
    /// The daemon went away without reporting anything.
    Exited,
    /// No report within the timeout; the daemon may still be running.
    TimedOut,
}

/// Detaches the current process as a daemon.
///
/// Double fork + `setsid`; the daemon changes into `basedir`, applies the umask
/// (077 unless [`DaemonOptions::umask`] says otherwise) and points stdin, stdout and
/// stderr at `/dev/null`. Must be called before any thread is started (fork copies
/// only the calling thread): first thing in `main`, before the async runtime runs.
pub fn daemonize(opts: &DaemonOptions) -> Result<Detached, DaemonError> {
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let n = tasks.count();
        if n > 1 {
            return Err(DaemonError::ThreadsRunning(n));
        }
    }
    let log = opts.log_file.as_deref().map(LogFollower::at_end);
    let dir =
        CString::new(opts.basedir.as_os_str().as_bytes()).map_err(|_| DaemonError::BadPath {
            arg: opts.basedir.display().to_string(),
            reason: "contains a NUL byte".into(),
        })?;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(DaemonError::sys("pipe"));
    }
    // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };

    // SAFETY: the caller guarantees that no other thread exists.
    match unsafe { libc::fork() } {
        -1 => Err(DaemonError::sys("fork")),
        0 => {
            drop(read_end);
            let mut readiness = Readiness {
                fd: Some(write_end),
            };
            // SAFETY: plain system calls in the single-threaded child.
            unsafe {
                if libc::setsid() < 0 {
                    readiness.failed(&format!("setsid failed: {}", io::Error::last_os_error()));
                    libc::_exit(1);
                }
                match libc::fork() {
                    -1 => {
                        readiness.failed(&format!("fork failed: {}", io::Error::last_os_error()));
                        libc::_exit(1);
                    }
                    0 => {}
                    _ => libc::_exit(0),
                }
                if libc::chdir(dir.as_ptr()) != 0 {
                    readiness.failed(&format!(
                        "cannot change into '{}': {}",
                        opts.basedir.display(),
                        io::Error::last_os_error()
                    ));
                    libc::_exit(1);
                }
            }
            apply_umask(opts.umask.unwrap_or(DEFAULT_DAEMON_UMASK));
            if let Err(e) = redirect_stdio_to_null() {
                readiness.failed(&format!("cannot redirect stdio to /dev/null: {e}"));
                // SAFETY: terminating the child without running parent-owned destructors.
                unsafe { libc::_exit(1) };
            }
            Ok(Detached::Daemon(readiness))
        }
        child => {
            drop(write_end);
            let mut status = 0;
            // SAFETY: reaping our own child; it exits right after its second fork.
            unsafe { libc::waitpid(child, &mut status, 0) };
            Ok(Detached::Parent(Launcher {
                read_end,
                log,
                timeout: opts.start_timeout,
            }))
        }
    }
}

fn redirect_stdio_to_null() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors of this process.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The daemon's end of the readiness pipe.
///
/// Dropping it without a report makes the launcher see [`LaunchOutcome::Exited`].
#[derive(Debug)]
pub struct Readiness {
    fd: Option<OwnedFd>,
}

impl Readiness {
    /// A readiness that reports to nobody (foreground mode).
    pub fn foreground() -> Self {
        Readiness { fd: None }
    }

    /// Whether a report is still expected (a launcher waits and none was sent).
    pub fn is_pending(&self) -> bool {
        self.fd.is_some()
    }

    /// Reports that the daemon is up. Later reports are ignored.
    pub fn ready(&mut self) {
        self.send("ready\n");
    }

    /// Reports a failure with its reason. Later reports are ignored.
    pub fn failed(&mut self, reason: &str) {
        let one_line = reason.replace('\n', " | ");
        self.send(&format!("failed: {one_line}\n"));
    }

    fn send(&mut self, msg: &str) {
        if let Some(fd) = self.fd.take() {
            let mut file = File::from(fd);
            // the launcher may have given up already: nothing to do about it
            let _ = file.write_all(msg.as_bytes());
        }
    }
}

/// The launching command's end of the readiness pipe.
#[derive(Debug)]
pub struct Launcher {
    read_end: OwnedFd,
    /// The log file from where it ended when the daemon was forked.
    log: Option<LogFollower>,
    timeout: Duration,
}

impl Launcher {
    /// Waits up to the start timeout for the daemon's report, handing each new line
    /// of the log file to `on_line` meanwhile (and once more after the report).
    pub fn wait(mut self, mut on_line: impl FnMut(&str)) -> LaunchOutcome {
        let mut new_lines = |log: &mut Option<LogFollower>| {
            for line in log.as_mut().map(LogFollower::lines).unwrap_or_default() {
                on_line(&line);
            }
        };
        let deadline = Instant::now() + self.timeout;
        let mut pipe = File::from(self.read_end);
        let mut got = Vec::new();
        let outcome = loop {
            new_lines(&mut self.log);
            let now = Instant::now();
            if now >= deadline {
                break LaunchOutcome::TimedOut;
            }
            let wait_ms = (deadline - now).as_millis().min(200) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            if rc <= 0 {
                continue;
            }
            let mut buf = [0u8; 512];
            match pipe.read(&mut buf) {
                Ok(0) => break parse_report(&got).unwrap_or(LaunchOutcome::Exited),
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if let Some(outcome) = parse_report(&got) {
                        break outcome;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break LaunchOutcome::Exited,
            }
        };
        // let the last lines (written just before the report) reach the user
        std::thread::sleep(Duration::from_millis(50));
        new_lines(&mut self.log);
        outcome
    }

    /// Returns without waiting (quiet mode); the daemon keeps running.
    pub fn detach(self) {}
}

fn parse_report(got: &[u8]) -> Option<LaunchOutcome> {
    let text = String::from_utf8_lossy(got);
    let line = text.split_once('\n')?.0;
    Some(match line.strip_prefix("failed: ") {
        Some(reason) => LaunchOutcome::Failed(reason.to_owned()),
        None if line == "ready" => LaunchOutcome::Ready,
        None => LaunchOutcome::Failed(line.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_parsing() {
        assert_eq!(parse_report(b"ready\n"), Some(LaunchOutcome::Ready));
        assert_eq!(parse_report(b"read"), None);
        assert_eq!(
            parse_report(b"failed: port in use\n"),
            Some(LaunchOutcome::Failed("port in use".into()))
        );
    }

    #[test]
    fn refuses_to_fork_with_threads() {
        // the test harness runs tests on threads: daemonize must refuse
        let dir = tempfile::tempdir().unwrap();
        let _t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(1)));
        assert!(matches!(
            daemonize(&DaemonOptions::new(dir.path())),
            Err(DaemonError::ThreadsRunning(_))
        ));
    }

    #[test]
    fn env_timeout() {
        // only checks parsing of an unset variable; setting env vars in tests races
        if std::env::var_os("START_TIMEOUT").is_none() {
            assert_eq!(start_timeout_from_env(), None);
        }
    }
}
