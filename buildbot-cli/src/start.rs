//! `buildbot start`: check the directory, detach, load the config, open the database,
//! start the engine, report readiness; then serve signals until stopped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{
    self, DEFAULT_START_TIMEOUT, DaemonOptions, Detached, LaunchOutcome, LogHandle, LogTarget,
    PidFile, Readiness, Signal, Signals,
};
use buildbot_core::master::config::{
    LoadedConfig, MasterConfig, Registry, load_config, restart_required,
};
use buildbot_db::{Db, DbError};

use crate::cli::PROGRAM;
use crate::engine::Engine;
use crate::options::StartOptions;
use crate::tac::{self, MasterDir};

/// Prefix of the readiness failure caused by configuration errors.
const CONFIG_FAILURE: &str = "configuration errors in";

const ROOT_WARNING: &str = "WARNING: running as root. The buildmaster does not need root rights; run it from an unprivileged account.";

/// How long a stopping master may take before it exits anyway.
const STOP_GRACE: Duration = Duration::from_secs(8);

/// Checks everything that can be checked before detaching.
pub fn prepare(basedir: &Path, quiet: bool) -> Result<MasterDir, CliError> {
    let dir = tac::load(basedir)?;
    tac::check_location(&dir)?;
    PROGRAM.clear_stale_pid_file(&dir.basedir, quiet)?;
    Ok(dir)
}

pub fn start(o: &StartOptions) -> anyhow::Result<ExitCode> {
    let dir = prepare(&o.basedir, o.quiet)
        .inspect_err(|e| ui::note_start_failure(&o.basedir, &e.message))?;
    launch(dir, o)
}

/// The log file of a master (`None`: stderr only, `log_file = "-"` in the foreground).
pub fn log_path(dir: &MasterDir, foreground: bool) -> Option<PathBuf> {
    match dir.tac.log_file.as_deref() {
        Some("-") if foreground => None,
        Some("-") | None => Some(dir.basedir.join("twistd.log")),
        Some(f) => Some(dir.basedir.join(f)),
    }
}

/// Starts the prepared master in the background (or the foreground).
pub fn launch(dir: MasterDir, o: &StartOptions) -> anyhow::Result<ExitCode> {
    if daemon::running_as_root() {
        ui::error(ROOT_WARNING);
    }
    if o.nodaemon {
        ui::enter_foreground(&dir.basedir, dir.tac.umask)?;
        return run_master(dir, Readiness::foreground(), true, o.verbose);
    }
    let mut dopts = DaemonOptions::new(&dir.basedir);
    dopts.umask = dir.tac.umask;
    dopts.log_file = log_path(&dir, false);
    dopts.start_timeout = o
        .start_timeout
        .or_else(daemon::start_timeout_from_env)
        .unwrap_or(DEFAULT_START_TIMEOUT);
    let timeout = dopts.start_timeout;
    match daemon::daemonize(&dopts)? {
        Detached::Daemon(readiness) => run_master(dir, readiness, false, o.verbose),
        Detached::Parent(launcher) => {
            if o.quiet {
                launcher.detach();
                return Ok(ExitCode::SUCCESS);
            }
            let outcome = launcher.wait(|line| ui::say(false, line));
            report(outcome, &dir, timeout)
        }
    }
}

fn report(outcome: LaunchOutcome, dir: &MasterDir, timeout: Duration) -> anyhow::Result<ExitCode> {
    let log = dir.basedir.join("twistd.log");
    match outcome {
        LaunchOutcome::Ready => {
            ui::say(false, "The buildmaster appears to have (re)started correctly.");
            Ok(ExitCode::SUCCESS)
        }
        LaunchOutcome::Failed(reason) if reason.starts_with(CONFIG_FAILURE) => Err(CliError::new(
            ErrorKind::Config,
            format!(
                "The buildmaster failed to start because of {reason}.\nPlease inspect and fix the config file {}, then start it again (`buildbot checkconfig` lists the errors).",
                dir.config_path().display()
            ),
        )
        .into()),
        LaunchOutcome::Failed(reason) => Err(CliError::new(
            ErrorKind::StartFailed,
            format!(
                "The buildmaster failed to start: {}\nSee {} for details.",
                reason.replace(" | ", "\n"),
                log.display()
            ),
        )
        .into()),
        LaunchOutcome::TimedOut => Err(CliError::new(
            ErrorKind::NotConfirmed,
            format!(
                "The buildmaster took more than {} seconds to start, so we were unable to confirm that it started correctly. It may still be starting; please 'tail {}' and look for a line that says 'BuildMaster is running' to verify correct startup.",
                timeout.as_secs_f64(),
                log.display()
            ),
        )
        .into()),
        _ => Err(CliError::new(
            ErrorKind::StartFailed,
            format!(
                "The buildmaster exited before reporting that it runs; see {}",
                log.display()
            ),
        )
        .into()),
    }
}

/// The bundled SQLite library's version.
pub async fn sqlite_version() -> Option<String> {
    let db = Db::connect("sqlite://", Path::new(".")).await.ok()?;
    let v = db.engine_version().await.ok();
    let _ = db.close().await;
    v
}

/// Logs every configuration problem the way 0.8 did.
fn log_config_errors(e: &buildbot_core::master::config::ConfigError) {
    log::error!("Configuration Errors:");
    for issue in e.issues() {
        log::error!("  {issue}");
    }
}

fn load(dir: &MasterDir) -> Result<LoadedConfig, buildbot_core::master::config::ConfigError> {
    let loaded = load_config(&dir.config_path(), &Registry::new())?;
    for w in &loaded.warnings {
        log::warn!("{w}");
    }
    Ok(loaded)
}

/// Why the database cannot be used, as the user should read it.
fn db_problem(e: &DbError, basedir: &Path) -> String {
    match e {
        DbError::SchemaOutOfDate { .. } => format!(
            "{e}\nThe database must be upgraded first: back it up, then run `buildbot upgrade-master {}`",
            basedir.display()
        ),
        _ => e.to_string(),
    }
}

/// The master process itself (daemon or foreground).
fn run_master(
    dir: MasterDir,
    mut readiness: Readiness,
    foreground: bool,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    let log_path = log_path(&dir, foreground);
    let target = match LogTarget::open(log_path.as_deref(), dir.tac.rotation(), foreground) {
        Ok(t) => t,
        Err(e) => {
            readiness.failed(&e.to_string());
            return Err(CliError::new(ErrorKind::StartFailed, e.to_string()).into());
        }
    };
    daemon::init_executor(daemon::master_executor_threads());
    let log_handle = match daemon::init_logging(target, verbose.then_some("debug")) {
        Ok(h) => h,
        Err(e) => {
            readiness.failed(&e.to_string());
            return Err(e.into());
        }
    };
    log::info!(
        "Starting BuildMaster -- buildbot.version: {}",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("basedir: {}", dir.basedir.display());
    if daemon::running_as_root() {
        log::warn!("{ROOT_WARNING}");
    }
    let pidfile = PROGRAM.pid_file(&dir.basedir);
    let fail = |readiness: &mut Readiness, kind: ErrorKind, msg: String| {
        for l in msg.lines() {
            log::error!("{l}");
        }
        let _ = pidfile.remove_if_self();
        readiness.failed(&msg);
        Err(CliError::new(kind, msg).into())
    };
    if let Err(e) = pidfile.write_self() {
        return fail(&mut readiness, ErrorKind::StartFailed, e.to_string());
    }
    let signals = match Signals::new(&[
        Signal::Term,
        Signal::Int,
        Signal::Hup,
        Signal::Usr1,
        Signal::Usr2,
    ]) {
        Ok(s) => s,
        Err(e) => return fail(&mut readiness, ErrorKind::StartFailed, e.to_string()),
    };
    let config_path = dir.config_path();
    log::info!("Loading configuration from '{}'", config_path.display());
    let loaded = match load(&dir) {
        Ok(l) => l,
        Err(e) => {
            log_config_errors(&e);
            log::error!("Halting master.");
            let _ = pidfile.remove_if_self();
            let msg = format!("{CONFIG_FAILURE} {}", config_path.display());
            readiness.failed(&msg);
            return Err(CliError::new(
                ErrorKind::Config,
                format!("{}\n{msg}", crate::checkconfig::format_errors(&e)),
            )
            .into());
        }
    };
    let config = loaded.config;
    async_std::task::block_on(async {
        if let Some(v) = sqlite_version().await {
            log::info!("SQLite version {v}");
        }
        let (url, warning) = config.db.effective_url(dir.tac.db_url.as_deref());
        if let Some(w) = warning {
            log::warn!("{w}");
        }
        log::info!("using database {}", buildbot_db::mask_password(&url));
        let db = match Db::connect(&url, &dir.basedir).await {
            Ok(db) => db,
            Err(e) => {
                return fail(
                    &mut readiness,
                    ErrorKind::Database,
                    db_problem(&e, &dir.basedir),
                );
            }
        };
        if let Err(e) = db.check_schema().await {
            return fail(
                &mut readiness,
                ErrorKind::Database,
                db_problem(&e, &dir.basedir),
            );
        }
        let _ = db.close().await;
        if let Err(e) = check_web_port(&config) {
            return fail(&mut readiness, ErrorKind::StartFailed, e);
        }
        let engine = match Engine::start(&config, &url, &dir.basedir).await {
            Ok(e) => e,
            Err(e) => {
                return fail(
                    &mut readiness,
                    ErrorKind::StartFailed,
                    format!("cannot start the master: {e}"),
                );
            }
        };
        if let Some(addr) = engine.worker_addr() {
            log::info!("workers connect to port {}", addr.port());
        }
        log::info!("BuildMaster is running");
        readiness.ready();
        // give memory back whenever the master falls idle (start-up code first)
        daemon::release_memory_when_idle(daemon::IDLE_RELEASE_AFTER);
        serve(dir, config, engine, signals, log_handle, pidfile.clone()).await
    })
}

/// Fails early, naming the address, when the web port is taken (S62).
fn check_web_port(config: &MasterConfig) -> Result<(), String> {
    let Some(port) = config.www.port else {
        return Ok(());
    };
    let host = config.www.listen.as_deref().unwrap_or("0.0.0.0");
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    std::net::TcpListener::bind(addr.as_str())
        .map(drop)
        .map_err(|e| format!("cannot listen on {addr} for the web server ([www] port): {e}"))
}

/// Signals → actions, until the master stops.
async fn serve(
    dir: MasterDir,
    mut config: MasterConfig,
    mut engine: Engine,
    signals: Signals,
    log_handle: LogHandle,
    pidfile: PidFile,
) -> anyhow::Result<ExitCode> {
    let rx = signals.receiver();
    let mut queued: Vec<Signal> = Vec::new();
    loop {
        let sig = match queued.pop() {
            Some(s) => s,
            None => match rx.recv().await {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        match sig {
            Signal::Hup => {
                reconfig(&dir, &mut config, &mut engine).await;
                // signals that arrived meanwhile: at most one more reconfig
                let mut hup = false;
                let mut others = Vec::new();
                while let Ok(s) = rx.try_recv() {
                    match s {
                        Signal::Hup => hup = true,
                        s => others.push(s),
                    }
                }
                if hup {
                    others.push(Signal::Hup);
                }
                others.reverse();
                queued = others;
            }
            Signal::Usr2 => {
                if let Err(e) = log_handle.reopen() {
                    log::warn!("cannot re-open the log file: {e}");
                } else {
                    log::info!("log file re-opened (SIGUSR2)");
                }
            }
            Signal::Usr1 => {
                log::info!(
                    "Received SIGUSR1: clean shutdown, waiting for running builds to finish"
                );
                engine.stop_when_idle().await;
                return Ok(shut_down(&pidfile));
            }
            s => {
                log::info!("Received {}, shutting down.", s.name());
                let pf = pidfile.clone();
                async_std::task::spawn(async move {
                    async_std::task::sleep(STOP_GRACE).await;
                    log::error!(
                        "the master did not stop within {} seconds; exiting anyway",
                        STOP_GRACE.as_secs()
                    );
                    shut_down(&pf);
                    std::process::exit(0);
                });
                engine.stop().await;
                return Ok(shut_down(&pidfile));
            }
        }
    }
    engine.stop().await;
    Ok(shut_down(&pidfile))
}

fn shut_down(pidfile: &PidFile) -> ExitCode {
    let _ = pidfile.remove_if_self();
    log::info!("Server Shut Down.");
    ExitCode::SUCCESS
}

/// One reconfig (SIGHUP): all or nothing.
async fn reconfig(dir: &MasterDir, config: &mut MasterConfig, engine: &mut Engine) {
    log::info!("beginning configuration update");
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    async_std::task::spawn(async move {
        loop {
            async_std::task::sleep(Duration::from_secs(10)).await;
            if d2.load(Ordering::SeqCst) {
                break;
            }
            log::info!("reconfig is ongoing for {} s", started.elapsed().as_secs());
        }
    });
    log::info!(
        "Loading configuration from '{}'",
        dir.config_path().display()
    );
    match load(dir) {
        Err(e) => {
            log_config_errors(&e);
            log::error!("reconfig aborted without making any changes");
        }
        Ok(new) => {
            let blocked = restart_required(config, &new.config);
            if !blocked.is_empty() {
                for b in &blocked {
                    log::error!("{b}");
                }
                log::error!("reconfig aborted without making any changes");
            } else {
                match engine.reconfig(&new.config).await {
                    Ok(()) => {
                        *config = new.config;
                        log::info!("configuration update complete");
                    }
                    Err(e) => {
                        log::error!("{e}");
                        log::error!(
                            "reconfig partially applied; fix the config and reconfig again, or restart"
                        );
                    }
                }
            }
        }
    }
    done.store(true, Ordering::SeqCst);
}
