//! `buildbot upgrade-master` (and `cleanupdb` on the same directories).

use crate::harness::*;

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn idempotent_and_keeps_user_files() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let cfg_before = read(&b.join("master.cfg"));
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some("upgrade complete"),
        "{out:#?}"
    );
    assert!(out.stdout.contains("nothing to do"), "{out:#?}");
    let h1 = snapshot(&b);
    let out = run(&["upgrade-master", "-q", s(&b)]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(snapshot(&b), h1, "a second run changed files");

    // a user-edited stock file is kept, the new one written beside it
    std::fs::write(b.join("public_html/robots.txt"), "mine\n").unwrap();
    std::fs::remove_dir_all(b.join("templates")).unwrap();
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert_eq!(read(&b.join("public_html/robots.txt")), "mine\n");
    assert!(read(&b.join("public_html/robots.txt.new")).contains("Disallow"));
    assert!(b.join("templates/README.txt").exists());
    let h2 = snapshot(&b);
    run(&["upgrade-master", "-q", s(&b)]).ok();
    assert_eq!(snapshot(&b), h2);
    // --replace overwrites
    run(&["upgrade-master", "-q", "-r", s(&b)]).ok();
    assert!(read(&b.join("public_html/robots.txt")).contains("Disallow"));
    assert_eq!(read(&b.join("master.cfg")), cfg_before);
}

#[test]
fn migrates_an_old_schema_with_backup() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let db = b.join("state.sqlite");
    sqlite3(
        &db,
        "DROP TABLE codebase_branches; DROP TABLE codebase_commits; DROP TABLE codebases; \
         DELETE FROM seaql_migrations WHERE version LIKE 'm20251125_000002%'; \
         UPDATE alembic_version SET version_num = '066';",
    );
    // the master refuses to start on it
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("upgrade-master"), "{out:#?}");
    assert!(read(&b.join("twistd.log")).contains("upgrade-master"));
    assert!(!b.join("twistd.pid").exists());

    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("sqlite:///state.sqlite"), "{out:#?}");
    let backups: Vec<String> = std::fs::read_dir(&b)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.sqlite.bak-"))
        .collect();
    // named after the last applied and the newest migration
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(
        backups[0].starts_with("state.sqlite.bak-000001-0000"),
        "{backups:?}"
    );
    assert!(
        sqlite3(
            &db,
            "SELECT name FROM sqlite_master WHERE name = 'codebases'"
        )
        .contains("codebases")
    );
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("nothing to migrate"), "{out:#?}");
}

#[test]
fn empty_database_gets_a_schema() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    std::fs::remove_file(b.join("state.sqlite")).unwrap();
    run(&["upgrade-master", "-q", s(&b)]).ok();
    assert!(
        sqlite3(
            &b.join("state.sqlite"),
            "SELECT count(*) FROM sqlite_master WHERE name = 'builds'"
        )
        .starts_with('1')
    );
}

#[test]
fn config_errors_change_nothing() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    std::fs::remove_file(b.join("public_html/robots.txt")).unwrap();
    std::fs::write(b.join("master.cfg"), "bad =\n").unwrap();
    let before = snapshot(&b);
    run(&["upgrade-master", s(&b)]).fails_with("Configuration Errors");
    assert_eq!(snapshot(&b), before);
}

#[test]
fn python_tac_is_converted() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let py = "import os\n\nfrom twisted.application import service\nfrom buildbot.master import BuildMaster\n\nbasedir = '.'\nrotateLength = 5000\nmaxRotatedFiles = 4\nconfigfile = 'master.cfg'\n\nif basedir == '.':\n    basedir = os.path.abspath(os.path.dirname(__file__))\n\napplication = service.Application('buildmaster')\nm = BuildMaster(basedir, configfile, umask)\nm.setServiceParent(application)\n";
    std::fs::write(b.join("buildbot.tac"), py).unwrap();
    run(&["start", s(&b)]).fails_with("upgrade-master");
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert_eq!(read(&b.join("buildbot.tac.python")), py);
    let tac: toml::Table = read(&b.join("buildbot.tac")).parse().unwrap();
    assert_eq!(tac["application"].as_str(), Some("buildmaster"));
    assert_eq!(tac["basedir"].as_str(), Some("."));
    assert_eq!(tac["rotate_length"].as_integer(), Some(5000));
    assert_eq!(tac["max_rotated_files"].as_integer(), Some(4));
}

#[test]
fn changes_pck_notice() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    std::fs::write(b.join("changes.pck"), "x").unwrap();
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("changes.pck"), "{out:#?}");
    assert!(b.join("changes.pck").exists());
}

#[test]
fn slave_dir_and_missing_dir() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("buildbot.tac"),
        "application = \"buildslave\"\nbasedir = \".\"\n",
    )
    .unwrap();
    run(&["start", s(&d)]).fails_with("buildslave start");
    run(&["upgrade-master", s(&sc.path().join("nope"))])
        .fails_with("invalid buildmaster directory");
    run(&["start", s(sc.path())]).fails_with("invalid buildmaster directory");
}

#[test]
fn cleanupdb_on_a_stopped_master() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let out = run(&["cleanupdb", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("cleanup complete"), "{out:#?}");
}

/// A master directory made by Python Buildbot 4.3: its tac is converted, its database
/// adopted, and the master starts.
#[test]
fn python_buildbot_directory_is_adopted() {
    let Ok(venv) = std::env::var("BUILDBOT_TEST_PYTHON_VENV") else {
        eprintln!("SKIP: BUILDBOT_TEST_PYTHON_VENV not set");
        return;
    };
    let sc = Scratch::new();
    let b = sc.dir("m");
    let st = std::process::Command::new(format!("{venv}/bin/buildbot"))
        .args(["create-master", "-q", "-r", s(&b)])
        .status()
        .unwrap();
    assert!(st.success());
    let py = read(&b.join("buildbot.tac"));
    std::fs::write(b.join("master.cfg"), f1(free_port(), free_port(), "b1")).unwrap();
    run(&["start", s(&b)]).fails_with("upgrade-master");
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert!(!out.stderr.contains("not carried over"), "{out:#?}");
    assert_eq!(read(&b.join("buildbot.tac.python")), py);
    let tac: toml::Table = read(&b.join("buildbot.tac")).parse().unwrap();
    assert_eq!(tac["basedir"].as_str(), Some("."));
    assert_eq!(tac["rotate_length"].as_integer(), Some(10_000_000));
    assert_eq!(tac["max_rotated_files"].as_integer(), Some(10));
    assert!(b.join("public_html/robots.txt").exists());
    run(&["start", s(&b)]).ok();
    run(&["stop", s(&b)]).ok();
}

/// A database written by Python Buildbot 4.3 (the committed fixture, no seaql bookkeeping):
/// upgrade-master adopts it keeping its data, the master starts on it, and a second run
/// has nothing to do and changes nothing.
#[test]
fn python_43_database_is_adopted_once() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../buildbot-db/tests/fixtures/python-4.3-state.sqlite");
    let db = b.join("state.sqlite");
    std::fs::copy(&fixture, &db).unwrap();
    let before = sqlite3(
        &db,
        "SELECT count(*) FROM builds; SELECT count(*) FROM changes",
    );
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some("upgrade complete"),
        "{out:#?}"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT count(*) FROM builds; SELECT count(*) FROM changes"
        ),
        before
    );
    let h = snapshot(&b);
    let out = run(&["upgrade-master", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("nothing to migrate"), "{out:#?}");
    assert_eq!(snapshot(&b), h, "a second run changed files");
    run(&["start", s(&b)]).ok();
    run(&["stop", s(&b)]).ok();
    assert!(sqlite3(&db, "SELECT name FROM builders").contains("b1"));
}
