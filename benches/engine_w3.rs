//! W3 (bench/WORKLOADS.md) through the library: 1 worker process (our slave runtime,
//! msgpack over WebSocket), builder `b0` whose step runs the 50 MiB python3 command; 3 builds
//! one at a time (force, wait for completion, next). Per build: MiB/s = 50 / wall time,
//! against the command alone into a pipe (target >= 80 %; Python Buildbot 4.3: 2.3-2.6 MiB/s).
//! Checks the `stdio` log has >= 524,288 lines; after stopping the master: DB size, logchunk
//! rows and stored bytes (read with python3's sqlite3), master VmHWM.
//!
//! Run: `cargo bench --bench engine_w3`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use buildbot::core::master::ForceRequest;
use common::*;

const BUILDS: usize = 3;
const W3_BYTES: u64 = 52_428_800;

/// The W3 command alone, stdout into a pipe that is read and discarded.
fn command_alone() -> f64 {
    let start = Instant::now();
    let mut child = Command::new("python3")
        .args(["-c", W3_PROGRAM])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    child.wait().unwrap();
    assert_eq!(total, W3_BYTES);
    start.elapsed().as_secs_f64()
}

/// `SELECT` through python3's sqlite3 module (the bench has no SQLite client of its own).
fn sqlite_query(db: &std::path::Path, sql: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint(' '.join(str(x) for x in c.execute(sys.argv[2]).fetchone()))",
        ])
        .arg(db)
        .arg(sql)
        .output()
        .expect("python3 sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn main() {
    if maybe_run_as_worker() || std::env::args().any(|a| a == "--list") {
        return;
    }
    let alone: Vec<f64> = (0..BUILDS).map(|_| command_alone()).collect();
    let alone_m = median(alone.clone());
    let dir = tempfile::tempdir().unwrap();
    let basedir = dir.path().join("master");
    let cmd = format!(
        "[\"python3\", \"-c\", {}]",
        serde_json::to_string(W3_PROGRAM).unwrap()
    );
    let (secs, cpus, hwm) = async_std::task::block_on(async {
        let master = start_master(&config_text(1, &cmd), &basedir).await;
        let port = master.worker_addr().port();
        let _worker = spawn_self_worker(port, "w0", &dir.path().join("w0"));
        wait_connected(&master, 1, Duration::from_secs(30)).await;
        async_std::task::sleep(Duration::from_secs(1)).await;
        let done = master.events().subscribe_path("buildrequests/*/complete");
        let mut secs = Vec::new();
        let mut cpus = Vec::new();
        for i in 0..BUILDS {
            let cpu0 = cpu_seconds(None);
            let start = Instant::now();
            master
                .force(
                    "force",
                    ForceRequest::new("bench", format!("w3 {i}")).builders(["b0"]),
                )
                .await
                .unwrap();
            let ev = async_std::future::timeout(Duration::from_secs(600), done.recv())
                .await
                .expect("build finishes")
                .expect("subscription open");
            let s = start.elapsed().as_secs_f64();
            assert_eq!(ev.message["results"], 0, "build {i} succeeded");
            secs.push(s);
            cpus.push(cpu_seconds(None) - cpu0);
        }
        master.stop().await.unwrap();
        (secs, cpus, status_kib(None, "VmHWM:"))
    });
    let db = basedir.join("state.sqlite");
    let lines = sqlite_query(
        &db,
        "SELECT group_concat(num_lines) FROM logs WHERE name='stdio'",
    );
    let chunks = sqlite_query(
        &db,
        "SELECT count(*), sum(length(content)), group_concat(DISTINCT compressed) FROM logchunks",
    );
    let size: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(basedir.join(format!("state.sqlite{s}"))).ok())
        .map(|m| m.len())
        .sum();
    for (i, (s, c)) in secs.iter().zip(&cpus).enumerate() {
        println!(
            "engine_w3 build {}: {s:.3} s, {:.1} MiB/s, master CPU {c:.2} s",
            i + 1,
            50.0 / s
        );
    }
    let m = median(secs.clone());
    println!(
        "engine_w3: median {:.1} MiB/s = {:.0} % of the command alone ({alone_m:.3} s = {:.1} MiB/s) \
         (target >= 80 %; Python 2.3-2.6 MiB/s)",
        50.0 / m,
        100.0 * alone_m / m,
        50.0 / alone_m
    );
    println!("engine_w3: stdio num_lines [{lines}] (need >= 524288 each)");
    let mut it = chunks.split(' ');
    let rows = it.next().unwrap_or("?");
    let bytes: f64 = it.next().and_then(|b| b.parse().ok()).unwrap_or(0.0);
    let comp = it.next().unwrap_or("?");
    println!(
        "engine_w3: DB {:.1} MiB ({rows} logchunk rows, {:.2} MiB stored chunk content, compressed={comp}); \
         master VmHWM {:.1} MiB (Python: 9.0-9.4 MiB DB, 1637-1773 rows, 6.1 MiB, VmHWM 137-142 MiB)",
        size as f64 / 1048576.0,
        bytes / 1048576.0,
        mib(hwm)
    );
    for n in lines.split(',') {
        assert!(
            n.parse::<u64>().unwrap_or(0) >= 524_288,
            "stdio num_lines {n}"
        );
    }
}
