//! The same scenarios with an unmodified Python `buildbot-worker` 4.3 (SKIP unless
//! `BUILDBOT_TEST_PYTHON_VENV` is set).

use crate::harness::*;
use crate::own::*;

async fn py_master() -> Option<(TestMaster, PyWorker)> {
    let venv = python_venv()?;
    let tm = TestMaster::start(scenario_config()).await;
    let w = PyWorker::start(&venv, tm.port(), W1);
    within(60, "python worker attaches", tm.wait_worker(W1)).await;
    Some((tm, w))
}

#[async_std::test]
async fn python_worker_scenarios() {
    let Some((tm, _w)) = py_master().await else {
        return;
    };
    within(60, "good", check_good(&tm)).await;
    let wrow = tm
        .master
        .db()
        .get_worker_by_name(W1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        wrow.workerinfo["admin"],
        "Jane Doe <jane@example.invalid>\n"
    );
    assert_eq!(wrow.workerinfo["version"], "4.3.0");
    within(60, "bad", check_bad(&tm)).await;
    within(60, "timeout", check_timeout(&tm)).await;
    within(60, "transfers", check_transfers(&tm)).await;
    within(60, "stop", check_stop(&tm)).await;
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn python_worker_killed_mid_build_retries() {
    let Some(venv) = python_venv() else { return };
    let tm = TestMaster::start(scenario_config()).await;
    let mut w = PyWorker::start(&venv, tm.port(), W1);
    within(60, "python worker attaches", tm.wait_worker(W1)).await;
    let brid = tm.force("slow").await;
    let b = tm
        .master
        .wait_for_build_of(brid, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    for _ in 0..200 {
        let steps = tm.steps(&b).await;
        if steps.len() == 2 && steps[1].started_at.is_some() {
            break;
        }
        async_std::task::sleep(std::time::Duration::from_millis(50)).await;
    }
    async_std::task::sleep(std::time::Duration::from_millis(500)).await;
    // SIGKILL: the master sees the connection drop
    if let Some(mut c) = w.child.take() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    let done = within(
        60,
        "build ends",
        tm.master
            .wait_for_build(b.buildid, std::time::Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert_eq!(done.results, Some(5));
    assert_eq!(done.state_string, "retry lost connection");
    let br = tm
        .master
        .db()
        .get_buildrequest(brid)
        .await
        .unwrap()
        .unwrap();
    assert!(!br.complete && !br.claimed, "{br:?}");
    // a worker comes back: the request is built again; stop that build to finish quickly
    let _w2 = PyWorker::start(&venv, tm.port(), W1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let second = loop {
        let builds = tm.master.builds_of_request(brid).await.unwrap();
        if builds.len() == 2 {
            break builds[1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no second build");
        async_std::task::sleep(std::time::Duration::from_millis(100)).await;
    };
    async_std::task::sleep(std::time::Duration::from_millis(500)).await;
    tm.master
        .stop_build(second.buildid, "enough")
        .await
        .unwrap();
    let br = tm
        .master
        .wait_for_request(brid, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(br.results, 6);
    tm.master.stop().await.unwrap();
}
