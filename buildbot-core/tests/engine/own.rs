//! Builds on our own worker (in-process): results, state strings and logs as Python
//! Buildbot records them.

use std::time::Duration;

use buildbot_core::master::config::{MasterConfig, Registry, parse_config};
use buildbot_db::{Query, Results};

use crate::harness::*;

/// The configuration used by the scenario tests (our worker and the Python worker).
pub fn scenario_config() -> MasterConfig {
    let text = r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["good", "bad", "slow", "timeout", "transfers"]

[[builders]]
name = "good"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "hello"
command = ["sh", "-c", "for i in 1 2 3; do echo line $i; done; echo err >&2"]
[[builders.steps]]
type = "SetPropertyFromCommand"
name = "getprop"
command = ["echo", "42"]
property = "answer"
[[builders.steps]]
type = "ShellCommand"
name = "useprop"
command = ["echo", "answer=%(prop:answer)s", "on %(prop:workername)s"]

[[builders]]
name = "bad"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["sh", "-c", "echo failing; exit 3"]
[[builders.steps]]
type = "ShellCommand"
name = "after"
command = ["true"]

[[builders]]
name = "slow"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["sh", "-c", "echo started; sleep 60"]

[[builders]]
name = "timeout"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["sleep", "30"]
timeout = 1

[[builders]]
name = "transfers"
workernames = ["w1"]
[[builders.steps]]
type = "MakeDirectory"
dir = "build/out/sub"
[[builders.steps]]
type = "StringDownload"
s = "hello from %(prop:buildername)s\n"
workerdest = "out/sub/greeting.txt"
[[builders.steps]]
type = "FileDownload"
mastersrc = "source.txt"
workerdest = "out/copy.txt"
[[builders.steps]]
type = "FileUpload"
workersrc = "out/sub/greeting.txt"
masterdest = "uploads/greeting-%(prop:buildnumber)s.txt"
[[builders.steps]]
type = "DirectoryUpload"
workersrc = "out"
masterdest = "uploads/dir"
[[builders.steps]]
type = "RemoveDirectory"
dir = "build/out"
"#;
    parse_config(text, "master.cfg", &Registry::new())
        .expect("valid config")
        .config
}

pub async fn check_good(tm: &TestMaster) {
    let b = tm.run("good").await;
    assert_eq!(b.results, Some(0), "{b:?}");
    assert_eq!(b.state_string, "build successful");
    let steps = tm.steps(&b).await;
    let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["worker_preparation", "hello", "getprop", "useprop"]);
    assert_eq!(steps[0].state_string, "worker w1 ready");
    assert_eq!(steps[0].number, 0);
    assert_eq!(steps[1].state_string, "'sh -c ...'");
    assert_eq!(steps[2].state_string, "property 'answer' set");
    assert!(steps.iter().all(|s| s.results == Some(0)));
    let out = tm.stdio(&steps[1]).await;
    assert!(
        out.starts_with("hsh -c 'for i in 1 2 3; do echo line $i; done; echo err >&2'\n"),
        "{out}"
    );
    // stdout and stderr are separate pipes: their relative order may vary under load
    for line in ["oline 1\n", "oline 2\n", "oline 3\n", "eerr\n"] {
        assert!(out.contains(line), "{out}");
    }
    assert!(
        out.contains("hprogram finished with exit code 0\nhelapsedTime="),
        "{out}"
    );
    let out3 = tm.stdio(&steps[3]).await;
    assert!(out3.contains("oanswer=42 on w1\n"), "{out3}");
    let props = tm
        .master
        .db()
        .get_build_properties(b.buildid)
        .await
        .unwrap();
    let p = |n: &str| {
        props
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("property {n}"))
    };
    assert_eq!(
        p("answer"),
        (
            serde_json::json!("42"),
            "SetPropertyFromCommand Step".into()
        )
    );
    assert_eq!(
        p("buildername"),
        (serde_json::json!("good"), "Builder".into())
    );
    assert_eq!(
        p("buildnumber"),
        (serde_json::json!(b.number), "Build".into())
    );
    assert_eq!(p("workername"), (serde_json::json!("w1"), "Worker".into()));
    assert_eq!(
        p("scheduler"),
        (serde_json::json!("force"), "Scheduler".into())
    );
    assert_eq!(
        p("owner"),
        (
            serde_json::json!("tester <t@example.com>"),
            "Force Build Form".into()
        )
    );
    assert_eq!(p("branch"), (serde_json::json!(""), "Build".into()));
    let br = tm
        .master
        .db()
        .get_buildrequest(b.buildrequestid)
        .await
        .unwrap()
        .unwrap();
    assert!(br.complete && br.claimed);
    assert_eq!(br.results, 0);
    let bs = complete_buildset(&tm.master, br.buildsetid).await;
    assert_eq!(
        bs.reason.as_deref(),
        Some("A build was forced by 'tester <t@example.com>': spec good")
    );
    assert!(bs.complete);
    assert_eq!(bs.results, Some(0));
    // logs are complete and compacted
    let logs = tm
        .master
        .db()
        .list_logs(&Query::new().eq("stepid", steps[1].stepid.0))
        .await
        .unwrap();
    assert!(logs.iter().all(|l| l.complete));
}

pub async fn check_bad(tm: &TestMaster) {
    let b = tm.run("bad").await;
    assert_eq!(b.results, Some(Results::Failure.code() as i64));
    assert_eq!(b.state_string, "failed 'sh -c ...' (failure)");
    let steps = tm.steps(&b).await;
    assert_eq!(steps[1].state_string, "'sh -c ...' (failure)");
    assert_eq!(steps[1].results, Some(2));
    // not haltOnFailure: the next step ran
    assert_eq!(steps[2].name, "after");
    assert_eq!(steps[2].results, Some(0));
    assert!(
        tm.stdio(&steps[1])
            .await
            .contains("ofailing\nhprogram finished with exit code 3\n")
    );
    let br = tm
        .master
        .db()
        .get_buildrequest(b.buildrequestid)
        .await
        .unwrap()
        .unwrap();
    let bs = complete_buildset(&tm.master, br.buildsetid).await;
    assert_eq!(bs.results, Some(2));
}

pub async fn check_stop(tm: &TestMaster) {
    let brid = tm.force("slow").await;
    let b = within(
        30,
        "build starts",
        tm.master.wait_for_build_of(brid, Duration::from_secs(30)),
    )
    .await
    .unwrap();
    // wait until the command runs
    for _ in 0..200 {
        let steps = tm.steps(&b).await;
        if steps.len() == 2 && steps[1].started_at.is_some() {
            break;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    async_std::task::sleep(Duration::from_millis(300)).await;
    tm.master
        .stop_build(b.buildid, "spec says stop")
        .await
        .unwrap();
    let done = tm
        .master
        .wait_for_build(b.buildid, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done.results, Some(6));
    assert_eq!(
        done.state_string,
        "cancelled (spec says stop) 'sh -c ...' (cancelled)"
    );
    let steps = tm.steps(&done).await;
    assert_eq!(steps[1].state_string, "'sh -c ...' (cancelled)");
    assert_eq!(steps[1].results, Some(6));
    let br = tm
        .master
        .wait_for_request(brid, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(br.results, 6);
    // stopping a finished build is a no-op
    tm.master.stop_build(b.buildid, "again").await.unwrap();
}

pub async fn check_timeout(tm: &TestMaster) {
    let b = tm.run("timeout").await;
    assert_eq!(b.results, Some(2));
    let steps = tm.steps(&b).await;
    assert_eq!(steps[1].state_string, "'sleep 30' (failure) (timed out)");
    assert_eq!(b.state_string, "failed 'sleep 30' (failure) (timed out)");
}

pub async fn check_transfers(tm: &TestMaster) {
    std::fs::write(tm.master.basedir().join("source.txt"), "from the master\n").unwrap();
    let b = tm.run("transfers").await;
    let steps = tm.steps(&b).await;
    for s in &steps {
        assert_eq!(s.results, Some(0), "step {} {}", s.name, s.state_string);
    }
    assert_eq!(b.results, Some(0), "{}", b.state_string);
    let up = tm
        .master
        .basedir()
        .join(format!("uploads/greeting-{}.txt", b.number));
    assert_eq!(
        std::fs::read_to_string(up).unwrap(),
        "hello from transfers\n"
    );
    let dir = tm.master.basedir().join("uploads/dir");
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/greeting.txt")).unwrap(),
        "hello from transfers\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("copy.txt")).unwrap(),
        "from the master\n"
    );
}

async fn own_master() -> (TestMaster, OwnWorker) {
    let tm = TestMaster::start(scenario_config()).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    (tm, w)
}

#[async_std::test]
async fn own_worker_shell_success() {
    let (tm, _w) = own_master().await;
    within(60, "good", check_good(&tm)).await;
    let wrow = tm
        .master
        .db()
        .get_worker_by_name(W1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(wrow.workerinfo["admin"], "Rusty <r@example.invalid>\n");
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn own_worker_shell_failure() {
    let (tm, _w) = own_master().await;
    within(60, "bad", check_bad(&tm)).await;
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn own_worker_stop_build() {
    let (tm, _w) = own_master().await;
    within(60, "stop", check_stop(&tm)).await;
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn own_worker_timeout() {
    let (tm, _w) = own_master().await;
    within(60, "timeout", check_timeout(&tm)).await;
    tm.master.stop().await.unwrap();
}

#[async_std::test]
async fn own_worker_transfers() {
    let (tm, _w) = own_master().await;
    within(60, "transfers", check_transfers(&tm)).await;
    tm.master.stop().await.unwrap();
}
