//! Test harness: a master in a temp dir, our worker in-process, Python workers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use buildbot_core::master::config::*;
use buildbot_core::master::{ForceRequest, Master, MasterHandle, MasterOptions};
use buildbot_core::{Slave, SlaveHandle};
use buildbot_db::{
    BuildRequestId, BuildRow, LogType, NewBuildset, Query, SourceStampSpec, StepRow,
};

pub const W1: &str = "w1";
pub const PASS: &str = "pass1";

pub fn init_log() {
    let _ = env_logger::builder().is_test(true).try_init();
}

pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match async_std::future::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

pub fn builder(name: &str, steps: Vec<StepConfig>) -> BuilderConfig {
    let mut b = BuilderConfig::builder(name).workername(W1);
    for s in steps {
        b = b.step(s);
    }
    b.build().unwrap()
}

pub fn config(builders: Vec<BuilderConfig>) -> MasterConfigBuilder {
    let names: Vec<String> = builders.iter().map(|b| b.name.clone()).collect();
    let mut c = MasterConfig::builder()
        .worker_port(0)
        .worker(WorkerConfig::new(W1, PASS))
        .scheduler(SchedulerConfig::force("force", names));
    for b in builders {
        c = c.builder(b);
    }
    c
}

pub struct TestMaster {
    pub master: MasterHandle,
    /// Keeps the base directory alive.
    pub _dir: tempfile::TempDir,
}

impl TestMaster {
    pub async fn start(cfg: MasterConfig) -> TestMaster {
        init_log();
        let dir = tempfile::tempdir().unwrap();
        let master = Self::start_in(cfg, dir.path(), "127.0.0.1:0").await;
        TestMaster { master, _dir: dir }
    }

    pub async fn start_in(cfg: MasterConfig, dir: &Path, bind: &str) -> MasterHandle {
        Master::start(
            cfg,
            MasterOptions::new(dir).upgrade_db(true).worker_bind(bind),
        )
        .await
        .expect("master starts")
    }

    pub fn port(&self) -> u16 {
        self.master.worker_addr().port()
    }

    pub async fn force(&self, builder: &str) -> BuildRequestId {
        let (_, reqs) = self
            .master
            .force(
                "force",
                ForceRequest::new("tester <t@example.com>", "spec good").builders([builder]),
            )
            .await
            .expect("force");
        reqs[0].1
    }

    /// Forces and waits for the request; returns its last build.
    pub async fn run(&self, builder: &str) -> BuildRow {
        let brid = self.force(builder).await;
        self.master
            .wait_for_request(brid, Duration::from_secs(60))
            .await
            .expect("request completes");
        self.master
            .builds_of_request(brid)
            .await
            .unwrap()
            .pop()
            .expect("a build")
    }

    pub async fn wait_worker(&self, name: &str) {
        for _ in 0..600 {
            if self.master.connected_workers().iter().any(|w| w == name) {
                return;
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
        panic!("worker {name} did not attach");
    }

    pub async fn steps(&self, build: &BuildRow) -> Vec<StepRow> {
        steps(&self.master, build).await
    }

    pub async fn stdio(&self, step: &StepRow) -> String {
        stdio(&self.master, step).await
    }
}

/// The buildset, once complete (it completes just after its last request).
pub async fn complete_buildset(
    m: &MasterHandle,
    bsid: buildbot_db::BuildsetId,
) -> buildbot_db::BuildsetRow {
    for _ in 0..200 {
        let bs = m.db().get_buildset(bsid).await.unwrap().unwrap();
        if bs.complete {
            return bs;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    panic!("buildset {} did not complete", bsid.0);
}

pub async fn steps(m: &MasterHandle, build: &BuildRow) -> Vec<StepRow> {
    m.db()
        .list_steps(
            &Query::new()
                .eq("buildid", build.buildid.0)
                .order("number", false),
        )
        .await
        .unwrap()
}

pub async fn stdio(m: &MasterHandle, step: &StepRow) -> String {
    let log = m
        .db()
        .get_log_by_slug(step.stepid, "stdio")
        .await
        .unwrap()
        .expect("stdio log");
    assert_eq!(log.kind(), Some(LogType::Stdio));
    m.db()
        .get_log_lines(log.logid, 0, log.num_lines - 1)
        .await
        .unwrap()
}

/// Our worker, in-process; stopped on drop.
pub struct OwnWorker {
    pub handle: SlaveHandle,
    pub _dir: tempfile::TempDir,
}

impl OwnWorker {
    pub fn start(port: u16, name: &str) -> OwnWorker {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("info")).unwrap();
        std::fs::write(dir.path().join("info/admin"), "Rusty <r@example.invalid>\n").unwrap();
        std::fs::write(dir.path().join("info/host"), "test host\n").unwrap();
        let mut config = buildbot_core::SlaveConfig::new("127.0.0.1", port, name, PASS, dir.path());
        config.maxdelay = 1;
        let worker = Slave::new(config);
        let handle = worker.handle();
        async_std::task::spawn(async move {
            let r = worker.run().await;
            log::info!("test worker exited: {r:?}");
        });
        OwnWorker { handle, _dir: dir }
    }
}

impl Drop for OwnWorker {
    fn drop(&mut self) {
        self.handle.stop();
    }
}

pub fn python_venv() -> Option<PathBuf> {
    match std::env::var_os("BUILDBOT_TEST_PYTHON_VENV") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => {
            eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
            None
        }
    }
}

/// A real `buildbot-worker` 4.3 process, killed on drop.
pub struct PyWorker {
    pub child: Option<Child>,
    pub _dir: tempfile::TempDir,
}

impl PyWorker {
    pub fn start(venv: &Path, port: u16, name: &str) -> PyWorker {
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
                "--maxdelay",
                "1",
            ])
            .arg(&basedir)
            .arg(format!("127.0.0.1:{port}"))
            .args([name, PASS])
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
            _dir: dir,
        }
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A free port outside the ephemeral range (where the other tests' port-0 listeners live),
/// never one this test process handed out before.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed = std::process::id() as u16;
    for i in 0..1000u16 {
        let port = 20000 + (seed.wrapping_add(i.wrapping_mul(7919))) % 10000;
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port");
}

/// The start of a TOML `master.cfg` for [`parse_config`]: workers on any port, worker
/// `w1`/`pass1`, builder `b` on it (its `steps` and the rest follow).
///
/// [`parse_config`]: buildbot_core::master::config::parse_config
pub const ONE_BUILDER: &str = r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[builders]]
name = "b"
workernames = ["w1"]
"#;

/// Polls `f` every 50 ms until it gives a value; panics naming `what` after 10 s.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    within(10, what, async {
        loop {
            if let Some(v) = f().await {
                return v;
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Submits a buildset for `builder` on `branch` at `revision` and waits for its build.
pub async fn run_on(
    tm: &TestMaster,
    builder: &str,
    repo: &str,
    branch: Option<&str>,
    revision: Option<&str>,
) -> BuildRow {
    let db = tm.master.db();
    let builderid = db.builder_id_by_name(builder).await.unwrap().unwrap();
    let ss = SourceStampSpec::new(branch, revision, repo);
    let ssid = db.find_or_create_sourcestamp(&ss).await.unwrap();
    let bs = NewBuildset::new("hg", vec![ssid], vec![builderid]);
    let (_, reqs) = tm.master.submit_buildset(bs, "test").await.unwrap();
    let brid = reqs[0].1;
    tm.master
        .wait_for_request(brid, Duration::from_secs(60))
        .await
        .expect("request completes");
    tm.master
        .builds_of_request(brid)
        .await
        .unwrap()
        .pop()
        .expect("a build")
}

pub async fn got_revision(tm: &TestMaster, b: &BuildRow) -> Option<String> {
    let props = tm
        .master
        .db()
        .get_build_properties(b.buildid)
        .await
        .unwrap();
    props
        .get("got_revision")
        .and_then(|(v, _)| v.as_str().map(str::to_owned))
}

/// The output of the step named `show` (the file the checkout left).
pub async fn shown(tm: &TestMaster, b: &BuildRow) -> String {
    let steps = tm.steps(b).await;
    let show = steps.iter().find(|s| s.name == "show").expect("show step");
    tm.stdio(show).await
}
