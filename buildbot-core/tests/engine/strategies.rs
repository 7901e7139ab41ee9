//! `nextWorker`, `nextBuild` and `canStartBuild` strategies named in `master.cfg` and given
//! to the engine as closures.

use std::time::Duration;

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_core::master::{BuilderStrategy, ForceRequest, Master, MasterOptions};
use buildbot_db::{BuildRow, Query};

use crate::harness::*;

const CFG: &str = r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[workers]]
name = "w2"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["last", "gate", "order"]

[[builders]]
name = "last"
workernames = ["w1", "w2"]
nextWorker = "last-worker"
[[builders.steps]]
type = "ShellCommand"
command = ["true"]

[[builders]]
name = "gate"
workernames = ["w1", "w2"]
canStartBuild = "only-w1"
[[builders.steps]]
type = "ShellCommand"
command = ["true"]

[[builders]]
name = "order"
workernames = ["w1"]
nextBuild = "newest-first"
collapseRequests = false
[[builders.steps]]
type = "ShellCommand"
command = ["true"]
"#;

async fn build_of(
    m: &buildbot_core::master::MasterHandle,
    brid: buildbot_db::BuildRequestId,
) -> BuildRow {
    m.wait_for_request(brid, Duration::from_secs(60))
        .await
        .expect("request completes");
    m.builds_of_request(brid).await.unwrap().pop().unwrap()
}

#[async_std::test]
async fn next_worker_can_start_build_next_build() {
    init_log();
    let mut reg = Registry::new();
    for n in ["last-worker", "only-w1", "newest-first"] {
        reg.register_strategy(n);
    }
    let cfg = parse_config(CFG, "master.cfg", &reg).expect("valid").config;
    let dir = tempfile::tempdir().unwrap();
    let opts = MasterOptions::new(dir.path())
        .upgrade_db(true)
        .worker_bind("127.0.0.1:0")
        .strategy(
            "last-worker",
            BuilderStrategy::next_worker(|_, ws| ws.len().checked_sub(1)),
        )
        .strategy(
            "only-w1",
            BuilderStrategy::can_start_build(|_, w, _| w == "w1"),
        )
        .strategy(
            "newest-first",
            BuilderStrategy::next_build(|_, reqs| {
                reqs.iter()
                    .enumerate()
                    .max_by_key(|(_, r)| r.buildrequestid.0)
                    .map(|(i, _)| i)
            }),
        );
    let m = Master::start(cfg, opts).await.expect("master starts");
    let port = m.worker_addr().port();
    within(120, "strategies", async {
        // nextBuild: three requests wait for the worker; the newest is built first
        let mut brids = Vec::new();
        for i in 0..3 {
            let (_, reqs) = m
                .force(
                    "force",
                    ForceRequest::new("t", format!("r{i}")).builders(["order"]),
                )
                .await
                .unwrap();
            brids.push(reqs[0].1);
        }
        let _w1 = OwnWorker::start(port, "w1");
        let _w2 = OwnWorker::start(port, "w2");
        for _ in 0..600 {
            if m.connected_workers().len() == 2 {
                break;
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
        let mut numbers = Vec::new();
        for brid in &brids {
            numbers.push(build_of(&m, *brid).await.number);
        }
        assert_eq!(numbers, [3, 2, 1], "newest request first");

        let db = m.db();
        let w1 = db.get_worker_by_name("w1").await.unwrap().unwrap().workerid;
        let w2 = db.get_worker_by_name("w2").await.unwrap().unwrap().workerid;
        for _ in 0..3 {
            // nextWorker: always the last available worker
            let (_, reqs) = m
                .force("force", ForceRequest::new("t", "x").builders(["last"]))
                .await
                .unwrap();
            let b = build_of(&m, reqs[0].1).await;
            assert_eq!(b.workerid, Some(w2), "{b:?}");
            // canStartBuild: only w1 may build
            let (_, reqs) = m
                .force("force", ForceRequest::new("t", "x").builders(["gate"]))
                .await
                .unwrap();
            let b = build_of(&m, reqs[0].1).await;
            assert_eq!(b.workerid, Some(w1), "{b:?}");
        }
        let all = db.list_builds(&Query::new()).await.unwrap();
        assert_eq!(all.len(), 9);
    })
    .await;
    m.stop().await.unwrap();
}
