//! Crash safety: a master process killed with SIGKILL mid-build; a new master on the same
//! SQLite database finishes the interrupted build (RETRY) and rebuilds its request; the log
//! lines written before the crash are kept.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buildbot_core::master::config::*;
use buildbot_db::{Db, Query};

use crate::harness::*;

const CHILD_DIR: &str = "BB_ENGINE_CRASH_CHILD_DIR";
const CHILD_PORT: &str = "BB_ENGINE_CRASH_CHILD_PORT";

/// A worker name no other test uses (a free port picked here could be reused by another
/// test's master; this worker must not attach there).
const WORKER: &str = "crash-worker";

fn cfg(step: &[&str]) -> MasterConfig {
    MasterConfig::builder()
        .worker_port(0)
        .worker(WorkerConfig::new(WORKER, PASS))
        .builder(
            BuilderConfig::builder("b")
                .workername(WORKER)
                .step(StepConfig::shell_argv(step).name("work"))
                .build()
                .unwrap(),
        )
        .scheduler(SchedulerConfig::force("force", ["b"]))
        .build()
        .unwrap()
}

/// Runs as the child process when the environment says so; otherwise does nothing.
#[async_std::test]
async fn crash_child_master() {
    let (Some(dir), Some(port)) = (std::env::var_os(CHILD_DIR), std::env::var_os(CHILD_PORT))
    else {
        return;
    };
    init_log();
    let port = port.to_string_lossy().to_string();
    let marker = Path::new(&dir).join("running");
    let script = format!(
        "echo one; echo two; touch '{}'; sleep 120; echo never",
        marker.display()
    );
    let m = TestMaster::start_in(
        cfg(&["sh", "-c", &script]),
        Path::new(&dir),
        &format!("127.0.0.1:{port}"),
    )
    .await;
    m.force(
        "force",
        buildbot_core::master::ForceRequest::new("me", "crash").builders(["b"]),
    )
    .await
    .unwrap();
    async_std::task::sleep(Duration::from_secs(120)).await;
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[async_std::test]
async fn master_killed_mid_build_recovers() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Kill(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::crash_child_master",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_PORT, port.to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("child.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let _w = OwnWorker::start(port, WORKER);
    // The database is only opened here once the child is idle (its command sleeping and its
    // output delivered: workers flush buffered output after at most 5 s), so that the two
    // processes do not write the SQLite file at the same time.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("running").exists() {
        assert!(
            Instant::now() < deadline,
            "the child master did not start the build; its log:\n{}",
            std::fs::read_to_string(dir.path().join("child.log")).unwrap_or_default()
        );
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    async_std::task::sleep(Duration::from_secs(6)).await;
    let db = Db::connect("sqlite:///state.sqlite", dir.path())
        .await
        .unwrap();
    // wait until the build streamed its first lines into the database (live, not at the end)
    let deadline = Instant::now() + Duration::from_secs(60);
    let (build, lines) = loop {
        assert!(
            Instant::now() < deadline,
            "the child master did not start the build; its log:\n{}",
            std::fs::read_to_string(dir.path().join("child.log")).unwrap_or_default()
        );
        if let Some(b) = db
            .list_builds(&Query::new())
            .await
            .unwrap()
            .into_iter()
            .next()
        {
            let steps = db
                .list_steps(&Query::new().eq("buildid", b.buildid.0))
                .await
                .unwrap();
            if let Some(s) = steps.iter().find(|s| s.name == "work")
                && let Some(log) = db.get_log_by_slug(s.stepid, "stdio").await.unwrap()
            {
                let text = db
                    .get_log_lines(log.logid, 0, log.num_lines - 1)
                    .await
                    .unwrap_or_default();
                if text.contains("otwo\n") {
                    break (b, text);
                }
            }
        }
        async_std::task::sleep(Duration::from_millis(100)).await;
    };
    assert!(build.complete_at.is_none());
    let _ = child.0.kill();
    let _ = child.0.wait();

    // a new master on the same basedir and database
    let m2 = TestMaster::start_in(
        cfg(&["echo", "second run"]),
        dir.path(),
        &format!("127.0.0.1:{port}"),
    )
    .await;
    let old = db.get_build(build.buildid).await.unwrap().unwrap();
    assert_eq!(old.results, Some(5), "{old:?}");
    assert!(old.complete_at.is_some());
    let steps = db
        .list_steps(&Query::new().eq("buildid", old.buildid.0))
        .await
        .unwrap();
    assert!(steps.iter().all(|s| s.complete_at.is_some()));
    let log = db
        .get_log_by_slug(steps[1].stepid, "stdio")
        .await
        .unwrap()
        .unwrap();
    assert!(log.complete);
    let text = db
        .get_log_lines(log.logid, 0, log.num_lines - 1)
        .await
        .unwrap();
    assert!(
        text.starts_with(&lines),
        "lines lost: {lines:?} vs {text:?}"
    );
    // the request is claimable again and gets rebuilt once the worker reconnects
    let br = m2
        .wait_for_request(old.buildrequestid, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    let builds = m2.builds_of_request(old.buildrequestid).await.unwrap();
    assert_eq!(builds.len(), 2);
    assert_eq!(builds[1].number, 2);
    let steps = db
        .list_steps(&Query::new().eq("buildid", builds[1].buildid.0))
        .await
        .unwrap();
    let log = db
        .get_log_by_slug(steps[1].stepid, "stdio")
        .await
        .unwrap()
        .unwrap();
    assert!(
        db.get_log_lines(log.logid, 0, log.num_lines - 1)
            .await
            .unwrap()
            .contains("osecond run\n")
    );
    m2.stop().await.unwrap();
    let master = db.list_masters(&Query::new()).await.unwrap();
    assert_eq!(master.len(), 1);
    assert!(!master[0].active);
}
