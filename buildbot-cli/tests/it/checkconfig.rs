//! `buildbot checkconfig`.

use crate::harness::*;

#[test]
fn good_config_by_dir_file_and_cwd() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let out = run(&["checkconfig", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("Config file is good!"));
    run(&["checkconfig", s(&b.join("master.cfg"))]).ok();
    let out = std::process::Command::new(BIN)
        .arg("checkconfig")
        .current_dir(&b)
        .output()
        .unwrap();
    assert!(out.status.success());
    let q = run(&["checkconfig", "-q", s(&b)]);
    q.ok();
    assert_eq!(q.stdout, "");
}

#[test]
fn every_error_with_location() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let cfg = b.join("master.cfg");
    // a TOML syntax error
    std::fs::write(&cfg, format!("{}\nbad =\n", read(&cfg))).unwrap();
    let out = run(&["checkconfig", s(&b)]);
    out.fails_with("Configuration Errors:");
    assert!(out.stderr.contains("master.cfg:"), "{out:#?}");
    // two semantic errors at once: unknown worker, unknown step type
    std::fs::write(
        &cfg,
        "[[workers]]\nname = \"w1\"\npassword = \"pw\"\n\n[[builders]]\nname = \"b1\"\nworkernames = [\"nobody\"]\nsteps = [{ type = \"NoSuchStep\" }]\n",
    )
    .unwrap();
    let out = run(&["checkconfig", s(&cfg)]);
    assert_eq!(out.code, 1, "{out:#?}");
    let issues: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(issues.len() >= 2, "{out:#?}");
    assert!(out.stderr.contains("nobody"), "{out:#?}");
    assert!(out.stderr.contains("NoSuchStep"), "{out:#?}");
    assert!(issues.iter().all(|l| l.contains("master.cfg:")), "{out:#?}");
    // missing file
    run(&["checkconfig", s(&b.join("nope.cfg"))]).fails_with("nope.cfg");
    // not a master directory
    run(&["checkconfig", s(sc.path())]).fails_with("invalid buildmaster directory");
}

#[test]
fn python_config_is_named() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    std::fs::write(
        b.join("master.cfg"),
        "# -*- python -*-\nfrom buildbot.plugins import *\nc = BuildmasterConfig = {}\n",
    )
    .unwrap();
    let out = run(&["checkconfig", s(&b)]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("Python"), "{out:#?}");
    assert!(out.stderr.contains("TOML"), "{out:#?}");
}

#[test]
fn deprecated_slavenames_warns() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let cfg = b.join("master.cfg");
    std::fs::write(&cfg, read(&cfg).replace("workernames", "slavenames")).unwrap();
    let out = run(&["checkconfig", s(&b)]);
    out.ok();
    let low = out.all().to_lowercase();
    assert!(
        low.lines().any(|l| l.contains("slavenames")
            && l.contains("deprecated")
            && l.contains("workernames")),
        "{out:#?}"
    );
}
