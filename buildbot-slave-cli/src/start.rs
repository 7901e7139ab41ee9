//! `buildslave start`: check the directory, detach, run the worker, report readiness.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{
    self, DEFAULT_START_TIMEOUT, DaemonOptions, Detached, LaunchOutcome, LogTarget, Readiness,
    Rotation, Signal, Signals,
};
use buildbot_core::protocol::WIRE_PROTOCOL;
use buildbot_core::{AllowShutdown, Slave, SlaveConfig, SlaveEvent, SlaveExit};

use crate::cli::PROGRAM;
use crate::options::{StartOptions, parse_endpoint};
use crate::tac::{self, SlaveDir};

/// Logged when the master refuses the credentials; the launcher looks for it.
const AUTH_HINT: &str = "the master refused our credentials";

const ROOT_WARNING: &str = "WARNING: running as root. The buildslave runs build commands with the rights of its account; use an unprivileged account.";

/// The runtime settings of a slave, validated from its tac.
#[derive(Debug)]
pub struct Settings {
    basedir: PathBuf,
    config: SlaveConfig,
    umask: Option<u32>,
    rotation: Rotation,
    /// The log file; `None`: stderr only (`log_file = "-"` with `--nodaemon`).
    log_file: Option<PathBuf>,
}

/// Validates the tac of `dir` into runtime settings.
pub fn settings(dir: &SlaveDir) -> Result<Settings, CliError> {
    let t = &dir.tac;
    let bad = |msg: String| {
        CliError::new(
            ErrorKind::InvalidDirectory,
            format!("{}: {msg}", dir.tac_path.display()),
        )
    };
    PROGRAM.check_location(&dir.tac_path, &t.basedir, &dir.basedir)?;
    if t.protocol != WIRE_PROTOCOL && t.protocol != "msgpack" {
        return Err(bad(format!(
            "protocol '{}' is not supported; this buildslave speaks {WIRE_PROTOCOL}",
            t.protocol
        )));
    }
    if t.use_tls {
        return Err(bad(
            "use_tls is not supported by this buildslave; connect through a TLS-terminating proxy with a plain connection".into(),
        ));
    }
    if t.proxy_connection_string.is_some() {
        return Err(bad(
            "proxy_connection_string is not supported by this buildslave".into(),
        ));
    }
    let (host, port) = match (&t.connection_string, &t.buildmaster_host, t.port) {
        (Some(cs), _, _) => parse_endpoint(cs).ok_or_else(|| {
            bad(format!(
                "connection_string '{cs}' must look like tcp:host=HOST:port=PORT"
            ))
        })?,
        (None, Some(h), Some(p)) => (h.clone(), p),
        _ => {
            return Err(bad(
                "buildmaster_host and port (or connection_string) must be set".into(),
            ));
        }
    };
    let allow_shutdown = match t.allow_shutdown.as_deref() {
        None => None,
        Some("signal") => Some(AllowShutdown::Signal),
        Some("file") => Some(AllowShutdown::File),
        Some(other) => {
            return Err(bad(format!(
                "allow_shutdown = \"{other}\": needs to be one of 'signal' or 'file'"
            )));
        }
    };
    let mut config = SlaveConfig::new(host, port, &t.slavename, &t.passwd, &dir.basedir);
    config.keepalive = t.keepalive;
    config.maxdelay = t.maxdelay;
    config.usepty = t.usepty;
    config.allow_shutdown = allow_shutdown;
    config.unicode_encoding = t.unicode_encoding.clone();
    config.maxretries = t.maxretries;
    config.numcpus = t.numcpus;
    config.delete_leftover_dirs = t.delete_leftover_dirs;
    config.path = t.path.clone();
    if let Some(secs) = t.connect_timeout {
        if !(secs.is_finite() && secs > 0.0) {
            return Err(bad(format!(
                "connect_timeout = {secs}: needs to be positive"
            )));
        }
        config.connect_timeout = Duration::from_secs_f64(secs);
    }
    let rotation = Rotation::from_tac(t.rotate_length, t.max_rotated_files);
    let log_file = match t.log_file.as_deref() {
        Some("-") => None,
        Some("") => return Err(bad("log_file must not be empty".into())),
        Some(f) => Some(dir.basedir.join(f)),
        None => Some(dir.basedir.join("twistd.log")),
    };
    Ok(Settings {
        basedir: dir.basedir.clone(),
        config,
        umask: t.umask,
        rotation,
        log_file,
    })
}

/// Checks everything that can be checked before detaching.
pub fn prepare(basedir: &Path, quiet: bool) -> Result<Settings, CliError> {
    let dir = tac::load(basedir)?;
    let s = settings(&dir)?;
    PROGRAM.clear_stale_pid_file(&s.basedir, quiet)?;
    Ok(s)
}

pub fn start(o: &StartOptions) -> anyhow::Result<ExitCode> {
    let s = prepare(&o.basedir, o.quiet)
        .inspect_err(|e| ui::note_start_failure(&o.basedir, &e.message))?;
    launch(s, o)
}

/// Starts the prepared slave in the background (or the foreground).
pub fn launch(s: Settings, o: &StartOptions) -> anyhow::Result<ExitCode> {
    if daemon::running_as_root() {
        ui::error(ROOT_WARNING);
    }
    if o.nodaemon {
        ui::enter_foreground(&s.basedir, s.umask)?;
        return run_slave(s, Readiness::foreground(), true);
    }
    let mut dopts = DaemonOptions::new(&s.basedir);
    dopts.umask = s.umask;
    if let Some(f) = &s.log_file {
        dopts.log_file = Some(f.clone());
    }
    dopts.start_timeout = daemon::start_timeout_from_env().unwrap_or(DEFAULT_START_TIMEOUT);
    let timeout = dopts.start_timeout;
    match daemon::daemonize(&dopts)? {
        Detached::Daemon(readiness) => run_slave(s, readiness, false),
        Detached::Parent(launcher) => {
            if o.quiet {
                launcher.detach();
                return Ok(ExitCode::SUCCESS);
            }
            let (mut saw_retry, mut saw_auth) = (false, false);
            let outcome = launcher.wait(|line| {
                ui::say(false, line);
                saw_retry |= line.contains("will retry");
                saw_auth |= line.contains(AUTH_HINT);
            });
            report(outcome, &s.basedir, timeout, saw_retry, saw_auth)
        }
    }
}

fn report(
    outcome: LaunchOutcome,
    basedir: &Path,
    timeout: Duration,
    saw_retry: bool,
    saw_auth: bool,
) -> anyhow::Result<ExitCode> {
    match outcome {
        LaunchOutcome::Ready => {
            ui::say(
                false,
                "The buildslave appears to have (re)started correctly.",
            );
            Ok(ExitCode::SUCCESS)
        }
        LaunchOutcome::Failed(reason) => Err(CliError::new(
            ErrorKind::StartFailed,
            format!("The buildslave failed to start: {reason}"),
        )
        .into()),
        LaunchOutcome::TimedOut => {
            let pid = PROGRAM
                .pid_file(basedir)
                .read()
                .ok()
                .flatten()
                .flatten()
                .map_or_else(|| "?".to_owned(), |p| p.to_string());
            let mut msg = format!(
                "The buildslave took more than {} seconds to connect to the master, so we could not confirm that it started correctly.\nIt is still running in the background (pid {pid}); see {} for more.",
                timeout.as_secs_f64(),
                basedir.join("twistd.log").display()
            );
            if saw_auth {
                msg.push_str("\nHint: the master refused the slave's name or password: check slavename and passwd in buildbot.tac (wrong name or password).");
            }
            if saw_retry {
                msg.push_str("\nHint: the connection attempts fail and will be retried: the master host or port in buildbot.tac may be wrong, or the master may be down.");
            }
            Err(CliError::new(ErrorKind::NotConfirmed, msg).into())
        }
        _ => Err(CliError::new(
            ErrorKind::StartFailed,
            format!(
                "The buildslave exited before connecting to the master; see {}",
                basedir.join("twistd.log").display()
            ),
        )
        .into()),
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its whole length.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Size of async-std's executor pool (unless the user sets `ASYNC_STD_THREAD_COUNT`, which
/// is still honoured): the slave's tasks are I/O-bound (process output is read by plain
/// threads), and every executor thread costs memory (stack, malloc arena) while idle. One
/// thread also behaves like the Python worker's single reactor thread.
const EXECUTOR_THREADS: usize = 1;

/// The slave process itself (daemon or foreground).
fn run_slave(s: Settings, mut readiness: Readiness, foreground: bool) -> anyhow::Result<ExitCode> {
    buildbot_core::daemon::init_executor(EXECUTOR_THREADS);
    let fail = |readiness: &mut Readiness, e: anyhow::Error| {
        readiness.failed(&format!("{e:#}"));
        Err(e)
    };
    // `log_file = "-"` means stderr, which a daemon does not have: it keeps twistd.log
    let log_path = match (&s.log_file, foreground) {
        (None, true) => None,
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(s.basedir.join("twistd.log")),
    };
    let target = match LogTarget::open(log_path.as_deref(), s.rotation, foreground) {
        Ok(t) => t,
        Err(e) => return fail(&mut readiness, e.into()),
    };
    let log_handle = match daemon::init_logging(target, None) {
        Ok(h) => h,
        Err(e) => return fail(&mut readiness, e.into()),
    };
    log::info!(
        "Starting buildslave -- version: {} (rust, {WIRE_PROTOCOL})",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("basedir: {}", s.basedir.display());
    if daemon::running_as_root() {
        log::warn!("{ROOT_WARNING}");
    }
    let pidfile = PROGRAM.pid_file(&s.basedir);
    if let Err(e) = pidfile.write_self() {
        log::error!("{e}");
        return fail(&mut readiness, e.into());
    }
    if let Err(e) = std::fs::write(
        s.basedir.join("twistd.hostname"),
        format!("{}\n", hostname()),
    ) {
        log::warn!("cannot write twistd.hostname: {e}");
    }
    let signals = match Signals::new(&[Signal::Term, Signal::Int, Signal::Hup, Signal::Usr2]) {
        Ok(sig) => sig,
        Err(e) => {
            let _ = pidfile.remove_if_self();
            return fail(&mut readiness, e.into());
        }
    };
    let allow_signal = s.config.allow_shutdown == Some(AllowShutdown::Signal);
    let worker = Slave::new(s.config);
    let handle = worker.handle();
    let events = handle.events();
    let readiness = Arc::new(Mutex::new(readiness));
    let pf = pidfile.clone();

    let ready = readiness.clone();
    let result = async_std::task::block_on(async move {
        // give memory back whenever the slave falls idle (start-up code first)
        buildbot_core::daemon::release_memory_when_idle(buildbot_core::daemon::IDLE_RELEASE_AFTER);
        async_std::task::spawn(async move {
            while let Ok(ev) = events.recv().await {
                match ev {
                    SlaveEvent::Connected => {
                        ready.lock().unwrap_or_else(PoisonError::into_inner).ready();
                    }
                    SlaveEvent::AuthFailed(_) => {
                        log::warn!("{AUTH_HINT}: check slavename and passwd in buildbot.tac")
                    }
                    _ => {}
                }
            }
        });
        let stopping = AtomicBool::new(false);
        let sig_rx = signals.receiver();
        let h = handle.clone();
        async_std::task::spawn(async move {
            while let Ok(sig) = sig_rx.recv().await {
                match sig {
                    Signal::Term | Signal::Int => {
                        log::info!("Received {}, shutting down.", sig.name());
                        if !stopping.swap(true, Ordering::SeqCst) {
                            h.stop();
                            let pf = pf.clone();
                            async_std::task::spawn(async move {
                                async_std::task::sleep(Duration::from_secs(8)).await;
                                log::error!(
                                    "the worker did not stop within 8 seconds; exiting anyway"
                                );
                                let _ = pf.remove_if_self();
                                log::info!("Server Shut Down.");
                                std::process::exit(0);
                            });
                        }
                    }
                    Signal::Hup if allow_signal => {
                        log::info!("Received SIGHUP: asking for a graceful shutdown");
                        h.request_graceful_shutdown();
                    }
                    Signal::Hup => log::info!(
                        "Received SIGHUP: ignored (set allow_shutdown = \"signal\" in buildbot.tac for a graceful shutdown)"
                    ),
                    Signal::Usr2 => {
                        log::info!("Received SIGUSR2: re-opening the log file");
                        if let Err(e) = log_handle.reopen() {
                            log::warn!("cannot re-open the log file: {e}");
                        }
                    }
                    _ => {}
                }
            }
        });
        let result = worker.run().await;
        drop(signals);
        result
    });
    let mut readiness = readiness.lock().unwrap_or_else(PoisonError::into_inner);
    let code = match result {
        Ok(exit) => {
            match exit {
                SlaveExit::Stopped => {}
                SlaveExit::ShutdownByMaster => {
                    log::info!("shutting down (the master asked us to)")
                }
                SlaveExit::GracefulShutdown => {
                    log::info!("shutting down (graceful shutdown complete)")
                }
                SlaveExit::MaxRetriesReached => {
                    log::error!(
                        "shutting down: no connection to the master after maxretries attempts"
                    );
                    readiness.failed("no connection to the master after maxretries attempts");
                }
                _ => log::info!("shutting down"),
            }
            if readiness.is_pending() {
                readiness.failed("the buildslave exited before connecting to the master");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("{e}");
            readiness.failed(&e.to_string());
            ExitCode::from(ErrorKind::StartFailed.exit_code())
        }
    };
    if let Err(e) = pidfile.remove_if_self() {
        log::warn!("{e}");
    }
    log::info!("Server Shut Down.");
    Ok(code)
}
