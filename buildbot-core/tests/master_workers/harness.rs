//! Test harness: a master (our WorkerManager on 127.0.0.1:0), real Python workers, our own
//! worker in-process, and a scripted raw WebSocket "worker".

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::channel::{Receiver, Sender, unbounded};
use async_std::net::TcpStream;
use async_tungstenite::tungstenite::Message as WsMessage;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::http::HeaderValue;
use base64::Engine;
use buildbot_core::master::workers::*;
use buildbot_core::protocol::{IncomingRequest, Op, RpcPeer, UpdateEntry, Value};
use buildbot_core::{Slave, SlaveConfig, SlaveHandle};
use futures::StreamExt;

pub const NAME: &str = "w1";
pub const PASSWORD: &str = "pass1";

pub fn init_log() {
    let _ = env_logger::builder().is_test(true).try_init();
}

pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match async_std::future::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

/// The standard builders of the tests.
pub fn builders() -> Vec<WorkerBuilder> {
    vec![
        WorkerBuilder::new("main"),
        WorkerBuilder::new("my builder/x"),
        WorkerBuilder::new("other").workerbuilddir("custom-dir"),
    ]
}

pub struct Master {
    pub manager: WorkerManager,
    pub events: Receiver<ConnectionEvent>,
}

impl Master {
    pub async fn start(regs: Vec<WorkerRegistration>) -> Master {
        Self::start_with(WorkerManagerConfig::new("127.0.0.1:0"), regs).await
    }

    pub async fn start_with(config: WorkerManagerConfig, regs: Vec<WorkerRegistration>) -> Master {
        init_log();
        let manager = WorkerManager::start(config, regs).await.expect("bind");
        let events = manager.events();
        Master { manager, events }
    }

    pub fn default_regs() -> Vec<WorkerRegistration> {
        vec![WorkerRegistration::new(NAME, PASSWORD).builders(builders())]
    }

    pub fn port(&self) -> u16 {
        self.manager.local_addr().port()
    }

    pub async fn next_event(&self, secs: u64) -> ConnectionEvent {
        within(secs, "next connection event", self.events.recv())
            .await
            .expect("event channel closed")
    }

    /// Waits for an event matching `pred`, skipping others.
    pub async fn wait_event(
        &self,
        secs: u64,
        what: &str,
        pred: impl Fn(&ConnectionEvent) -> bool,
    ) -> ConnectionEvent {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = match async_std::future::timeout(left, self.events.recv()).await {
                Ok(Ok(ev)) => ev,
                _ => panic!("no event {what} within {secs} s"),
            };
            if pred(&ev) {
                return ev;
            }
            log::info!("test: skipping event {ev:?}");
        }
    }

    pub async fn wait_attached(&self, secs: u64) -> WorkerConnection {
        match self
            .wait_event(secs, "Attached", |e| {
                matches!(e, ConnectionEvent::Attached(_))
            })
            .await
        {
            ConnectionEvent::Attached(c) => c,
            _ => unreachable!(),
        }
    }

    pub async fn wait_detached(&self, secs: u64) -> String {
        match self
            .wait_event(secs, "Detached", |e| {
                matches!(e, ConnectionEvent::Detached { .. })
            })
            .await
        {
            ConnectionEvent::Detached { reason, .. } => reason,
            _ => unreachable!(),
        }
    }

    /// Asserts no event arrives within `ms`.
    pub async fn expect_quiet(&self, ms: u64, what: &str, pred: impl Fn(&ConnectionEvent) -> bool) {
        let deadline = Instant::now() + Duration::from_millis(ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            if let Ok(Ok(ev)) = async_std::future::timeout(left, self.events.recv()).await {
                assert!(!pred(&ev), "unexpected event ({what}): {ev:?}");
            }
        }
    }
}

// ---------------------------------------------------------------- Python worker

pub fn python_venv() -> Option<PathBuf> {
    match std::env::var_os("BUILDBOT_TEST_PYTHON_VENV") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
            None
        }
    }
}

/// A real `buildbot-worker` 4.3 process (`start --nodaemon`), killed on drop.
pub struct PyWorker {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
}

impl PyWorker {
    pub fn basedir(&self) -> PathBuf {
        self.dir.path().join("worker")
    }

    pub fn start(venv: &Path, port: u16, name: &str, password: &str) -> PyWorker {
        let dir = tempfile::tempdir().unwrap();
        let basedir = dir.path().join("worker");
        let bin = venv.join("bin/buildbot-worker");
        let out = Command::new(&bin)
            .args([
                "create-worker",
                "--protocol",
                "msgpack_experimental_v7",
                "--umask",
                "0o22",
            ])
            .arg(&basedir)
            .arg(format!("127.0.0.1:{port}"))
            .args([name, password])
            .output()
            .expect("run buildbot-worker create-worker");
        assert!(out.status.success(), "create-worker failed: {out:?}");
        std::fs::write(
            basedir.join("info/admin"),
            "Jane Doe <jane@example.invalid>\n",
        )
        .unwrap();
        let child = Command::new(&bin)
            .args(["start", "--nodaemon"])
            .arg(&basedir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start buildbot-worker");
        PyWorker {
            child: Some(child),
            dir,
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.basedir().join("twistd.log")).unwrap_or_default()
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------- our worker

/// Our worker running in-process; stopped on drop.
pub struct OwnWorker {
    pub handle: SlaveHandle,
    pub dir: tempfile::TempDir,
    task: Option<async_std::task::JoinHandle<()>>,
}

impl OwnWorker {
    pub fn basedir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn start(
        port: u16,
        name: &str,
        password: &str,
        tweak: impl FnOnce(&mut SlaveConfig),
    ) -> OwnWorker {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("info")).unwrap();
        std::fs::write(dir.path().join("info/admin"), "Rusty <r@example.invalid>\n").unwrap();
        let mut config = SlaveConfig::new("127.0.0.1", port, name, password, dir.path());
        config.maxdelay = 1;
        tweak(&mut config);
        let worker = Slave::new(config);
        let handle = worker.handle();
        let task = async_std::task::spawn(async move {
            let r = worker.run().await;
            log::info!("test worker exited: {r:?}");
        });
        OwnWorker {
            handle,
            dir,
            task: Some(task),
        }
    }

    pub async fn wait_exit(&mut self, secs: u64) {
        if let Some(t) = self.task.take() {
            within(secs, "worker exit", t).await;
        }
    }
}

impl Drop for OwnWorker {
    fn drop(&mut self) {
        self.handle.stop();
    }
}

// ---------------------------------------------------------------- scripted raw worker

/// How the scripted worker answers master requests.
#[derive(Clone, Debug)]
pub struct FakeBehaviour {
    pub basedir: String,
    /// listdir result of the base directory.
    pub files: Vec<String>,
    /// entries of `files` that are directories (for `stat`).
    pub dirs: Vec<String>,
    pub delete_leftover_dirs: bool,
    /// Commands with a builder name are accepted but not run (the test drives them).
    pub hold_build_commands: bool,
}

impl Default for FakeBehaviour {
    fn default() -> Self {
        FakeBehaviour {
            basedir: "/fake/basedir".into(),
            files: vec!["buildbot.tac".into(), "info".into(), "main".into()],
            dirs: vec!["info".into(), "main".into()],
            delete_leftover_dirs: false,
            hold_build_commands: false,
        }
    }
}

/// A raw WebSocket client speaking the protocol by hand.
pub struct FakeWorker {
    pub peer: RpcPeer,
    raw: Sender<WsMessage>,
    /// every request received from the master, in order
    pub received: Arc<Mutex<Vec<Op>>>,
    pub silent: Arc<std::sync::atomic::AtomicBool>,
    pub closed: Receiver<()>,
}

pub fn basic(name: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
    )
}

fn answer(peer: &RpcPeer, behaviour: &FakeBehaviour, req: &IncomingRequest) {
    let op = match &req.op {
        Ok(op) => op.clone(),
        Err(e) => {
            peer.respond(req.seq_number, Err(e.clone()));
            return;
        }
    };
    match op {
        Op::GetWorkerInfo => {
            let info = Value::Map(vec![
                (Value::from("admin"), Value::from("fake admin\n")),
                (
                    Value::from("environ"),
                    Value::Map(vec![(Value::from("HOME"), Value::from("/home/fake"))]),
                ),
                (Value::from("system"), Value::from("posix")),
                (
                    Value::from("basedir"),
                    Value::from(behaviour.basedir.as_str()),
                ),
                (Value::from("numcpus"), Value::from(2)),
                (Value::from("version"), Value::from("fake")),
                (Value::from("worker_commands"), Value::Map(vec![])),
                (
                    Value::from("delete_leftover_dirs"),
                    Value::from(behaviour.delete_leftover_dirs as i64),
                ),
            ]);
            peer.respond(req.seq_number, Ok(info));
        }
        Op::StartCommand { builder_name, .. }
            if behaviour.hold_build_commands && builder_name.is_some() =>
        {
            peer.respond(req.seq_number, Ok(Value::Nil));
        }
        Op::StartCommand {
            command_id,
            command_name,
            args,
            ..
        } => {
            let mut updates = Vec::new();
            match command_name.as_str() {
                "listdir" => updates.push(UpdateEntry::Files(behaviour.files.clone())),
                "stat" => {
                    let path = args
                        .iter()
                        .find(|(k, _)| k == "path")
                        .and_then(|(_, v)| v.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let is_dir = behaviour
                        .dirs
                        .iter()
                        .any(|d| path.ends_with(&format!("/{d}")));
                    let mode = if is_dir { 0o040755 } else { 0o100644 };
                    updates.push(UpdateEntry::Stat(vec![mode, 1, 2, 1, 0, 0, 4096, 0, 0, 0]));
                }
                _ => {}
            }
            updates.push(UpdateEntry::Rc(0));
            updates.push(UpdateEntry::Elapsed(0.001));
            // like Python: update + complete before the start_command response
            async_std::task::spawn(peer.send(Op::Update {
                command_id: command_id.clone(),
                args: updates,
            }));
            async_std::task::spawn(peer.send(Op::Complete {
                command_id,
                failure: None,
            }));
            peer.respond(req.seq_number, Ok(Value::Nil));
        }
        _ => peer.respond(req.seq_number, Ok(Value::Nil)),
    }
}

impl FakeWorker {
    /// Connects; `Err(status)` when the upgrade is refused.
    pub async fn connect(
        port: u16,
        auth: Option<&str>,
        behaviour: FakeBehaviour,
    ) -> Result<FakeWorker, u16> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut request = format!("ws://127.0.0.1:{port}/")
            .into_client_request()
            .unwrap();
        if let Some(a) = auth {
            request
                .headers_mut()
                .insert("Authorization", HeaderValue::from_str(a).unwrap());
        }
        let ws = match async_tungstenite::client_async(request, tcp.clone()).await {
            Ok((ws, _)) => ws,
            Err(async_tungstenite::tungstenite::Error::Http(resp)) => {
                return Err(resp.status().as_u16());
            }
            Err(e) => panic!("handshake failed: {e}"),
        };
        let (peer, out_rx) = RpcPeer::new();
        let (raw_tx, raw_rx) = unbounded::<WsMessage>();
        let (closed_tx, closed_rx) = unbounded::<()>();
        let (mut sink, mut stream) = ws.split();
        async_std::task::spawn(async move {
            loop {
                let next =
                    futures::future::select(Box::pin(out_rx.recv()), Box::pin(raw_rx.recv())).await;
                let msg = match next {
                    futures::future::Either::Left((Ok(f), _)) => WsMessage::binary(f),
                    futures::future::Either::Right((Ok(m), _)) => m,
                    _ => break,
                };
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let received = Arc::new(Mutex::new(Vec::new()));
        let silent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let peer = peer.clone();
            let received = received.clone();
            let silent = silent.clone();
            async_std::task::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let WsMessage::Binary(payload) = msg else {
                        continue;
                    };
                    match peer.receive(&payload) {
                        Ok(Some(req)) => {
                            if let Ok(op) = &req.op {
                                received.lock().unwrap().push(op.clone());
                            }
                            if !silent.load(std::sync::atomic::Ordering::SeqCst) {
                                answer(&peer, &behaviour, &req);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            log::warn!("fake worker: {e}");
                            break;
                        }
                    }
                }
                peer.close();
                drop(closed_tx);
            });
        }
        Ok(FakeWorker {
            peer,
            raw: raw_tx,
            received,
            silent,
            closed: closed_rx,
        })
    }

    pub fn ops(&self) -> Vec<Op> {
        self.received.lock().unwrap().clone()
    }

    pub async fn send_raw(&self, msg: WsMessage) {
        self.raw.send(msg).await.unwrap();
    }

    pub async fn call(&self, op: Op) -> Result<Value, buildbot_core::protocol::ProtocolError> {
        within(10, "fake worker request", self.peer.call(op)).await
    }

    /// Waits until the master closes the connection.
    pub async fn wait_closed(&self, secs: u64) -> bool {
        async_std::future::timeout(Duration::from_secs(secs), self.closed.recv())
            .await
            .is_ok()
    }
}
