//! A master (SQLite in a temp dir) with a `[www]` section of the test's choosing, an optional
//! in-process worker, and an in-process HTTP client that shows headers (auth and hook tests).

use std::time::Duration;

use buildbot_core::master::config::*;
use buildbot_core::master::{Master, MasterHandle, MasterOptions};
use serde_json::Value;

pub use crate::harness::{PASS, W1};
use crate::harness::{WorkerGuard, connect_worker};

pub struct WebEnv {
    pub master: MasterHandle,
    pub app: tide::Server<buildbot_web::State>,
    _worker: Option<WorkerGuard>,
    _dir: tempfile::TempDir,
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn builder(name: &str, argv: &[&str]) -> BuilderConfig {
    BuilderConfig::builder(name)
        .workername(W1)
        .step(StepConfig::shell_argv(argv))
        .build()
        .unwrap()
}

pub fn basic(user: &str, pw: &str) -> (String, String) {
    use base64::Engine;
    (
        "Authorization".to_owned(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        ),
    )
}

impl WebEnv {
    /// Builders `good` (quick) and `slow` (sleeps), force scheduler `force`; `www` edits the
    /// `[www]` section; `files` are written into the master's basedir before the web app
    /// is made; `worker` starts our worker in-process.
    pub async fn start(
        www: impl FnOnce(&mut WwwConfig),
        files: &[(&str, &str)],
        worker: bool,
    ) -> WebEnv {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut cfg = MasterConfig::builder()
            .worker_port(0)
            .worker(WorkerConfig::new(W1, PASS))
            .scheduler(SchedulerConfig::force("force", ["good", "slow"]))
            .builder(builder("good", &["sh", "-c", "echo hello"]))
            .builder(builder("slow", &["sleep", "60"]))
            .build()
            .unwrap();
        www(&mut cfg.www);
        let dir = tempfile::tempdir().unwrap();
        let basedir = dir.path().join("master");
        std::fs::create_dir_all(&basedir).unwrap();
        for (name, text) in files {
            std::fs::write(basedir.join(name), text).unwrap();
        }
        let master = Master::start(
            cfg,
            MasterOptions::new(basedir)
                .upgrade_db(true)
                .worker_bind("127.0.0.1:0"),
        )
        .await
        .expect("master starts");
        let guard = if worker {
            Some(connect_worker(&master).await)
        } else {
            None
        };
        let app = buildbot_web::app(master.clone());
        WebEnv {
            master,
            app,
            _worker: guard,
            _dir: dir,
        }
    }

    /// Any request in-process.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let url = tide::http::Url::parse(&format!("http://localhost{path}")).unwrap();
        let method: tide::http::Method = method.parse().unwrap();
        let mut req = tide::http::Request::new(method, url);
        req.insert_header("Host", "localhost");
        for (k, v) in headers {
            req.insert_header(k.as_str(), v.as_str());
        }
        if let Some((ctype, bytes)) = body {
            req.set_body(bytes);
            req.insert_header("Content-Type", ctype);
        }
        let mut res: tide::http::Response = self.app.respond(req).await.unwrap();
        let headers = res
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.last().as_str().to_owned()))
            .collect();
        Answer {
            status: res.status() as u16,
            headers,
            body: res.body_string().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str, headers: &[(String, String)]) -> Answer {
        self.send("GET", path, headers, None).await
    }

    /// JSON-RPC call.
    pub async fn rpc(
        &self,
        path: &str,
        method: &str,
        params: Value,
        headers: &[(String, String)],
    ) -> Answer {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "method": method, "id": 1, "params": params});
        self.send(
            "POST",
            path,
            headers,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// Polls `f` (up to 60 s) until it gives `Some`.
    pub async fn wait<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        for _ in 0..600 {
            if let Some(v) = f().await {
                return v;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }
}
