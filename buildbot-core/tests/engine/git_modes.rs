//! The `Git` step's modes and methods on a build directory left in each prior state
//! (empty; tracked file changed, an untracked and an ignored file added; on another
//! branch), and a branch whose name is full of shell metacharacters (passed as one
//! argument, never through a shell). Real repositories made with `git` in temp dirs.

use std::path::Path;
use std::process::Command;

use buildbot_core::master::config::{Registry, parse_config};

use crate::harness::*;
use buildbot_db::BuildRow;

/// A branch name git accepts and a shell would run.
const META: &str = "feat;touch${IFS}pwned$(touch${IFS}pwned2)";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A bare repository: `master` (file.txt v2, `*.log` ignored), `feature` and [`META`].
fn repo(root: &Path) -> String {
    let bare = root.join("origin.git");
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q"]);
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "master"]);
    std::fs::write(work.join(".gitignore"), "*.log\n").unwrap();
    for v in ["v1", "v2"] {
        std::fs::write(work.join("file.txt"), format!("{v}\n")).unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", v]);
    }
    for (branch, text) in [("feature", "feature"), (META, "meta")] {
        git(&work, &["checkout", "-q", "-b", branch, "master"]);
        std::fs::write(work.join("file.txt"), format!("{text}\n")).unwrap();
        git(&work, &["commit", "-q", "-am", text]);
    }
    git(&work, &["push", "-q", bare.to_str().unwrap(), "--all"]);
    bare.to_str().unwrap().to_owned()
}

/// What the `show` step printed (its stdout lines).
async fn printed(tm: &TestMaster, b: &BuildRow) -> String {
    shown(tm, b)
        .await
        .lines()
        .filter_map(|l| l.strip_prefix('o'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[async_std::test]
async fn git_modes_on_each_prior_state_and_a_hostile_branch_name() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let url = repo(dir.path());
    let modes = [
        ("inc", "mode = \"incremental\""),
        ("clean", "mode = \"full\", method = \"clean\""),
        ("fresh", "mode = \"full\", method = \"fresh\""),
        ("clobber", "mode = \"full\", method = \"clobber\""),
        ("copy", "mode = \"full\", method = \"copy\""),
    ];
    let mut text = String::from(
        "[protocols.msgpack]\nport = 0\n[[workers]]\nname = \"w1\"\npassword = \"pass1\"\n",
    );
    for (name, mode) in modes {
        text.push_str(&format!(
            "[[builders]]\nname = \"{name}\"\nworkernames = [\"w1\"]\nsteps = [\n\
             {{ type = \"Git\", repourl = \"{url}\", {mode} }},\n\
             {{ type = \"ShellCommand\", name = \"show\", command = [\"cat\", \"file.txt\"] }},\n]\n"
        ));
    }
    let names: Vec<String> = modes.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    text.push_str(&format!(
        "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [{}]\n",
        names.join(", ")
    ));
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;

    within(300, "git modes", async {
        for (name, _) in modes {
            let build_dir = w._dir.path().join(name).join("build");
            // empty
            let b = tm.run(name).await;
            assert_eq!(b.results, Some(0), "{name}: {b:?}");
            assert_eq!(printed(&tm, &b).await, "v2", "{name}");
            // dirty: a tracked file changed, an untracked and an ignored file
            std::fs::write(build_dir.join("file.txt"), "dirty\n").unwrap();
            std::fs::write(build_dir.join("junk.txt"), "x").unwrap();
            std::fs::write(build_dir.join("x.log"), "x").unwrap();
            let b = tm.run(name).await;
            assert_eq!(b.results, Some(0), "{name}: {b:?}");
            assert_eq!(
                printed(&tm, &b).await,
                "v2",
                "{name}: tracked file restored"
            );
            let (junk, log) = (
                build_dir.join("junk.txt").exists(),
                build_dir.join("x.log").exists(),
            );
            let want = match name {
                "inc" => (true, true),    // fetch + checkout -f: untracked files stay
                "clean" => (false, true), // git clean -f -f -d: ignored files stay
                _ => (false, false),      // fresh (-x), clobber, copy: nothing stays
            };
            assert_eq!((junk, log), want, "{name}: (junk.txt, x.log) left");
            // on another branch
            let b = run_on(&tm, name, &url, Some("feature"), None).await;
            assert_eq!(b.results, Some(0), "{name}: {b:?}");
            assert_eq!(printed(&tm, &b).await, "feature", "{name}");
            // a branch name a shell would run: one argument to git, nothing executed
            let b = run_on(&tm, name, &url, Some(META), None).await;
            assert_eq!(b.results, Some(0), "{name}: {b:?}");
            assert_eq!(printed(&tm, &b).await, "meta", "{name}");
            for d in [w._dir.path().to_path_buf(), build_dir.clone()] {
                assert!(!d.join("pwned").exists() && !d.join("pwned2").exists());
            }
            // back to master from there
            let b = tm.run(name).await;
            assert_eq!(printed(&tm, &b).await, "v2", "{name}");
        }
    })
    .await;
    assert!(!Path::new("pwned").exists() && !Path::new("pwned2").exists());
    tm.master.stop().await.unwrap();
}

/// A build directory with a submodule: `submodules = true` checks it out, and a later
/// `fresh` build cleans inside it too.
#[async_std::test]
async fn git_submodules_are_checked_out_and_cleaned() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // the submodule's repository
    let sub = root.join("sub.git");
    std::fs::create_dir_all(&sub).unwrap();
    git(&sub, &["init", "-q", "-b", "master"]);
    std::fs::write(sub.join("lib.txt"), "lib\n").unwrap();
    git(&sub, &["add", "."]);
    git(&sub, &["commit", "-q", "-m", "lib"]);
    // the superproject
    let top = root.join("top");
    std::fs::create_dir_all(&top).unwrap();
    git(&top, &["init", "-q", "-b", "master"]);
    std::fs::write(top.join("file.txt"), "top\n").unwrap();
    git(&top, &["add", "."]);
    git(
        &top,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            sub.to_str().unwrap(),
            "lib",
        ],
    );
    git(&top, &["commit", "-q", "-m", "with lib"]);
    let url = top.to_str().unwrap().to_owned();
    let text = format!(
        r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[builders]]
name = "sub"
workernames = ["w1"]
steps = [
  {{ type = "Git", repourl = "{url}", mode = "full", method = "fresh", submodules = true, config = {{ "protocol.file.allow" = "always" }} }},
  {{ type = "ShellCommand", name = "show", command = ["cat", "lib/lib.txt"] }},
]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["sub"]
"#
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    within(120, "submodules", async {
        let b = tm.run("sub").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        assert_eq!(printed(&tm, &b).await, "lib");
        // an untracked file inside the submodule is cleaned by the next fresh build
        let junk = w._dir.path().join("sub/build/lib/junk.txt");
        std::fs::write(&junk, "x").unwrap();
        let b = tm.run("sub").await;
        assert_eq!(b.results, Some(0), "{b:?}");
        assert_eq!(printed(&tm, &b).await, "lib");
        assert!(!junk.exists(), "cleaned inside the submodule");
    })
    .await;
    tm.master.stop().await.unwrap();
}

/// `sshPrivateKey` and `sshHostKey`: git reaches an `ssh://` repository through
/// `GIT_SSH_COMMAND` with the key (mode 0400) and the known host written beside the
/// workdir for the step only; the key never shows in the log. The `ssh` here is a
/// stand-in that records how it was called and runs the remote command locally.
#[async_std::test]
async fn git_over_ssh_with_a_private_key_and_a_host_key() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let bare = repo(dir.path());
    let bin = dir.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("ssh.log");
    let script = r#"#!/bin/sh
prev=""
for a in "$@"; do
  if [ "$prev" = "-i" ]; then
    echo "key: $(cat "$a")" >> "$FAKE_SSH_LOG"
    ls -l "$a" | cut -c1-10 >> "$FAKE_SSH_LOG"
  fi
  case "$a" in UserKnownHostsFile=*) echo "hosts: $(cat "${a#UserKnownHostsFile=}")" >> "$FAKE_SSH_LOG";; esac
  prev="$a"
done
echo "args: $*" >> "$FAKE_SSH_LOG"
eval "last=\${$#}"
exec sh -c "$last"
"#;
    std::fs::write(bin.join("ssh"), script).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("ssh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let text = format!(
        r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[[builders]]
name = "ssh"
workernames = ["w1"]
steps = [
  {{ type = "Git", repourl = "ssh://fakehost{bare}", sshPrivateKey = "PRIVATE-KEY-TEXT", sshHostKey = "ssh-ed25519 AAAAhost", env = {{ PATH = "{bin}:/usr/bin:/bin", FAKE_SSH_LOG = "{log}" }} }},
  {{ type = "ShellCommand", name = "show", command = ["cat", "file.txt"] }},
]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["ssh"]
"#,
        bin = bin.display(),
        log = log.display()
    );
    let cfg = parse_config(&text, "master.cfg", &Registry::new())
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    within(120, "git over ssh", async {
        let b = tm.run("ssh").await;
        let steps = tm.steps(&b).await;
        let git_step = steps.iter().find(|s| s.name == "git").unwrap();
        let stdio = tm.stdio(git_step).await;
        assert_eq!(b.results, Some(0), "{stdio}");
        assert_eq!(printed(&tm, &b).await, "v2");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(calls.contains("key: PRIVATE-KEY-TEXT"), "{calls}");
        assert!(calls.contains("-r--------"), "mode 0400: {calls}");
        assert!(calls.contains("hosts: * ssh-ed25519 AAAAhost"), "{calls}");
        assert!(
            calls.contains("BatchMode=yes") && calls.contains("fakehost"),
            "{calls}"
        );
        assert!(!stdio.contains("PRIVATE-KEY-TEXT"), "the key is not logged");
        assert!(
            !w._dir.path().join("ssh/.build.buildbot").exists(),
            "the key is removed after the step"
        );
    })
    .await;
    tm.master.stop().await.unwrap();
}
