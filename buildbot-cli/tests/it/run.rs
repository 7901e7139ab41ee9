//! start / stop / restart / reconfig / log rotation, with the real daemon.

use std::net::TcpStream;
use std::time::Duration;

use crate::harness::*;

fn port_open(p: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], p).into(), Duration::from_millis(200)).is_ok()
}

#[test]
fn walkthrough_start_reconfig_restart_stop() {
    let sc = Scratch::new();
    let (b, p) = mkm(&sc, "m");
    let out = run(&["start", s(&b)]);
    out.ok();
    assert!(
        out.stdout.contains("appears to have (re)started correctly"),
        "{out:#?}"
    );
    let pid = pid_of(&b).expect("twistd.pid");
    assert!(alive(pid));
    assert!(port_open(p), "worker port {p} not open");
    let web = web_port(&b);
    assert_eq!(api_builders(web), ["b1"]);
    let log = read(&b.join("twistd.log"));
    for needle in [
        "Starting BuildMaster -- buildbot.version: ",
        "Loading configuration from '",
        "SQLite version 3.",
        "BuildMaster is running",
    ] {
        assert!(log.contains(needle), "{needle:?} not in {log}");
    }
    assert!(
        log.lines()
            .all(|l| l.len() > 26 && l.as_bytes()[4] == b'-' && l.contains(" [")),
        "{log}"
    );

    // a second start is refused, the first keeps running
    run(&["start", s(&b)]).fails_with("already running");
    assert!(alive(pid));

    // reconfig with a new builder
    let cfg = b.join("master.cfg");
    std::fs::write(&cfg, format!("{}\n[[builders]]\nname = \"b2\"\nworkernames = [\"w1\"]\nsteps = [{{ type = \"ShellCommand\", command = [\"true\"] }}]\n", read(&cfg))).unwrap();
    let out = run(&["reconfig", s(&b)]);
    out.ok();
    assert!(
        out.stdout
            .contains("Reconfiguration appears to have completed successfully"),
        "{out:#?}"
    );
    let names = std::process::Command::new("sqlite3")
        .arg(b.join("state.sqlite"))
        .arg("SELECT name FROM builders ORDER BY name")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&names.stdout).contains("b2"));
    assert_eq!(api_builders(web), ["b1", "b2"]);

    // a broken config: kept the old one, exit 1 with the error
    let good = read(&cfg);
    std::fs::write(&cfg, format!("{good}\nx =\n")).unwrap();
    let out = run(&["reconfig", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.all().contains("reconfig aborted"), "{out:#?}");
    assert!(out.all().contains("master.cfg"), "{out:#?}");
    assert!(alive(pid));
    // the old config is kept: same builders, still serving
    assert_eq!(api_builders(web), ["b1", "b2"]);

    // a setting that needs a restart
    std::fs::write(
        &cfg,
        good.replace(&format!("port = {p}"), &format!("port = {}", free_port())),
    )
    .unwrap();
    let out = run(&["reconfig", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(read(&b.join("twistd.log")).contains("restart"));
    std::fs::write(&cfg, &good).unwrap();

    // upgrade-master refuses while the master runs
    run(&["upgrade-master", s(&b)]).fails_with("still running");
    // the `sighup` alias
    run(&["sighup", s(&b)]).ok();

    // SIGHUP by hand, with a third builder: same effect as reconfig, visible in twistd.log
    let updates = read(&b.join("twistd.log"))
        .matches("configuration update complete")
        .count();
    std::fs::write(&cfg, format!("{good}\n[[builders]]\nname = \"b3\"\nworkernames = [\"w1\"]\nsteps = [{{ type = \"ShellCommand\", command = [\"true\"] }}]\n")).unwrap();
    signal(pid, libc::SIGHUP);
    assert!(wait_for(10, || read(&b.join("twistd.log"))
        .matches("configuration update complete")
        .count()
        > updates));
    assert_eq!(api_builders(web), ["b1", "b2", "b3"]);
    std::fs::write(&cfg, &good).unwrap();

    // restart
    let out = run(&["restart", s(&b)]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("buildbot process {pid} is dead")),
        "{out:#?}"
    );
    let pid2 = pid_of(&b).unwrap();
    assert_ne!(pid, pid2);
    assert!(alive(pid2));
    assert!(wait_for(15, || http_get(web, "/api/v2/builders").0 == 200));

    // clean stop (SIGUSR1), then start again and stop
    run(&["stop", "--clean", s(&b)]).ok();
    assert!(!alive(pid2));
    assert!(!b.join("twistd.pid").exists());
    run(&["start", "-q", s(&b)]).ok();
    assert!(wait_for(15, || pid_of(&b).is_some_and(alive)));
    let pid2 = pid_of(&b).unwrap();
    // stop
    let out = run(&["stop", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("is dead"), "{out:#?}");
    assert!(!b.join("twistd.pid").exists());
    assert!(!alive(pid2));
    assert!(
        read(&b.join("twistd.log"))
            .trim_end()
            .ends_with("Server Shut Down.")
    );
    // a clean stop leaves no SQLite WAL behind (issue 19 item 11)
    assert!(b.join("state.sqlite").exists());
    assert!(!b.join("state.sqlite-wal").exists(), "a WAL after stop");
    let out = run(&["stop", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("not running"));
    run(&["reconfig", s(&b)]).fails_with("not running");
    // restart doubles as start
    let out = run(&["restart", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("no old buildbot process"), "{out:#?}");
    run(&["stop", "-q", s(&b)]).ok();
}

#[test]
fn unreachable_database_at_start() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let tac = b.join("buildbot.tac");
    std::fs::write(
        &tac,
        read(&tac).replace(
            "sqlite:///state.sqlite",
            "postgresql://u:secret@127.0.0.1:1/none",
        ),
    )
    .unwrap();
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("127.0.0.1:1"), "{out:#?}");
    assert!(!out.all().contains("secret"), "{out:#?}");
    assert!(!read(&b.join("twistd.log")).contains("secret"));
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn broken_config_halts_at_start() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let cfg = b.join("master.cfg");
    std::fs::write(&cfg, format!("{}\nbad =\n", read(&cfg))).unwrap();
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("master.cfg"), "{out:#?}");
    let log = read(&b.join("twistd.log"));
    assert!(log.contains("Configuration Errors:"), "{log}");
    assert!(log.contains("Halting master."), "{log}");
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn port_in_use_is_reported() {
    let sc = Scratch::new();
    let (b, p) = mkm(&sc, "m");
    let _busy = std::net::TcpListener::bind(("127.0.0.1", p)).unwrap();
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains(&format!(":{p}")), "{out:#?}");
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn web_port_in_use_is_reported() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let w = busy.local_addr().unwrap().port();
    std::fs::write(b.join("master.cfg"), f1(free_port(), w, "b1")).unwrap();
    let out = run(&["start", s(&b)]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains(&format!(":{w}")), "{out:#?}");
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn stale_pid_and_quiet_start() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    std::fs::write(b.join("twistd.pid"), "999999\n").unwrap();
    let out = run(&["start", "-q", s(&b)]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert!(wait_for(15, || read(&b.join("twistd.log"))
        .contains("BuildMaster is running")));
    let pid = pid_of(&b).unwrap();
    assert_ne!(pid, 999_999);
    run(&["stop", "-q", s(&b)]).ok();
    assert!(!alive(pid));
    // a live process that is not this master (pid reuse): stale too
    std::fs::write(b.join("twistd.pid"), format!("{}\n", std::process::id())).unwrap();
    let home = sc.path().to_str().unwrap();
    let out = run_env(&["start", "~/m"], &[("HOME", home)]);
    out.ok();
    assert!(out.stdout.contains("removing stale pid file"), "{out:#?}");
    run_env(&["stop", "-q", "~/m"], &[("HOME", home)]).ok();
    // stale pid file on stop
    std::fs::write(b.join("twistd.pid"), "999999\n").unwrap();
    let out = run(&["stop", s(&b)]);
    out.ok();
    assert!(out.stdout.contains("not running"));
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn moved_directory() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", s(&b)]).ok();
    std::fs::write(b.join("master.cfg"), f1(free_port(), free_port(), "b1")).unwrap();
    let moved = sc.dir("moved");
    std::fs::rename(&b, &moved).unwrap();
    let out = run(&["start", s(&moved)]);
    out.fails_with(s(&b));
    assert!(out.stderr.contains(s(&moved)));
    // relocatable directories move freely
    let (r, _) = mkm(&sc, "r");
    let r2 = sc.dir("r2");
    std::fs::rename(&r, &r2).unwrap();
    run(&["start", s(&r2)]).ok();
    assert!(r2.join("twistd.pid").exists());
    run(&["stop", s(&r2)]).ok();
}

#[test]
fn nodaemon_and_sigint() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    let mut child = std::process::Command::new(BIN)
        .args(["start", "--nodaemon", s(&b)])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let stderr = child.stderr.take().unwrap();
    let mut guard = Kill(child);
    assert!(wait_for(15, || read(&b.join("twistd.log"))
        .contains("BuildMaster is running")));
    assert_eq!(pid_of(&b), Some(pid));
    signal(pid, libc::SIGINT);
    assert!(wait_for(10, || guard.0.try_wait().unwrap().is_some()));
    let status = guard.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut { stderr }, &mut err).unwrap();
    assert!(err.contains("BuildMaster is running"), "{err}");
    assert!(!b.join("twistd.pid").exists());
}

#[test]
fn log_rotation_bounds_files() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&[
        "create-master",
        "-q",
        "-r",
        "--log-size",
        "10000",
        "--log-count",
        "3",
        s(&b),
    ])
    .ok();
    // 30 builders with the deprecated `slavenames`: every (re)load logs 30 warnings
    let mut cfg = f1(free_port(), free_port(), "b1");
    for i in 0..30 {
        cfg.push_str(&format!("\n[[builders]]\nname = \"x{i}\"\nslavenames = [\"w1\"]\nsteps = [{{ type = \"ShellCommand\", command = [\"true\"] }}]\n"));
    }
    std::fs::write(b.join("master.cfg"), cfg).unwrap();
    run(&["start", s(&b)]).ok();
    let pid = pid_of(&b).unwrap();
    for _ in 0..12 {
        run(&["reconfig", s(&b)]).ok();
    }
    assert!(wait_for(10, || b.join("twistd.log.3").exists()));
    run(&["stop", s(&b)]).ok();
    assert!(!alive(pid));
    assert!(!b.join("twistd.log.4").exists());
    for n in ["twistd.log", "twistd.log.1", "twistd.log.2", "twistd.log.3"] {
        let len = std::fs::metadata(b.join(n)).unwrap().len();
        assert!(len <= 10_000, "{n} is {len} bytes");
    }
}

#[test]
fn demo_once_runs_the_sample_build() {
    let sc = Scratch::new();
    let d = sc.dir("demo");
    sc.watch(&d.join("master"));
    sc.watch(&d.join("slave"));
    let out = run(&["demo", "--once", "--dir", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("hello from buildbot"), "{out:#?}");
    assert!(out.stdout.contains("all tests passed"), "{out:#?}");
    assert!(
        out.stdout.contains("build #1 of 'runtests': SUCCESS"),
        "{out:#?}"
    );
    assert!(!d.join("slave/twistd.pid").exists());
    // the demo master's database has real logs: cleanupdb re-packs and vacuums it
    let out = run(&["cleanupdb", s(&d.join("master"))]);
    out.ok();
    assert!(out.stdout.contains("cleanup complete"), "{out:#?}");
    // and the directory is a normal master directory
    run(&["checkconfig", "-q", s(&d.join("master"))]).ok();
}

#[test]
fn private_log_and_reopen_on_sigusr2() {
    use std::os::unix::fs::PermissionsExt;
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", "-n", s(&b)]).ok();
    std::fs::write(b.join("master.cfg"), f1(free_port(), free_port(), "b1")).unwrap();
    run(&["start", s(&b)]).ok();
    let log = b.join("twistd.log");
    let mode = std::fs::metadata(&log).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "daemon umask 077");
    std::fs::rename(&log, b.join("twistd.log.old")).unwrap();
    signal(pid_of(&b).unwrap(), libc::SIGUSR2);
    assert!(wait_for(10, || log.exists()));
    run(&["reconfig", s(&b)]).ok();
    assert!(read(&log).contains("configuration update complete"));
    run(&["stop", s(&b)]).ok();
}

#[test]
fn stop_clean_waits_for_the_running_build() {
    let sc = Scratch::new();
    let b = sc.dir("m");
    run(&["create-master", "-q", "-r", s(&b)]).ok();
    let (p, web) = (free_port(), free_port());
    std::fs::write(
        b.join("master.cfg"),
        f1(p, web, "b1").replace("echo hello", "sleep 3; echo slept"),
    )
    .unwrap();
    run(&["start", s(&b)]).ok();
    // a real worker (our runtime, in this test process) on the master's worker port
    let wdir = sc.path().join("w");
    std::fs::create_dir_all(&wdir).unwrap();
    let cfg = buildbot_core::SlaveConfig::new("127.0.0.1", p, "w1", "pw", &wdir);
    std::thread::spawn(move || {
        async_std::task::block_on(async {
            let _ = buildbot_core::Slave::new(cfg).run().await;
        })
    });
    assert!(wait_for(30, || {
        let (_, v) = http_get(web, "/api/v2/workers");
        v["workers"][0]["connected_to"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    }));
    let (code, v) = http_post(
        web,
        "/api/v2/forceschedulers/force",
        r#"{"jsonrpc": "2.0", "method": "force", "id": 1, "params": {"builderNames": ["b1"]}}"#,
    );
    assert_eq!(code, 200, "{v}");
    assert!(wait_for(30, || {
        let (_, v) = http_get(web, "/api/v2/builds");
        v["builds"].as_array().is_some_and(|a| a.len() == 1)
    }));
    let pid = pid_of(&b).unwrap();
    let t = std::time::Instant::now();
    let out = run(&["stop", "--clean", s(&b)]);
    out.ok();
    assert!(!alive(pid));
    assert!(!b.join("twistd.pid").exists());
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "did not wait for the build"
    );
    let res = std::process::Command::new("sqlite3")
        .arg(b.join("state.sqlite"))
        .arg("SELECT results, complete_at IS NOT NULL FROM builds")
        .output()
        .unwrap();
    // SUCCESS = 0, and it finished
    assert_eq!(String::from_utf8_lossy(&res.stdout).trim(), "0|1");
}

fn rss_file_kib(pid: u32) -> u64 {
    read(std::path::Path::new(&format!("/proc/{pid}/status")))
        .lines()
        .find_map(|l| l.strip_prefix("RssFile:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn idle_master_gives_its_program_pages_back() {
    let sc = Scratch::new();
    let (b, _) = mkm(&sc, "m");
    // a private copy of the program: the kernel only reclaims pages that no other process
    // maps, and other tests run masters of the same file meanwhile
    let bin = sc.path().join("buildbot-copy");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::File::open(&bin).unwrap().sync_all().unwrap();
    run_bin(&bin, &["start", s(&b)], &[]).ok();
    let pid = pid_of(&b).expect("twistd.pid");
    let web = web_port(&b);
    assert_eq!(api_builders(web), ["b1"]);
    let started = rss_file_kib(pid);
    // 5 s idle (daemon::IDLE_RELEASE_AFTER), sampled every 1.25 s
    assert!(
        wait_for(20, || rss_file_kib(pid) < started / 2),
        "RssFile {started} kB at start, {} kB after 20 s idle",
        rss_file_kib(pid)
    );
    // the master goes on working from the released pages
    assert_eq!(api_builders(web), ["b1"]);
    run(&["stop", s(&b)]).ok();
}
