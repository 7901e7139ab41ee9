//! `GitPoller` on real repositories made in temp dirs: the scenario recorded from Python
//! Buildbot 4.3 (`../shared/spec/fixtures/gitpoller/`), a restart between polls, and a
//! repository that goes away and comes back.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use buildbot_core::master::MasterHandle;
use buildbot_core::master::config::{Registry, parse_config};
use buildbot_db::{ChangeRow, Query};
use serde_json::Value;

use crate::harness::*;

/// Runs git in `dir` with fixed identities and times (`who`: `(name, email, date)` for the
/// author and the committer).
fn git(dir: &Path, args: &[&str], who: Option<[(&str, &str, &str); 2]>) {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    let [(an, ae, ad), (cn, ce, cd)] = who.unwrap_or([
        ("Alice Example", "alice@example.org", "2026-12-01T10:00:00Z"),
        ("Alice Example", "alice@example.org", "2026-12-01T10:00:00Z"),
    ]);
    c.env("GIT_AUTHOR_NAME", an)
        .env("GIT_AUTHOR_EMAIL", ae)
        .env("GIT_AUTHOR_DATE", ad)
        .env("GIT_COMMITTER_NAME", cn)
        .env("GIT_COMMITTER_EMAIL", ce)
        .env("GIT_COMMITTER_DATE", cd);
    let out = c.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit(dir: &Path, file: &str, text: &str, message: &str, who: Option<[(&str, &str, &str); 2]>) {
    let p = dir.join(file);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    git(dir, &["add", "-A"], None);
    git(dir, &["commit", "-q", "-m", message], who);
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn config_text(repo: &Path) -> String {
    format!(
        r#"{ONE_BUILDER}steps = [{{ type = "ShellCommand", command = ["true"] }}]
[[change_source]]
type = "GitPoller"
repourl = "{}"
branches = ["main", "feature/x"]
pollInterval = 3600
pollAtLaunch = true
project = "hello"
category = "ci"
[[schedulers]]
type = "SingleBranchScheduler"
name = "sbs"
change_filter = {{ branch = "main" }}
builderNames = ["b"]
"#,
        repo.display()
    )
}

async fn changes(m: &MasterHandle) -> Vec<ChangeRow> {
    m.db()
        .list_changes(&Query::new().order("changeid", false))
        .await
        .unwrap()
}

/// Asks the poller to poll and waits until the poll after the request has ended.
async fn poll(m: &MasterHandle) {
    let before = m.change_source_status()[0].last_poll;
    // status times are seconds: wait for a poll that ended after this one started
    async_std::task::sleep(Duration::from_millis(1100)).await;
    m.poll_now(&[]).unwrap();
    eventually("a poll", || async {
        let s = m.change_source_status();
        (s[0].last_poll > before).then_some(())
    })
    .await;
}

#[async_std::test]
async fn gitpoller_sees_new_commits_as_buildbot_does() {
    init_log();
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    git(repo, &["init", "-q", "-b", "main"], None);
    commit(repo, "a.txt", "1\n", "first commit", None);
    let cfg = parse_config(&config_text(repo), "master.cfg", &Registry::new())
        .unwrap()
        .config;
    let base = tempfile::tempdir().unwrap();
    let m = TestMaster::start_in(cfg.clone(), base.path(), "127.0.0.1:0").await;

    // the first poll records the heads: no change
    eventually("the first poll", || async {
        m.change_source_status()[0].last_poll.map(|_| ())
    })
    .await;
    let st = &m.change_source_status()[0];
    assert_eq!(st.error, None, "{st:?}");
    assert!(changes(&m).await.is_empty());

    // author ≠ committer, a new file in a sub-directory
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::write(repo.join("sub/b.txt"), "b\n").unwrap();
    commit(
        repo,
        "a.txt",
        "2\n",
        "second commit",
        Some([
            ("Carol Author", "carol@example.org", "2026-12-02T11:00:00Z"),
            ("Bob Committer", "bob@example.org", "2026-12-02T11:30:00Z"),
        ]),
    );
    let second = head(repo);
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 1, "{c:?}");
    let c1 = &c[0];
    assert_eq!(c1.author, "Carol Author <carol@example.org>");
    assert_eq!(
        c1.committer.as_deref(),
        Some("Bob Committer <bob@example.org>")
    );
    assert_eq!(c1.comments, "second commit");
    assert_eq!(c1.files, ["a.txt", "sub/b.txt"]);
    assert_eq!(c1.revision.as_deref(), Some(second.as_str()));
    // committer date 2026-12-02T11:30:00Z, as Buildbot's %ct
    assert_eq!(c1.when_timestamp, 1_796_211_000);
    assert_eq!(c1.branch.as_deref(), Some("main"));
    assert_eq!(c1.category.as_deref(), Some("ci"));
    assert_eq!(c1.project, "hello");
    assert_eq!(c1.repository, repo.display().to_string());
    assert_eq!(c1.revlink.as_deref(), Some(""));
    assert!(c1.parent_changeids.is_empty());

    // two commits inside one poll: two changes, oldest first, the body kept
    commit(
        repo,
        "a.txt",
        "3\n",
        "third commit\n\nwith a body line",
        None,
    );
    commit(
        repo,
        "a.txt",
        "4\n",
        "fourth commit, same poll as the third",
        None,
    );
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 3, "{c:?}");
    assert_eq!(c[1].comments, "third commit\nwith a body line");
    assert_eq!(c[2].comments, "fourth commit, same poll as the third");
    assert_eq!(c[1].parent_changeids, [c[0].changeid]);
    assert_eq!(c[2].parent_changeids, [c[1].changeid]);

    // a new branch: one change holding only the commit not on a known head
    git(repo, &["checkout", "-q", "-b", "feature/x"], None);
    commit(repo, "f.txt", "f\n", "feature work", None);
    git(repo, &["checkout", "-q", "main"], None);
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 4, "{c:?}");
    assert_eq!(c[3].branch.as_deref(), Some("feature/x"));
    assert_eq!(c[3].files, ["f.txt"]);
    assert!(c[3].parent_changeids.is_empty());
    // the scheduler on main built the three changes of main, each at its revision
    eventually("three buildsets", || async {
        let bs = m.db().list_buildsets(&Query::new()).await.unwrap();
        (bs.len() == 3).then_some(())
    })
    .await;

    // the master restarted between two polls: the commit made meanwhile comes once
    m.stop().await.unwrap();
    commit(
        repo,
        "a.txt",
        "5\n",
        "fifth commit, while the master was down",
        None,
    );
    let m = TestMaster::start_in(cfg.clone(), base.path(), "127.0.0.1:0").await;
    eventually("the poll at launch", || async {
        m.change_source_status()[0].last_poll.map(|_| ())
    })
    .await;
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 5, "{c:?}");
    assert_eq!(c[4].comments, "fifth commit, while the master was down");
    let state = m
        .db()
        .get_object_id(
            &cfg.change_sources[0].name,
            "buildbot.changes.gitpoller.GitPoller",
        )
        .await
        .unwrap();
    let last = m.db().get_state(state, "lastRev").await.unwrap().unwrap();
    assert_eq!(last["main"], Value::from(head(repo)));

    // the repository goes away: the error is shown, the master stays up; it comes back
    let moved = repo.with_extension("away");
    std::fs::rename(repo, &moved).unwrap();
    poll(&m).await;
    let st = m.change_source_status()[0].clone();
    assert!(
        st.error
            .as_deref()
            .is_some_and(|e| e.contains("git ls-remote")),
        "{st:?}"
    );
    assert_eq!(
        m.db()
            .list_builders(&Query::new(), None)
            .await
            .unwrap()
            .len(),
        1
    );
    std::fs::rename(&moved, repo).unwrap();
    commit(repo, "a.txt", "6\n", "sixth commit, after the outage", None);
    poll(&m).await;
    let st = m.change_source_status()[0].clone();
    assert_eq!(st.error, None, "{st:?}");
    let c = changes(&m).await;
    assert_eq!(c.len(), 6, "{c:?}");
    assert_eq!(c[5].comments, "sixth commit, after the outage");
    m.stop().await.unwrap();
}

/// A commit seen by the poller is built at exactly its revision by a Git step; two commits
/// inside the tree-stable timer make one build of the newer; an unwatched branch makes
/// none; with `only_tags`, a new tag is built.
#[async_std::test]
async fn polled_commits_are_built_at_their_revision() {
    init_log();
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    git(repo, &["init", "-q", "-b", "main"], None);
    commit(repo, "a.txt", "1\n", "first commit", None);
    // as in Buildbot, the first poll that sees refs only records them: a tag exists
    git(repo, &["tag", "v0.9"], None);
    let text = format!(
        r#"{ONE_BUILDER}steps = [{{ type = "Git", repourl = "{repo}", mode = "full", method = "clobber" }}]
[[builders]]
name = "tags"
workernames = ["w1"]
steps = [{{ type = "Git", repourl = "{repo}" }}]
[[change_source]]
type = "GitPoller"
name = "main-poller"
repourl = "{repo}"
branch = "main"
pollInterval = 3600
pollAtLaunch = true
[[change_source]]
type = "GitPoller"
name = "tag-poller"
repourl = "{repo}"
only_tags = true
workdir = "tags-work"
pollInterval = 3600
pollAtLaunch = true
[[schedulers]]
type = "SingleBranchScheduler"
name = "sbs"
change_filter = {{ branch = "main" }}
treeStableTimer = 2
builderNames = ["b"]
[[schedulers]]
type = "AnyBranchScheduler"
name = "tagged"
change_filter = {{ branch_re = "refs/tags/" }}
builderNames = ["tags"]
"#,
        repo = repo.display()
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let m = &tm.master;
    eventually("the first polls", || async {
        let s = m.change_source_status();
        s.iter().all(|s| s.last_poll.is_some()).then_some(())
    })
    .await;

    // two commits on main and one on an unwatched branch
    commit(repo, "a.txt", "2\n", "second", None);
    commit(repo, "a.txt", "3\n", "third", None);
    let third = head(repo);
    git(repo, &["checkout", "-q", "-b", "elsewhere"], None);
    commit(repo, "e.txt", "e\n", "unwatched", None);
    git(repo, &["checkout", "-q", "main"], None);
    m.poll_now(&["main-poller".to_owned()]).unwrap();
    let build = within(60, "the build of main", async {
        loop {
            let builds = m.db().list_builds(&Query::new()).await.unwrap();
            if let Some(b) = builds.into_iter().find(|b| b.complete_at.is_some()) {
                return b;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(build.results, Some(0), "{build:?}");
    let props = m.db().get_build_properties(build.buildid).await.unwrap();
    assert_eq!(props["got_revision"].0, Value::from(third.clone()));
    assert_eq!(props["revision"].0, Value::from(third));
    // one build for the two commits, none for the unwatched branch
    async_std::task::sleep(Duration::from_secs(3)).await;
    assert_eq!(m.db().list_builds(&Query::new()).await.unwrap().len(), 1);
    assert_eq!(changes(m).await.len(), 2);

    // a new tag: its commits since the known tag are built on the tag
    git(repo, &["tag", "v1.0"], None);
    let tagged = head(repo);
    m.poll_now(&["tag-poller".to_owned()]).unwrap();
    within(60, "the tag's build", async {
        loop {
            for b in m
                .db()
                .list_builds(&Query::new().eq("builderid", 2))
                .await
                .unwrap()
            {
                if b.complete_at.is_none() {
                    continue;
                }
                let props = m.db().get_build_properties(b.buildid).await.unwrap();
                if props["got_revision"].0.as_str() == Some(tagged.as_str()) {
                    assert_eq!(props["branch"].0, Value::from("refs/tags/v1.0"));
                    return;
                }
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(
        m.poll_now(&["nosuch".to_owned()]),
        Err(vec!["nosuch".to_owned()])
    );
}

/// Runs a program in `dir` with an environment free of the user's configuration.
fn tool(dir: &Path, prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .env("HGPLAIN", "1")
        .env("HGRCPATH", "/dev/null")
        .env("HOME", dir)
        .output()
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A poller of `kind` with `args`, polled by hand; the scheduler is absent (changes only).
async fn poller_master(base: &Path, kind_and_args: &str) -> MasterHandle {
    let text = format!(
        "{ONE_BUILDER}steps = [{{ type = \"ShellCommand\", command = [\"true\"] }}]\n\
         [[change_source]]\n{kind_and_args}\npollInterval = 3600\npollAtLaunch = true\n"
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let m = TestMaster::start_in(cfg, base, "127.0.0.1:0").await;
    eventually("the poll at launch", || async {
        m.change_source_status()[0].last_poll.map(|_| ())
    })
    .await;
    m
}

#[async_std::test]
async fn hgpoller_first_poll_new_changesets_and_restart() {
    init_log();
    if !have("hg") {
        eprintln!("SKIP hgpoller: no hg on this machine (apt-get install mercurial)");
        return;
    }
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    tool(repo, "hg", &["init", "."]);
    let hg_commit = |file: &str, text: &str, msg: &str, date: &str| {
        std::fs::write(repo.join(file), text).unwrap();
        tool(
            repo,
            "hg",
            &[
                "commit",
                "-A",
                "-q",
                "-m",
                msg,
                "-u",
                "Alice <alice@example.org>",
                "-d",
                date,
            ],
        );
    };
    hg_commit("a.txt", "1\n", "first", "2026-12-01 10:00:00 +0000");
    let base = tempfile::tempdir().unwrap();
    let args = format!(
        "type = \"HgPoller\"\nrepourl = \"{}\"\nworkdir = \"hg-work\"\nproject = \"hello\"",
        repo.display()
    );
    let m = poller_master(base.path(), &args).await;
    let st = m.change_source_status()[0].clone();
    assert_eq!(st.error, None, "{st:?}");
    assert_eq!(st.name, format!("{}", repo.display()));
    assert!(changes(&m).await.is_empty());

    hg_commit(
        "a.txt",
        "2\n",
        "second\n\nwith a body",
        "2026-12-02 11:00:00 +0000",
    );
    hg_commit("b.txt", "b\n", "third", "2026-12-02 12:00:00 +0000");
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].comments, "second\n\nwith a body");
    assert_eq!(c[0].author, "Alice <alice@example.org>");
    assert_eq!(c[0].files, ["a.txt"]);
    assert_eq!(c[0].when_timestamp, 1_796_209_200);
    assert_eq!(c[1].files, ["b.txt"]);
    assert_eq!(c[1].branch.as_deref(), Some("default"));
    assert_eq!(c[1].project, "hello");
    let tip = tool(repo, "hg", &["log", "-r", "tip", "--template", "{node}"]);
    assert_eq!(c[1].revision.as_deref(), Some(tip.as_str()));

    // restarted between two polls: the changeset made meanwhile comes once
    m.stop().await.unwrap();
    hg_commit(
        "a.txt",
        "4\n",
        "fourth, master down",
        "2026-12-03 10:00:00 +0000",
    );
    let m = poller_master(base.path(), &args).await;
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 3, "{c:?}");
    assert_eq!(c[2].comments, "fourth, master down");
    m.stop().await.unwrap();
}

#[async_std::test]
async fn svnpoller_first_poll_branches_and_restart() {
    init_log();
    if !have("svnadmin") || !have("svn") {
        eprintln!("SKIP svnpoller: no svn on this machine (apt-get install subversion)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    tool(dir.path(), "svnadmin", &["create", repo.to_str().unwrap()]);
    let url = format!("file://{}", repo.display());
    tool(dir.path(), "svn", &["checkout", "-q", &url, "wc"]);
    let wc = dir.path().join("wc");
    let svn_commit = |msg: &str| {
        tool(&wc, "svn", &["add", "-q", "--force", "."]);
        tool(
            &wc,
            "svn",
            &["commit", "-q", "-m", msg, "--username", "alice"],
        );
    };
    std::fs::create_dir_all(wc.join("trunk")).unwrap();
    std::fs::create_dir_all(wc.join("branches")).unwrap();
    std::fs::write(wc.join("trunk/a.txt"), "1\n").unwrap();
    svn_commit("layout");
    let base = tempfile::tempdir().unwrap();
    let args = format!(
        "type = \"SVNPoller\"\nrepourl = \"{url}\"\nsplit_file = \"branches\"\nproject = \"hello\"\n\
         revlinktmpl = \"https://svn.example.org/r%s\""
    );
    let m = poller_master(base.path(), &args).await;
    assert_eq!(m.change_source_status()[0].error, None);
    assert!(changes(&m).await.is_empty());

    // a change on trunk and a new branch in two revisions
    std::fs::write(wc.join("trunk/a.txt"), "2\n").unwrap();
    svn_commit("trunk work");
    tool(&wc, "svn", &["copy", "-q", "trunk", "branches/1.x"]);
    std::fs::write(wc.join("branches/1.x/a.txt"), "x\n").unwrap();
    svn_commit("branch 1.x");
    poll(&m).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0].comments, "trunk work");
    assert_eq!(c[0].author, "alice");
    assert_eq!(c[0].branch, None);
    assert_eq!(c[0].files, ["a.txt"]);
    assert_eq!(c[0].revision.as_deref(), Some("2"));
    assert_eq!(c[0].revlink.as_deref(), Some("https://svn.example.org/r2"));
    assert_eq!(c[1].branch.as_deref(), Some("branches/1.x"));
    assert_eq!(c[1].repository, url);
    assert_eq!(c[1].project, "hello");

    // restarted between polls: nothing lost, nothing repeated
    m.stop().await.unwrap();
    std::fs::write(wc.join("trunk/a.txt"), "3\n").unwrap();
    svn_commit("while down");
    let m = poller_master(base.path(), &args).await;
    let c = changes(&m).await;
    assert_eq!(c.len(), 3, "{c:?}");
    assert_eq!(c[2].comments, "while down");
    poll(&m).await;
    assert_eq!(changes(&m).await.len(), 3);
    m.stop().await.unwrap();
}

/// Issue 14, hostile input: one commit with 100,000 files, a 1 MiB message and an author
/// name that is not UTF-8 is stored whole (the invalid bytes replaced by U+FFFD, which the
/// log says), and the master goes on polling.
#[async_std::test]
async fn gitpoller_stores_huge_and_odd_commits() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"], None);
    commit(&repo, "a.txt", "1\n", "first", None);
    let base = tempfile::tempdir().unwrap();
    let m = poller_master(
        base.path(),
        &format!(
            "type = \"GitPoller\"\nrepourl = \"{}\"\nbranch = \"main\"",
            repo.display()
        ),
    )
    .await;
    assert!(changes(&m).await.is_empty(), "the first poll only records");

    // the commit, written with fast-import (no working tree of 100,000 files)
    const FILES: usize = 100_000;
    let message = "m".repeat(1024 * 1024 - 1) + "\n";
    let mut stream: Vec<u8> = b"blob\nmark :1\ndata 2\nx\n".to_vec();
    stream.extend_from_slice(
        b"commit refs/heads/main\nauthor Bj\xf6rn \xff <odd@example.org> 1765000000 +0000\n",
    );
    stream.extend_from_slice(b"committer C <c@example.org> 1765000000 +0000\n");
    stream.extend_from_slice(format!("data {}\n{message}", message.len()).as_bytes());
    stream.extend_from_slice(b"from refs/heads/main^0\n");
    for i in 0..FILES {
        stream.extend_from_slice(format!("M 100644 :1 d{}/f{i:06}.txt\n", i % 100).as_bytes());
    }
    stream.extend_from_slice(b"\n");
    let mut child = Command::new("git")
        .current_dir(&repo)
        .args(["fast-import", "--quiet"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&stream).unwrap();
    }
    assert!(child.wait().unwrap().success());

    poll(&m).await;
    let got = eventually("the huge change", || async {
        let c = changes(&m).await;
        (!c.is_empty()).then_some(c)
    })
    .await;
    assert_eq!(got.len(), 1);
    let ch = &got[0];
    assert_eq!(ch.files.len(), FILES);
    assert!(ch.files.contains(&"d7/f000007.txt".to_owned()));
    assert_eq!(ch.comments.trim_end().len(), message.trim_end().len());
    assert!(
        ch.author.contains('\u{FFFD}') && ch.author.contains("odd@example.org"),
        "{}",
        ch.author
    );
    let status = &m.change_source_status()[0];
    assert_eq!(status.error, None);
    // still polling
    commit(&repo, "a.txt", "2\n", "after", None);
    poll(&m).await;
    eventually("the next change", || async {
        (changes(&m).await.len() == 2).then_some(())
    })
    .await;
    m.stop().await.unwrap();
}
