//! Issue 14 item 7: scheduling with a backlog, through the real binaries.
//!
//! A master of 50 builders (`true`) and 10 workers (`max_builds=1`) on SQLite gets 25,000
//! build requests the way a busy master gets them — forces of all 50 builders through the
//! JSON-RPC API (`POST /api/v2/forceschedulers/force`), while no worker is connected — and
//! is stopped. Then `buildbot start` on that database, 10 release `buildslave` processes
//! started as soon as it returns, and the backlog drains. Printed: the time from
//! `buildbot start` to the first build started, and the builds started per second around
//! 25,000, 10,000 and 1,000 pending requests (read from the database every 250 ms): the
//! rate must not fall as the backlog grows. Python Buildbot takes minutes to start the
//! first build of such a backlog (its issue #3395).
//!
//! Run: `cargo bench --bench backlog` (`BB_BACKLOG_REQUESTS=5000` for a shorter run; builds
//! `buildbot` and `buildslave` in release, `BUILDBOT_BIN`/`BUILDSLAVE_BIN` override).
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
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buildbot::db::{Db, Query};
use common::*;

const BUILDERS: usize = 50;
const WORKERS: usize = 10;

fn config(wport: u16, web: u16) -> String {
    let mut t = format!(
        "logCompressionMethod = \"gz\"\ncollapseRequests = false\n\
         [protocols.msgpack]\nport = {wport}\ninterface = \"127.0.0.1\"\n\
         [www]\nport = {web}\nlisten = \"127.0.0.1\"\n"
    );
    for i in 0..WORKERS {
        t.push_str(&format!(
            "[[workers]]\nname = \"w{i}\"\npassword = \"pass\"\nmax_builds = 1\n"
        ));
    }
    let workers: Vec<String> = (0..WORKERS).map(|i| format!("\"w{i}\"")).collect();
    for i in 0..BUILDERS {
        t.push_str(&format!(
            "[[builders]]\nname = \"b{i}\"\nworkernames = [{}]\n\
             steps = [{{ type = \"ShellCommand\", name = \"cmd\", command = [\"true\"] }}]\n",
            workers.join(", ")
        ));
    }
    let names: Vec<String> = (0..BUILDERS).map(|i| format!("\"b{i}\"")).collect();
    t.push_str(&format!(
        "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [{}]\n",
        names.join(", ")
    ));
    t
}

/// One JSON-RPC force of every builder; the HTTP status.
fn force(web: u16, i: usize) -> u16 {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":{i},"method":"force","params":{{"username":"bench <bench@example.org>","reason":"backlog {i}"}}}}"#
    );
    let mut s = TcpStream::connect(("127.0.0.1", web)).unwrap();
    write!(
        s,
        "POST /api/v2/forceschedulers/force HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let code = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    if code != 200 {
        eprintln!("{resp}");
    }
    code
}

/// Pending requests (a full count: only before the master starts).
async fn pending(db: &Db) -> usize {
    db.list_buildrequests(&Query::new().eq("complete", "false"))
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

/// Builds started: the newest build's id (ids count from 1 on a fresh database), one
/// indexed row read, so that watching costs the master nothing.
async fn started(db: &Db) -> usize {
    db.list_builds(&Query::new().order("buildid", true).limit(1))
        .await
        .ok()
        .and_then(|b| b.first().map(|b| b.buildid.0 as usize))
        .unwrap_or(0)
}

fn wait_port(p: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", p)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(60), "port {p} not open");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total: usize = std::env::var("BB_BACKLOG_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25_000);
    let forces = total.div_ceil(BUILDERS);
    let total = forces * BUILDERS;
    let bb = release_buildbot();
    let slave_bin = release_buildslave();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("master");
    let st = Command::new(&bb)
        .args(["create-master", "-q", "-r"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let (wport, web) = (free_port(), free_port());
    std::fs::write(dir.join("master.cfg"), config(wport, web)).unwrap();

    // the backlog: forces through the web API, no worker connected
    run_buildbot(&bb, &["start", "-q"], &dir);
    wait_port(web);
    let t = Instant::now();
    for i in 0..forces {
        assert_eq!(force(web, i), 200, "force {i}");
    }
    println!(
        "backlog: {total} requests ({forces} forces x {BUILDERS} builders) queued in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    run_buildbot(&bb, &["stop", "-q"], &dir);

    let slaves: Vec<(std::path::PathBuf, String)> = (0..WORKERS)
        .map(|i| (tmp.path().join(format!("w{i}")), format!("w{i}")))
        .collect();
    for (d, name) in &slaves {
        create_buildslave(&slave_bin, wport, name, d);
    }
    async_std::task::block_on(async {
        let db = Db::connect("sqlite:///state.sqlite", &dir).await.unwrap();
        assert_eq!(pending(&db).await, total, "the backlog is in the database");
        assert_eq!(started(&db).await, 0);

        // start: the clock runs from `buildbot start`
        let t0 = Instant::now();
        let st = Command::new(&bb)
            .arg("start")
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        let returned = t0.elapsed().as_secs_f64();
        let _procs: Vec<Proc> = slaves
            .iter()
            .map(|(d, _)| start_buildslave(&slave_bin, d))
            .collect();
        let mut samples: Vec<(f64, usize)> = Vec::new();
        let mut first = None;
        loop {
            let started = started(&db).await;
            let now = t0.elapsed().as_secs_f64();
            if first.is_none() && started > 0 {
                first = Some(now);
            }
            samples.push((now, started));
            if started >= total || now > 1800.0 {
                break;
            }
            async_std::task::sleep(Duration::from_millis(250)).await;
        }
        println!(
            "backlog: `buildbot start` returned after {returned:.2} s; first build started after {:.2} s",
            first.unwrap_or(f64::NAN)
        );
        // builds started per second while the backlog is near N (N pending = total - started)
        for near in [total, 10_000.min(total), 1_000.min(total)] {
            let window = (total / 10).max(200);
            let lo_started = total.saturating_sub(near);
            let hi_started = (lo_started + window).min(total);
            let at = |n: usize| samples.iter().find(|(_, s)| *s >= n).map(|(t, _)| *t);
            if let (Some(a), Some(b)) = (at(lo_started.max(1)), at(hi_started)) {
                println!(
                    "backlog: with ~{near} pending: {:.0} builds started/s ({} builds in {:.1} s)",
                    (hi_started - lo_started.max(1)) as f64 / (b - a).max(0.001),
                    hi_started - lo_started.max(1),
                    b - a
                );
            }
        }
        let end = samples.last().map(|(t, _)| *t).unwrap_or(0.0);
        println!(
            "backlog: all {total} built {end:.1} s after start = {:.0} builds/s overall",
            total as f64 / (end - first.unwrap_or(0.0)).max(0.001)
        );
        db.close().await.unwrap();
    });
    run_buildbot(&bb, &["stop", "-q"], &dir);
}
