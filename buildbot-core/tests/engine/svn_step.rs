//! The `SVN` source step on our in-process worker against a real repository made with
//! `svnadmin` in a temp dir (SKIP without Subversion).

use std::path::Path;
use std::process::Command;

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_db::Results;

use crate::harness::*;

fn svn(dir: &Path, prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("run svn");
    assert!(out.status.success(), "{prog} {args:?}: {out:?}");
}

fn have_svn() -> bool {
    ["svn", "svnadmin"].iter().all(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[async_std::test]
async fn svn_modes_revisions_purge_and_export() {
    init_log();
    if !have_svn() {
        eprintln!("SKIP svn step: no svn on this machine (apt-get install subversion)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    svn(dir.path(), "svnadmin", &["create", repo.to_str().unwrap()]);
    let url = format!("file://{}", repo.display());
    svn(dir.path(), "svn", &["checkout", "-q", &url, "wc"]);
    let wc = dir.path().join("wc");
    for (i, v) in ["one", "two"].iter().enumerate() {
        std::fs::write(wc.join("file.txt"), format!("{v}\n")).unwrap();
        if i == 0 {
            svn(&wc, "svn", &["add", "-q", "file.txt"]);
        }
        svn(&wc, "svn", &["commit", "-q", "-m", v]);
    }

    let text = format!(
        r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["inc", "fresh", "export"]
[[builders]]
name = "inc"
workernames = ["w1"]
steps = [
  {{ type = "SVN", repourl = "{url}", username = "alice", password = "s3cret-pw" }},
  {{ type = "ShellCommand", name = "show", command = ["cat", "file.txt"] }},
]
[[builders]]
name = "fresh"
workernames = ["w1"]
steps = [
  {{ type = "SVN", repourl = "{url}", mode = "full", keep_on_purge = ["keep.txt"] }},
  {{ type = "ShellCommand", name = "show", command = ["sh", "-c", "ls; cat file.txt"] }},
]
[[builders]]
name = "export"
workernames = ["w1"]
steps = [
  {{ type = "SVN", repourl = "{url}", mode = "full", method = "export" }},
  {{ type = "ShellCommand", name = "show", command = ["sh", "-c", "ls -a; cat file.txt"] }},
]
"#
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;

    within(180, "svn scenarios", async {
        // a revision: exactly that one; the password never shows in the log
        let b = run_on(&tm, "inc", &url, None, Some("1")).await;
        assert_eq!(b.results, Some(Results::Success.code() as i64), "{b:?}");
        assert_eq!(got_revision(&tm, &b).await.as_deref(), Some("1"));
        assert!(shown(&tm, &b).await.contains("one"));
        let steps = tm.steps(&b).await;
        let svn_step = steps
            .iter()
            .find(|s| s.name == "svn")
            .expect("the svn step");
        let log = tm.stdio(svn_step).await;
        assert!(log.contains("checkout") && log.contains("XXXXXX"), "{log}");
        assert!(
            !log.contains("s3cret-pw"),
            "the password is obfuscated: {log}"
        );
        // incremental, no revision: updated to the head
        let b = tm.run("inc").await;
        assert_eq!(got_revision(&tm, &b).await.as_deref(), Some("2"));
        assert!(shown(&tm, &b).await.contains("two"));
        let log = tm
            .stdio(tm.steps(&b).await.iter().find(|s| s.name == "svn").unwrap())
            .await;
        assert!(
            log.contains("svn update"),
            "an update, not a new checkout: {log}"
        );

        // full/fresh: unversioned files removed, keep_on_purge kept
        let b = tm.run("fresh").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        let build_dir = w._dir.path().join("fresh/build");
        std::fs::write(build_dir.join("junk.txt"), "x").unwrap();
        std::fs::write(build_dir.join("keep.txt"), "x").unwrap();
        let b = tm.run("fresh").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        assert!(!build_dir.join("junk.txt").exists(), "purged");
        assert!(build_dir.join("keep.txt").exists(), "kept");

        // export: a plain tree, no working copy, got_revision from the checkout in `source`
        let b = tm.run("export").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        assert_eq!(got_revision(&tm, &b).await.as_deref(), Some("2"));
        let out = shown(&tm, &b).await;
        assert!(out.contains("two") && !out.contains(".svn"), "{out}");
        assert!(w._dir.path().join("export/source/.svn").is_dir());
    })
    .await;
    tm.master.stop().await.unwrap();
}
