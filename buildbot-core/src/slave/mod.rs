//! The slave runtime, what `buildslave` runs (Buildbot 4 calls it a worker; the master's
//! side of the connection is `master::workers`): connects to a master with back-off,
//! answers its requests and runs the commands it sends (shell commands, file transfers,
//! file-system operations).
//!
//! ```no_run
//! # async fn demo() -> Result<(), buildbot_core::SlaveError> {
//! use buildbot_core::{Slave, SlaveConfig};
//! let config = SlaveConfig::new("localhost", 9989, "example-slave", "pass", "/var/lib/slave");
//! let slave = Slave::new(config);
//! let handle = slave.handle(); // handle.stop() from a signal handler
//! let exit = slave.run().await?;
//! # let _ = (handle, exit);
//! # Ok(())
//! # }
//! ```
//!
//! Safety rule: the slave never creates, changes or deletes anything outside its base
//! directory on the master's behalf — every path argument (and a shell command's `workdir`)
//! must resolve inside `basedir`, otherwise the command fails with `rc 1` and a header line
//! naming the path.

mod commands;
mod connection;
mod info;
mod output;
mod paths;
mod pyrepr;
mod runprocess;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_std::channel::{Receiver, Sender, bounded, unbounded};

use commands::Registry;
use output::Encoding;
use paths::Jail;

/// The log target of the lines logged here: `twistd.log` names them `[worker]`, as it did
/// before this module was named `slave` (`RUST_LOG=buildbot_core::slave` still selects them).
const LOG_TARGET: &str = "buildbot_core::slave::worker";

/// Configuration of a slave (the values of its `buildbot.tac`).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct SlaveConfig {
    /// Master host name or address.
    pub master_host: String,
    /// Master's msgpack port.
    pub master_port: u16,
    /// The name the slave logs in with (its worker name on the master).
    pub name: String,
    /// The password it logs in with.
    pub password: String,
    /// Absolute base directory.
    pub basedir: PathBuf,
    /// Seconds between worker keepalives (only with a master supporting the `keepalive`
    /// extension); 0 = off. Default 600.
    pub keepalive: u64,
    /// Maximum delay between reconnection attempts, seconds. Default 300.
    pub maxdelay: u64,
    /// Default for shell commands that do not say `usePTY`. Default false.
    pub usepty: bool,
    /// Graceful shutdown trigger. Default none.
    pub allow_shutdown: Option<AllowShutdown>,
    /// Encoding of command arguments and output; `None` = UTF-8.
    pub unicode_encoding: Option<String>,
    /// Give up after this many consecutive failed connection attempts.
    pub maxretries: Option<u32>,
    /// CPU count reported to the master (detected when `None`).
    pub numcpus: Option<u32>,
    /// Ask the master to delete unknown directories in the base directory.
    pub delete_leftover_dirs: bool,
    /// Time limit for TCP connect plus WebSocket handshake. Default 120 s.
    pub connect_timeout: Duration,
    /// Optional URL path (a `/` is inserted if missing).
    pub path: Option<String>,
}

impl SlaveConfig {
    /// A configuration with the defaults of `create-slave`.
    pub fn new(
        master_host: impl Into<String>,
        master_port: u16,
        name: impl Into<String>,
        password: impl Into<String>,
        basedir: impl Into<PathBuf>,
    ) -> Self {
        SlaveConfig {
            master_host: master_host.into(),
            master_port,
            name: name.into(),
            password: password.into(),
            basedir: basedir.into(),
            keepalive: 600,
            maxdelay: 300,
            usepty: false,
            allow_shutdown: None,
            unicode_encoding: None,
            maxretries: None,
            numcpus: None,
            delete_leftover_dirs: false,
            connect_timeout: Duration::from_secs(120),
            path: None,
        }
    }
}

/// How a graceful shutdown can be requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllowShutdown {
    /// Touching `basedir/shutdown.stamp` (checked every 10 s).
    File,
    /// SIGHUP (the CLI calls [`SlaveHandle::request_graceful_shutdown`]).
    Signal,
}

/// Things that happen to a slave; also logged.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum SlaveEvent {
    /// A connection attempt starts (1 = first after start or after a working session).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// The WebSocket session is open.
    Connected,
    /// The master refused the credentials.
    AuthFailed(String),
    /// The connection attempt failed; the next one comes after `retry_in`.
    ConnectFailed {
        /// What went wrong.
        reason: String,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// A session ended.
    Disconnected(String),
    /// The slave is shutting down.
    ShuttingDown(String),
}

/// Why [`Slave::run`] returned.
#[non_exhaustive]
#[derive(Debug)]
pub enum SlaveExit {
    /// [`SlaveHandle::stop`] was called.
    Stopped,
    /// The master sent `shutdown`.
    ShutdownByMaster,
    /// A requested graceful shutdown completed.
    GracefulShutdown,
    /// `maxretries` consecutive connection attempts failed.
    MaxRetriesReached,
}

/// Errors that prevent the slave from running at all.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SlaveError {
    /// The configuration is unusable.
    #[error("invalid worker configuration: {0}")]
    Config(String),
}

/// Internal events of the worker loop.
#[derive(Debug)]
pub(crate) enum Ev {
    Stop,
    Graceful,
    SessionEnded { generation: u64, reason: String },
    FirstMessage { generation: u64 },
    MasterShutdown { generation: u64 },
    ShutdownRequestRefused { generation: u64 },
    CommandsChanged,
}

/// State shared by the worker loop, sessions and commands.
pub(crate) struct Shared {
    pub(crate) config: SlaveConfig,
    pub(crate) jail: Jail,
    pub(crate) encoding: Encoding,
    pub(crate) commands: Registry,
    pub(crate) shutting_down: AtomicBool,
    stopped: AtomicBool,
    events_tx: Sender<SlaveEvent>,
    events_rx: Receiver<SlaveEvent>,
    ev_tx: Sender<Ev>,
}

impl Shared {
    pub(crate) fn emit(&self, event: SlaveEvent) {
        let _ = self.events_tx.try_send(event);
    }

    pub(crate) fn commands_changed(&self) {
        let _ = self.ev_tx.try_send(Ev::CommandsChanged);
    }

    pub(crate) fn send_ev(&self, ev: Ev) {
        let _ = self.ev_tx.try_send(ev);
    }
}

/// A slave. Create it, take a [`SlaveHandle`], then `run()` it.
pub struct Slave {
    shared: Arc<Shared>,
    ev_rx: Receiver<Ev>,
}

/// Controls a running slave from elsewhere (signal handlers, tests).
#[derive(Clone)]
pub struct SlaveHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SlaveHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlaveHandle")
            .field("name", &self.shared.config.name)
            .finish()
    }
}

impl SlaveHandle {
    /// Asks for a graceful shutdown (what SIGHUP triggers with `allow_shutdown = signal`):
    /// with a master that supports it, a `shutdown_request`; otherwise new commands are
    /// refused, running ones are waited for, then the slave disconnects and exits. When
    /// not connected the slave exits at once.
    pub fn request_graceful_shutdown(&self) {
        log::info!(target: LOG_TARGET, "graceful shutdown requested");
        self.shared.send_ev(Ev::Graceful);
    }

    /// Stops the slave: kills the process groups of running commands and makes
    /// [`Slave::run`] return [`SlaveExit::Stopped`].
    pub fn stop(&self) {
        log::info!(target: LOG_TARGET, "stopping the worker");
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.commands.kill_all("worker stopping");
        self.shared.send_ev(Ev::Stop);
    }

    /// The stream of [`SlaveEvent`]s (events beyond 1024 unread ones are dropped).
    pub fn events(&self) -> Receiver<SlaveEvent> {
        self.shared.events_rx.clone()
    }
}

impl Slave {
    /// Creates a slave from its configuration.
    pub fn new(config: SlaveConfig) -> Slave {
        let (events_tx, events_rx) = bounded(1024);
        let (ev_tx, ev_rx) = unbounded();
        let jail = Jail::new(&config.basedir);
        let encoding = Encoding::from_name(config.unicode_encoding.as_deref());
        Slave {
            shared: Arc::new(Shared {
                config,
                jail,
                encoding,
                commands: Registry::default(),
                shutting_down: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                events_tx,
                events_rx,
                ev_tx,
            }),
            ev_rx,
        }
    }

    /// A handle to control the slave while it runs.
    pub fn handle(&self) -> SlaveHandle {
        SlaveHandle {
            shared: self.shared.clone(),
        }
    }

    /// Connects to the master and serves it, reconnecting with back-off, until stopped,
    /// shut down, or `maxretries` is reached.
    pub async fn run(self) -> Result<SlaveExit, SlaveError> {
        let shared = self.shared;
        let config = &shared.config;
        if config.name.contains(':') {
            return Err(SlaveError::Config(format!(
                "the worker name {:?} must not contain ':'",
                config.name
            )));
        }
        if !config.basedir.is_absolute() {
            return Err(SlaveError::Config(format!(
                "the base directory {} must be an absolute path",
                config.basedir.display()
            )));
        }
        if config.allow_shutdown == Some(AllowShutdown::File) {
            spawn_stamp_watcher(shared.clone());
        }
        let ev_rx = self.ev_rx;
        let exit = connection::run_loop(&shared, &ev_rx).await;
        shared.stopped.store(true, Ordering::SeqCst);
        shared.commands.kill_all("worker exiting");
        let why = format!("{exit:?}");
        log::info!(target: LOG_TARGET, "worker exits: {why}");
        shared.emit(SlaveEvent::ShuttingDown(why));
        Ok(exit)
    }
}

fn stamp_mtime(path: &std::path::Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

fn spawn_stamp_watcher(shared: Arc<Shared>) {
    let stamp = shared.config.basedir.join("shutdown.stamp");
    let initial = stamp_mtime(&stamp);
    async_std::task::spawn(async move {
        loop {
            async_std::task::sleep(Duration::from_secs(10)).await;
            if shared.stopped.load(Ordering::SeqCst) {
                break;
            }
            if stamp_mtime(&stamp) > initial {
                log::info!(
                    target: LOG_TARGET,
                    "{} was touched: requesting a graceful shutdown",
                    stamp.display()
                );
                shared.send_ev(Ev::Graceful);
                break;
            }
        }
    });
}
