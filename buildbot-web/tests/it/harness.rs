//! A master in a temp dir, our worker in-process, HTTP helpers.

use std::io::{Read, Write};
use std::time::Duration;

use buildbot_core::master::config::*;
use buildbot_core::master::{Master, MasterHandle, MasterOptions};
use buildbot_core::{Slave, SlaveHandle};
use serde_json::Value;

pub const W1: &str = "w1";
pub const PASS: &str = "pass1";

pub struct Env {
    pub master: MasterHandle,
    pub app: tide::Server<buildbot_web::State>,
    _worker: WorkerGuard,
    _dir: tempfile::TempDir,
}

/// Our in-process worker `W1`; stopped when dropped.
pub struct WorkerGuard {
    handle: SlaveHandle,
    _dir: tempfile::TempDir,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.handle.stop();
    }
}

fn builder(name: &str, argv: &[&str]) -> BuilderConfig {
    BuilderConfig::builder(name)
        .workername(W1)
        .step(StepConfig::shell_argv(argv))
        .build()
        .unwrap()
}

impl Env {
    /// Builders `good` (prints to stdout and stderr) and `slow` (sleeps).
    pub async fn start() -> Env {
        let _ = env_logger::builder().is_test(true).try_init();
        let cfg = MasterConfig::builder()
            .worker_port(0)
            .worker(WorkerConfig::new(W1, PASS))
            .scheduler(SchedulerConfig::force("force", ["good", "slow"]))
            .builder(builder(
                "good",
                &[
                    "sh",
                    "-c",
                    "for i in 1 2 3; do echo line $i; done; echo err >&2",
                ],
            ))
            .builder(builder("slow", &["sleep", "60"]))
            .build()
            .unwrap();
        Env::start_with(cfg).await
    }

    /// A master from TOML config text (worker `W1`/`PASS` must be configured; the worker
    /// port is replaced by a free one).
    pub async fn start_toml(text: &str) -> Env {
        let reg = buildbot_core::master::config::Registry::new();
        let cfg = buildbot_core::master::config::parse_config(text, "master.cfg", &reg)
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        Env::start_with(cfg).await
    }

    /// A master with `cfg` and our worker `W1` connected to it.
    pub async fn start_with(cfg: MasterConfig) -> Env {
        let _ = env_logger::builder().is_test(true).try_init();
        let dir = tempfile::tempdir().unwrap();
        let master = Master::start(
            cfg,
            MasterOptions::new(dir.path().join("master"))
                .upgrade_db(true)
                .worker_bind("127.0.0.1:0"),
        )
        .await
        .expect("master starts");
        let worker = connect_worker(&master).await;
        let app = buildbot_web::app(master.clone());
        Env {
            master,
            app,
            _worker: worker,
            _dir: dir,
        }
    }

    /// GET in-process; `(status, parsed body)`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let url = tide::http::Url::parse(&format!("http://localhost{path}")).unwrap();
        let mut req = tide::http::Request::new(tide::http::Method::Get, url);
        req.insert_header("Accept", "application/json, text/plain, */*");
        let mut res: tide::http::Response = self.app.respond(req).await.unwrap();
        let body = res.body_string().await.unwrap();
        let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        (res.status() as u16, v)
    }

    /// GET in-process without `Accept` (curl-like): `(status, content type, body text)`.
    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        let url = tide::http::Url::parse(&format!("http://localhost{path}")).unwrap();
        let req = tide::http::Request::new(tide::http::Method::Get, url);
        let mut res: tide::http::Response = self.app.respond(req).await.unwrap();
        let ct = res
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_default();
        (res.status() as u16, ct, res.body_string().await.unwrap())
    }

    /// GET that must succeed.
    pub async fn ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    /// JSON-RPC POST in-process; `(status, parsed body)`.
    pub async fn rpc(&self, path: &str, method: &str, params: Value) -> (u16, Value) {
        let url = tide::http::Url::parse(&format!("http://localhost{path}")).unwrap();
        let mut req = tide::http::Request::new(tide::http::Method::Post, url);
        req.insert_header("Content-Type", "application/json");
        req.set_body(
            serde_json::json!({"jsonrpc": "2.0", "method": method, "id": 1, "params": params})
                .to_string(),
        );
        let mut res: tide::http::Response = self.app.respond(req).await.unwrap();
        let body = res.body_string().await.unwrap();
        (res.status() as u16, serde_json::from_str(&body).unwrap())
    }

    /// Polls until build `buildid` is complete; returns it.
    pub async fn wait_build(&self, buildid: i64) -> Value {
        for _ in 0..600 {
            let v = self.ok(&format!("/api/v2/builds/{buildid}")).await;
            if v["builds"][0]["complete"] == true {
                return v["builds"][0].clone();
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        panic!("build {buildid} did not complete");
    }

    /// Polls until request `brid` has a build; returns its id.
    pub async fn build_of(&self, brid: i64) -> i64 {
        for _ in 0..600 {
            let v = self
                .ok(&format!("/api/v2/builds?buildrequestid={brid}"))
                .await;
            if let Some(id) = v["builds"][0]["buildid"].as_i64() {
                return id;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        panic!("request {brid} got no build");
    }
}

/// A tiny HTTP/1.1 client over a real socket: `(status, headers, body)` (chunked decoded).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 2 + n + 2..];
        }
        body = out;
    }
    (status, head, body)
}

/// This process's resident set size (`VmRSS` of `/proc/self/status`) in KiB; the servers
/// under test run in this process.
pub fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Same key set and JSON types (a `null` on either side matches anything) as the recorded
/// entity in `fixture` under `plural`.
pub fn same_shape(fixture: &str, plural: &str, ours: &Value) {
    let path = format!("/work/shared/spec/fixtures/rest/{fixture}");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("SKIP: fixture {path} not readable");
        return;
    };
    let want: Value = serde_json::from_str(&text).unwrap();
    let want = &want[plural][0];
    let (Value::Object(w), Value::Object(o)) = (want, ours) else {
        panic!("{fixture}: not objects: {want} / {ours}");
    };
    let wk: Vec<_> = w.keys().collect();
    let ok: Vec<_> = o.keys().collect();
    assert_eq!(wk, ok, "{fixture}: key sets differ");
    for (k, wv) in w {
        let ov = &o[k];
        if wv.is_null() || ov.is_null() {
            continue;
        }
        assert_eq!(
            std::mem::discriminant(wv),
            std::mem::discriminant(ov),
            "{fixture}: type of {k} differs: {wv} vs {ov}"
        );
    }
}

/// One request in-process: `(status, headers as "name: value" lines, body)`.
pub async fn request(
    app: &tide::Server<buildbot_web::State>,
    method: tide::http::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let url = tide::http::Url::parse(&format!("http://localhost{path}")).unwrap();
    let mut req = tide::http::Request::new(method, url);
    for (k, v) in headers {
        req.insert_header(*k, *v);
    }
    if let Some(b) = body {
        req.set_body(b.to_owned());
    }
    let mut res: tide::http::Response = app.respond(req).await.unwrap();
    let hs = res
        .iter()
        .flat_map(|(n, vs)| {
            vs.iter()
                .map(|v| (n.as_str().to_ascii_lowercase(), v.as_str().to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let body = res.body_string().await.unwrap_or_default();
    (res.status() as u16, hs, body)
}

/// Runs a test body on a thread with a big stack (debug-build futures are large), bounded.
pub fn within<F>(secs: u64, fut: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            async_std::task::block_on(async {
                async_std::future::timeout(Duration::from_secs(secs), Box::pin(fut))
                    .await
                    .expect("test timed out")
            })
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Starts our in-process worker `W1` (password `PASS`, with `info/admin` and `info/host`)
/// against `master` and waits until it is attached.
pub async fn connect_worker(master: &MasterHandle) -> WorkerGuard {
    let wdir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(wdir.path().join("info")).unwrap();
    std::fs::write(
        wdir.path().join("info/admin"),
        "Rusty <r@example.invalid>\n",
    )
    .unwrap();
    std::fs::write(wdir.path().join("info/host"), "test host\n").unwrap();
    let mut wc = buildbot_core::SlaveConfig::new(
        "127.0.0.1",
        master.worker_addr().port(),
        W1,
        PASS,
        wdir.path(),
    );
    wc.maxdelay = 1;
    let worker = Slave::new(wc);
    let handle = worker.handle();
    async_std::task::spawn(async move {
        let _ = worker.run().await;
    });
    for _ in 0..600 {
        if master.connected_workers().iter().any(|w| w == W1) {
            break;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    assert!(master.connected_workers().iter().any(|w| w == W1));
    WorkerGuard { handle, _dir: wdir }
}
