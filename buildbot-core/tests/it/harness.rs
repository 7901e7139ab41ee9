//! A minimal fake master (raw WebSocket server speaking the protocol with our codec) and
//! helpers to run our worker against it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::channel::{Receiver, Sender, unbounded};
use async_std::net::{TcpListener, TcpStream};
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use base64::Engine;
use buildbot_core::protocol::{IncomingRequest, Op, RpcPeer, UpdateEntry, Value};
use buildbot_core::{Slave, SlaveConfig, SlaveEvent, SlaveExit, SlaveHandle};
use futures::StreamExt;

pub const NAME: &str = "w1";
pub const PASSWORD: &str = "pass1";

pub fn init_log() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// How the fake master behaves.
#[derive(Clone, Debug)]
pub struct MasterOpts {
    pub password: String,
    /// Value of X-Buildbot-Worker-Extensions (None = Python-like master).
    pub extensions: Option<String>,
    /// Answer worker keepalives.
    pub answer_keepalive: bool,
}

impl Default for MasterOpts {
    fn default() -> Self {
        MasterOpts {
            password: PASSWORD.to_string(),
            extensions: None,
            answer_keepalive: true,
        }
    }
}

/// What the worker sent for one command.
#[derive(Debug, Default, Clone)]
pub struct CommandLog {
    pub updates: Vec<UpdateEntry>,
    /// Number of `update` messages.
    pub update_messages: usize,
    pub complete: Option<Option<String>>,
    /// Ops other than update/complete, in order (name, op).
    pub ops: Vec<Op>,
    pub uploaded: Vec<u8>,
}

impl CommandLog {
    pub fn text(&self, key: &str) -> String {
        let mut s = String::new();
        for u in &self.updates {
            match u {
                UpdateEntry::Stdout(c) if key == "stdout" => s.push_str(&c.text),
                UpdateEntry::Stderr(c) if key == "stderr" => s.push_str(&c.text),
                UpdateEntry::Header(c) if key == "header" => s.push_str(&c.text),
                UpdateEntry::Log { name, chunk } if name == key => s.push_str(&chunk.text),
                _ => {}
            }
        }
        s
    }
    pub fn rc(&self) -> Option<i64> {
        self.updates.iter().find_map(|u| match u {
            UpdateEntry::Rc(rc) => Some(*rc),
            _ => None,
        })
    }
    pub fn keys(&self) -> Vec<String> {
        self.updates.iter().map(|u| u.key().to_string()).collect()
    }
    pub fn has(&self, key: &str) -> bool {
        self.updates.iter().any(|u| u.key() == key)
    }
    pub fn files(&self) -> Option<Vec<String>> {
        self.updates.iter().find_map(|u| match u {
            UpdateEntry::Files(f) => Some(f.clone()),
            _ => None,
        })
    }
}

#[derive(Default)]
struct ConnState {
    logs: HashMap<String, CommandLog>,
    /// data served to update_read_file per command id (None = answer nil like Python 4.3)
    downloads: HashMap<String, Option<Vec<u8>>>,
    other: Vec<Op>,
    pongs: usize,
}

/// One accepted worker connection.
pub struct MasterConn {
    pub peer: RpcPeer,
    raw: Sender<WsMessage>,
    state: Arc<Mutex<ConnState>>,
    changed: Receiver<()>,
    pub closed: Receiver<()>,
    next_id: Mutex<u64>,
    kill: Sender<()>,
}

impl MasterConn {
    pub async fn call(&self, op: Op) -> Result<Value, buildbot_core::protocol::ProtocolError> {
        async_std::future::timeout(Duration::from_secs(30), self.peer.call(op))
            .await
            .expect("request timed out")
    }

    /// Sends a raw payload as a binary frame.
    pub async fn send_raw(&self, payload: Vec<u8>) {
        self.raw.send(WsMessage::binary(payload)).await.unwrap();
    }

    pub async fn send_ping(&self) {
        self.raw
            .send(WsMessage::Ping(b"hi".to_vec().into()))
            .await
            .unwrap();
    }

    pub fn pongs(&self) -> usize {
        self.state.lock().unwrap().pongs
    }

    pub async fn send_text(&self, text: &str) {
        self.raw.send(WsMessage::text(text)).await.unwrap();
    }

    /// Drops the TCP connection (like a killed master).
    pub fn kill(&self) {
        let _ = self.kill.try_send(());
    }

    pub fn serve_download(&self, command_id: &str, data: Option<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .downloads
            .insert(command_id.to_string(), data);
    }

    pub fn fresh_id(&self) -> String {
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        format!("c{n}")
    }

    /// Worker requests that were not about commands (keepalive, shutdown_request, ...).
    pub fn other_ops(&self) -> Vec<Op> {
        self.state.lock().unwrap().other.clone()
    }

    /// Starts a command; returns the start_command result.
    pub async fn start(
        &self,
        id: &str,
        name: &str,
        args: Vec<(&str, Value)>,
    ) -> Result<Value, buildbot_core::protocol::ProtocolError> {
        self.call(Op::StartCommand {
            builder_name: Some("b1".into()),
            command_id: id.to_string(),
            command_name: name.to_string(),
            args: args.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
        .await
    }

    /// Waits for `complete` of command `id`.
    pub async fn wait_complete(&self, id: &str, timeout: Duration) -> CommandLog {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(log) = self.state.lock().unwrap().logs.get(id)
                && log.complete.is_some()
            {
                return log.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "command {id} did not complete in time");
            let _ = async_std::future::timeout(
                left.min(Duration::from_millis(200)),
                self.changed.recv(),
            )
            .await;
        }
    }

    /// Current log of a command (possibly incomplete).
    pub fn log(&self, id: &str) -> CommandLog {
        self.state
            .lock()
            .unwrap()
            .logs
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Runs a command to completion; panics when start_command fails.
    pub async fn run(&self, name: &str, args: Vec<(&str, Value)>) -> CommandLog {
        let id = self.fresh_id();
        let r = self.start(&id, name, args).await;
        assert!(r.is_ok(), "start_command {name} failed: {r:?}");
        self.wait_complete(&id, Duration::from_secs(60)).await
    }

    /// The usual session start: print, get_worker_info, set_worker_settings.
    pub async fn attach(&self) -> Value {
        self.call(Op::Print {
            message: "attached".into(),
        })
        .await
        .unwrap();
        let info = self.call(Op::GetWorkerInfo).await.unwrap();
        self.call(Op::SetWorkerSettings {
            args: Default::default(),
        })
        .await
        .unwrap();
        info
    }

    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        async_std::future::timeout(timeout, self.closed.recv())
            .await
            .is_ok()
    }
}

fn handle_worker_request(
    state: &Arc<Mutex<ConnState>>,
    opts: &MasterOpts,
    req: IncomingRequest,
) -> Option<Result<Value, String>> {
    let mut st = state.lock().unwrap();
    let op = match req.op {
        Ok(op) => op,
        Err(e) => return Some(Err(e)),
    };
    let id = match &op {
        Op::Update { command_id, .. }
        | Op::Complete { command_id, .. }
        | Op::UploadFileWrite { command_id, .. }
        | Op::UploadFileClose { command_id }
        | Op::UploadFileUtime { command_id, .. }
        | Op::UploadDirectoryWrite { command_id, .. }
        | Op::UploadDirectoryUnpack { command_id }
        | Op::ReadFile { command_id, .. }
        | Op::ReadFileClose { command_id } => Some(command_id.clone()),
        _ => None,
    };
    let Some(id) = id else {
        st.other.push(op.clone());
        return match op {
            Op::Keepalive if !opts.answer_keepalive => None,
            Op::Keepalive | Op::ShutdownRequest => Some(Ok(Value::Nil)),
            other => Some(Err(format!("Command {} does not exist.", other.name()))),
        };
    };
    let result = match &op {
        Op::ReadFile { length, .. } => {
            let data = st.downloads.get_mut(&id);
            match data {
                Some(Some(buf)) => {
                    let n = (*length as usize).min(buf.len());
                    let chunk: Vec<u8> = buf.drain(..n).collect();
                    Value::Binary(chunk)
                }
                _ => Value::Nil,
            }
        }
        _ => Value::Nil,
    };
    let log = st.logs.entry(id).or_default();
    match op {
        Op::Update { args, .. } => {
            log.update_messages += 1;
            log.updates.extend(args);
        }
        Op::Complete { failure, .. } => log.complete = Some(failure),
        Op::UploadFileWrite { ref data, .. } | Op::UploadDirectoryWrite { ref data, .. } => {
            log.uploaded.extend_from_slice(data);
            log.ops.push(op.clone());
        }
        other => log.ops.push(other),
    }
    Some(Ok(result))
}

async fn serve_conn(stream: TcpStream, opts: Arc<MasterOpts>, conns: Sender<MasterConn>) {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{NAME}:{}", opts.password))
    );
    let opts2 = opts.clone();
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let auth = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != expected {
            let mut e = ErrorResponse::new(None);
            *e.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(e);
        }
        if let Some(ext) = &opts2.extensions {
            resp.headers_mut().insert(
                buildbot_core::protocol::EXTENSIONS_HEADER,
                HeaderValue::from_str(ext).unwrap(),
            );
        }
        Ok(resp)
    };
    let Ok(ws) = async_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (peer, out_rx) = RpcPeer::new();
    let (raw_tx, raw_rx) = unbounded::<WsMessage>();
    let (changed_tx, changed_rx) = unbounded();
    let (closed_tx, closed_rx) = unbounded();
    let (kill_tx, kill_rx) = unbounded::<()>();
    let state = Arc::new(Mutex::new(ConnState::default()));
    // writer: protocol frames and raw frames
    async_std::task::spawn(async move {
        loop {
            let msg =
                futures::future::select(Box::pin(out_rx.recv()), Box::pin(raw_rx.recv())).await;
            let msg = match msg {
                futures::future::Either::Left((Ok(f), _)) => WsMessage::binary(f),
                futures::future::Either::Right((Ok(m), _)) => m,
                _ => break,
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
    });
    let conn = MasterConn {
        peer: peer.clone(),
        raw: raw_tx,
        state: state.clone(),
        changed: changed_rx,
        closed: closed_rx,
        next_id: Mutex::new(0),
        kill: kill_tx,
    };
    if conns.send(conn).await.is_err() {
        return;
    }
    loop {
        let next = futures::future::select(source.next(), Box::pin(kill_rx.recv())).await;
        let msg = match next {
            futures::future::Either::Left((Some(msg), _)) => msg,
            _ => break,
        };
        if let Ok(WsMessage::Pong(_)) = msg {
            state.lock().unwrap().pongs += 1;
            continue;
        }
        let Ok(WsMessage::Binary(payload)) = msg else {
            if msg.is_err() {
                break;
            }
            continue;
        };
        match peer.receive(&payload) {
            Ok(Some(req)) => {
                let seq = req.seq_number;
                if let Some(result) = handle_worker_request(&state, &opts, req) {
                    peer.respond(seq, result);
                }
                let _ = changed_tx.try_send(());
            }
            Ok(None) => {}
            Err(e) => {
                log::warn!("fake master: protocol error {e}");
                break;
            }
        }
    }
    peer.close();
    drop(source);
    let _ = closed_tx.try_send(());
    let _ = changed_tx.try_send(());
}

/// The fake master: accepts connections on 127.0.0.1.
pub struct FakeMaster {
    pub port: u16,
    conns: Receiver<MasterConn>,
    accept_task: Option<async_std::task::JoinHandle<()>>,
}

impl FakeMaster {
    pub async fn start(opts: MasterOpts) -> FakeMaster {
        Self::start_on(opts, 0).await
    }

    pub async fn start_on(opts: MasterOpts, port: u16) -> FakeMaster {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = unbounded();
        let opts = Arc::new(opts);
        let accept_task = async_std::task::spawn(async move {
            let mut incoming = listener.incoming();
            while let Some(Ok(stream)) = incoming.next().await {
                async_std::task::spawn(serve_conn(stream, opts.clone(), tx.clone()));
            }
        });
        FakeMaster {
            port,
            conns: rx,
            accept_task: Some(accept_task),
        }
    }

    /// Waits for the next authenticated connection.
    pub async fn next_conn(&self, timeout: Duration) -> MasterConn {
        async_std::future::timeout(timeout, self.conns.recv())
            .await
            .expect("no worker connection in time")
            .unwrap()
    }

    /// Stops listening (existing connections stay until dropped).
    pub async fn stop_listening(&mut self) {
        if let Some(t) = self.accept_task.take() {
            t.cancel().await;
        }
    }
}

/// Our worker running in-process; stopped on drop.
pub struct TestWorker {
    pub handle: SlaveHandle,
    pub events: Receiver<SlaveEvent>,
    pub basedir: PathBuf,
    task: Option<async_std::task::JoinHandle<Result<SlaveExit, buildbot_core::SlaveError>>>,
    _dir: Option<tempfile::TempDir>,
}

pub fn test_config(port: u16, basedir: &Path) -> SlaveConfig {
    let mut c = SlaveConfig::new("127.0.0.1", port, NAME, PASSWORD, basedir);
    c.maxdelay = 2;
    c.connect_timeout = Duration::from_secs(5);
    c
}

impl TestWorker {
    /// A worker in a fresh temp base directory (with info files).
    pub fn start_with(port: u16, tweak: impl FnOnce(&mut SlaveConfig)) -> TestWorker {
        let dir = tempfile::tempdir().unwrap();
        let basedir = dir.path().join("worker");
        std::fs::create_dir_all(basedir.join("info")).unwrap();
        std::fs::write(
            basedir.join("info/admin"),
            "Jane Doe <jane@example.invalid>\n",
        )
        .unwrap();
        std::fs::write(basedir.join("info/host"), "test host\n").unwrap();
        let mut config = test_config(port, &basedir);
        tweak(&mut config);
        let mut w = Self::spawn(config);
        w._dir = Some(dir);
        w
    }

    pub fn spawn(config: SlaveConfig) -> TestWorker {
        let basedir = config.basedir.clone();
        let worker = Slave::new(config);
        let handle = worker.handle();
        let events = handle.events();
        let task = async_std::task::spawn(worker.run());
        TestWorker {
            handle,
            events,
            basedir,
            task: Some(task),
            _dir: None,
        }
    }

    pub fn path(&self, rel: &str) -> String {
        self.basedir.join(rel).to_string_lossy().into_owned()
    }

    /// Waits for `run()` to return.
    pub async fn join(mut self, timeout: Duration) -> SlaveExit {
        let task = self.task.take().unwrap();
        async_std::future::timeout(timeout, task)
            .await
            .expect("worker did not exit in time")
            .expect("worker failed")
    }

    /// Collects events for `duration`.
    pub async fn events_for(&self, duration: Duration) -> Vec<SlaveEvent> {
        let deadline = std::time::Instant::now() + duration;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return out;
            }
            match async_std::future::timeout(left, self.events.recv()).await {
                Ok(Ok(e)) => out.push(e),
                _ => return out,
            }
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.handle.stop();
    }
}

/// msgpack value helpers
pub fn s(v: &str) -> Value {
    Value::from(v)
}

pub fn arr(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|i| Value::from(*i)).collect())
}

pub fn map(items: Vec<(&str, Value)>) -> Value {
    Value::Map(
        items
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Common shell args (as the Python master sends them).
pub fn shell_args(workdir: &str, command: Value) -> Vec<(&'static str, Value)> {
    vec![
        ("workdir", s(workdir)),
        ("env", map(vec![])),
        ("want_stdout", Value::Boolean(true)),
        ("want_stderr", Value::Boolean(true)),
        ("logfiles", map(vec![])),
        ("timeout", Value::from(1200)),
        ("maxTime", Value::Nil),
        ("max_lines", Value::Nil),
        ("sigtermTime", Value::Nil),
        ("usePTY", Value::Boolean(false)),
        ("logEnviron", Value::Boolean(false)),
        ("initial_stdin", Value::Nil),
        ("interruptSignal", s("KILL")),
        ("command", command),
    ]
}

pub fn set_arg(args: &mut Vec<(&'static str, Value)>, key: &'static str, value: Value) {
    if let Some(e) = args.iter_mut().find(|(k, _)| *k == key) {
        e.1 = value;
    } else {
        args.push((key, value));
    }
}

/// A fake master plus a connected, attached worker.
pub async fn setup() -> (FakeMaster, TestWorker, MasterConn) {
    setup_with(MasterOpts::default(), |_| {}).await
}

pub async fn setup_with(
    opts: MasterOpts,
    tweak: impl FnOnce(&mut SlaveConfig),
) -> (FakeMaster, TestWorker, MasterConn) {
    init_log();
    let master = FakeMaster::start(opts).await;
    let worker = TestWorker::start_with(master.port, tweak);
    let conn = master.next_conn(Duration::from_secs(10)).await;
    conn.attach().await;
    (master, worker, conn)
}
