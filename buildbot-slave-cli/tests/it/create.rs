//! `buildslave create-slave`: options, validation, files, re-use rules.

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

fn tac(dir: &std::path::Path) -> toml::Table {
    read(&dir.join("buildbot.tac")).parse().unwrap()
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_writes_tac_and_info_files() {
    let sc = Scratch::new();
    let d = sc.dir("a/b/slave");
    let out = run(&["create-slave", s(&d), "127.0.0.1:4321", "w1", "pw"]);
    out.ok();
    assert!(
        out.stdout
            .trim_end()
            .ends_with(&format!("buildslave configured in {}", d.display())),
        "{out:?}"
    );
    assert!(out.stdout.contains("access_uri"), "{out:?}");
    assert!(out.stdout.contains("edit the files in"), "{out:?}");
    let t = tac(&d);
    assert_eq!(t["application"].as_str(), Some("buildslave"));
    assert_eq!(t["basedir"].as_str(), Some(s(&d)));
    assert_eq!(t["buildmaster_host"].as_str(), Some("127.0.0.1"));
    assert_eq!(t["port"].as_integer(), Some(4321));
    assert_eq!(t["slavename"].as_str(), Some("w1"));
    assert_eq!(t["passwd"].as_str(), Some("pw"));
    assert_eq!(t["keepalive"].as_integer(), Some(600));
    assert_eq!(t["maxdelay"].as_integer(), Some(300));
    assert_eq!(t["usepty"].as_bool(), Some(false));
    assert_eq!(t["protocol"].as_str(), Some("msgpack_experimental_v7"));
    assert_eq!(t["rotate_length"].as_integer(), Some(10_000_000));
    assert_eq!(t["max_rotated_files"].as_integer(), Some(10));
    assert_eq!(t["delete_leftover_dirs"].as_bool(), Some(false));
    for unset in [
        "umask",
        "allow_shutdown",
        "unicode_encoding",
        "maxretries",
        "numcpus",
    ] {
        assert!(!t.contains_key(unset), "{unset} should be unset");
    }
    assert!(read(&d.join("buildbot.tac")).contains("# unicode_encoding"));
    assert_eq!(mode(&d.join("buildbot.tac")), 0o600);
    assert_eq!(
        read(&d.join("info/admin")),
        "Your Name Here <admin@youraddress.invalid>\n"
    );
    assert_eq!(
        read(&d.join("info/host")),
        "Please put a description of this build host here\n"
    );
    assert!(!d.join("info/access_uri").exists());
}

#[test]
fn create_quiet_prints_nothing() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    let out = run(&["create-slave", "-q", s(&d), "h", "w", "p"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
    assert_eq!(tac(&d)["port"].as_integer(), Some(9989));
}

#[test]
fn create_with_every_option() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    let out = run(&[
        "create-worker",
        "-k",
        "30",
        "--maxdelay",
        "20",
        "--umask",
        "022",
        "--usepty",
        "1",
        "-s",
        "5000",
        "-l",
        "None",
        "-r",
        "-a",
        "signal",
        "--maxretries",
        "3",
        "--numcpus",
        "2",
        "--delete-leftover-dirs",
        "--protocol",
        "msgpack",
        s(&d),
        "[::1]:1234",
        "w1",
        "p:w",
    ]);
    out.ok();
    assert!(out.stderr.to_lowercase().contains("deprecat"), "{out:?}");
    let t = tac(&d);
    assert_eq!(t["basedir"].as_str(), Some("."));
    assert_eq!(t["buildmaster_host"].as_str(), Some("::1"));
    assert_eq!(t["port"].as_integer(), Some(1234));
    assert_eq!(t["passwd"].as_str(), Some("p:w"));
    assert_eq!(t["keepalive"].as_integer(), Some(30));
    assert_eq!(t["maxdelay"].as_integer(), Some(20));
    assert_eq!(t["umask"].as_integer(), Some(0o22));
    assert_eq!(t["usepty"].as_bool(), Some(true));
    assert_eq!(t["rotate_length"].as_integer(), Some(5000));
    assert!(!t.contains_key("max_rotated_files"));
    assert_eq!(t["allow_shutdown"].as_str(), Some("signal"));
    assert_eq!(t["maxretries"].as_integer(), Some(3));
    assert_eq!(t["numcpus"].as_integer(), Some(2));
    assert_eq!(t["delete_leftover_dirs"].as_bool(), Some(true));

    let d2 = sc.dir("s2");
    run(&[
        "create-slave",
        "-q",
        "--umask=0o27",
        "-a",
        "file",
        "-n",
        s(&d2),
        "h:1",
        "w",
        "p",
    ])
    .ok();
    let t = tac(&d2);
    assert_eq!(t["umask"].as_integer(), Some(0o27));
    assert_eq!(t["allow_shutdown"].as_str(), Some("file"));
    assert!(
        !read(&d2.join("buildbot.tac"))
            .lines()
            .any(|l| l.starts_with("rotate_length") || l.starts_with("max_rotated_files"))
    );

    let d3 = sc.dir("s3");
    run(&[
        "create-slave",
        "-q",
        "--connection-string",
        "tcp:host=m.example:port=7000",
        s(&d3),
        "ignored:1",
        "w",
        "p",
    ])
    .ok();
    let t = tac(&d3);
    assert_eq!(
        t["connection_string"].as_str(),
        Some("tcp:host=m.example:port=7000")
    );
    assert!(!t.contains_key("buildmaster_host"));
}

#[test]
fn create_validation_errors() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    let ds = s(&d);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![ds, "h:1", "w"], "incorrect number of arguments"),
        (
            vec![ds, "h:1", "w", "p", "extra"],
            "incorrect number of arguments",
        ),
        (vec![ds, "http://h:1", "w", "p"], "is not a URL"),
        (vec![ds, "h:x", "w", "p"], "invalid master port 'x'"),
        (vec![ds, ":1", "w", "p"], "invalid <master> argument"),
        (
            vec!["-k", "abc", ds, "h:1", "w", "p"],
            "keepalive parameter needs to be a number",
        ),
        (
            vec!["--maxdelay", "x", ds, "h:1", "w", "p"],
            "maxdelay parameter needs to be a number",
        ),
        (
            vec!["-s", "x", ds, "h:1", "w", "p"],
            "log-size parameter needs to be a number",
        ),
        (
            vec!["-l", "many", ds, "h:1", "w", "p"],
            "log-count parameter needs to be an int or None",
        ),
        (
            vec!["--umask=rw", ds, "h:1", "w", "p"],
            "umask parameter needs to be an octal number",
        ),
        (
            vec!["--umask=8", ds, "h:1", "w", "p"],
            "umask parameter needs to be an octal number",
        ),
        (
            vec!["--usepty", "2", ds, "h:1", "w", "p"],
            "usepty parameter needs to be 0 or 1",
        ),
        (
            vec!["-a", "now", ds, "h:1", "w", "p"],
            "allow-shutdown needs to be one of 'signal' or 'file'",
        ),
        (
            vec!["--maxretries", "x", ds, "h:1", "w", "p"],
            "maxretries parameter needs to be a number or None",
        ),
        (
            vec!["--numcpus=lots", ds, "h:1", "w", "p"],
            "numcpus parameter needs to be a number or None",
        ),
        (
            vec!["--protocol", "pb", ds, "h:1", "w", "p"],
            "protocol 'pb' is not supported",
        ),
        (
            vec!["--connection-string", "unix:/x", ds, "h:1", "w", "p"],
            "connection-string",
        ),
    ];
    for (args, msg) in cases {
        let mut full = vec!["create-slave", "-q"];
        full.extend(args.iter().copied());
        let out = run(&full);
        out.fails_with(msg);
        assert!(
            out.stderr.contains("Usage: buildslave create-slave"),
            "{out:?}"
        );
        assert!(!d.exists(), "{args:?} must not create anything");
    }
    // unknown option: a usage error with status 1 too
    run(&["create-slave", "--bogus", ds, "h", "w", "p"]).fails_with("--bogus");
    run(&[]).fails_with("must specify a command");
}

#[test]
fn create_existing_directory_rules() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    let ds = s(&d);
    // an existing empty directory is fine
    std::fs::create_dir_all(&d).unwrap();
    run(&["create-slave", "-q", ds, "h:1", "w1", "pw"]).ok();
    std::fs::write(d.join("info/admin"), "Me <me@example.org>\n").unwrap();
    let before = read(&d.join("buildbot.tac"));

    run(&["create-slave", "-q", ds, "h:1", "w1", "pw"]).fails_with("already holds a buildbot.tac");
    let out = run(&["create-slave", "-f", ds, "h:1", "w1", "pw"]);
    out.ok();
    assert!(
        out.stdout.contains("already exists and is correct"),
        "{out:?}"
    );
    assert!(!d.join("buildbot.tac.new").exists());

    let out = run(&["create-slave", "-f", ds, "h:1", "w1", "other"]);
    out.ok();
    assert!(out.stdout.contains("buildbot.tac.new"), "{out:?}");
    assert_eq!(read(&d.join("buildbot.tac")), before);
    assert!(read(&d.join("buildbot.tac.new")).contains("\"other\""));
    assert_eq!(mode(&d.join("buildbot.tac.new")), 0o600);
    assert_eq!(read(&d.join("info/admin")), "Me <me@example.org>\n");

    // a master directory is never turned into a slave
    let m = sc.dir("m");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("buildbot.tac"), "application = \"buildmaster\"\n").unwrap();
    run(&["create-slave", "-q", "-f", s(&m), "h:1", "w", "p"]).fails_with("buildmaster");
}

#[test]
fn version_and_help() {
    let out = run(&["--version"]);
    out.ok();
    let mut lines = out.stdout.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("Buildslave version: "), "{first}");
    assert!(first["Buildslave version: ".len()..].starts_with(|c: char| c.is_ascii_digit()));
    let second = lines.next().unwrap();
    assert!(
        second.contains("rust") && second.contains("msgpack_experimental_v7"),
        "{second}"
    );
    let help = run(&["create-slave", "--help"]);
    help.ok();
    for opt in [
        "--delete-leftover-dirs",
        "--log-count",
        "--allow-shutdown",
        "--maxretries",
        "--umask",
    ] {
        assert!(help.stdout.contains(opt), "{opt} missing from help");
    }
}
