//! The `Trigger` step and `Triggerable` schedulers on our in-process worker.

use buildbot_core::master::config::{MasterConfig, Registry, parse_config};
use buildbot_db::{BuildRow, BuildsetRow, Query};

use crate::harness::*;

fn trigger_config() -> MasterConfig {
    let text = r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["parent", "parent_fail", "parent_nowait", "parent_stop"]

[[schedulers]]
type = "Triggerable"
name = "trig"
builderNames = ["child1", "child2"]

[[schedulers]]
type = "Triggerable"
name = "trigbad"
builderNames = ["child1", "childfail"]

[[schedulers]]
type = "Triggerable"
name = "trigslow"
builderNames = ["slowchild"]

[[builders]]
name = "parent"
workernames = ["w1"]
[[builders.steps]]
type = "Trigger"
schedulerNames = ["trig"]
waitForFinish = true
set_properties = { from_parent = "%(prop:buildername)s-%(prop:buildnumber)s", n = 7 }
[[builders.steps]]
type = "ShellCommand"
name = "after"
command = ["true"]

[[builders]]
name = "parent_fail"
workernames = ["w1"]
[[builders.steps]]
type = "Trigger"
schedulerNames = ["trigbad"]
waitForFinish = true
[[builders.steps]]
type = "ShellCommand"
name = "after"
command = ["true"]

[[builders]]
name = "parent_nowait"
workernames = ["w1"]
[[builders.steps]]
type = "Trigger"
schedulerNames = ["trigslow"]

[[builders]]
name = "parent_stop"
workernames = ["w1"]
[[builders.steps]]
type = "Trigger"
schedulerNames = ["trigslow"]
waitForFinish = true

[[builders]]
name = "child1"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["echo", "from=%(prop:from_parent)s"]

[[builders]]
name = "child2"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["true"]

[[builders]]
name = "childfail"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["sh", "-c", "exit 1"]

[[builders]]
name = "slowchild"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["sleep", "4"]
"#;
    parse_config(text, "master.cfg", &Registry::new())
        .expect("valid config")
        .config
}

async fn builds_of(tm: &TestMaster, builder: &str) -> Vec<BuildRow> {
    let db = tm.master.db();
    let id = db.builder_id_by_name(builder).await.unwrap().unwrap();
    db.list_builds(&Query::new().eq("builderid", id.0).order("number", false))
        .await
        .unwrap()
}

async fn buildset_of(tm: &TestMaster, b: &BuildRow) -> BuildsetRow {
    let db = tm.master.db();
    let req = db
        .get_buildrequest(b.buildrequestid)
        .await
        .unwrap()
        .unwrap();
    db.get_buildset(req.buildsetid).await.unwrap().unwrap()
}

#[async_std::test]
async fn trigger_wait_props_failure_and_nowait() {
    let tm = TestMaster::start(trigger_config()).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    within(120, "trigger scenarios", async {
        // waits for both children, which get the parent's properties
        let p = tm.run("parent").await;
        let steps = tm.steps(&p).await;
        assert_eq!(p.results, Some(0), "{p:?} {steps:?}");
        assert_eq!(steps[1].name, "trigger");
        assert_eq!(steps[1].state_string, "triggered trig, 2 successes");
        assert_eq!(steps[2].results, Some(0));
        for child in ["child1", "child2"] {
            let cb = builds_of(&tm, child).await;
            assert_eq!(cb.len(), 1, "{child}");
            assert_eq!(cb[0].results, Some(0));
            assert!(cb[0].complete_at.unwrap() <= p.complete_at.unwrap());
            let bs = buildset_of(&tm, &cb[0]).await;
            assert_eq!(bs.parent_buildid, Some(p.buildid));
            assert_eq!(bs.parent_relationship.as_deref(), Some("Triggered from"));
            assert_eq!(
                bs.reason.as_deref(),
                Some("The Triggerable scheduler named 'trig' triggered this build")
            );
            let props = tm
                .master
                .db()
                .get_build_properties(cb[0].buildid)
                .await
                .unwrap();
            assert_eq!(
                props.get("from_parent"),
                Some(&(serde_json::json!("parent-1"), "Trigger".to_owned()))
            );
            assert_eq!(
                props.get("n").map(|v| v.0.clone()),
                Some(serde_json::json!(7))
            );
            assert_eq!(
                props.get("scheduler").map(|v| v.0.clone()),
                Some(serde_json::json!("trig"))
            );
        }
        let c1 = builds_of(&tm, "child1").await;
        let c1steps = tm.steps(&c1[0]).await;
        assert!(tm.stdio(&c1steps[1]).await.contains("ofrom=parent-1\n"));

        // a failing child makes the Trigger step (and the parent) fail
        let pf = tm.run("parent_fail").await;
        let steps = tm.steps(&pf).await;
        assert_eq!(pf.results, Some(2), "{pf:?} {steps:?}");
        assert_eq!(steps[1].results, Some(2));
        assert_eq!(
            steps[1].state_string,
            "triggered trigbad, 1 success, 1 failure"
        );

        // waitForFinish = false: the parent is done before its child
        let pn = tm.run("parent_nowait").await;
        assert_eq!(pn.results, Some(0));
        let sc = builds_of(&tm, "slowchild").await;
        let pending = match sc.first() {
            None => true,
            Some(b) => b.complete_at.is_none(),
        };
        assert!(pending, "the child should still run: {sc:?}");
        let steps = tm.steps(&pn).await;
        assert_eq!(steps[1].state_string, "triggered trigslow");
        // and it does complete, as a child of the parent
        for _ in 0..200 {
            let sc = builds_of(&tm, "slowchild").await;
            if sc.first().is_some_and(|b| b.complete_at.is_some()) {
                let bs = buildset_of(&tm, &sc[0]).await;
                assert_eq!(bs.parent_buildid, Some(pn.buildid));
                assert_eq!(sc[0].results, Some(0));
                return;
            }
            async_std::task::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("slowchild never completed");
    })
    .await;
    within(120, "stopping a waiting trigger", async {
        // stopping the parent while it waits stops the child it triggered
        let before = builds_of(&tm, "slowchild").await.len();
        let brid = tm.force("parent_stop").await;
        let child = loop {
            let sc = builds_of(&tm, "slowchild").await;
            if sc.len() > before && sc.last().unwrap().complete_at.is_none() {
                break sc.last().unwrap().clone();
            }
            async_std::task::sleep(std::time::Duration::from_millis(50)).await;
        };
        let parent = tm
            .master
            .builds_of_request(brid)
            .await
            .unwrap()
            .pop()
            .unwrap();
        tm.master
            .stop_build(parent.buildid, "enough")
            .await
            .unwrap();
        tm.master
            .wait_for_request(brid, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let parent = tm
            .master
            .builds_of_request(brid)
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(parent.results, Some(6), "{parent:?}");
        for _ in 0..200 {
            let c = builds_of(&tm, "slowchild").await;
            let c = c.iter().find(|b| b.buildid == child.buildid).unwrap();
            if c.complete_at.is_some() {
                assert_eq!(c.results, Some(6), "child cancelled: {c:?}");
                return;
            }
            async_std::task::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the child was not stopped");
    })
    .await;
    tm.master.stop().await.unwrap();
}
