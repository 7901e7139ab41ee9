//! `buildbot create-master`, `--version`, usage errors, retired commands.

use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

#[test]
fn version_from_anywhere() {
    let out = run(&["--version"]);
    out.ok();
    let mut lines = out.stdout.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("Buildbot version: 0."), "{first}");
    let second = lines.next().unwrap();
    assert!(second.contains("rust"), "{second}");
    assert!(second.contains("msgpack_experimental_v7"), "{second}");
    assert!(second.contains("SQLite version 3."), "{second}");
}

#[test]
fn usage_errors_exit_1_with_usage() {
    let out = run(&[]);
    out.fails_with("must specify a command");
    let sc = Scratch::new();
    let b = sc.dir("m");
    let out = run(&["create-master", "--log-count=abc", s(&b)]);
    out.fails_with("log-count parameter needs to be an int or None");
    assert!(
        out.stderr.contains("Usage: buildbot create-master"),
        "{out:#?}"
    );
    run(&["create-master", "-s", "x", s(&b)]).fails_with("log-size parameter needs to be an int");
    run(&["start", "a", "b"]).fails_with("I wasn't expecting so many arguments");
    run(&["create-master", "--bogus"]).fails_with("--bogus");
    assert!(!b.exists());
    let help = run(&["create-master", "--help"]);
    help.ok();
    assert!(help.stdout.contains("--log-count"));
}

#[test]
fn retired_commands_say_what_replaces_them() {
    for c in ["statuslog", "statusgui", "debugclient"] {
        let out = run(&[c, "--master", "h:1"]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(
            out.stderr.to_lowercase().contains("rest") || out.stderr.contains("web"),
            "{out:#?}"
        );
    }
}

#[test]
fn creates_every_file() {
    let sc = Scratch::new();
    let b = sc.dir("deep/m");
    let out = run(&["create-master", s(&b)]);
    out.ok();
    assert!(
        out.stdout
            .trim_end()
            .ends_with(&format!("buildmaster configured in {}", b.display())),
        "{out:#?}"
    );
    for f in [
        "buildbot.tac",
        "master.cfg.sample",
        "state.sqlite",
        "public_html/robots.txt",
        "public_html/favicon.ico",
        "public_html/default.css",
        "public_html/bg_gradient.png",
        "templates/README.txt",
    ] {
        assert!(b.join(f).exists(), "missing {f}");
    }
    assert!(!b.join("master.cfg").exists());
    let mode = std::fs::metadata(b.join("master.cfg.sample"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let tac: toml::Table = read(&b.join("buildbot.tac")).parse().unwrap();
    assert_eq!(tac["application"].as_str(), Some("buildmaster"));
    assert_eq!(tac["basedir"].as_str(), Some(s(&b)));
    assert_eq!(tac["configfile"].as_str(), Some("master.cfg"));
    assert_eq!(tac["db_url"].as_str(), Some("sqlite:///state.sqlite"));
    assert_eq!(tac["rotate_length"].as_integer(), Some(10_000_000));
    assert_eq!(tac["max_rotated_files"].as_integer(), Some(10));
    assert!(read(&b.join("public_html/robots.txt")).contains("Disallow: /api/"));
    // the sample works as shipped
    std::fs::copy(b.join("master.cfg.sample"), b.join("master.cfg")).unwrap();
    run(&["checkconfig", s(&b)]).ok();
}

#[test]
fn quiet_and_flags() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    let out = run(&[
        "create-master",
        "-q",
        "-r",
        "-c",
        "/etc/x/bb.toml",
        "-s",
        "5000",
        "-l",
        "None",
        "--db",
        "sqlite:///other.sqlite",
        s(&b),
    ]);
    out.ok();
    assert_eq!(out.stdout, "");
    let tac: toml::Table = read(&b.join("buildbot.tac")).parse().unwrap();
    assert_eq!(tac["basedir"].as_str(), Some("."));
    assert_eq!(tac["configfile"].as_str(), Some("/etc/x/bb.toml"));
    assert_eq!(tac["rotate_length"].as_integer(), Some(5000));
    assert!(tac.get("max_rotated_files").is_none());
    assert!(b.join("other.sqlite").exists());
    assert!(!b.join("state.sqlite").exists());
    assert!(read(&b.join("master.cfg.sample")).contains("db_url = \"sqlite:///other.sqlite\""));

    let n = sc.dir("n");
    run(&["create-master", "-q", "-n", s(&n)]).ok();
    let text = read(&n.join("buildbot.tac"));
    assert!(
        !text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("rotate_length") || l.starts_with("max_rotated_files")
        }),
        "{text}"
    );
}

#[test]
fn force_rules() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    // an existing directory without a tac is fine without -f
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("master.cfg"), "# mine\n").unwrap();
    run(&["create-master", "-q", s(&b)]).ok();
    assert_eq!(read(&b.join("master.cfg")), "# mine\n");
    // a second create is refused without -f
    let out = run(&["create-master", "-q", s(&b)]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("-f") && out.stderr.contains("upgrade-master"),
        "{out:#?}"
    );
    // identical tac with -f
    std::fs::write(b.join("public_html/robots.txt"), "mine").unwrap();
    let out = run(&["create-master", "-f", s(&b)]);
    out.ok();
    assert!(
        out.stdout.contains("updating existing installation"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("already exists and is correct"),
        "{out:#?}"
    );
    assert!(
        out.stdout
            .contains("public_html/ already exists: not replacing"),
        "{out:#?}"
    );
    assert_eq!(read(&b.join("public_html/robots.txt")), "mine");
    assert!(!b.join("buildbot.tac.new").exists());
    // a different tac with -f: buildbot.tac.new
    run(&["create-master", "-q", "-f", "-l", "3", s(&b)]).ok();
    assert!(b.join("buildbot.tac.new").exists());
    assert!(read(&b.join("buildbot.tac.new")).contains("max_rotated_files = 3"));
    assert!(read(&b.join("buildbot.tac")).contains("max_rotated_files = 10"));
    assert_eq!(read(&b.join("master.cfg")), "# mine\n");
}

#[test]
fn bad_db_url() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    let out = run(&[
        "create-master",
        "-q",
        "--db",
        "nonsense://u:secret@x",
        s(&b),
    ]);
    out.fails_with("could not parse database URL");
    assert!(!out.stderr.contains("secret"), "{out:#?}");
    assert!(!b.exists());
}

#[test]
fn unreachable_postgres() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    let out = run(&[
        "create-master",
        "-q",
        "--db",
        "postgresql://u:secret@127.0.0.1:1/none",
        s(&b),
    ]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("127.0.0.1:1"), "{out:#?}");
    assert!(!out.all().contains("secret"), "{out:#?}");
    assert!(
        out.stderr.contains("buildbot.tac"),
        "says which files were written: {out:#?}"
    );
}

/// A fresh database on the server at `env` (URL without a database name), dropped on drop.
struct ServerDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ServerDb {
    fn new(var: &str) -> Option<ServerDb> {
        let Ok(base) = std::env::var(var) else {
            eprintln!("SKIP: {var} not set");
            return None;
        };
        let base = base.trim_end_matches('/').to_owned();
        let name = format!(
            "bbcli_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin_url = if base.starts_with("postgres") {
            format!("{base}/postgres")
        } else {
            format!("{base}/mysql")
        };
        sql(&admin_url, &format!("CREATE DATABASE {name}"));
        Some(ServerDb {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }
}

impl Drop for ServerDb {
    fn drop(&mut self) {
        sql(&self.admin_url, &format!("DROP DATABASE {}", self.name));
    }
}

/// Runs one statement with the psql / mariadb client.
fn sql(url: &str, stmt: &str) -> String {
    let out = if url.starts_with("postgres") {
        std::process::Command::new("psql")
            .args([url, "-tAc", stmt])
            .output()
    } else {
        let rest = url.trim_start_matches("mysql://");
        let (auth, hostdb) = rest.split_once('@').unwrap_or(("root", rest));
        let (user, pass) = auth.split_once(':').unwrap_or((auth, ""));
        let (hostport, db) = hostdb.split_once('/').unwrap();
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
        let mut c = std::process::Command::new("mariadb");
        c.args([
            "-h", host, "-P", port, "-u", user, "-N", "-B", "-e", stmt, db,
        ]);
        if !pass.is_empty() {
            c.arg(format!("-p{pass}"));
        }
        c.output()
    }
    .expect("run the database client");
    if !out.status.success() {
        eprintln!("{stmt}: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn create_on_server(var: &str) {
    let Some(db) = ServerDb::new(var) else { return };
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "--db", &db.url, s(&b)]).ok();
    assert!(!b.join("state.sqlite").exists());
    let count = sql(
        &db.url,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'changes'",
    );
    assert!(count.trim().starts_with('1'), "{count:?}");
    assert!(read(&b.join("master.cfg.sample")).contains(&db.url));
}

#[test]
fn create_master_on_postgres() {
    create_on_server("BUILDBOT_TEST_PG_URL");
}

#[test]
fn create_master_on_mysql() {
    create_on_server("BUILDBOT_TEST_MYSQL_URL");
}
