//! start / stop / restart / signals / logs, with real daemons.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;

const FAST: &[(&str, &str)] = &[("START_TIMEOUT", "2")];

#[test]
fn start_connects_to_master_then_stop() {
    let master = FakeMaster::start("w1", "pw");
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, master.port, &[]);
    let out = run(&["start", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains("The buildslave appears to have (re)started correctly"),
        "{out:?}"
    );
    let pid = pid_of(&d).expect("twistd.pid");
    assert_eq!(read(&d.join("twistd.pid")), format!("{pid}\n"));
    assert!(alive(pid));
    assert!(master.connections.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    // daemon umask 077: the log is private
    assert_eq!(
        std::fs::metadata(d.join("twistd.log"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let log = read(&d.join("twistd.log"));
    let first = log.lines().next().unwrap();
    assert!(
        first.len() > 26
            && first.as_bytes()[4] == b'-'
            && first.as_bytes()[10] == b' '
            && (first.as_bytes()[19] == b'+' || first.as_bytes()[19] == b'-')
            && first.as_bytes()[24] == b' '
            && first.as_bytes()[25] == b'[',
        "not Twisted's layout: {first}"
    );
    assert!(log.contains("Starting buildslave"));
    assert!(d.join("twistd.hostname").exists());

    // a second copy is refused, the first keeps running
    run(&["start", s(&d)]).fails_with(&format!("already running, pid {pid}"));
    assert!(alive(pid));

    let out = run(&["stop", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("buildslave process {pid} is dead")),
        "{out:?}"
    );
    assert!(!d.join("twistd.pid").exists());
    assert!(!alive(pid));
    assert!(read(&d.join("twistd.log")).contains("Server Shut Down."));
    let out = run(&["stop", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("buildslave not running"), "{out:?}");
}

#[test]
fn start_without_answer_is_not_confirmed_but_keeps_running() {
    let (_listener, port) = silent_listener();
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, port, &[]);
    let t0 = std::time::Instant::now();
    let out = run_env(&["start", s(&d)], FAST);
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    out.fails_with("could not confirm");
    let pid = pid_of(&d).expect("daemon keeps running");
    assert!(alive(pid));
    run(&["stop", "-q", s(&d)]).ok();
    assert!(!alive(pid));
}

#[test]
fn start_with_master_down_hints_at_host_and_port() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let out = run_env(&["start", s(&d)], FAST);
    out.fails_with("could not confirm");
    assert!(out.stderr.contains("host or port"), "{out:?}");
    assert!(
        out.stdout.contains("will retry"),
        "log lines are shown: {out:?}"
    );
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn start_with_wrong_password_hints_at_credentials() {
    let master = FakeMaster::start("w1", "right");
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, master.port, &[]);
    let out = run_env(&["start", s(&d)], FAST);
    out.fails_with("wrong name or password");
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn quiet_start_returns_at_once() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let out = run(&["start", "-q", s(&d)]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn stale_pid_files_are_removed() {
    let master = FakeMaster::start("w1", "pw");
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, master.port, &[]);
    // a dead process
    let mut c = Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    std::fs::write(d.join("twistd.pid"), format!("{dead}\n")).unwrap();
    let out = run(&["start", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("stale"), "{out:?}");
    let pid = pid_of(&d).unwrap();
    assert_ne!(pid, dead);
    run(&["stop", "-q", s(&d)]).ok();

    // a live process that is not this buildslave (pid 1): stale too, and never signalled
    std::fs::write(d.join("twistd.pid"), "1\n").unwrap();
    let out = run(&["stop", s(&d)]);
    out.ok();
    assert!(out.stdout.contains("not running"), "{out:?}");
    assert!(!d.join("twistd.pid").exists());
    std::fs::write(d.join("twistd.pid"), "garbage\n").unwrap();
    run(&["start", s(&d)]).ok();
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn restart_stops_then_starts() {
    let master = FakeMaster::start("w1", "pw");
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, master.port, &[]);
    let out = run(&["restart", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains("no old buildslave process found to stop"),
        "{out:?}"
    );
    let pid1 = pid_of(&d).unwrap();
    let out = run(&["restart", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("buildslave process {pid1} is dead")),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("appears to have (re)started correctly"),
        "{out:?}"
    );
    let pid2 = pid_of(&d).unwrap();
    assert_ne!(pid1, pid2);
    assert!(!alive(pid1) && alive(pid2));
    run(&["stop", "-q", s(&d)]).ok();
}

/// Runs `start --nodaemon` as a child; killed on drop.
struct Foreground(std::process::Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn foreground(dir: &std::path::Path) -> Foreground {
    Foreground(
        Command::new(BIN)
            .args(["start", "--nodaemon", s(dir)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

fn wait_exit(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_for(secs, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status
}

#[test]
fn nodaemon_runs_in_foreground_and_exits_0_on_sigterm() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let mut fg = foreground(&d);
    assert!(
        wait_for(10, || pid_of(&d) == Some(fg.0.id())),
        "pid file names the foreground process"
    );
    assert!(wait_for(10, || read(&d.join("twistd.log")).contains("connecting")));
    signal(fg.0.id(), libc::SIGTERM);
    let status = wait_exit(&mut fg.0, 10).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(fg.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("Starting buildslave"),
        "log copied to stderr: {err}"
    );
    assert!(err.contains("Server Shut Down."), "{err}");
    assert!(!d.join("twistd.pid").exists());

    // SIGINT too
    let mut fg = foreground(&d);
    assert!(wait_for(10, || pid_of(&d) == Some(fg.0.id())));
    signal(fg.0.id(), libc::SIGINT);
    assert_eq!(wait_exit(&mut fg.0, 10).and_then(|s| s.code()), Some(0));
}

#[test]
fn sighup_is_ignored_without_allow_shutdown() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    assert!(wait_for(5, || read(&d.join("twistd.log")).contains("connecting")));
    signal(pid, libc::SIGHUP);
    assert!(wait_for(5, || read(&d.join("twistd.log"))
        .contains("SIGHUP: ignored")));
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(pid));
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn sighup_with_allow_shutdown_signal_exits_when_not_connected() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &["-a", "signal"]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    assert!(wait_for(5, || read(&d.join("twistd.log")).contains("connecting")));
    signal(pid, libc::SIGHUP);
    assert!(
        wait_for(10, || !alive(pid)),
        "graceful shutdown while disconnected exits"
    );
    assert!(!d.join("twistd.pid").exists());
    assert!(read(&d.join("twistd.log")).contains("Server Shut Down."));
}

#[test]
fn log_rotation_keeps_at_most_n_files_of_at_most_size() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &["-s", "600", "-l", "2"]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    assert!(wait_for(5, || read(&d.join("twistd.log")).contains("connecting")));
    // every SIGHUP leaves a ~150-byte line
    for _ in 0..40 {
        signal(pid, libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(wait_for(5, || d.join("twistd.log.2").exists()));
    std::thread::sleep(Duration::from_millis(300));
    run(&["stop", "-q", s(&d)]).ok();
    assert!(!d.join("twistd.log.3").exists());
    for name in ["twistd.log", "twistd.log.1", "twistd.log.2"] {
        let len = std::fs::metadata(d.join(name)).unwrap().len();
        assert!(len <= 600, "{name} is {len} bytes");
    }
}

#[test]
fn no_logrotate_reopens_a_moved_log() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &["-n"]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    assert!(wait_for(5, || read(&d.join("twistd.log")).contains("connecting")));
    std::fs::rename(d.join("twistd.log"), d.join("twistd.log.old")).unwrap();
    signal(pid, libc::SIGHUP);
    assert!(wait_for(5, || read(&d.join("twistd.log")).contains("SIGHUP")));
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn explicit_umask_applies_to_the_daemon() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &["--umask", "022"]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || d.join("twistd.log").exists()));
    assert_eq!(
        std::fs::metadata(d.join("twistd.log"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    run(&["stop", "-q", s(&d)]).ok();
}

#[test]
fn invalid_directories_are_refused() {
    let sc = Scratch::new();
    let e = sc.dir("empty");
    std::fs::create_dir_all(&e).unwrap();
    for cmd in ["start", "stop", "restart", "upgrade-slave"] {
        run(&[cmd, s(&e)]).fails_with(&format!("invalid buildslave directory '{}'", e.display()));
    }
    std::fs::write(e.join("buildbot.tac"), "application = \"buildmaster\"\n").unwrap();
    run(&["start", s(&e)]).fails_with("buildbot start");
    std::fs::write(
        e.join("buildbot.tac"),
        "from twisted.application import service\napplication = service.Application('buildslave')\n",
    )
    .unwrap();
    run(&["start", s(&e)]).fails_with("upgrade-slave");
    std::fs::write(
        e.join("buildbot.tac"),
        "application = \"buildslave\"\nx = [\n",
    )
    .unwrap();
    run(&["start", s(&e)]).fails_with("buildbot.tac:");
    std::fs::write(e.join("buildbot.tac"), "application = \"buildslave\"\nbasedir = \".\"\nslavename = \"w\"\npasswd = \"p\"\nport = \"x\"\n").unwrap();
    run(&["start", s(&e)]).fails_with("buildbot.tac:5:");
    run(&["start", s(&e), "extra"]).fails_with("Usage: buildslave start");
}

#[test]
fn relocatable_directory_can_move_but_absolute_one_cannot() {
    let master = FakeMaster::start("w1", "pw");
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, master.port, &[]);
    let moved = sc.dir("moved");
    std::fs::rename(&d, &moved).unwrap();
    run(&["start", s(&moved)]).ok();
    assert!(moved.join("twistd.pid").exists());
    run(&["stop", "-q", s(&moved)]).ok();

    let a = sc.dir("abs");
    run(&[
        "create-slave",
        "-q",
        s(&a),
        &format!("127.0.0.1:{}", master.port),
        "w1",
        "pw",
    ])
    .ok();
    let a2 = sc.dir("abs2");
    std::fs::rename(&a, &a2).unwrap();
    let out = run(&["start", s(&a2)]);
    out.fails_with(s(&a));
    assert!(out.stderr.contains(s(&a2)), "{out:?}");
}

#[test]
fn tilde_and_default_basedir() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let home = s(sc.path());
    let out = run_env(&["stop", "~/s"], &[("HOME", home)]);
    out.ok();
    assert!(out.stdout.contains("not running"), "{out:?}");
    // no BASEDIR: the current directory
    let out = Command::new(BIN)
        .args(["stop"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not running"));
}

#[test]
fn unwritable_log_fails_the_start_with_the_reason() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    std::fs::create_dir(d.join("twistd.log")).unwrap();
    let out = run(&["start", s(&d)]);
    out.fails_with("The buildslave failed to start");
    assert!(out.stderr.contains("twistd.log"), "{out:?}");
    assert!(!d.join("twistd.pid").exists());
}

#[test]
fn stop_no_wait_only_signals() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    run(&["start", "-q", s(&d)]).ok();
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    let out = run(&["stop", "--no-wait", s(&d)]);
    out.ok();
    assert!(
        out.stdout
            .contains(&format!("sent SIGTERM to process {pid}")),
        "{out:?}"
    );
    assert!(wait_for(10, || !alive(pid)));
}

#[test]
fn errors_before_detaching_are_also_logged() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    std::fs::write(d.join("twistd.log"), "").unwrap();
    let tac = read(&d.join("buildbot.tac")).replace("maxdelay = 300", "maxdelay = \"x\"");
    std::fs::write(d.join("buildbot.tac"), tac).unwrap();
    run(&["start", s(&d)]).fails_with("buildbot.tac:");
    assert!(read(&d.join("twistd.log")).contains("buildbot.tac:"));
}

#[test]
fn log_file_dash_logs_to_stderr_only_in_the_foreground() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let tac = read(&d.join("buildbot.tac")) + "log_file = \"-\"\n";
    std::fs::write(d.join("buildbot.tac"), tac).unwrap();
    let mut fg = foreground(&d);
    assert!(wait_for(10, || pid_of(&d) == Some(fg.0.id())));
    std::thread::sleep(Duration::from_millis(300));
    signal(fg.0.id(), libc::SIGTERM);
    assert_eq!(wait_exit(&mut fg.0, 10).and_then(|s| s.code()), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(fg.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("Starting buildslave"), "{err}");
    assert!(!d.join("twistd.log").exists());
}

#[test]
fn maxretries_exhausted_is_reported_by_start() {
    let sc = Scratch::new();
    let d = sc.dir("s");
    create(&d, dead_port(), &["--maxretries", "1"]);
    let out = run(&["start", s(&d)]);
    out.fails_with("maxretries");
    assert!(wait_for(5, || !d.join("twistd.pid").exists()));
    assert!(read(&d.join("twistd.log")).contains("Server Shut Down."));
}

#[test]
fn a_renamed_binary_still_knows_its_daemon() {
    let sc = Scratch::new();
    let bin = sc.path().join("bs");
    std::fs::copy(BIN, &bin).unwrap();
    let d = sc.dir("s");
    create(&d, dead_port(), &[]);
    let st = Command::new(&bin)
        .args(["start", "-q", s(&d)])
        .env_clear()
        .status()
        .unwrap();
    assert!(st.success());
    assert!(wait_for(5, || pid_of(&d).is_some_and(alive)));
    let pid = pid_of(&d).unwrap();
    let out = Command::new(&bin)
        .args(["start", s(&d)])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "second copy refused");
    let out = Command::new(&bin)
        .args(["stop", s(&d)])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is dead"),
        "{out:?}"
    );
    assert!(!alive(pid));
}
