//! `MasterLock` / `WorkerLock` on builders and steps, on our in-process worker. Every build
//! marks itself in a directory shared by all builders while it runs, and prints how many
//! builds were inside at once: the lock's limit must hold, and be reached.

use std::time::Duration;

use buildbot_core::master::config::{MasterConfig, Registry, parse_config};
use buildbot_db::BuildRow;

use crate::harness::*;

/// A step that counts the builds running it at the same time (in `../../shared`, i.e. the
/// worker's base directory).
const COUNTING: &str = r#"command = ["sh", "-c", "mkdir -p ../../shared && touch ../../shared/$$ && sleep 1.5 && echo inside=$(ls ../../shared | wc -l) && rm ../../shared/$$"]"#;

fn locks_config() -> MasterConfig {
    let mut text = String::from(
        r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[locks]]
type = "MasterLock"
name = "excl"

[[locks]]
type = "MasterLock"
name = "two"
maxCount = 2

[[locks]]
type = "WorkerLock"
name = "wl"
maxCount = 3
maxCountForWorker = { w1 = 1 }

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["ex1", "ex2", "c1", "c2", "c3", "s1", "s2"]
"#,
    );
    for b in ["ex1", "ex2"] {
        text.push_str(&format!(
            "\n[[builders]]\nname = \"{b}\"\nworkernames = [\"w1\"]\nlocks = [{{ name = \"excl\", access = \"exclusive\" }}]\n[[builders.steps]]\ntype = \"ShellCommand\"\nname = \"count\"\n{COUNTING}\n"
        ));
    }
    for b in ["c1", "c2", "c3"] {
        text.push_str(&format!(
            "\n[[builders]]\nname = \"{b}\"\nworkernames = [\"w1\"]\nlocks = [\"two\"]\n[[builders.steps]]\ntype = \"ShellCommand\"\nname = \"count\"\n{COUNTING}\n"
        ));
    }
    // step locks: a worker lock limited to 1 on w1
    for b in ["s1", "s2"] {
        text.push_str(&format!(
            "\n[[builders]]\nname = \"{b}\"\nworkernames = [\"w1\"]\n[[builders.steps]]\ntype = \"ShellCommand\"\nname = \"free\"\ncommand = [\"true\"]\n[[builders.steps]]\ntype = \"ShellCommand\"\nname = \"count\"\nlocks = [{{ name = \"wl\", access = \"counting\" }}]\n{COUNTING}\n"
        ));
    }
    parse_config(&text, "master.cfg", &Registry::new())
        .expect("valid config")
        .config
}

/// Forces all of `builders` at once and waits for their builds.
async fn run_together(tm: &TestMaster, builders: &[&str]) -> Vec<BuildRow> {
    let mut brids = Vec::new();
    for b in builders {
        brids.push(tm.force(b).await);
    }
    let mut out = Vec::new();
    for brid in brids {
        tm.master
            .wait_for_request(brid, Duration::from_secs(60))
            .await
            .expect("request completes");
        out.push(
            tm.master
                .builds_of_request(brid)
                .await
                .unwrap()
                .pop()
                .unwrap(),
        );
    }
    out
}

/// The `inside=N` count printed by the build's `count` step.
async fn inside(tm: &TestMaster, b: &BuildRow) -> usize {
    let steps = tm.steps(b).await;
    let step = steps
        .iter()
        .find(|s| s.name == "count")
        .expect("count step");
    let out = tm.stdio(step).await;
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("oinside="))
        .unwrap_or_else(|| panic!("no count in {out}"));
    line.trim().parse().unwrap()
}

#[async_std::test]
async fn master_and_worker_locks() {
    let tm = TestMaster::start(locks_config()).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    within(120, "locks", async {
        // exclusive: never together, the second waited
        let bs = run_together(&tm, &["ex1", "ex2"]).await;
        for b in &bs {
            assert_eq!(b.results, Some(0), "{b:?}");
            assert_eq!(inside(&tm, b).await, 1);
            let steps = tm.steps(b).await;
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["worker_preparation", "locks_acquire", "count"]);
            assert_eq!(steps[1].state_string, "locks acquired");
        }
        let (a, b) = (&bs[0], &bs[1]);
        let sa = tm.steps(a).await;
        let sb = tm.steps(b).await;
        let (a_start, a_end) = (sa[2].started_at.unwrap(), sa[2].complete_at.unwrap());
        let (b_start, b_end) = (sb[2].started_at.unwrap(), sb[2].complete_at.unwrap());
        assert!(
            b_start >= a_end || a_start >= b_end,
            "exclusive steps overlap: {a_start}-{a_end} and {b_start}-{b_end}"
        );
        assert!(
            a.locks_duration_s + b.locks_duration_s >= 1,
            "one of them waited: {a:?} {b:?}"
        );

        // counting, maxCount = 2: at most two together, and two did run together
        let bs = run_together(&tm, &["c1", "c2", "c3"]).await;
        let mut counts = Vec::new();
        for b in &bs {
            assert_eq!(b.results, Some(0), "{b:?}");
            counts.push(inside(&tm, b).await);
        }
        assert!(counts.iter().all(|n| *n <= 2), "{counts:?}");
        assert!(counts.contains(&2), "{counts:?}");

        // step locks: a worker lock with maxCountForWorker 1 serializes the steps only
        let bs = run_together(&tm, &["s1", "s2"]).await;
        for b in &bs {
            assert_eq!(b.results, Some(0), "{b:?}");
            assert_eq!(inside(&tm, b).await, 1);
            let names: Vec<String> = tm.steps(b).await.into_iter().map(|s| s.name).collect();
            assert_eq!(names, ["worker_preparation", "free", "count"]);
        }
    })
    .await;
    tm.master.stop().await.unwrap();
}
