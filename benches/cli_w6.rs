//! W6 (bench/WORKLOADS.md): startup time of `buildbot start` (release binary, daemonizing, as
//! a user runs it) with 1 worker (not started) and 1 or 500 builders, one force scheduler.
//! For each builder count, 3 repetitions of (fresh DB, restart on the same DB); polling every
//! 20 ms measures "worker port open", "REST API ready" (`GET /api/v2/builders` → 200 with
//! all N builders) and "start returned"; then master VmRSS 1 s after startup.
//!
//! Run: `cargo bench --bench cli_w6` (builds `buildbot` in release; `BUILDBOT_BIN` overrides).
//! Python Buildbot 4.3: REST ready after 1.9 s (1 builder) and 10.1 s (500 builders).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, median, mib, release_buildbot, run_buildbot, status_kib};

const POLL: Duration = Duration::from_millis(20);
const LIMIT: Duration = Duration::from_secs(120);

fn config(builders: usize, wport: u16, web: u16) -> String {
    let mut t = format!(
        "logCompressionMethod = \"gz\"\ncollapseRequests = false\n\
         [protocols.msgpack]\nport = {wport}\ninterface = \"127.0.0.1\"\n\
         [www]\nport = {web}\nlisten = \"127.0.0.1\"\n\
         [[workers]]\nname = \"w0\"\npassword = \"pass\"\nmax_builds = 1\n"
    );
    for i in 0..builders {
        t.push_str(&format!(
            "[[builders]]\nname = \"b{i}\"\nworkernames = [\"w0\"]\n\
             steps = [{{ type = \"ShellCommand\", name = \"cmd\", command = [\"true\"] }}]\n"
        ));
    }
    let names: Vec<String> = (0..builders).map(|i| format!("\"b{i}\"")).collect();
    t.push_str(&format!(
        "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [{}]\n",
        names.join(", ")
    ));
    t
}

/// `GET /api/v2/builders` answered 200 with `n` builders.
fn rest_ready(web: u16, n: usize) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], web).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(b"GET /api/v2/builders HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["builders"].as_array().map(Vec::len))
        == Some(n)
}

fn port_open(p: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], p).into(), Duration::from_millis(200)).is_ok()
}

struct Times {
    worker_port: f64,
    rest: f64,
    returned: f64,
    rss_mib: f64,
}

// `start` is reaped by `try_wait` in the loop; the panics end the bench process anyway
#[allow(clippy::zombie_processes)]
fn measure(bin: &Path, dir: &Path, n: usize, wport: u16, web: u16) -> Times {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .arg("start")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut wp, mut rest, mut ret) = (None, None, None);
    while wp.is_none() || rest.is_none() || ret.is_none() {
        if t0.elapsed() >= LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("master did not start within {LIMIT:?}");
        }
        let now = t0.elapsed().as_secs_f64();
        if wp.is_none() && port_open(wport) {
            wp = Some(now);
        }
        if rest.is_none() && rest_ready(web, n) {
            rest = Some(now);
        }
        if ret.is_none()
            && let Some(st) = child.try_wait().unwrap()
        {
            assert!(st.success(), "buildbot start failed: {st:?}");
            ret = Some(now);
        }
        std::thread::sleep(POLL);
    }
    let pid: u32 = std::fs::read_to_string(dir.join("twistd.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let up = t0 + Duration::from_secs_f64(rest.unwrap_or(0.0));
    std::thread::sleep((up + Duration::from_secs(1)).saturating_duration_since(Instant::now()));
    let rss = status_kib(Some(pid), "VmRSS:");
    run_buildbot(bin, &["stop", "-q"], dir);
    Times {
        worker_port: wp.unwrap_or(0.0),
        rest: rest.unwrap_or(0.0),
        returned: ret.unwrap_or(0.0),
        rss_mib: mib(rss),
    }
}

fn report(label: &str, v: &[Times]) {
    let col = |f: fn(&Times) -> f64| {
        let xs: Vec<f64> = v.iter().map(f).collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        format!("{:.3} s [{lo:.3}–{hi:.3}]", median(xs))
    };
    let rss: Vec<f64> = v.iter().map(|t| t.rss_mib).collect();
    println!(
        "{label:<22} worker port {}  REST ready {}  start returned {}  VmRSS {:.1} MiB",
        col(|t| t.worker_port),
        col(|t| t.rest),
        col(|t| t.returned),
        median(rss)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let bin = release_buildbot();
    let reps: usize = std::env::var("BB_W6_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    println!(
        "W6 startup, `{}` (release), {reps} repetitions",
        bin.display()
    );
    for n in [1usize, 500] {
        let (mut fresh, mut restart) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("master");
            let st = Command::new(&bin)
                .args(["create-master", "-q", "-r"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(st.success());
            let (wport, web) = (free_port(), free_port());
            std::fs::write(dir.join("master.cfg"), config(n, wport, web)).unwrap();
            fresh.push(measure(&bin, &dir, n, wport, web));
            restart.push(measure(&bin, &dir, n, wport, web));
        }
        report(&format!("{n} builder(s), fresh"), &fresh);
        report(&format!("{n} builder(s), restart"), &restart);
    }
}
