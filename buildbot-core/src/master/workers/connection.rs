//! One attached worker: the WebSocket session, answering the worker's requests, the session
//! start and builder-list cycle (§5), keepalives (§6.1), and remote commands (§9).

use std::collections::{BTreeSet, HashMap};
use std::net::{Shutdown, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_std::channel::{Receiver, Sender, unbounded};
use async_std::net::TcpStream;
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use futures::StreamExt;
use futures::future::Either;

use super::command::{
    Backlog, BuilderBase, CommandArgs, CommandEntry, CommandHandle, CommandOutcome, CommandResult,
    CommandTable, RemoteCommand, Transfer, next_command_id, translate, wire_command_name,
};
use super::error::WorkerManagerError;
use super::info::WorkerInfo;
use super::manager::{ConnectionEvent, WorkerBuilder};
use super::transfer::{Compression, DirectoryWriter, DownloadSource, FileWriter, Reader};
use crate::protocol::{IncomingRequest, Op, ProtocolError, RpcPeer, Value, WorkerSettings};
use crate::util::{lock, log_preview, log_text};
use async_tungstenite::tungstenite::Error as WsError;

/// What the manager shares with its connections.
#[derive(Clone, Debug)]
pub(crate) struct ConnShared {
    pub(crate) events: Sender<ConnectionEvent>,
    pub(crate) registry: Arc<Mutex<HashMap<String, WorkerConnection>>>,
    pub(crate) duplicate_timeout: Duration,
}

/// Options of a file transfer (the step's `maxsize`, `mode`, `blocksize`, `compress`).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Maximum number of bytes transferred (`None`: unlimited).
    pub maxsize: Option<u64>,
    /// Permission bits of the created file (uploads: on the master; downloads: on the
    /// worker).
    pub mode: Option<u32>,
    /// Block size (`None`: the step defaults, 262144 for file uploads, 16384 otherwise).
    pub blocksize: Option<u64>,
    /// Archive compression of a directory upload.
    pub compress: Compression,
}

impl TransferOptions {
    /// Defaults: unlimited, no mode, default block size, no compression.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `maxsize`.
    pub fn maxsize(mut self, n: u64) -> Self {
        self.maxsize = Some(n);
        self
    }
    /// Sets `mode`.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }
    /// Sets `blocksize`.
    pub fn blocksize(mut self, n: u64) -> Self {
        self.blocksize = Some(n);
        self
    }
    /// Sets the compression of a directory upload.
    pub fn compress(mut self, c: Compression) -> Self {
        self.compress = c;
        self
    }
}

#[derive(Default)]
struct LifeState {
    attached: bool,
    closed: bool,
}

#[derive(Default)]
struct WorkerKeepalive {
    last: Option<Instant>,
    interval: Option<Duration>,
}

struct Inner {
    id: u64,
    name: String,
    peer_addr: SocketAddr,
    rpc: RpcPeer,
    tcp: TcpStream,
    control: Sender<WsMessage>,
    info: OnceLock<WorkerInfo>,
    builders: Mutex<Vec<WorkerBuilder>>,
    builders_lock: async_std::sync::Mutex<()>,
    commands: CommandTable,
    life: Mutex<LifeState>,
    closing: AtomicBool,
    close_reason: Mutex<Option<String>>,
    closed_tx: Mutex<Option<Sender<()>>>,
    closed_rx: Receiver<()>,
    connected_at: Instant,
    last_seen: Mutex<Instant>,
    worker_keepalive: Mutex<WorkerKeepalive>,
    /// Wakes the keepalive task when the worker sent a keepalive.
    keepalive_seen: (Sender<()>, Receiver<()>),
    keepalive_interval: Duration,
    shared: ConnShared,
}

/// A connected worker (a cheap, cloneable handle). Obtained from
/// [`ConnectionEvent::Attached`] or [`super::WorkerManager::connection`].
#[derive(Clone)]
pub struct WorkerConnection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WorkerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConnection")
            .field("name", &self.inner.name)
            .field("peer", &self.inner.peer_addr)
            .field("connected", &self.is_connected())
            .finish()
    }
}

static NO_INFO: LazyLock<WorkerInfo> = LazyLock::new(WorkerInfo::default);

/// A command's output queue over its limit: the queue and its sender (closed once the
/// command's owner is gone).
type QueueFull = (Arc<Backlog>, Sender<super::command::CommandEvent>);

const S_IFMT: i64 = 0o170000;
const S_IFDIR: i64 = 0o040000;

/// An authenticated WebSocket, ready for the session start.
pub(crate) struct NewConnection {
    pub(crate) ws: WebSocketStream<TcpStream>,
    pub(crate) tcp: TcpStream,
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) keepalive_interval: Duration,
    pub(crate) builders: Vec<WorkerBuilder>,
}

/// Starts serving an authenticated WebSocket: duplicate check (§6.4), session start (§5.1),
/// then keepalives. Returns when the session start is over (the connection lives on in
/// its own tasks).
pub(crate) async fn serve(new: NewConnection, shared: ConnShared) {
    let NewConnection {
        ws,
        tcp,
        id,
        name,
        peer_addr,
        keepalive_interval,
        builders,
    } = new;
    let (rpc, out_rx) = RpcPeer::new();
    let (control_tx, control_rx) = unbounded();
    let (closed_tx, closed_rx) = unbounded();
    let now = Instant::now();
    let conn = WorkerConnection {
        inner: Arc::new(Inner {
            id,
            name: name.clone(),
            peer_addr,
            rpc,
            tcp,
            control: control_tx,
            info: OnceLock::new(),
            builders: Mutex::new(Vec::new()),
            builders_lock: async_std::sync::Mutex::new(()),
            commands: CommandTable::new(),
            life: Mutex::new(LifeState::default()),
            closing: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            closed_tx: Mutex::new(Some(closed_tx)),
            closed_rx,
            connected_at: now,
            last_seen: Mutex::new(now),
            worker_keepalive: Mutex::new(WorkerKeepalive::default()),
            keepalive_seen: async_std::channel::bounded(1),
            keepalive_interval,
            shared: shared.clone(),
        }),
    };
    let (sink, stream) = ws.split();
    async_std::task::spawn(writer(sink, out_rx, control_rx));
    async_std::task::spawn(reader(conn.clone(), stream));

    // §6.4 duplicate connections (re-checked if another connection slipped in meanwhile)
    loop {
        let existing = lock(&shared.registry).get(&name).cloned();
        if let Some(old) = existing.filter(WorkerConnection::is_connected) {
            let probe = old.inner.rpc.send(Op::Print {
                message: "master got a duplicate connection".to_string(),
            });
            match async_std::future::timeout(shared.duplicate_timeout, probe).await {
                Ok(Ok(_)) => {
                    log::warn!(
                        "rejecting duplicate worker {name} from {peer_addr}: the existing connection from {} is alive",
                        old.inner.peer_addr
                    );
                    conn.reject_duplicate().await;
                    return;
                }
                Ok(Err(e)) => {
                    log::warn!(
                        "worker {name}: the old connection failed the duplicate check ({e}); dropping it for the new one from {peer_addr}"
                    );
                    old.disconnect_with("replaced by a new connection");
                }
                Err(_) => {
                    log::warn!(
                        "worker {name}: the old connection did not answer within {:?}; dropping it for the new one from {peer_addr}",
                        shared.duplicate_timeout
                    );
                    old.disconnect_with("replaced by a new connection");
                }
            }
            let _ = async_std::future::timeout(Duration::from_secs(5), old.closed()).await;
        }
        let mut registry = lock(&shared.registry);
        if registry
            .get(&name)
            .is_some_and(|c| c.is_connected() && !c.same(&conn))
        {
            continue;
        }
        // checked under the registry lock: on_closed removes us after this point
        if !conn.is_connected() {
            return;
        }
        registry.insert(name.clone(), conn.clone());
        break;
    }

    match conn.start_session(builders).await {
        Ok(()) => {
            {
                let mut life = lock(&conn.inner.life);
                if life.closed {
                    return;
                }
                life.attached = true;
                log::info!("worker {name} attached from {peer_addr}");
                let _ = shared
                    .events
                    .try_send(ConnectionEvent::Attached(conn.clone()));
            }
            async_std::task::spawn(keepalive_loop(conn.clone()));
        }
        Err(e) => {
            log::error!("worker {name} from {peer_addr} could not attach: {e}");
            conn.disconnect_with(&format!("attaching failed: {e}"));
        }
    }
}

type WsSink = async_tungstenite::WebSocketSender<TcpStream>;
type WsSource = async_tungstenite::WebSocketReceiver<TcpStream>;

async fn writer(mut sink: WsSink, out_rx: Receiver<Vec<u8>>, control_rx: Receiver<WsMessage>) {
    loop {
        let next =
            futures::future::select(Box::pin(out_rx.recv()), Box::pin(control_rx.recv())).await;
        let msg = match next {
            Either::Left((Ok(frame), _)) => WsMessage::binary(frame),
            Either::Right((Ok(m), _)) => m,
            _ => break,
        };
        if let Err(e) = sink.send(msg).await {
            log::debug!("write to worker failed: {e}");
            break;
        }
    }
}

async fn reader(conn: WorkerConnection, mut stream: WsSource) {
    let name = conn.inner.name.clone();
    let reason = loop {
        let msg = match stream.next().await {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                let e = match e {
                    WsError::Capacity(c) => format!("a message exceeds the limit ({c})"),
                    e => log_preview(&e),
                };
                log::warn!("worker {name}: dropping the connection: {e}");
                break format!("connection error: {e}");
            }
            None => break "connection closed".to_string(),
        };
        *lock(&conn.inner.last_seen) = Instant::now();
        match msg {
            WsMessage::Binary(payload) => match conn.inner.rpc.receive(&payload) {
                Ok(Some(req)) => {
                    // backpressure: stop reading while a command's output queue is full
                    if let Some((backlog, tx)) = conn.handle_request(req) {
                        backlog
                            .wait_below_limit(
                                || tx.is_closed() || !conn.is_connected(),
                                || *lock(&conn.inner.last_seen) = Instant::now(),
                            )
                            .await;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    log::warn!("worker {name}: protocol error, dropping the connection: {e}");
                    break format!("protocol error: {e}");
                }
            },
            WsMessage::Text(t) => {
                log::warn!("worker {name}: ignoring a text frame ({} bytes)", t.len());
            }
            WsMessage::Close(_) => break "the worker closed the connection".to_string(),
            _ => {}
        }
    };
    conn.on_closed(&reason);
}

async fn keepalive_loop(conn: WorkerConnection) {
    let interval = conn.inner.keepalive_interval;
    let mut next_keepalive = (!interval.is_zero()).then(|| Instant::now() + interval);
    let notify = conn.inner.keepalive_seen.1.clone();
    loop {
        if !conn.is_connected() {
            return;
        }
        let now = Instant::now();
        // a worker that sends keepalives must not fall silent
        let mut wake: Option<Instant> = next_keepalive;
        if let Some(limit) = conn.worker_silence_limit() {
            let last_seen = *lock(&conn.inner.last_seen);
            let silent = now.saturating_duration_since(last_seen);
            if silent > limit {
                log::warn!(
                    "worker {}: silent for {:.1} s although it sends keepalives; considering it dead",
                    conn.inner.name,
                    silent.as_secs_f64()
                );
                conn.disconnect_with(&format!(
                    "no message from the worker for {:.1} seconds",
                    silent.as_secs_f64()
                ));
                return;
            }
            let deadline = last_seen + limit + Duration::from_millis(10);
            wake = Some(wake.map_or(deadline, |w| w.min(deadline)));
        }
        if let Some(at) = next_keepalive
            && now >= at
        {
            next_keepalive = Some(now + interval);
            let fut = conn.inner.rpc.send(Op::Keepalive);
            let c = conn.clone();
            async_std::task::spawn(async move {
                match async_std::future::timeout(interval, fut).await {
                    Ok(Ok(_)) => log::debug!("worker {}: keepalive answered", c.inner.name),
                    Ok(Err(ProtocolError::ConnectionLost)) => {}
                    Ok(Err(e)) => log::warn!("worker {}: keepalive failed: {e}", c.inner.name),
                    Err(_) => {
                        log::warn!(
                            "worker {}: keepalive not answered within {} s; dropping the connection",
                            c.inner.name,
                            interval.as_secs_f64()
                        );
                        c.disconnect_with("keepalive not answered");
                    }
                }
            });
            continue;
        }
        // sleep until the next deadline, the end of the connection, or a worker keepalive
        let woken = futures::future::select(Box::pin(conn.closed()), Box::pin(notify.recv()));
        match wake {
            Some(at) => {
                let _ = async_std::future::timeout(at.saturating_duration_since(now), woken).await;
            }
            None => {
                woken.await;
            }
        }
    }
}

impl WorkerConnection {
    /// The worker name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The worker's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr
    }

    /// What the worker reported at attach time.
    pub fn info(&self) -> &WorkerInfo {
        self.inner.info.get().unwrap_or(&NO_INFO)
    }

    /// The builders currently attached on this worker.
    pub fn builders(&self) -> Vec<WorkerBuilder> {
        lock(&self.inner.builders).clone()
    }

    /// `true` once the session start (§5.1) completed, until the connection closes.
    pub fn is_attached(&self) -> bool {
        let life = lock(&self.inner.life);
        life.attached && !life.closed
    }

    /// `true` until the connection is closed.
    pub fn is_connected(&self) -> bool {
        !self.inner.closing.load(Ordering::SeqCst)
    }

    /// Why the connection closed (`None` while connected).
    pub fn close_reason(&self) -> Option<String> {
        lock(&self.inner.close_reason).clone()
    }

    /// Resolves when the connection is closed.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let rx = self.inner.closed_rx.clone();
        async move {
            let _ = rx.recv().await;
        }
    }

    /// Number of remote commands running on this connection.
    pub fn running_commands(&self) -> usize {
        self.inner.commands.len()
    }

    pub(crate) fn has_command(&self, id: &str) -> bool {
        self.inner.commands.contains(id)
    }

    pub(crate) fn same(&self, other: &WorkerConnection) -> bool {
        self.inner.id == other.inner.id
    }

    fn request_error(&self, op: &str, source: ProtocolError) -> WorkerManagerError {
        match source {
            ProtocolError::ConnectionLost => WorkerManagerError::NotConnected {
                worker: self.inner.name.clone(),
            },
            source => WorkerManagerError::Request {
                worker: self.inner.name.clone(),
                op: op.to_string(),
                source,
            },
        }
    }

    async fn call(&self, op: Op) -> Result<Value, WorkerManagerError> {
        let name = op.name().to_string();
        self.inner
            .rpc
            .call(op)
            .await
            .map_err(|e| self.request_error(&name, e))
    }

    /// Build-start liveness probe (`print "ping"`). On failure the connection is dropped
    /// (as the Python master does) and the error returned.
    pub async fn ping(&self) -> Result<(), WorkerManagerError> {
        match self
            .call(Op::Print {
                message: "ping".to_string(),
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                log::warn!("worker {}: ping failed: {e}", self.inner.name);
                self.disconnect_with("ping failed");
                Err(e)
            }
        }
    }

    /// Sends a `print` request (the worker logs the message).
    pub async fn print(&self, message: &str) -> Result<(), WorkerManagerError> {
        self.call(Op::Print {
            message: message.to_string(),
        })
        .await
        .map(|_| ())
    }

    /// Asks the worker to shut down (`shutdown`, §3.7); it exits shortly after answering.
    pub async fn shutdown(&self) -> Result<(), WorkerManagerError> {
        log::info!("asking worker {} to shut down", self.inner.name);
        self.call(Op::Shutdown).await.map(|_| ())
    }

    /// Drops the connection (TCP close, no WebSocket close frame).
    pub fn disconnect(&self) {
        self.disconnect_with("disconnected by the master");
    }

    pub(crate) fn disconnect_with(&self, reason: &str) {
        {
            let mut r = lock(&self.inner.close_reason);
            if r.is_none() {
                *r = Some(reason.to_string());
            }
        }
        self.on_closed(reason);
    }

    async fn reject_duplicate(&self) {
        {
            let mut r = lock(&self.inner.close_reason);
            *r = Some("duplicate connection rejected".to_string());
        }
        let _ = self.inner.control.try_send(WsMessage::Close(None));
        let _ = async_std::future::timeout(Duration::from_secs(2), self.closed()).await;
        self.on_closed("duplicate connection rejected");
    }

    fn on_closed(&self, reason: &str) {
        if self.inner.closing.swap(true, Ordering::SeqCst) {
            return;
        }
        let reason = {
            let mut r = lock(&self.inner.close_reason);
            r.get_or_insert_with(|| reason.to_string()).clone()
        };
        self.inner.rpc.close();
        self.inner.commands.close();
        let _ = self.inner.tcp.shutdown(Shutdown::Both);
        {
            let mut reg = lock(&self.inner.shared.registry);
            if reg.get(&self.inner.name).is_some_and(|c| c.same(self)) {
                reg.remove(&self.inner.name);
            }
        }
        {
            let mut life = lock(&self.inner.life);
            life.closed = true;
            if life.attached {
                log::info!("worker {} detached: {reason}", self.inner.name);
                let _ = self
                    .inner
                    .shared
                    .events
                    .try_send(ConnectionEvent::Detached {
                        name: self.inner.name.clone(),
                        reason: reason.clone(),
                    });
            } else {
                log::debug!(
                    "connection of worker {} from {} closed: {reason}",
                    self.inner.name,
                    self.inner.peer_addr
                );
            }
        }
        lock(&self.inner.closed_tx).take();
    }

    fn note_worker_keepalive(&self) {
        let now = Instant::now();
        let mut ka = lock(&self.inner.worker_keepalive);
        let since = ka.last.unwrap_or(self.inner.connected_at);
        let observed = now.saturating_duration_since(since);
        // the longest observed gap: a burst of keepalives must not shorten the limit
        ka.interval = Some(ka.interval.map_or(observed, |i| i.max(observed)));
        ka.last = Some(now);
        drop(ka);
        let _ = self.inner.keepalive_seen.0.try_send(());
    }

    /// Twice the worker's longest observed keepalive interval (only once it sent
    /// keepalives), at least one second.
    fn worker_silence_limit(&self) -> Option<Duration> {
        let ka = lock(&self.inner.worker_keepalive);
        ka.interval.map(|i| (i * 2).max(Duration::from_secs(1)))
    }

    /// Handles one request from the worker; returns the output queue of a command that is
    /// over [`super::command::BACKLOG_LIMIT`] (the reader waits for it to shrink).
    fn handle_request(&self, req: IncomingRequest) -> Option<QueueFull> {
        let IncomingRequest {
            seq_number,
            op_name,
            op,
        } = req;
        let rpc = &self.inner.rpc;
        let unknown = || Err("'unknown \"command_id\"'".to_string());
        let op = match op {
            Ok(op) => op,
            Err(text) => {
                log::warn!(
                    "worker {}: bad {} request: {}",
                    self.inner.name,
                    log_text(&op_name),
                    log_text(&text)
                );
                rpc.respond(seq_number, Err(text));
                return None;
            }
        };
        match op {
            Op::Keepalive => {
                self.note_worker_keepalive();
                rpc.respond(seq_number, Ok(Value::Nil));
            }
            Op::ShutdownRequest => {
                log::info!("worker {} asks for a graceful shutdown", self.inner.name);
                rpc.respond(seq_number, Ok(Value::Nil));
                let _ = self
                    .inner
                    .shared
                    .events
                    .try_send(ConnectionEvent::ShutdownRequested(self.inner.name.clone()));
            }
            Op::Update { command_id, args } => {
                let full = self.inner.commands.update(&command_id, args);
                rpc.respond(
                    seq_number,
                    if full.is_some() {
                        Ok(Value::Nil)
                    } else {
                        unknown()
                    },
                );
                return full.flatten();
            }
            Op::Complete {
                command_id,
                failure,
            } => {
                let ok = self.inner.commands.complete(&command_id, failure);
                rpc.respond(seq_number, if ok { Ok(Value::Nil) } else { unknown() });
            }
            Op::UploadFileWrite { command_id, data }
            | Op::UploadDirectoryWrite { command_id, data } => {
                self.transfer_op(seq_number, &op_name, &command_id, TransferOp::Write(data))
            }
            Op::UploadFileClose { command_id } => {
                self.transfer_op(seq_number, &op_name, &command_id, TransferOp::Close)
            }
            Op::UploadFileUtime {
                command_id,
                access_time,
                modified_time,
            } => self.transfer_op(
                seq_number,
                &op_name,
                &command_id,
                TransferOp::Utime(access_time, modified_time),
            ),
            Op::UploadDirectoryUnpack { command_id } => {
                self.transfer_op(seq_number, &op_name, &command_id, TransferOp::Unpack)
            }
            Op::ReadFile { command_id, length } => {
                self.transfer_op(seq_number, &op_name, &command_id, TransferOp::Read(length))
            }
            Op::ReadFileClose { command_id } => {
                self.transfer_op(seq_number, &op_name, &command_id, TransferOp::ReadClose)
            }
            _ => {
                log::warn!(
                    "worker {}: unknown request {}",
                    self.inner.name,
                    log_text(&op_name)
                );
                rpc.respond(
                    seq_number,
                    Err(format!("Command {op_name} does not exist.")),
                );
            }
        }
        None
    }

    fn transfer_op(&self, seq_number: u64, op_name: &str, command_id: &str, op: TransferOp) {
        let Some((transfer, error_slot)) = self.inner.commands.transfer(command_id) else {
            self.inner
                .rpc
                .respond(seq_number, Err("'unknown \"command_id\"'".to_string()));
            return;
        };
        let rpc = self.inner.rpc.clone();
        let op_name = op_name.to_string();
        let worker = self.inner.name.clone();
        async_std::task::spawn(async move {
            let result = async_std::task::spawn_blocking(move || {
                let mut t = lock(&transfer);
                apply_transfer(&mut t, op)
            })
            .await;
            if let Err(e) = &result {
                log::warn!("worker {worker}: {op_name} failed: {e}");
                let mut slot = lock(&error_slot);
                if slot.is_none() {
                    *slot = Some(e.clone());
                }
            }
            rpc.respond(seq_number, result);
        });
    }

    async fn run_setup(
        &self,
        command: &str,
        args: Vec<(String, Value)>,
    ) -> Result<CommandResult, WorkerManagerError> {
        let attach_err = |message: String| WorkerManagerError::Attach {
            worker: self.inner.name.clone(),
            message,
        };
        let cmd = self.start_raw(None, command, args, None).await?;
        let result = cmd.wait().await;
        if result.outcome != CommandOutcome::Completed {
            return Err(attach_err(format!("{command}: {:?}", result.outcome)));
        }
        if result.rc != Some(0) {
            return Err(attach_err(format!(
                "{command} failed with rc {:?}: {}",
                result.rc,
                result.text("header").trim_end()
            )));
        }
        Ok(result)
    }

    async fn start_session(&self, builders: Vec<WorkerBuilder>) -> Result<(), WorkerManagerError> {
        self.print("attached").await?;
        let value = self.call(Op::GetWorkerInfo).await?;
        let info =
            WorkerInfo::from_value(&value).map_err(|message| WorkerManagerError::Attach {
                worker: self.inner.name.clone(),
                message,
            })?;
        let _ = self.inner.info.set(info);
        self.update_builders(builders).await.map(|_| ())
    }

    /// Sends the builder list (§5.1 steps 6–14, §5.3): `set_worker_settings`, `listdir` of
    /// the base directory, leftover-directory removal when the worker asks for it,
    /// `mkdir` of missing builder directories, then `print "attached"` for every builder
    /// that was not attached before. Returns the names of the newly attached builders.
    pub async fn update_builders(
        &self,
        builders: Vec<WorkerBuilder>,
    ) -> Result<Vec<String>, WorkerManagerError> {
        let _serial = self.inner.builders_lock.lock().await;
        let Some(info) = self.inner.info.get().cloned() else {
            return Err(WorkerManagerError::Attach {
                worker: self.inner.name.clone(),
                message: "the worker has not sent its information yet".to_string(),
            });
        };
        let flavour = info.path_flavour();
        let basedir = info.basedir.clone();
        self.call(Op::SetWorkerSettings {
            args: WorkerSettings::default(),
        })
        .await?;
        let listing = self
            .run_setup(
                "listdir",
                vec![("path".to_string(), Value::from(basedir.as_str()))],
            )
            .await?;
        let files = listing.files.ok_or_else(|| WorkerManagerError::Attach {
            worker: self.inner.name.clone(),
            message: "listdir did not send \"files\"".to_string(),
        })?;
        let mut wanted: BTreeSet<String> = builders.iter().map(WorkerBuilder::dir_name).collect();
        wanted.insert("info".to_string());
        if info.delete_leftover_dirs {
            let mut leftovers = Vec::new();
            for entry in files.iter().filter(|f| !wanted.contains(*f)) {
                let path = flavour.join(&basedir, entry);
                let st = self
                    .run_setup(
                        "stat",
                        vec![("path".to_string(), Value::from(path.as_str()))],
                    )
                    .await?;
                let mode = st
                    .stat
                    .as_ref()
                    .and_then(|s| s.first().copied())
                    .ok_or_else(|| WorkerManagerError::Attach {
                        worker: self.inner.name.clone(),
                        message: "stat did not send \"stat\"".to_string(),
                    })?;
                if mode & S_IFMT == S_IFDIR {
                    leftovers.push(Value::from(path));
                }
            }
            if !leftovers.is_empty() {
                log::info!(
                    "worker {}: deleting {} leftover directories",
                    self.inner.name,
                    leftovers.len()
                );
                self.run_setup(
                    "rmdir",
                    vec![("paths".to_string(), Value::Array(leftovers))],
                )
                .await?;
            }
        }
        let present: BTreeSet<&String> = files.iter().collect();
        let missing: Vec<Value> = wanted
            .iter()
            .filter(|w| !present.contains(w))
            .map(|w| flavour.join(&basedir, w))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(Value::from)
            .collect();
        if !missing.is_empty() {
            self.run_setup("mkdir", vec![("paths".to_string(), Value::Array(missing))])
                .await?;
        }
        let new_names: Vec<String> = {
            let mut current = lock(&self.inner.builders);
            let old: BTreeSet<String> = current.iter().map(|b| b.name.clone()).collect();
            *current = builders.clone();
            builders
                .iter()
                .filter(|b| !old.contains(&b.name))
                .map(|b| b.name.clone())
                .collect()
        };
        let prints: Vec<_> = new_names
            .iter()
            .map(|_| {
                self.inner.rpc.send(Op::Print {
                    message: "attached".to_string(),
                })
            })
            .collect();
        for r in futures::future::join_all(prints).await {
            if let Err(e) = r {
                log::warn!("worker {}: print attached failed: {e}", self.inner.name);
            }
        }
        Ok(new_names)
    }

    fn builder_base(&self, builder: &str) -> BuilderBase {
        let info = self.info();
        let flavour = info.path_flavour();
        let dir_name = lock(&self.inner.builders)
            .iter()
            .find(|b| b.name == builder)
            .map(WorkerBuilder::dir_name)
            .unwrap_or_else(|| crate::master::config::safe_translate(builder));
        BuilderBase {
            dir: flavour.join(&info.basedir, &dir_name),
            flavour,
            environ: info.environ.clone(),
        }
    }

    /// The absolute directory of `builder` on this worker (`basedir` joined with the
    /// builder's `workerbuilddir`, or its name made safe when the builder is unknown).
    pub fn builder_dir(&self, builder: &str) -> String {
        self.builder_base(builder).dir
    }

    async fn start_raw(
        &self,
        builder_name: Option<String>,
        command_name: &str,
        args: Vec<(String, Value)>,
        transfer: Option<Transfer>,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        let id = next_command_id();
        let (tx, rx) = unbounded();
        let transfer_error = Arc::new(Mutex::new(None));
        let backlog = Arc::new(Backlog::default());
        let entry = CommandEntry {
            tx,
            backlog: backlog.clone(),
            transfer: transfer.map(|t| Arc::new(Mutex::new(t))),
            transfer_error: transfer_error.clone(),
        };
        if !self.inner.commands.insert(id.clone(), entry) {
            return Err(WorkerManagerError::NotConnected {
                worker: self.inner.name.clone(),
            });
        }
        let handle = CommandHandle {
            id: id.clone(),
            builder: builder_name.clone(),
            conn: self.clone(),
            interrupted: Arc::new(Mutex::new(None)),
        };
        let cmd = RemoteCommand::new(
            handle,
            command_name.to_string(),
            rx,
            backlog,
            transfer_error,
        );
        log::debug!(
            "worker {}: starting command {id} {command_name}",
            self.inner.name
        );
        let started = self
            .inner
            .rpc
            .call(Op::StartCommand {
                builder_name,
                command_id: id.clone(),
                command_name: command_name.to_string(),
                args,
            })
            .await;
        match started {
            // a lost connection shows in the command's outcome
            Ok(_) | Err(ProtocolError::ConnectionLost) => Ok(cmd),
            Err(e) => {
                self.inner.commands.remove(&id);
                Err(self.request_error(&format!("start_command {command_name}"), e))
            }
        }
    }

    /// Starts a remote command for a step of `builder`.
    ///
    /// `command` is the step-side name (`shell`, `mkdir`, `uploadFile`, ...); `args` are
    /// the step-side arguments with relative paths. They are translated as the Python
    /// master does (§9.2): absolute paths from the worker's base directory and the
    /// builder directory in the worker's path flavour, wire names, `want_stdout` /
    /// `want_stderr` as booleans, required keys present even when nil. The command id is
    /// registered before `start_command` is sent, and the call returns once the worker
    /// accepted the command (an error response is
    /// [`WorkerManagerError::Request`]). A connection lost meanwhile shows as the
    /// command's [`CommandOutcome::ConnectionLost`].
    ///
    /// For transfers use [`WorkerConnection::upload_file`],
    /// [`WorkerConnection::upload_directory`] and [`WorkerConnection::download_file`],
    /// which attach the master-side writer or reader.
    pub async fn start_command(
        &self,
        builder: &str,
        command: &str,
        args: CommandArgs,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        let wire = wire_command_name(command);
        if matches!(wire, "upload_file" | "upload_directory" | "download_file") {
            return Err(self.invalid_args(
                command,
                "transfer commands need a writer or reader: use upload_file, upload_directory or download_file",
            ));
        }
        self.start_translated(builder, command, args, None).await
    }

    fn invalid_args(&self, command: &str, message: &str) -> WorkerManagerError {
        WorkerManagerError::InvalidArgs {
            worker: self.inner.name.clone(),
            command: command.to_string(),
            message: message.to_string(),
        }
    }

    async fn start_translated(
        &self,
        builder: &str,
        command: &str,
        args: CommandArgs,
        transfer: Option<Transfer>,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        if !self.is_connected() {
            return Err(WorkerManagerError::NotConnected {
                worker: self.inner.name.clone(),
            });
        }
        let base = self.builder_base(builder);
        let wire_args =
            translate(command, args, &base).map_err(|m| self.invalid_args(command, &m))?;
        self.start_raw(
            Some(builder.to_string()),
            wire_command_name(command),
            wire_args,
            transfer,
        )
        .await
    }

    /// Uploads a file from the worker (`uploadFile`; step args `workdir`, `workersrc`,
    /// optional `keepstamp`, `blocksize`) into `dest` on the master. The blocks go to a
    /// temporary file next to `dest` (directories are created), truncated at `maxsize`;
    /// when the worker closes the upload the file is renamed over `dest` and `mode` is
    /// applied; `keepstamp` times are applied to `dest`. An upload that never closes
    /// leaves no file behind.
    pub async fn upload_file(
        &self,
        builder: &str,
        mut args: CommandArgs,
        dest: impl Into<PathBuf>,
        opts: TransferOptions,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        let dest = dest.into();
        args.set("maxsize", opt_u64(opts.maxsize));
        if let Some(b) = opts.blocksize {
            args.set("blocksize", b);
        }
        let writer = FileWriter::new(dest.clone(), opts.maxsize, opts.mode).map_err(|source| {
            WorkerManagerError::Io {
                context: format!("cannot create the upload file {}", dest.display()),
                source,
            }
        })?;
        self.start_translated(builder, "upload_file", args, Some(Transfer::File(writer)))
            .await
    }

    /// Uploads a directory from the worker (`uploadDirectory`; step args `workdir`,
    /// `workersrc`) into `dest` on the master: the tar archive (compressed as
    /// `opts.compress` says) is stored in a temporary file and extracted on `unpack` with
    /// the rules of Python's "data" filter (no absolute paths, no `..`, no devices, links
    /// only inside `dest`).
    pub async fn upload_directory(
        &self,
        builder: &str,
        mut args: CommandArgs,
        dest: impl Into<PathBuf>,
        opts: TransferOptions,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        let dest = dest.into();
        args.set("maxsize", opt_u64(opts.maxsize));
        args.set(
            "compress",
            opts.compress.wire_value().map_or(Value::Nil, Value::from),
        );
        if let Some(b) = opts.blocksize {
            args.set("blocksize", b);
        }
        let writer =
            DirectoryWriter::new(dest.clone(), opts.maxsize, opts.compress).map_err(|source| {
                WorkerManagerError::Io {
                    context: format!("cannot prepare the upload directory {}", dest.display()),
                    source,
                }
            })?;
        self.start_translated(
            builder,
            "upload_directory",
            args,
            Some(Transfer::Directory(writer)),
        )
        .await
    }

    /// Downloads bytes to the worker (`downloadFile`; step args `workdir`, `workerdest`),
    /// from a master file or from memory. `opts.mode` and `opts.maxsize` are applied by
    /// the worker. Every `update_read_file` is answered with at most `length` bytes, an
    /// empty bin at the end.
    pub async fn download_file(
        &self,
        builder: &str,
        mut args: CommandArgs,
        source: DownloadSource,
        opts: TransferOptions,
    ) -> Result<RemoteCommand, WorkerManagerError> {
        args.set("maxsize", opt_u64(opts.maxsize));
        args.set(
            "mode",
            opts.mode.map_or(Value::Nil, |m| Value::from(m as u64)),
        );
        if let Some(b) = opts.blocksize {
            args.set("blocksize", b);
        }
        let what = format!("{source:?}");
        let reader = Reader::open(source).map_err(|source| WorkerManagerError::Io {
            context: format!("cannot open the download source {what}"),
            source,
        })?;
        self.start_translated(builder, "download_file", args, Some(Transfer::Read(reader)))
            .await
    }

    pub(crate) async fn interrupt_command(
        &self,
        id: &str,
        builder_name: Option<String>,
        why: &str,
    ) -> Result<(), WorkerManagerError> {
        log::info!(
            "worker {}: interrupting command {id}: {why}",
            self.inner.name
        );
        self.call(Op::InterruptCommand {
            builder_name,
            command_id: id.to_string(),
            why: why.to_string(),
        })
        .await
        .map(|_| ())
    }
}

fn opt_u64(v: Option<u64>) -> Value {
    v.map_or(Value::Nil, Value::from)
}

enum TransferOp {
    Write(Vec<u8>),
    Close,
    Utime(f64, f64),
    Unpack,
    Read(u64),
    ReadClose,
}

fn apply_transfer(t: &mut Transfer, op: TransferOp) -> Result<Value, String> {
    let io = |r: std::io::Result<()>| r.map(|()| Value::Nil).map_err(|e| e.to_string());
    match (t, op) {
        (Transfer::File(w), TransferOp::Write(d)) => io(w.write(&d)),
        (Transfer::File(w), TransferOp::Close) => io(w.close()),
        (Transfer::File(w), TransferOp::Utime(a, m)) => io(w.utime(a, m)),
        (Transfer::Directory(w), TransferOp::Write(d)) => io(w.write(&d)),
        (Transfer::Directory(w), TransferOp::Unpack) => io(w.unpack()),
        (Transfer::Read(r), TransferOp::Read(n)) => {
            r.read(n).map(Value::Binary).map_err(|e| e.to_string())
        }
        (Transfer::Read(r), TransferOp::ReadClose) => {
            r.close();
            Ok(Value::Nil)
        }
        _ => Err("this command does not accept that transfer operation".to_string()),
    }
}
