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
