//! The `Mercurial` source step on our in-process worker against a real repository made
//! with `hg` in a temp dir (SKIP without `hg`).

use std::path::Path;
use std::process::Command;

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_db::Results;

use crate::harness::*;

fn hg(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("hg")
        .args(args)
        .current_dir(dir)
        .env("HGPLAIN", "1")
        .env("HGRCPATH", "/dev/null")
        .env("HGUSER", "Tester <t@example.invalid>")
        .output()
        .expect("run hg");
    assert!(out.status.success(), "hg {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn have_hg() -> bool {
    Command::new("hg")
        .arg("--version")
        .env("HGRCPATH", "/dev/null")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[async_std::test]
async fn mercurial_modes_branches_and_revisions() {
    init_log();
    if !have_hg() {
        eprintln!("SKIP mercurial step: no hg on this machine (apt-get install mercurial)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    hg(&repo, &["init"]);
    let mut nodes = Vec::new();
    for v in ["one", "two"] {
        std::fs::write(repo.join("file.txt"), format!("{v}\n")).unwrap();
        if v == "one" {
            hg(&repo, &["add", "file.txt"]);
        }
        hg(&repo, &["commit", "-m", v]);
        nodes.push(hg(&repo, &["parents", "--template", "{node}"]));
    }
    hg(&repo, &["branch", "stable"]);
    std::fs::write(repo.join("file.txt"), "stable\n").unwrap();
    hg(&repo, &["commit", "-m", "stable"]);
    let stable = hg(&repo, &["parents", "--template", "{node}"]);
    hg(&repo, &["update", "-q", "default"]);
    let url = repo.display().to_string();

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
builderNames = ["inc", "fresh", "bad"]
[[builders]]
name = "inc"
workernames = ["w1"]
steps = [
  {{ type = "Mercurial", repourl = "{url}", branchType = "inrepo" }},
  {{ type = "ShellCommand", name = "show", command = ["cat", "file.txt"] }},
]
[[builders]]
name = "fresh"
workernames = ["w1"]
steps = [
  {{ type = "Mercurial", repourl = "{url}", branchType = "inrepo", mode = "full" }},
  {{ type = "ShellCommand", name = "show", command = ["sh", "-c", "ls; cat file.txt"] }},
]
[[builders]]
name = "bad"
workernames = ["w1"]
steps = [
  {{ type = "Mercurial", repourl = "{url}-does-not-exist" }},
  {{ type = "ShellCommand", name = "never", command = ["true"] }},
]
"#
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;

    within(180, "mercurial scenarios", async {
        // a revision: exactly that one
        let b = run_on(&tm, "inc", &url, Some("default"), Some(&nodes[0])).await;
        assert_eq!(b.results, Some(Results::Success.code() as i64), "{b:?}");
        assert_eq!(
            got_revision(&tm, &b).await.as_deref(),
            Some(nodes[0].as_str())
        );
        assert!(shown(&tm, &b).await.contains("one"));
        // no revision: the head of the branch (incremental: pull and update)
        let b = tm.run("inc").await;
        assert_eq!(
            got_revision(&tm, &b).await.as_deref(),
            Some(nodes[1].as_str())
        );
        assert!(shown(&tm, &b).await.contains("two"));
        // another in-repo branch: clobbered and updated to it
        let b = run_on(&tm, "inc", &url, Some("stable"), None).await;
        assert_eq!(
            got_revision(&tm, &b).await.as_deref(),
            Some(stable.as_str())
        );
        assert!(shown(&tm, &b).await.contains("stable"));
        let steps = tm.steps(&b).await;
        let hg_step = steps.iter().find(|s| s.name == "hg").expect("the hg step");
        let log = tm.stdio(hg_step).await;
        assert!(
            log.contains("identify --branch") && log.contains("rm -rf"),
            "a branch change clobbers: {log}"
        );

        // full/fresh: untracked and ignored files are purged
        let b = tm.run("fresh").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        let build_dir = w._dir.path().join("fresh/build");
        std::fs::write(build_dir.join("junk.txt"), "x").unwrap();
        let b = tm.run("fresh").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        assert!(!build_dir.join("junk.txt").exists(), "purged");
        assert!(!shown(&tm, &b).await.contains("junk.txt"));

        // a bad URL fails the step with hg's message; the build stops there
        let b = tm.run("bad").await;
        assert_eq!(b.results, Some(Results::Failure.code() as i64));
        let steps = tm.steps(&b).await;
        assert!(steps.iter().all(|s| s.name != "never"), "{steps:?}");
        let hg_step = steps.iter().find(|s| s.name == "hg").unwrap();
        let log = tm.stdio(hg_step).await;
        assert!(log.contains("does-not-exist"), "{log}");
    })
    .await;
    tm.master.stop().await.unwrap();
}
