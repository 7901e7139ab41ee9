//! The `Git` source step on our in-process worker against real repositories made with the
//! `git` command line in temp dirs.

use std::path::Path;
use std::process::Command;

use buildbot_core::master::config::{MasterConfig, Registry, parse_config};
use buildbot_db::{BuildRow, Results};

use crate::harness::*;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Tester",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "init.defaultBranch=master",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A bare repository with two commits on `master` (`file.txt` = `v1`, then `v2`): `(bare
/// path, [sha1, sha2])`.
pub fn two_commit_repo(root: &Path) -> (String, [String; 2]) {
    let bare = root.join("origin.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q"]);
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["checkout", "-q", "-b", "master"]);
    let mut shas = Vec::new();
    for v in ["v1", "v2"] {
        std::fs::write(work.join("file.txt"), format!("{v}\n")).unwrap();
        git(&work, &["add", "file.txt"]);
        git(&work, &["commit", "-q", "-m", v]);
        shas.push(git(&work, &["rev-parse", "HEAD"]));
    }
    git(
        &work,
        &["push", "-q", bare.to_str().unwrap(), "master:master"],
    );
    (
        bare.to_str().unwrap().to_owned(),
        [shas[0].clone(), shas[1].clone()],
    )
}

fn git_config(repourl: &str) -> MasterConfig {
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
builderNames = ["co", "full", "badrepo"]

[[builders]]
name = "co"
workernames = ["w1"]
[[builders.steps]]
type = "Git"
repourl = "{repourl}"
mode = "incremental"
[[builders.steps]]
type = "ShellCommand"
name = "show"
command = ["cat", "file.txt"]

[[builders]]
name = "full"
workernames = ["w1"]
[[builders.steps]]
type = "Git"
repourl = "{repourl}"
branch = "master"
mode = "full"
method = "clobber"
shallow = true
workdir = "src"
[[builders.steps]]
type = "ShellCommand"
name = "show"
workdir = "src"
command = ["cat", "file.txt"]

[[builders]]
name = "badrepo"
workernames = ["w1"]
[[builders.steps]]
type = "Git"
repourl = "{repourl}-does-not-exist"
[[builders.steps]]
type = "ShellCommand"
name = "never"
command = ["true"]
"#
    );
    parse_config(&text, "master.cfg", &Registry::new())
        .expect("valid config")
        .config
}

async fn prop(tm: &TestMaster, b: &BuildRow, name: &str) -> Option<(serde_json::Value, String)> {
    let props = tm
        .master
        .db()
        .get_build_properties(b.buildid)
        .await
        .unwrap();
    props.get(name).cloned()
}

#[async_std::test]
async fn git_checkout_head_revision_incremental_and_bad_url() {
    let repos = tempfile::tempdir().unwrap();
    let (repo, [sha1, sha2]) = two_commit_repo(repos.path());
    let tm = TestMaster::start(git_config(&repo)).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;

    within(120, "git scenarios", async {
        // forced, no revision: HEAD of the default branch
        let b1 = tm.run("co").await;
        let steps = tm.steps(&b1).await;
        assert_eq!(b1.results, Some(0), "{b1:?} {steps:?}");
        assert_eq!(steps[1].name, "git");
        assert_eq!(steps[1].state_string, "update");
        let log1 = tm.stdio(&steps[1]).await;
        assert!(
            log1.contains("hgit --version\n") || log1.contains("git --version"),
            "{log1}"
        );
        assert!(log1.contains("git clone"), "{log1}");
        assert!(tm.stdio(&steps[2]).await.contains("ov2\n"));
        assert_eq!(
            prop(&tm, &b1, "got_revision").await,
            Some((serde_json::json!(sha2), "Git".into()))
        );

        // at the first revision: the same directory is reused (no clone)
        let b2 = run_on(&tm, "co", &repo, Some("master"), Some(&sha1)).await;
        let steps = tm.steps(&b2).await;
        assert_eq!(b2.results, Some(0), "{b2:?} {steps:?}");
        let log2 = tm.stdio(&steps[1]).await;
        assert!(!log2.contains("git clone"), "{log2}");
        assert!(log2.contains(&format!("checkout -f {sha1}")), "{log2}");
        assert!(tm.stdio(&steps[2]).await.contains("ov1\n"));
        assert_eq!(
            prop(&tm, &b2, "got_revision").await.map(|p| p.0),
            Some(serde_json::json!(sha1))
        );

        // back to the latest: fetched into the existing clone
        let b3 = tm.run("co").await;
        let steps = tm.steps(&b3).await;
        assert_eq!(b3.results, Some(0));
        let log3 = tm.stdio(&steps[1]).await;
        assert!(!log3.contains("git clone"), "{log3}");
        assert!(log3.contains("fetch -f --progress"), "{log3}");
        assert!(log3.contains("checkout -f FETCH_HEAD"), "{log3}");
        assert!(tm.stdio(&steps[2]).await.contains("ov2\n"));

        // full/clobber, shallow, branch, own workdir
        let b4 = tm.run("full").await;
        let steps = tm.steps(&b4).await;
        assert_eq!(b4.results, Some(0), "{steps:?}");
        let log4 = tm.stdio(&steps[1]).await;
        assert!(log4.contains("clone --branch master --depth 1"), "{log4}");
        assert!(tm.stdio(&steps[2]).await.contains("ov2\n"));

        // a repository that does not exist: FAILURE, the build halts, git's message logged
        let b5 = tm.run("badrepo").await;
        let steps = tm.steps(&b5).await;
        assert_eq!(b5.results, Some(Results::Failure as i64 as _), "{b5:?}");
        assert_eq!(steps.len(), 2, "haltOnFailure stops the build: {steps:?}");
        assert_eq!(steps[1].state_string, "update (failure)");
        let log5 = tm.stdio(&steps[1]).await;
        assert!(
            log5.contains("does not exist") || log5.contains("fatal:"),
            "{log5}"
        );
        assert!(prop(&tm, &b5, "got_revision").await.is_none());
    })
    .await;
    tm.master.stop().await.unwrap();
}
