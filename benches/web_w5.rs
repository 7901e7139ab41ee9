//! W5 (bench/WORKLOADS.md) through the library: a master with 200 completed builds (W1:
//! 1 worker process, 200 x `true`), its web server on 127.0.0.1, then
//! `GET /api/v2/builds?limit=50&order=-buildid`:
//! - 200 sequential requests on one keep-alive connection, then 200 with a new connection
//!   each: median, p90, p99, req/s;
//! - `wrk -t1 -c4 -d10s --latency` (if `/usr/bin/wrk` or `wrk` on PATH; else a built-in load
//!   loop with 4 keep-alive connections for 10 s): req/s, p50, p99; once as is (answered
//!   from the response cache, `buildbot-web/src/cache.rs`) and once with
//!   `Cache-Control: no-cache` (every request read from the database and rendered).
//!   Target: >= 5,000 req/s and p99 <= 5 ms (Python Buildbot 4.3: 27 req/s);
//! - responsiveness during W3: the same GET in a loop while a 50 MiB log is ingested
//!   (one W3 build on a second builder): p50/p99/max.
//!
//! Run: `cargo bench --bench web_w5`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use buildbot::core::master::{ForceRequest, MasterHandle};
use buildbot::db::Query;
use common::*;

const PATH: &str = "/api/v2/builds?limit=50&order=-buildid";
const BUILDS: usize = 200;

/// Config: worker `w0`, builder `b0` (`true`) and `b1` (the W3 command), scheduler `force`.
fn config() -> String {
    let w3 = serde_json::to_string(W3_PROGRAM).unwrap();
    format!(
        "logCompressionMethod = \"gz\"\ncollapseRequests = false\n[protocols.msgpack]\nport = 0\n\
         [[workers]]\nname = \"w0\"\npassword = \"pass\"\nmax_builds = 1\n\
         [[builders]]\nname = \"b0\"\nworkernames = [\"w0\"]\n\
         steps = [{{ type = \"ShellCommand\", name = \"cmd\", command = [\"true\"] }}]\n\
         [[builders]]\nname = \"b1\"\nworkernames = [\"w0\"]\n\
         steps = [{{ type = \"ShellCommand\", name = \"cmd\", command = [\"python3\", \"-c\", {w3}] }}]\n\
         [[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [\"b0\", \"b1\"]\n"
    )
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(label: &str, mut lat_ms: Vec<f64>, total_s: f64) {
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "  {label}: {} requests, median {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {:.0} req/s",
        lat_ms.len(),
        pct(&lat_ms, 0.5),
        pct(&lat_ms, 0.9),
        pct(&lat_ms, 0.99),
        lat_ms.last().copied().unwrap_or(0.0),
        lat_ms.len() as f64 / total_s
    );
}

fn sequential(addr: SocketAddr, keepalive: bool) {
    let mut lat = Vec::new();
    let t0 = Instant::now();
    let mut conn = Conn::new(addr);
    for _ in 0..200 {
        if !keepalive {
            conn = Conn::new(addr);
        }
        let t = Instant::now();
        conn.get(PATH);
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let label = if keepalive {
        "sequential (keepalive)"
    } else {
        "sequential (new_connection)"
    };
    report(label, lat, t0.elapsed().as_secs_f64());
}

/// 4 keep-alive connections on threads for `secs`: all latencies.
fn builtin_load(addr: SocketAddr, conns: usize, secs: u64) -> (Vec<f64>, f64) {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                let mut lat = Vec::new();
                while t0.elapsed() < Duration::from_secs(secs) {
                    let t = Instant::now();
                    c.get(PATH);
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
                lat
            })
        })
        .collect();
    let lat: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    (lat, t0.elapsed().as_secs_f64())
}

fn wrk_path() -> Option<String> {
    if std::path::Path::new("/usr/bin/wrk").exists() {
        return Some("/usr/bin/wrk".into());
    }
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .ok()
        .map(|_| "wrk".into())
}

/// One `wrk -t1 -c4 -d10s` run, with `headers` added to each request.
fn run_wrk(wrk: &str, addr: SocketAddr, label: &str, headers: &[&str]) {
    let mut cmd = std::process::Command::new(wrk);
    cmd.args(["-t1", "-c4", "-d10s", "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd
        .arg(format!("http://{addr}{PATH}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("  wrk -t1 -c4 -d10s --latency {}:", headers.join(" "));
    for l in text.lines() {
        println!("    {l}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    let p = |k: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    println!(
        "  W5 wrk ({label}): {rps} req/s, p50 {}, p99 {} (target >= 5000 req/s, p99 <= 5 ms)",
        p("50%"),
        p("99%")
    );
}

fn load(addr: SocketAddr) {
    if let Some(wrk) = wrk_path() {
        // as a dashboard polls: answered from the response cache while nothing is written
        run_wrk(&wrk, addr, "default", &[]);
        // every request computed from the database
        run_wrk(
            &wrk,
            addr,
            "Cache-Control: no-cache",
            &["Cache-Control: no-cache"],
        );
    } else {
        let (mut lat, secs) = builtin_load(addr, 4, 10);
        let n = lat.len();
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "  W5 built-in load (4 keep-alive connections, 10 s; wrk not found): {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms (target >= 5000 req/s, p99 <= 5 ms)",
            n as f64 / secs,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
    }
}

async fn wait_complete(m: &MasterHandle, n: usize) {
    let t = Instant::now();
    loop {
        let done = m
            .db()
            .list_builds(&Query::new().eq("complete", "true"))
            .await
            .unwrap()
            .len();
        if done >= n {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(1200), "{done}/{n} builds");
        async_std::task::sleep(Duration::from_millis(100)).await;
    }
}

fn main() {
    if maybe_run_as_worker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    async_std::task::block_on(async {
        let m = start_master(&config(), &dir.path().join("master")).await;
        let _w = spawn_self_worker(m.worker_addr().port(), "w0", &dir.path().join("w0"));
        wait_connected(&m, 1, Duration::from_secs(60)).await;
        let web = buildbot::web::serve(m.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let addr = web.addr();
        println!("W5 REST reads: populating {BUILDS} builds (W1)");
        for _ in 0..BUILDS {
            m.force("force", ForceRequest::new("bench", "w5").builders(["b0"]))
                .await
                .unwrap();
        }
        wait_complete(&m, BUILDS).await;
        let bytes = async_std::task::spawn_blocking(move || Conn::new(addr).get(PATH)).await;
        println!("  builds in DB: {BUILDS}; GET {PATH}: {bytes} bytes (curl form)");
        async_std::task::spawn_blocking(move || {
            sequential(addr, true);
            sequential(addr, false);
            load(addr);
        })
        .await;

        println!("W5 during W3: the same GET in a loop while a 50 MiB log is ingested");
        m.force("force", ForceRequest::new("bench", "w3").builders(["b1"]))
            .await
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let t0 = Instant::now();
        let poller = std::thread::spawn(move || {
            let mut c = Conn::new(addr);
            let mut lat = Vec::new();
            while !s2.load(Ordering::SeqCst) {
                let t = Instant::now();
                c.get(PATH);
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                std::thread::sleep(Duration::from_millis(5));
            }
            lat
        });
        wait_complete(&m, BUILDS + 1).await;
        let wall = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::SeqCst);
        let lat = poller.join().unwrap();
        println!(
            "  W3 build: 50 MiB in {wall:.2} s = {:.1} MiB/s",
            50.0 / wall
        );
        report("GET during ingest", lat, wall);
        web.stop().await;
        m.stop().await.unwrap();
    });
}
