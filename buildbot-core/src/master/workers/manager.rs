//! The listening side: TCP accept, WebSocket upgrade with Basic authentication (§1.2),
//! the credentials table, the connection registry and the event stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_std::channel::{Receiver, unbounded};
use async_std::net::{TcpListener, TcpStream};
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use base64::Engine;

use super::connection::{self, ConnShared, WorkerConnection};
use super::error::WorkerManagerError;
use crate::master::config::MasterConfig;
use crate::protocol::{EXTENSIONS_HEADER, MAX_WORKER_MESSAGE_SIZE};
use crate::util::log_text;

/// Settings of the worker port.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerManagerConfig {
    /// Address to listen on, e.g. `"0.0.0.0:9989"`; port 0 picks a free port (see
    /// [`WorkerManager::local_addr`]).
    pub bind: String,
    /// Time allowed for the WebSocket opening handshake (autobahn's 5 s).
    pub handshake_timeout: Duration,
    /// How long the old connection may take to answer the duplicate check (§6.4, 10 s).
    pub duplicate_timeout: Duration,
    /// Largest accepted WebSocket message; larger ones drop the connection.
    pub max_message_size: usize,
}

impl WorkerManagerConfig {
    /// Defaults for listening on `bind`.
    pub fn new(bind: impl Into<String>) -> Self {
        WorkerManagerConfig {
            bind: bind.into(),
            handshake_timeout: Duration::from_secs(5),
            duplicate_timeout: Duration::from_secs(10),
            max_message_size: MAX_WORKER_MESSAGE_SIZE,
        }
    }

    /// The listener of `[protocols.msgpack]` (`None` when the configuration has none);
    /// without an `interface` it listens on all interfaces, like the Python master.
    pub fn from_config(config: &MasterConfig) -> Option<Self> {
        let port = config.protocols.msgpack.as_ref()?;
        let bind = match port.interface.as_deref() {
            None | Some("") => format!("0.0.0.0:{}", port.port),
            Some(i) if i.contains(':') && !i.starts_with('[') => format!("[{i}]:{}", port.port),
            Some(i) => format!("{i}:{}", port.port),
        };
        Some(WorkerManagerConfig::new(bind))
    }

    /// Sets the handshake timeout.
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }

    /// Sets the duplicate-check timeout.
    pub fn duplicate_timeout(mut self, d: Duration) -> Self {
        self.duplicate_timeout = d;
        self
    }

    /// Sets the message size limit.
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = n;
        self
    }
}

/// A builder as a worker sees it: its name and its directory in the worker's base
/// directory.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerBuilder {
    /// Builder name.
    pub name: String,
    /// The builder's `workerbuilddir` (`None`: the name with special characters replaced
    /// by `_`, Buildbot's `safeTranslate`).
    pub workerbuilddir: Option<String>,
}

impl WorkerBuilder {
    /// A builder using the default directory.
    pub fn new(name: impl Into<String>) -> Self {
        WorkerBuilder {
            name: name.into(),
            workerbuilddir: None,
        }
    }

    /// Sets the worker-side directory.
    pub fn workerbuilddir(mut self, dir: impl Into<String>) -> Self {
        self.workerbuilddir = Some(dir.into());
        self
    }

    /// The directory name inside the worker's base directory.
    pub fn dir_name(&self) -> String {
        self.workerbuilddir
            .clone()
            .unwrap_or_else(|| crate::master::config::safe_translate(&self.name))
    }
}

/// One worker the master accepts: credentials, keepalive interval and its builders.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerRegistration {
    /// Worker name.
    pub name: String,
    /// Password (compared exactly).
    pub password: String,
    /// Interval of master keepalives; a keepalive not answered within the interval drops
    /// the connection. Zero disables them. Default 3600 s.
    pub keepalive_interval: Duration,
    /// Builders the worker serves (sent at attach time).
    pub builders: Vec<WorkerBuilder>,
}

impl WorkerRegistration {
    /// A worker with no builders and the default keepalive interval.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        WorkerRegistration {
            name: name.into(),
            password: password.into(),
            keepalive_interval: Duration::from_secs(3600),
            builders: Vec::new(),
        }
    }

    /// The registrations of a master configuration: every `[[workers]]` entry with its
    /// password and `keepalive_interval`, and the builders that name it in `workernames`
    /// (with their `workerbuilddir`), in configuration order.
    pub fn from_config(config: &MasterConfig) -> Vec<WorkerRegistration> {
        config
            .workers
            .iter()
            .map(|w| {
                let mut reg = WorkerRegistration::new(w.name.clone(), w.password.clone());
                if let Some(secs) = w.keepalive_interval {
                    reg.keepalive_interval = Duration::from_secs(secs);
                }
                reg.builders = config
                    .builders
                    .iter()
                    .filter(|b| b.workernames.contains(&w.name))
                    .map(|b| {
                        WorkerBuilder::new(b.name.clone()).workerbuilddir(b.workerbuilddir.clone())
                    })
                    .collect();
                reg
            })
            .collect()
    }

    /// Sets the keepalive interval.
    pub fn keepalive_interval(mut self, d: Duration) -> Self {
        self.keepalive_interval = d;
        self
    }

    /// Sets the builders.
    pub fn builders(mut self, builders: impl IntoIterator<Item = WorkerBuilder>) -> Self {
        self.builders = builders.into_iter().collect();
        self
    }
}

/// What happens to worker connections, for the engine.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum ConnectionEvent {
    /// A worker finished its session start (§5.1) and can run builds.
    Attached(WorkerConnection),
    /// An attached worker's connection ended; its running commands ended with
    /// [`super::CommandOutcome::ConnectionLost`].
    Detached {
        /// Worker name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The worker asked for a graceful shutdown (extension `shutdown-request`); the engine
    /// decides when to send `shutdown`.
    ShutdownRequested(String),
    /// A connection attempt was refused.
    AuthFailed {
        /// The worker name given, if the credentials could be parsed.
        name: Option<String>,
        /// Where the attempt came from.
        peer: SocketAddr,
        /// Why it was refused.
        reason: String,
    },
}

/// [`ConnectionEvent::AuthFailed`] is dropped while this many events are unread.
const MAX_QUEUED_REFUSALS: usize = 1024;

struct Shared {
    config: WorkerManagerConfig,
    workers: RwLock<HashMap<String, WorkerRegistration>>,
    conn: ConnShared,
    next_id: AtomicU64,
}

/// Accepts worker connections and keeps the table of attached workers.
///
/// ```no_run
/// # async fn demo() -> Result<(), buildbot_core::master::workers::WorkerManagerError> {
/// use buildbot_core::master::workers::*;
/// let manager = WorkerManager::start(
///     WorkerManagerConfig::new("0.0.0.0:9989"),
///     [WorkerRegistration::new("example-slave", "pass")
///         .builders([WorkerBuilder::new("runtests")])],
/// )
/// .await?;
/// let events = manager.events();
/// while let Ok(event) = events.recv().await {
///     if let ConnectionEvent::Attached(conn) = event {
///         let cmd = conn
///             .start_command(
///                 "runtests",
///                 "shell",
///                 CommandArgs::new().with("workdir", "build").with("command", "make test"),
///             )
///             .await?;
///         let result = cmd.wait().await;
///         # let _ = result;
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct WorkerManager {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    events: Receiver<ConnectionEvent>,
    accept_task: Mutex<Option<async_std::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for WorkerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerManager")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl Drop for WorkerManager {
    fn drop(&mut self) {
        let task = self
            .accept_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            async_std::task::spawn(task.cancel());
        }
        for c in self.all_connections() {
            c.disconnect_with("master stopping");
        }
    }
}

fn set_tcp_keepalive(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a valid socket with a pointer to a c_int of the given size.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        log::debug!(
            "cannot enable TCP keepalive: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Why credentials were refused.
enum Refusal {
    /// 400: malformed header.
    Malformed(String),
    /// 401: missing header, unknown name, wrong password.
    Unauthorized(Option<String>, String),
}

/// Checks an `Authorization` header value against the table (§1.2).
fn check_credentials(
    header: Option<&HeaderValue>,
    workers: &HashMap<String, WorkerRegistration>,
) -> Result<String, Refusal> {
    let Some(value) = header else {
        return Err(Refusal::Unauthorized(
            None,
            "no Authorization header".into(),
        ));
    };
    let bytes = value.as_bytes();
    if !bytes.starts_with(b"Basic") {
        return Err(Refusal::Malformed("Authorization is not Basic".into()));
    }
    let encoded = bytes.get(6..).unwrap_or_default();
    let encoded: Vec<u8> = encoded
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .map_err(|e| Refusal::Malformed(format!("bad base64 in Authorization: {e}")))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| Refusal::Malformed("credentials are not UTF-8".into()))?;
    let Some((name, password)) = text.split_once(':') else {
        return Err(Refusal::Malformed("credentials without ':'".into()));
    };
    match workers.get(name) {
        None => Err(Refusal::Unauthorized(
            Some(name.to_string()),
            "unknown worker name".into(),
        )),
        Some(w) if w.password != password => Err(Refusal::Unauthorized(
            Some(name.to_string()),
            "wrong password".into(),
        )),
        Some(_) => Ok(name.to_string()),
    }
}

impl WorkerManager {
    /// Binds the worker port and starts accepting connections.
    pub async fn start(
        config: WorkerManagerConfig,
        workers: impl IntoIterator<Item = WorkerRegistration>,
    ) -> Result<WorkerManager, WorkerManagerError> {
        let listener = TcpListener::bind(config.bind.as_str())
            .await
            .map_err(|source| WorkerManagerError::Bind {
                addr: config.bind.clone(),
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| WorkerManagerError::Bind {
                addr: config.bind.clone(),
                source,
            })?;
        let (events_tx, events_rx) = unbounded();
        let shared = Arc::new(Shared {
            conn: ConnShared {
                events: events_tx,
                registry: Arc::new(Mutex::new(HashMap::new())),
                duplicate_timeout: config.duplicate_timeout,
            },
            config,
            workers: RwLock::new(workers.into_iter().map(|w| (w.name.clone(), w)).collect()),
            next_id: AtomicU64::new(0),
        });
        log::info!("listening for workers on {local_addr}");
        let task = async_std::task::spawn(accept_loop(listener, shared.clone()));
        Ok(WorkerManager {
            shared,
            local_addr,
            events: events_rx,
            accept_task: Mutex::new(Some(task)),
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The event stream. Every event goes to exactly one receiver: the engine should hold
    /// one.
    pub fn events(&self) -> Receiver<ConnectionEvent> {
        self.events.clone()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<String, WorkerConnection>> {
        self.shared
            .conn
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The attached connection of a worker.
    pub fn connection(&self, name: &str) -> Option<WorkerConnection> {
        self.registry()
            .get(name)
            .filter(|c| c.is_attached())
            .cloned()
    }

    /// All attached connections.
    pub fn connections(&self) -> Vec<WorkerConnection> {
        self.registry()
            .values()
            .filter(|c| c.is_attached())
            .cloned()
            .collect()
    }

    /// Every live connection, attached or still starting.
    fn all_connections(&self) -> Vec<WorkerConnection> {
        self.registry().values().cloned().collect()
    }

    /// Replaces the credentials table (reconfig). Connections of workers that are no
    /// longer registered are dropped; others are kept.
    pub fn set_workers(&self, workers: impl IntoIterator<Item = WorkerRegistration>) {
        let table: HashMap<String, WorkerRegistration> =
            workers.into_iter().map(|w| (w.name.clone(), w)).collect();
        let removed: Vec<WorkerConnection> = self
            .all_connections()
            .into_iter()
            .filter(|c| !table.contains_key(c.name()))
            .collect();
        *self
            .shared
            .workers
            .write()
            .unwrap_or_else(|p| p.into_inner()) = table;
        for c in removed {
            log::info!("worker {} was removed from the configuration", c.name());
            c.disconnect_with("worker removed from the configuration");
        }
    }

    /// [`WorkerManager::set_workers`], then the builder-list cycle (§5.3) on every
    /// connected worker whose builder list changed. Returns the failures (the
    /// connections stay open).
    pub async fn reconfigure(
        &self,
        workers: impl IntoIterator<Item = WorkerRegistration>,
    ) -> Vec<WorkerManagerError> {
        let workers: Vec<WorkerRegistration> = workers.into_iter().collect();
        self.set_workers(workers.clone());
        let mut updates = Vec::new();
        for w in workers {
            if let Some(conn) = self.connection(&w.name)
                && conn.builders() != w.builders
            {
                updates.push(async move { conn.update_builders(w.builders).await });
            }
        }
        futures::future::join_all(updates)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect()
    }

    /// Redoes the builder-list cycle (§5.3) on the live connection of `worker`; returns
    /// the newly attached builder names.
    pub async fn update_builders(
        &self,
        worker: &str,
        builders: Vec<WorkerBuilder>,
    ) -> Result<Vec<String>, WorkerManagerError> {
        let conn = self
            .connection(worker)
            .ok_or_else(|| WorkerManagerError::NotConnected {
                worker: worker.to_string(),
            })?;
        conn.update_builders(builders).await
    }

    /// Stops accepting connections and drops every connection.
    pub async fn stop(&self) {
        let task = self
            .accept_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            task.cancel().await;
        }
        for c in self.all_connections() {
            c.disconnect_with("master stopping");
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                async_std::task::spawn(handle_socket(shared, stream, peer));
            }
            Err(e) => {
                log::warn!("accepting a worker connection failed: {e}");
                async_std::task::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

// the handshake callback's error type is tungstenite's
#[allow(clippy::result_large_err)]
async fn handle_socket(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    set_tcp_keepalive(&stream);
    let tcp = stream.clone();
    let accepted: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let callback = {
        let shared = shared.clone();
        let accepted = accepted.clone();
        move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            let workers = shared.workers.read().unwrap_or_else(|p| p.into_inner());
            match check_credentials(req.headers().get("Authorization"), &workers) {
                Ok(name) => {
                    resp.headers_mut().insert(
                        EXTENSIONS_HEADER,
                        HeaderValue::from_static(const_format_extensions()),
                    );
                    *accepted.lock().unwrap_or_else(|p| p.into_inner()) = Some(name);
                    Ok(resp)
                }
                Err(refusal) => {
                    let (status, name, reason) = match refusal {
                        Refusal::Malformed(r) => (StatusCode::BAD_REQUEST, None, r),
                        Refusal::Unauthorized(n, r) => (StatusCode::UNAUTHORIZED, n, r),
                    };
                    log::warn!(
                        "refused worker connection from {peer} (worker {}): {}",
                        log_text(name.as_deref().unwrap_or("<none>")),
                        log_text(&reason)
                    );
                    // refusals repeat every few seconds: never let them pile up unread
                    if shared.conn.events.len() < MAX_QUEUED_REFUSALS {
                        let _ = shared.conn.events.try_send(ConnectionEvent::AuthFailed {
                            name,
                            peer,
                            reason,
                        });
                    }
                    let mut e = ErrorResponse::new(None);
                    *e.status_mut() = status;
                    Err(e)
                }
            }
        }
    };
    // A 16 KiB read buffer (tungstenite's default is 128 KiB, zero-filled at once): idle
    // connections stay small; a larger message still gets a buffer of its own size.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(shared.config.max_message_size))
        .max_frame_size(Some(shared.config.max_message_size));
    let handshake =
        async_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config));
    let ws = match async_std::future::timeout(shared.config.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            log::debug!("WebSocket handshake from {peer} failed: {e}");
            return;
        }
        Err(_) => {
            log::warn!("WebSocket handshake from {peer} timed out");
            return;
        }
    };
    let Some(name) = accepted.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let registration = shared
        .workers
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&name)
        .cloned();
    let Some(registration) = registration else {
        log::warn!("worker {name} from {peer} was removed from the configuration meanwhile");
        return;
    };
    log::info!("worker {name} connected from {peer}");
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let new = connection::NewConnection {
        ws,
        tcp,
        id,
        name,
        peer_addr: peer,
        keepalive_interval: registration.keepalive_interval,
        builders: registration.builders,
    };
    connection::serve(new, shared.conn.clone()).await;
}

/// The value of the extensions header.
const fn const_format_extensions() -> &'static str {
    // keep in sync with EXT_KEEPALIVE / EXT_SHUTDOWN_REQUEST (checked in a test)
    "keepalive, shutdown-request"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{EXT_KEEPALIVE, EXT_SHUTDOWN_REQUEST};

    #[test]
    fn registrations_from_config() {
        use crate::master::config::{BuilderConfig, WorkerConfig};
        let config = MasterConfig::builder()
            .worker_port(9989)
            .worker(WorkerConfig::new("w1", "p1"))
            .worker(WorkerConfig::new("w2", "p2"))
            .builder(
                BuilderConfig::builder("b one")
                    .workernames(["w1", "w2"])
                    .build()
                    .unwrap(),
            )
            .builder(
                BuilderConfig::builder("b2")
                    .workernames(["w2"])
                    .workerbuilddir("custom")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let regs = WorkerRegistration::from_config(&config);
        assert_eq!(regs.len(), 2);
        assert_eq!(regs[0].password, "p1");
        assert_eq!(regs[0].keepalive_interval, Duration::from_secs(3600));
        let dirs: Vec<String> = regs[1]
            .builders
            .iter()
            .map(WorkerBuilder::dir_name)
            .collect();
        assert_eq!(dirs, ["b_one", "custom"]);
        assert_eq!(
            WorkerManagerConfig::from_config(&config).map(|c| c.bind),
            Some("0.0.0.0:9989".to_string())
        );
    }

    #[test]
    fn extensions_header_value() {
        assert_eq!(
            crate::protocol::parse_extensions(const_format_extensions()),
            vec![EXT_KEEPALIVE.to_string(), EXT_SHUTDOWN_REQUEST.to_string()]
        );
    }

    #[test]
    fn credentials() {
        let mut t = HashMap::new();
        t.insert("w1".to_string(), WorkerRegistration::new("w1", "pa:ss"));
        let hv = |s: &str| HeaderValue::from_str(s).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            check_credentials(Some(&hv(&format!("Basic {}", b64("w1:pa:ss")))), &t).ok(),
            Some("w1".to_string())
        );
        assert!(matches!(
            check_credentials(Some(&hv(&format!("Basic {}", b64("w1:bad")))), &t),
            Err(Refusal::Unauthorized(Some(_), _))
        ));
        assert!(matches!(
            check_credentials(Some(&hv(&format!("Basic {}", b64("w2:pa:ss")))), &t),
            Err(Refusal::Unauthorized(Some(_), _))
        ));
        assert!(matches!(
            check_credentials(None, &t),
            Err(Refusal::Unauthorized(None, _))
        ));
        assert!(matches!(
            check_credentials(Some(&hv("Bearer x")), &t),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check_credentials(Some(&hv("Basic !!!")), &t),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check_credentials(Some(&hv(&format!("Basic {}", b64("nocolon")))), &t),
            Err(Refusal::Malformed(_))
        ));
    }
}
