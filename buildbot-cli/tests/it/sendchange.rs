//! `buildbot sendchange` and `buildbot user` against a real Python Buildbot 4.3 master
//! (PBChangeSource, CommandlineUserManager).

use crate::harness::*;

#[test]
fn usage_errors() {
    run(&["sendchange", "--who", "a", "f"]).fails_with("master location");
    run(&["sendchange", "--master", "h:1", "f"]).fails_with("committer (--who)");
    run(&[
        "sendchange",
        "--master",
        "h:1",
        "--who",
        "a",
        "--vc",
        "cvsnt",
    ])
    .fails_with("vc must be one of");
    run(&[
        "sendchange",
        "--master",
        "h:1",
        "--who",
        "a",
        "--when",
        "noon",
    ])
    .fails_with("when must be");
    let sc = Scratch::new();
    let out = run(&[
        "sendchange",
        "--master",
        &format!("127.0.0.1:{}", free_port()),
        "--who",
        "a",
        "f",
    ]);
    out.fails_with("change NOT sent");
    drop(sc);
}

#[test]
fn options_file_supplies_defaults() {
    let sc = Scratch::new();
    let w = sc.path().join("w/sub");
    std::fs::create_dir_all(&w).unwrap();
    let port = free_port();
    std::fs::create_dir_all(sc.path().join("w/.buildbot")).unwrap();
    std::fs::write(
        sc.path().join("w/.buildbot/options"),
        format!("master = '127.0.0.1:{port}'\nwho = \"opt-user\"\n"),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["sendchange", "f.c"])
        .current_dir(&w)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // it used the file's master (nothing listens there) and who (no usage error)
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn sends_to_python_buildbot() {
    let Ok(venv) = std::env::var("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return;
    };
    let sc = Scratch::new();
    let b = sc.dir("pm");
    let py = |args: &[&str]| {
        std::process::Command::new(format!("{venv}/bin/buildbot"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    assert!(py(&["create-master", "-q", "-r", s(&b)]).status.success());
    let (cport, wport, uport) = (free_port(), free_port(), free_port());
    std::fs::write(
        b.join("master.cfg"),
        format!(
            "from buildbot.plugins import *\nc = BuildmasterConfig = {{}}\n\
             c['workers'] = [worker.Worker('w1', 'pw')]\n\
             c['protocols'] = {{'pb': {{'port': 'tcp:{wport}:interface=127.0.0.1'}}}}\n\
             c['change_source'] = [changes.PBChangeSource(port={cport})]\n\
             c['user_managers'] = [util.CommandlineUserManager(username='um', passwd='umpw', port={uport})]\n\
             c['schedulers'] = [schedulers.ForceScheduler(name='force', builderNames=['b1'])]\n\
             c['builders'] = [util.BuilderConfig(name='b1', workernames=['w1'], factory=util.BuildFactory())]\n\
             c['db'] = {{'db_url': 'sqlite:///state.sqlite'}}\n"
        ),
    )
    .unwrap();
    struct Stop<'a>(&'a dyn Fn());
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let stop = || {
        let _ = py(&["stop", s(&b)]);
    };
    let _guard = Stop(&stop);
    let started = py(&["start", s(&b)]);
    assert!(started.status.success(), "{started:?}");
    let master = format!("127.0.0.1:{cport}");
    let out = run(&[
        "sendchange",
        "--master",
        &master,
        "--who",
        "alice",
        "--branch",
        "main",
        "-c",
        "a change",
        "-p",
        "k:v",
        "--revision",
        "abc123",
        "--when",
        "1700000000",
        "--vc",
        "git",
        "f.c",
        "g.h",
    ]);
    out.ok();
    assert!(out.stdout.contains("change sent successfully"));
    run(&[
        "sendchange",
        "--master",
        &master,
        "--who",
        "bob",
        "--auth",
        "change:wrong",
        "x",
    ])
    .fails_with("wrong user name or password");
    let q = |sql: &str| {
        let o = std::process::Command::new("sqlite3")
            .arg(b.join("state.sqlite"))
            .arg(sql)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert!(wait_for(10, || !q("SELECT author FROM changes").is_empty()));
    assert_eq!(
        q("SELECT author, branch, revision, comments, when_timestamp FROM changes"),
        "alice|main|abc123|a change|1700000000"
    );
    assert_eq!(
        q("SELECT filename FROM change_files ORDER BY filename"),
        "f.c\ng.h"
    );
    assert_eq!(q("SELECT property_name FROM change_properties"), "k");

    // buildbot user
    let um = format!("127.0.0.1:{uport}");
    let user = |args: &[&str]| {
        let mut all = vec![
            "user",
            "--master",
            &um,
            "--username",
            "um",
            "--passwd",
            "umpw",
        ];
        all.extend_from_slice(args);
        run(&all)
    };
    let out = user(&["--op", "add", "--info", "git=Alice <a@x>,email=a@x"]);
    out.ok();
    assert!(out.stdout.contains("user(s) added:"), "{out:#?}");
    let out = user(&[
        "--op",
        "update",
        "--bb_username",
        "alice",
        "--bb_password",
        "s3",
        "--info",
        "Alice <a@x>:email=alice@x",
    ]);
    out.ok();
    let out = user(&["--op", "get", "--ids", "Alice <a@x>"]);
    out.ok();
    assert!(out.stdout.contains("bb_username: alice"), "{out:#?}");
    assert!(out.stdout.contains("email: alice@x"), "{out:#?}");
    assert_eq!(
        q("SELECT bb_username FROM users WHERE identifier = 'Alice <a@x>'"),
        "alice"
    );
    let out = user(&["--op", "remove", "--ids", "Alice <a@x>"]);
    out.ok();
    assert_eq!(
        q("SELECT count(*) FROM users WHERE identifier = 'Alice <a@x>'"),
        "0"
    );
    run(&[
        "user",
        "--master",
        &um,
        "--username",
        "um",
        "--passwd",
        "bad",
        "--op",
        "get",
        "--ids",
        "x",
    ])
    .fails_with("wrong user name or password");
}

#[test]
fn user_argument_rules() {
    let base = [
        "user",
        "--master",
        "h:1",
        "--username",
        "u",
        "--passwd",
        "p",
    ];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        run(&v)
    };
    with(&["--op", "add", "--ids", "x"]).fails_with("cannot use --ids with 'add' or 'update'");
    with(&["--ids", "x"]).fails_with("you must specify an operation");
    with(&["--op", "frob", "--ids", "x"]).fails_with("bad op 'frob'");
    with(&["--op", "get"]).fails_with("must specify either --ids or --info");
    with(&["--op", "get", "--info", "git=x"])
        .fails_with("cannot use --info with 'remove' or 'get'");
    with(&["--op", "add", "--info", "id:git=x"]).fails_with("identifier found in add info");
    with(&["--op", "update", "--info", "git=x"]).fails_with("no ids found in update info");
    with(&["--op", "add", "--info", "nope=x"]).fails_with("Type not a valid attr_type");
    with(&["--op", "add", "--bb_username", "a", "--info", "git=x"])
        .fails_with("bb_username and bb_password only work with update");
    with(&["--op", "update", "--bb_username", "a", "--info", "i:git=x"])
        .fails_with("Must specify both bb_username and bb_password or neither.");
    run(&[
        "user",
        "--master",
        "h",
        "--username",
        "u",
        "--passwd",
        "p",
        "--op",
        "get",
        "--ids",
        "x",
    ])
    .fails_with("master must have the form 'hostname:port'");
    run(&["user", "--master", "h:1", "--op", "get", "--ids", "x"])
        .fails_with("A username and password must be given");
}
