//! `buildslave upgrade-slave` on Python tacs of 0.7/0.8 and 4.3.

use std::path::Path;

use crate::harness::*;

fn fixture(name: &str) -> String {
    read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

fn setup(sc: &Scratch, fixture_name: &str) -> std::path::PathBuf {
    let d = sc.dir("s");
    std::fs::create_dir_all(d.join("b1/build")).unwrap();
    std::fs::write(d.join("buildbot.tac"), fixture(fixture_name)).unwrap();
    d
}

fn tac(d: &Path) -> toml::Table {
    read(&d.join("buildbot.tac")).parse().unwrap()
}

#[test]
fn upgrade_worker_4_3_tac() {
    let sc = Scratch::new();
    let d = setup(&sc, "worker-4.3.tac");
    let out = run(&["upgrade-worker", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("buildbot.tac updated"), "{out:?}");
    assert_eq!(
        read(&d.join("buildbot.tac.python")),
        fixture("worker-4.3.tac")
    );
    let t = tac(&d);
    assert_eq!(t["application"].as_str(), Some("buildslave"));
    assert_eq!(t["basedir"].as_str(), Some("."));
    assert_eq!(t["buildmaster_host"].as_str(), Some("127.0.0.1"));
    assert_eq!(t["port"].as_integer(), Some(9989));
    assert_eq!(t["slavename"].as_str(), Some("w1"));
    assert_eq!(t["passwd"].as_str(), Some("pass1"));
    assert_eq!(t["keepalive"].as_integer(), Some(300));
    assert_eq!(t["umask"].as_integer(), Some(0o22));
    assert_eq!(t["allow_shutdown"].as_str(), Some("signal"));
    assert_eq!(t["maxretries"].as_integer(), Some(5));
    assert_eq!(t["delete_leftover_dirs"].as_bool(), Some(true));
    assert_eq!(t["rotate_length"].as_integer(), Some(10_000_000));
    assert_eq!(t["max_rotated_files"].as_integer(), Some(10));
    assert!(d.join("b1/build").is_dir(), "cached state kept");

    let out = run(&["upgrade-slave", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("No changes made"), "{out:?}");
    // the result is a valid slave directory
    run(&["stop", s(&d)]).ok();
}

#[test]
fn upgrade_buildslave_0_8_tac() {
    let sc = Scratch::new();
    let d = setup(&sc, "buildslave-0.8.tac");
    let out = run(&["upgrade-slave", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("buildbot.tac updated"), "{out:?}");
    assert!(
        out.stdout.contains("msgpack"),
        "protocol change is explained: {out:?}"
    );
    let t = tac(&d);
    assert_eq!(t["basedir"].as_str(), Some("/home/buildbot/slave"));
    assert_eq!(
        t["buildmaster_host"].as_str(),
        Some("buildmaster.example.org")
    );
    assert_eq!(t["slavename"].as_str(), Some("example-slave"));
    assert_eq!(t["passwd"].as_str(), Some("pass"));
    assert_eq!(t["usepty"].as_bool(), Some(true));
    assert_eq!(t["umask"].as_integer(), Some(0o22));
    assert_eq!(t["allow_shutdown"].as_str(), Some("file"));
    assert_eq!(t["rotate_length"].as_integer(), Some(5_000_000));
    assert!(!t.contains_key("max_rotated_files"), "None keeps all");
    assert_eq!(
        std::fs::metadata(d.join("buildbot.tac"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    run(&["upgrade-slave", s(&d)]).ok();
    assert!(
        run(&["upgrade-slave", s(&d)])
            .stdout
            .contains("No changes made")
    );
}

#[test]
fn upgrade_pre_0_8_1_tac() {
    let sc = Scratch::new();
    let d = setup(&sc, "buildslave-0.7.tac");
    run(&["upgrade-slave", "-q", s(&d)]).ok();
    let t = tac(&d);
    assert_eq!(t["basedir"].as_str(), Some("."));
    assert_eq!(t["slavename"].as_str(), Some("old-slave"));
    assert_eq!(t["passwd"].as_str(), Some("s3cret:with'quote"));
    assert_eq!(t["maxdelay"].as_integer(), Some(300));
    assert!(!t.contains_key("umask"));
}

use std::os::unix::fs::PermissionsExt;
