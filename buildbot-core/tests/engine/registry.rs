//! Issue 14 item 1: every component type the built-in registry accepts is run by the
//! master — each is configured here, and the test shows it doing its job — or is refused
//! at load time with an error naming it. A type added to the registry without an entry
//! here fails the test.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use buildbot_core::master::config::{Registry, parse_config};
use buildbot_db::{NewChange, Query};

use crate::harness::*;

fn run(dir: &Path, prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.org")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.org")
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
}

fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[async_std::test]
async fn every_registered_type_runs_or_is_refused() {
    init_log();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a Git repository (for the poller and the step), and Mercurial/Subversion ones if the
    // tools are here
    let git = d.join("git");
    std::fs::create_dir_all(&git).unwrap();
    run(&git, "git", &["init", "-q", "-b", "main"]);
    std::fs::write(git.join("README"), "hi\n").unwrap();
    run(&git, "git", &["add", "README"]);
    run(&git, "git", &["commit", "-q", "-m", "one"]);
    let hg = have("hg").then(|| {
        let r = d.join("hg");
        run(d, "hg", &["init", "hg"]);
        std::fs::write(r.join("a"), "1\n").unwrap();
        run(&r, "hg", &["add", "a"]);
        run(
            &r,
            "hg",
            &["commit", "-m", "one", "-u", "A <a@example.org>"],
        );
        r
    });
    let svn = (have("svnadmin") && have("svn")).then(|| {
        let r = d.join("svnrepo");
        run(d, "svnadmin", &["create", r.to_str().unwrap()]);
        format!("file://{}", r.display())
    });
    let up = d.join("up.txt");
    let updir = d.join("updir");
    let pb_port = free_port();

    // one table per type, as a master.cfg would hold it
    let steps: BTreeMap<&str, String> = [
        (
            "Git",
            format!(
                "repourl = \"{}\", mode = \"full\", method = \"clobber\"",
                git.display()
            ),
        ),
        (
            "Mercurial",
            match &hg {
                Some(r) => format!(
                    "repourl = \"{}\", workdir = \"hgsrc\", mode = \"full\"",
                    r.display()
                ),
                None => "repourl = \"/nonexistent\", haltOnFailure = false".into(),
            },
        ),
        (
            "SVN",
            match &svn {
                Some(u) => format!("repourl = \"{u}\", workdir = \"svnsrc\""),
                None => "repourl = \"file:///nonexistent\", haltOnFailure = false".into(),
            },
        ),
        ("ShellCommand", "command = [\"true\"]".into()),
        ("Configure", "command = [\"true\"]".into()),
        ("Compile", "command = [\"echo\", \"warning: w\"]".into()),
        ("Test", "command = [\"true\"]".into()),
        (
            "SetPropertyFromCommand",
            "command = [\"echo\", \"v\"], property = \"p\"".into(),
        ),
        (
            "StringDownload",
            "s = \"hello\", workerdest = \"s.txt\"".into(),
        ),
        (
            "FileUpload",
            format!("workersrc = \"s.txt\", masterdest = \"{}\"", up.display()),
        ),
        ("MakeDirectory", "dir = \"build/d\"".into()),
        (
            "DirectoryUpload",
            format!("workersrc = \"d\", masterdest = \"{}\"", updir.display()),
        ),
        (
            "FileDownload",
            format!(
                "mastersrc = \"{}\", workerdest = \"down.txt\"",
                up.display()
            ),
        ),
        ("RemoveDirectory", "dir = \"build/d\"".into()),
        ("MasterShellCommand", "command = [\"true\"]".into()),
        ("SetProperty", "property = \"q\", value = \"x\"".into()),
        (
            "Trigger",
            "schedulerNames = [\"trig\"], waitForFinish = true".into(),
        ),
    ]
    .into_iter()
    .collect();
    let schedulers: BTreeMap<&str, &str> = [
        (
            "ForceScheduler",
            "name = \"force\"\nbuilderNames = [\"all\"]",
        ),
        ("Triggerable", "name = \"trig\"\nbuilderNames = [\"down\"]"),
        (
            "SingleBranchScheduler",
            "name = \"sb\"\nbuilderNames = [\"down\"]\nbranch = \"feature\"",
        ),
        (
            "AnyBranchScheduler",
            "name = \"ab\"\nbuilderNames = [\"down\"]",
        ),
        (
            "Periodic",
            "name = \"per\"\nbuilderNames = [\"down\"]\nperiodicBuildTimer = 3600",
        ),
        (
            "Nightly",
            "name = \"nightly\"\nbuilderNames = [\"down\"]\nhour = 3",
        ),
        (
            "Dependent",
            "name = \"dep\"\nbuilderNames = [\"down\"]\nupstream = \"force\"",
        ),
    ]
    .into_iter()
    .collect();
    let mut change_sources: BTreeMap<&str, Option<String>> = BTreeMap::new();
    change_sources.insert(
        "GitPoller",
        Some(format!(
            "repourl = \"{}\"\nbranch = \"main\"\npollInterval = 3600\npollAtLaunch = true",
            git.display()
        )),
    );
    change_sources.insert(
        "HgPoller",
        hg.as_ref().map(|r| {
            format!(
                "repourl = \"{}\"\nbranch = \"default\"\nworkdir = \"hgpoller-work\"\npollInterval = 3600\npollAtLaunch = true",
                r.display()
            )
        }),
    );
    change_sources.insert(
        "SVNPoller",
        svn.as_ref()
            .map(|u| format!("repourl = \"{u}\"\npollInterval = 3600\npollAtLaunch = true")),
    );
    change_sources.insert("PBChangeSource", Some(format!("port = {pb_port}")));
    // refused: nothing in this master would run them
    let reporters: BTreeMap<&str, &str> = [
        ("MailNotifier", "fromaddr = \"bb@example.org\""),
        (
            "IRC",
            "host = \"irc.example.org\"\nnick = \"bb\"\nchannels = [\"#ci\"]",
        ),
        ("HttpStatusPush", "serverUrl = \"http://127.0.0.1:1/push\""),
    ]
    .into_iter()
    .collect();

    let reg = Registry::new();
    for t in reg.step_types() {
        assert!(steps.contains_key(t), "step type {t}: no run shown here");
    }
    for t in reg.scheduler_types() {
        assert!(
            schedulers.contains_key(t),
            "scheduler {t}: no run shown here"
        );
    }
    for t in reg.change_source_types() {
        assert!(
            change_sources.contains_key(t),
            "change source {t}: no run shown here"
        );
    }
    for t in reg.reporter_types() {
        assert!(
            reporters.contains_key(t),
            "reporter {t}: neither run nor refused here"
        );
    }

    let mut text = String::from(
        "[protocols.msgpack]\nport = 0\n[[workers]]\nname = \"w1\"\npassword = \"pass1\"\n\
         [[builders]]\nname = \"all\"\nworkernames = [\"w1\"]\nsteps = [\n",
    );
    // in dependency order: the string is
    // downloaded before it is uploaded, the directory made before its upload and removal
    let order = [
        "Mercurial",
        "SVN",
        "ShellCommand",
        "Configure",
        "Compile",
        "Test",
        "SetPropertyFromCommand",
        "StringDownload",
        "FileUpload",
        "MakeDirectory",
        "DirectoryUpload",
        "FileDownload",
        "RemoveDirectory",
        "MasterShellCommand",
        "SetProperty",
        "Trigger",
        "Git", // last: its got_revision is the one checked
    ];
    assert_eq!(
        order
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        steps.keys().copied().collect(),
        "every step type is in the build"
    );
    for t in order {
        text.push_str(&format!("  {{ type = \"{t}\", {} }},\n", steps[t]));
    }
    text.push_str(
        "]\n[[builders]]\nname = \"down\"\nworkernames = [\"w1\"]\n\
         steps = [{ type = \"ShellCommand\", command = [\"true\"] }]\n",
    );
    for (t, args) in &schedulers {
        text.push_str(&format!("[[schedulers]]\ntype = \"{t}\"\n{args}\n"));
    }
    for (t, args) in &change_sources {
        match args {
            Some(a) => text.push_str(&format!("[[change_source]]\ntype = \"{t}\"\n{a}\n")),
            None => eprintln!("SKIP {t}: its tool is not on this machine"),
        }
    }
    // each reporter type: refused at load time, by name
    for (t, args) in &reporters {
        let with = format!("{text}[[services]]\ntype = \"{t}\"\n{args}\n");
        let err = parse_config(&with, "master.cfg", &reg)
            .err()
            .unwrap_or_else(|| panic!("{t} accepted"))
            .to_string();
        assert!(
            err.contains(&format!(
                "{t}: reporters are not supported by this master yet"
            )),
            "{err}"
        );
    }

    let cfg = parse_config(&text, "master.cfg", &reg)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let tm = TestMaster::start(cfg).await;
    let _w = OwnWorker::start(tm.port(), W1);
    tm.wait_worker(W1).await;
    let db = tm.master.db().clone();

    // change sources: each poller polled, the change port listens
    let polled = eventually("every poller's first poll", || async {
        let st = tm.master.change_source_status();
        st.iter().all(|s| s.last_poll.is_some()).then_some(st)
    })
    .await;
    for s in &polled {
        assert_eq!(s.error, None, "{} failed", s.type_name);
    }
    let n_pollers = change_sources
        .iter()
        .filter(|(t, a)| **t != "PBChangeSource" && a.is_some())
        .count();
    assert_eq!(polled.len(), n_pollers, "{polled:?}");
    std::net::TcpStream::connect(("127.0.0.1", pb_port)).expect("PBChangeSource listens");

    // steps: one build runs every step type; none ends in EXCEPTION or FAILURE
    let build = tm.run("all").await;
    let rows: Vec<_> = tm
        .steps(&build)
        .await
        .into_iter()
        .filter(|s| s.name != "worker_preparation")
        .collect();
    assert_eq!(rows.len(), steps.len(), "{rows:?}");
    for r in &rows {
        if (r.name == "hg" && hg.is_none()) || (r.name == "svn" && svn.is_none()) {
            eprintln!("SKIP {} step: its tool is not on this machine", r.name);
            continue;
        }
        assert!(
            matches!(r.results, Some(0) | Some(1)),
            "step {} ended {:?}: {}",
            r.name,
            r.results,
            r.state_string
        );
    }
    let compile = rows.iter().find(|r| r.name == "compile").unwrap();
    assert_eq!(compile.results, Some(1), "Compile counted its warning");
    let props = db.get_build_properties(build.buildid).await.unwrap();
    assert_eq!(props["p"].0, "v");
    assert_eq!(props["q"].0, "x");
    assert_eq!(props["got_revision"].0.as_str().map(str::len), Some(40));
    assert_eq!(std::fs::read_to_string(&up).unwrap(), "hello");
    assert!(updir.is_dir());

    // schedulers: each submitted what it is for (Nightly: registered, its turn is at 03:00)
    let by = |reason: &'static str| {
        let db = db.clone();
        async move {
            db.list_buildsets(&Query::new())
                .await
                .unwrap()
                .into_iter()
                .filter(|b| b.reason.as_deref().is_some_and(|r| r.contains(reason)))
                .count()
        }
    };
    let mut ch = NewChange::new("dev <dev@example.org>", "a change");
    ch.branch = Some("feature".into());
    ch.files = vec!["a".into()];
    tm.master.add_change(&ch).await.unwrap();
    for reason in [
        "The Periodic scheduler named 'per'",
        "The SingleBranchScheduler scheduler named 'sb'",
        "The AnyBranchScheduler scheduler named 'ab'",
        "downstream",
        "The Triggerable scheduler named 'trig'",
    ] {
        eventually(reason, || async { (by(reason).await > 0).then_some(()) }).await;
    }
    let sched_names: Vec<String> = db
        .list_schedulers()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    for args in schedulers.values() {
        let name = args.split('"').nth(1).unwrap();
        assert!(
            sched_names.iter().any(|n| n == name),
            "{name}: {sched_names:?}"
        );
    }
}
