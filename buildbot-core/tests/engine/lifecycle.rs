//! Requests, cancellation, rebuilds, reconfig, lost workers, collapsing, priorities.

use std::time::Duration;

use buildbot_core::master::config::*;
use buildbot_core::master::{ForceRequest, MasterError};
use buildbot_db::{BuildRequestId, NewBuildset, Query, Results, SourceStampSpec};

use crate::harness::*;

fn sleepy(name: &str, secs: u32) -> BuilderConfig {
    builder(
        name,
        vec![StepConfig::shell_argv(&[
            "sh",
            "-c",
            &format!("sleep {secs}"),
        ])],
    )
}

async fn wait_started(tm: &TestMaster, brid: BuildRequestId) -> buildbot_db::BuildRow {
    let b = tm
        .master
        .wait_for_build_of(brid, Duration::from_secs(30))
        .await
        .unwrap();
    for _ in 0..200 {
        let steps = tm.steps(&b).await;
        if steps.len() == 2 && steps[1].started_at.is_some() {
            break;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    async_std::task::sleep(Duration::from_millis(300)).await;
    b
}

#[async_std::test]
async fn lost_worker_build_retries_and_runs_again() {
    let tm = TestMaster::start(config(vec![sleepy("b", 2)]).build().unwrap()).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let brid = tm.force("b").await;
    let first = within(30, "start", wait_started(&tm, brid)).await;
    tm.master.kill_worker(W1).await.unwrap();
    let done = tm
        .master
        .wait_for_build(first.buildid, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done.results, Some(Results::Retry.code() as i64));
    assert_eq!(done.state_string, "retry lost connection");
    let steps = tm.steps(&done).await;
    assert_eq!(steps[1].results, Some(5));
    // the worker reconnects by itself (maxdelay 1) and the request runs again
    let br = tm
        .master
        .wait_for_request(brid, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    let builds = tm.master.builds_of_request(brid).await.unwrap();
    assert_eq!(builds.len(), 2);
    assert_eq!(builds[1].results, Some(0));
    assert_eq!(builds[1].number, first.number + 1);
    drop(w);
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn cancel_pending_request_and_rebuild() {
    let tm = TestMaster::start(
        config(vec![builder("b", vec![StepConfig::shell_argv(&["true"])])])
            .build()
            .unwrap(),
    )
    .await;
    // no worker yet: the request stays pending
    let brid = tm.force("b").await;
    let mut sub = tm.master.events().subscribe_path("buildrequests/*/cancel");
    tm.master.cancel_request(brid, "not needed").await.unwrap();
    let br = tm
        .master
        .db()
        .get_buildrequest(brid)
        .await
        .unwrap()
        .unwrap();
    assert!(br.complete && br.claimed);
    assert_eq!(br.results, 6);
    let bs = tm
        .master
        .db()
        .get_buildset(br.buildsetid)
        .await
        .unwrap()
        .unwrap();
    assert!(bs.complete);
    assert_eq!(bs.results, Some(6));
    let ev = within(5, "cancel event", futures::StreamExt::next(&mut sub))
        .await
        .unwrap();
    assert_eq!(
        ev.key.parts(),
        ["buildrequests", &brid.0.to_string(), "cancel"]
    );
    assert!(ev.message.is_null());

    let _w = OwnWorker::start(tm.port(), W1);
    let b = tm.run("b").await;
    assert_eq!(b.results, Some(0));
    let (bsid, reqs) = tm.master.rebuild(b.buildid).await.unwrap();
    let bs = tm.master.db().get_buildset(bsid).await.unwrap().unwrap();
    assert_eq!(bs.reason.as_deref(), Some("rebuild"));
    assert_eq!(bs.rebuilt_buildid, Some(b.buildid));
    let props = tm.master.db().get_buildset_properties(bsid).await.unwrap();
    assert_eq!(props["owner"].0, "tester <t@example.com>");
    let br = tm
        .master
        .wait_for_request(reqs[0].1, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    let rb = tm
        .master
        .builds_of_request(reqs[0].1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(rb.number, b.number + 1);
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn collapse_requests_on_and_off() {
    for (collapse, expect_skipped) in [(true, 2), (false, 0)] {
        let cfg = config(vec![builder("b", vec![StepConfig::shell_argv(&["true"])])])
            .collapse_requests(collapse)
            .build()
            .unwrap();
        let tm = TestMaster::start(cfg).await;
        let mut brids = Vec::new();
        for _ in 0..3 {
            brids.push(tm.force("b").await);
        }
        let mut skipped = 0;
        for brid in &brids {
            let r = tm
                .master
                .db()
                .get_buildrequest(*brid)
                .await
                .unwrap()
                .unwrap();
            if r.complete {
                assert_eq!(r.results, Results::Skipped.code() as i64);
                skipped += 1;
            }
        }
        assert_eq!(skipped, expect_skipped, "collapse={collapse}");
        let _w = OwnWorker::start(tm.port(), W1);
        for brid in &brids {
            tm.master
                .wait_for_request(*brid, Duration::from_secs(30))
                .await
                .unwrap();
        }
        let builds = tm.master.db().list_builds(&Query::new()).await.unwrap();
        assert_eq!(builds.len(), 3 - expect_skipped);
        tm.master.stop().await.unwrap();
    }
}

#[async_std::test]
async fn priority_then_age() {
    let tm = TestMaster::start(
        config(vec![builder("b", vec![StepConfig::shell_argv(&["true"])])])
            .collapse_requests(false)
            .build()
            .unwrap(),
    )
    .await;
    let db = tm.master.db();
    let builderid = db.builder_id_by_name("b").await.unwrap().unwrap();
    let ssid = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(Some("main"), None, "repo"))
        .await
        .unwrap();
    let mut order = Vec::new();
    for prio in [0, 5, 1, 5] {
        let mut bs = NewBuildset::new(&format!("p{prio}"), vec![ssid], vec![builderid]);
        bs.priority = prio;
        let (_, reqs) = tm.master.submit_buildset(bs, "test").await.unwrap();
        order.push((prio, reqs[0].1));
    }
    let _w = OwnWorker::start(tm.port(), W1);
    for (_, brid) in &order {
        tm.master
            .wait_for_request(*brid, Duration::from_secs(30))
            .await
            .unwrap();
    }
    let mut by_number = Vec::new();
    for (prio, brid) in &order {
        let b = tm
            .master
            .builds_of_request(*brid)
            .await
            .unwrap()
            .pop()
            .unwrap();
        by_number.push((b.number, *prio, brid.0));
    }
    by_number.sort();
    let got: Vec<(i64, i64)> = by_number.iter().map(|(_, p, id)| (*p, *id)).collect();
    let want = vec![
        (5, order[1].1.0),
        (5, order[3].1.0),
        (1, order[2].1.0),
        (0, order[0].1.0),
    ];
    assert_eq!(got, want);
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn max_builds_limits_concurrency() {
    let cfg = MasterConfig::builder()
        .worker_port(0)
        .worker(WorkerConfig::new(W1, PASS).max_builds(1))
        .builder(sleepy("a", 1))
        .builder(sleepy("b", 1))
        .scheduler(SchedulerConfig::force("force", ["a", "b"]))
        .build()
        .unwrap();
    let tm = TestMaster::start(cfg).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let a = tm.force("a").await;
    let b = tm.force("b").await;
    let mut max_running = 0;
    for _ in 0..200 {
        max_running = max_running.max(tm.master.running_builds().len());
        let ra = tm.master.db().get_buildrequest(a).await.unwrap().unwrap();
        let rb = tm.master.db().get_buildrequest(b).await.unwrap().unwrap();
        if ra.complete && rb.complete {
            break;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(max_running, 1);
    let ba = tm.master.builds_of_request(a).await.unwrap().pop().unwrap();
    let bb = tm.master.builds_of_request(b).await.unwrap().pop().unwrap();
    assert!(bb.started_at >= ba.complete_at.unwrap());
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn paused_worker_gets_no_builds() {
    let tm = TestMaster::start(
        config(vec![builder("b", vec![StepConfig::shell_argv(&["true"])])])
            .build()
            .unwrap(),
    )
    .await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    tm.master
        .pause_worker(W1, Some("maintenance"))
        .await
        .unwrap();
    let brid = tm.force("b").await;
    async_std::task::sleep(Duration::from_millis(700)).await;
    assert!(tm.master.builds_of_request(brid).await.unwrap().is_empty());
    let w = tm
        .master
        .db()
        .get_worker_by_name(W1)
        .await
        .unwrap()
        .unwrap();
    assert!(w.paused);
    assert_eq!(w.pause_reason.as_deref(), Some("maintenance"));
    tm.master.unpause_worker(W1).await.unwrap();
    let br = tm
        .master
        .wait_for_request(brid, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn reconfig_adds_builder_and_refuses_bad_configs() {
    let tm = TestMaster::start(
        config(vec![builder("b", vec![StepConfig::shell_argv(&["true"])])])
            .build()
            .unwrap(),
    )
    .await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    // a long build on b survives the reconfig
    let old = config(vec![builder(
        "b",
        vec![StepConfig::shell_argv(&["sh", "-c", "sleep 1"])],
    )])
    .build()
    .unwrap();
    tm.master.reconfig(old).await.unwrap();
    let long = tm.force("b").await;
    // restart-required change: refused, nothing changes
    let mut bad = config(vec![
        builder("b", vec![StepConfig::shell_argv(&["true"])]),
        builder("c", vec![StepConfig::shell_argv(&["true"])]),
    ])
    .worker_port(12345)
    .build()
    .unwrap();
    let err = tm.master.reconfig(bad.clone()).await.unwrap_err();
    assert!(matches!(err, MasterError::RestartRequired(_)), "{err}");
    assert!(tm.master.config().builder_named("c").is_none());
    // an invalid config (builder with an unknown worker): refused
    bad.protocols = tm.master.config().protocols.clone();
    bad.builders[1].workernames = vec!["nobody".into()];
    assert!(tm.master.reconfig(bad).await.is_err());
    assert!(tm.master.config().builder_named("c").is_none());
    // a good one
    let good = config(vec![
        builder("b", vec![StepConfig::shell_argv(&["sh", "-c", "sleep 1"])]),
        builder("c", vec![StepConfig::shell_argv(&["echo", "new builder"])]),
    ])
    .build()
    .unwrap();
    tm.master.reconfig(good).await.unwrap();
    let b = tm.run("c").await;
    assert_eq!(b.results, Some(0));
    let br = tm
        .master
        .wait_for_request(long, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    let r = tm
        .master
        .force("force", ForceRequest::new("x", "y").builders(["nope"]))
        .await;
    assert!(matches!(r, Err(MasterError::UnknownBuilder { .. })));
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn change_sources_and_schedulers_are_registered_and_given_up_on_reconfig() {
    let services = |with_pb: bool, pb_port: u16| {
        let pb = if with_pb {
            format!("[[change_source]]\ntype = \"PBChangeSource\"\nport = {pb_port}\n")
        } else {
            String::new()
        };
        format!(
            r#"{ONE_BUILDER}steps = [{{ type = "ShellCommand", command = ["true"] }}]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
{}
{pb}"#,
            if with_pb {
                "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"extra\"\nbuilderNames = [\"b\"]\n"
            } else {
                ""
            }
        )
    };
    let port = free_port();
    let cfg = parse_config(&services(true, port), "master.cfg", &Registry::new())
        .unwrap()
        .config;
    let tm = TestMaster::start(cfg).await;
    let mid = tm.master.masterid();
    let db = tm.master.db();
    let sources = db.list_changesources().await.unwrap();
    let pb_name = format!("PBChangeSource:{port}");
    assert_eq!(
        sources
            .iter()
            .map(|c| (c.name.as_str(), c.masterid))
            .collect::<Vec<_>>(),
        [(pb_name.as_str(), Some(mid))]
    );
    let owner = |name: &str, rows: &[buildbot_db::SchedulerRow]| {
        rows.iter().find(|r| r.name == name).map(|r| r.masterid)
    };
    let scheds = db.list_schedulers().await.unwrap();
    assert_eq!(owner("extra", &scheds), Some(Some(mid)));
    // a reconfig without them: still listed, run by no master
    let cfg = parse_config(&services(false, port), "master.cfg", &Registry::new())
        .unwrap()
        .config;
    tm.master.reconfig(cfg).await.unwrap();
    let sources = db.list_changesources().await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].masterid, None);
    let scheds = db.list_schedulers().await.unwrap();
    assert_eq!(owner("extra", &scheds), Some(None));
    assert_eq!(owner("force", &scheds), Some(Some(mid)));
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn force_parameters_are_validated() {
    let text = format!(
        "{ONE_BUILDER}{}",
        r#"steps = [{ type = "ShellCommand", command = ["echo", "%(prop:flavour)s", "%(prop:jobs)s"] }]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
[[schedulers.properties]]
type = "ChoiceStringParameter"
name = "flavour"
choices = ["debug", "release"]
default = "debug"
[[schedulers.properties]]
type = "IntParameter"
name = "jobs"
default = 1
"#
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap()
        .config;
    let tm = TestMaster::start(cfg).await;
    let r = tm
        .master
        .force(
            "force",
            ForceRequest::new("me", "r").property("flavour", "fast".into()),
        )
        .await;
    assert!(
        matches!(r, Err(MasterError::InvalidForceFields(_))),
        "{r:?}"
    );
    let r = tm
        .master
        .force(
            "force",
            ForceRequest::new("me", "r").property("jobs", "many".into()),
        )
        .await;
    assert!(
        matches!(r, Err(MasterError::InvalidForceFields(_))),
        "{r:?}"
    );
    let (bsid, reqs) = tm
        .master
        .force(
            "force",
            ForceRequest::new("me", "r")
                .property("flavour", "release".into())
                .property("jobs", "4".into()),
        )
        .await
        .unwrap();
    let props = tm.master.db().get_buildset_properties(bsid).await.unwrap();
    assert_eq!(
        props["flavour"],
        (serde_json::json!("release"), "Force Build Form".into())
    );
    assert_eq!(
        props["jobs"],
        (serde_json::json!(4), "Force Build Form".into())
    );
    let _w = OwnWorker::start(tm.port(), W1);
    tm.master
        .wait_for_request(reqs[0].1, Duration::from_secs(30))
        .await
        .unwrap();
    let b = tm
        .master
        .builds_of_request(reqs[0].1)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let steps = tm.steps(&b).await;
    assert!(tm.stdio(&steps[1]).await.contains("orelease 4\n"));
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn events_follow_buildbot_order() {
    let tm = TestMaster::start(
        config(vec![builder(
            "b",
            vec![StepConfig::shell_argv(&["echo", "hi"]).name("hello")],
        )])
        .build()
        .unwrap(),
    )
    .await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let sub2 = tm.master.events().subscribe(&[None, None, None]);
    let sub3 = tm.master.events().subscribe(&[None, None, None, None]);
    let b = tm.run("b").await;
    let mut keys = Vec::new();
    loop {
        let e = within(10, "buildset complete", sub2.recv()).await.unwrap();
        keys.push(e.key.parts().join("/"));
        if keys.last().is_some_and(|k| k == "buildsets/1/complete") {
            break;
        }
    }
    while let Some(e) = sub3.try_recv() {
        if e.key.parts()[0] == "builds" && e.key.parts()[2] == "properties" {
            keys.push(e.key.parts().join("/"));
        }
    }
    let bid = b.buildid.0;
    let pos = |k: &str| {
        keys.iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no {k} in {keys:?}"))
    };
    assert!(pos("buildsets/1/new") > pos("buildrequests/1/new"));
    assert!(pos("buildrequests/1/claimed") < pos(&format!("builds/{bid}/new")));
    assert!(pos("steps/1/new") < pos(&format!("builds/{bid}/new")));
    assert!(pos("steps/1/finished") < pos("steps/2/new"));
    assert!(pos("logs/1/new") < pos("logs/1/append"));
    assert!(pos("logs/1/finished") < pos("steps/2/finished"));
    assert!(pos(&format!("builds/{bid}/finished")) < pos("buildrequests/1/complete"));
    assert!(pos("buildrequests/1/complete") < pos("buildsets/1/complete"));
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn stop_retries_running_builds_and_stop_when_idle_waits() {
    // stop(): the running build is interrupted and ends RETRY; its request is pending again
    let tm = TestMaster::start(config(vec![sleepy("b", 30)]).build().unwrap()).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let brid = tm.force("b").await;
    let b = within(30, "start", wait_started(&tm, brid)).await;
    within(30, "stop", tm.master.stop()).await.unwrap();
    let done = tm.master.db().get_build(b.buildid).await.unwrap().unwrap();
    assert_eq!(done.results, Some(5), "{done:?}");
    let br = tm
        .master
        .db()
        .get_buildrequest(brid)
        .await
        .unwrap()
        .unwrap();
    assert!(!br.complete && !br.claimed, "{br:?}");
    let m = tm
        .master
        .db()
        .get_master(tm.master.masterid())
        .await
        .unwrap()
        .unwrap();
    assert!(!m.active);
    let builders = tm
        .master
        .db()
        .list_builders(&Query::new(), Some(tm.master.masterid()))
        .await
        .unwrap();
    assert!(builders.is_empty(), "{builders:?}");
    assert!(matches!(
        tm.master.force("force", ForceRequest::new("a", "b")).await,
        Err(MasterError::Stopping)
    ));

    // stop_when_idle(): the running build completes first
    let tm = TestMaster::start(config(vec![sleepy("b", 1)]).build().unwrap()).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let brid = tm.force("b").await;
    within(30, "start", wait_started(&tm, brid)).await;
    within(30, "stop when idle", tm.master.stop_when_idle())
        .await
        .unwrap();
    let br = tm
        .master
        .db()
        .get_buildrequest(brid)
        .await
        .unwrap()
        .unwrap();
    assert!(br.complete);
    assert_eq!(br.results, 0);
}

async fn wait_detached(tm: &TestMaster) {
    for _ in 0..400 {
        if tm.master.connected_workers().is_empty() {
            let w = tm
                .master
                .db()
                .get_worker_by_name(W1)
                .await
                .unwrap()
                .unwrap();
            if w.connected_to.is_empty() {
                return;
            }
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    panic!("worker still attached");
}

#[async_std::test]
async fn worker_shutdown_request_waits_for_the_running_build() {
    let tm = TestMaster::start(config(vec![sleepy("b", 1)]).build().unwrap()).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let brid = tm.force("b").await;
    within(30, "start", wait_started(&tm, brid)).await;
    w.handle.request_graceful_shutdown();
    // the build finishes normally, then the worker is told to shut down
    let br = tm
        .master
        .wait_for_request(brid, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(br.results, 0);
    within(30, "detach", wait_detached(&tm)).await;
    // a request submitted now waits for a worker
    let brid = tm.force("b").await;
    async_std::task::sleep(Duration::from_millis(300)).await;
    assert!(tm.master.builds_of_request(brid).await.unwrap().is_empty());
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn graceful_stop_from_the_master() {
    let tm = TestMaster::start(config(vec![sleepy("b", 1)]).build().unwrap()).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    tm.master.graceful_stop_worker(W1).await.unwrap();
    within(30, "detach", wait_detached(&tm)).await;
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn step_flags_halt_always_run_do_step_if_hide_step_if() {
    let text = r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
[[builders]]
name = "b"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "skipped"
command = ["false"]
doStepIf = false
[[builders.steps]]
type = "ShellCommand"
name = "hidden"
command = ["true"]
hideStepIf = true
[[builders.steps]]
type = "ShellCommand"
name = "halts"
command = ["false"]
haltOnFailure = true
[[builders.steps]]
type = "ShellCommand"
name = "not run"
command = ["true"]
[[builders.steps]]
type = "ShellCommand"
name = "cleanup"
command = ["true"]
alwaysRun = true
[[builders.steps]]
type = "SetProperty"
property = "x"
value = "y"
alwaysRun = true
"#;
    let cfg = parse_config(text, "master.cfg", &Registry::new())
        .unwrap()
        .config;
    let tm = TestMaster::start(cfg).await;
    let _w = OwnWorker::start(tm.port(), W1);
    let b = tm.run("b").await;
    assert_eq!(b.results, Some(2));
    assert_eq!(b.state_string, "failed 'false' (failure)");
    let steps = tm.steps(&b).await;
    let got: Vec<(&str, Option<i64>, bool)> = steps
        .iter()
        .map(|s| (s.name.as_str(), s.results, s.hidden))
        .collect();
    assert_eq!(
        got,
        [
            ("worker_preparation", Some(0), false),
            ("skipped", Some(3), false),
            ("hidden", Some(0), true),
            ("halts", Some(2), false),
            ("cleanup", Some(0), false),
            ("SetProperty", Some(0), false),
        ]
    );
    assert_eq!(steps[1].state_string, "'false' (skipped)");
    let props = tm
        .master
        .db()
        .get_build_properties(b.buildid)
        .await
        .unwrap();
    assert_eq!(props["x"].0, "y");
    tm.master.stop().await.unwrap();
}

struct Probe;

impl buildbot_core::master::BuildStep for Probe {
    fn run<'a>(
        &'a self,
        ctx: &'a mut buildbot_core::master::StepContext,
    ) -> futures::future::BoxFuture<
        'a,
        Result<buildbot_core::master::StepDone, buildbot_core::master::StepError>,
    > {
        Box::pin(async move {
            ctx.keep_output(true);
            let res = ctx
                .run_command(
                    "shell",
                    buildbot_core::master::workers::CommandArgs::new()
                        .with("workdir", "build")
                        .with("command", "echo probed"),
                )
                .await?;
            ctx.set_property("probe", res.text("stdout").trim().into(), "Probe");
            ctx.add_url("docs", "http://127.0.0.1/docs").await?;
            ctx.set_state_string("probing done").await?;
            Ok(buildbot_core::master::StepDone::with_summary(
                Results::Success,
                "probed",
            ))
        })
    }
}

#[async_std::test]
async fn custom_step_and_warning_counting() {
    let mut reg = Registry::new();
    buildbot_core::master::register_custom_step(&mut reg, "Probe", |_args| {
        Some(std::sync::Arc::new(Probe))
    });
    let text = r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
[[builders]]
name = "b"
workernames = ["w1"]
[[builders.steps]]
type = "Probe"
[[builders.steps]]
type = "Compile"
command = ["sh", "-c", "echo 'a.c:1: warning: unused'; echo ok; echo 'b.c:2: warning: shadow' >&2"]
"#;
    let cfg = parse_config(text, "master.cfg", &reg).unwrap().config;
    let tm = TestMaster::start(cfg).await;
    let _w = OwnWorker::start(tm.port(), W1);
    let b = tm.run("b").await;
    let steps = tm.steps(&b).await;
    assert_eq!(steps[1].name, "Probe");
    assert_eq!(steps[1].state_string, "probed");
    assert_eq!(
        steps[1].urls,
        [("docs".to_owned(), "http://127.0.0.1/docs".to_owned())]
    );
    assert!(tm.stdio(&steps[1]).await.contains("oprobed\n"));
    let props = tm
        .master
        .db()
        .get_build_properties(b.buildid)
        .await
        .unwrap();
    assert_eq!(
        props["probe"],
        (serde_json::json!("probed"), "Probe".into())
    );
    assert_eq!(steps[2].results, Some(Results::Warnings.code() as i64));
    let logs = tm
        .master
        .db()
        .list_logs(&Query::new().eq("stepid", steps[2].stepid.0))
        .await
        .unwrap();
    assert!(logs.iter().any(|l| l.name == "warnings (2)"), "{logs:?}");
    tm.master.stop().await.unwrap();
}
