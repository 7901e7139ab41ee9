//! W2 (bench/WORKLOADS.md) through the library: 4 worker processes (our slave runtime,
//! msgpack over WebSocket, `max_builds=1`), builder `b0` on all of them running
//! `["sleep", "0.05"]`, 200 forces submitted one after another, wait for all; 3 runs, each on
//! fresh state. Ideal: 80 builds/s (target >= 70; Python Buildbot 4.3 msgpack: 3.19).
//!
//! Run: `cargo bench --bench engine_w2`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use buildbot::core::master::ForceRequest;
use common::*;

const N: usize = 200;
const WORKERS: usize = 4;
const RUNS: usize = 3;

async fn run() -> (f64, f64, f64, usize, u64) {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(
        &config_text(WORKERS, r#"["sleep", "0.05"]"#),
        &dir.path().join("master"),
    )
    .await;
    let port = master.worker_addr().port();
    let _workers: Vec<Proc> = (0..WORKERS)
        .map(|i| spawn_self_worker(port, &format!("w{i}"), &dir.path().join(format!("w{i}"))))
        .collect();
    wait_connected(&master, WORKERS, Duration::from_secs(30)).await;
    async_std::task::sleep(Duration::from_secs(1)).await;

    let done = master.events().subscribe_path("buildrequests/*/complete");
    let cpu0 = cpu_seconds(None);
    let start = Instant::now();
    for i in 0..N {
        master
            .force(
                "force",
                ForceRequest::new("bench", format!("w2 {i}")).builders(["b0"]),
            )
            .await
            .unwrap();
    }
    let submit = start.elapsed().as_secs_f64();
    let mut ok = 0;
    for _ in 0..N {
        let ev = async_std::future::timeout(Duration::from_secs(600), done.recv())
            .await
            .expect("builds finish")
            .expect("subscription open");
        if ev.message["results"] == 0 {
            ok += 1;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(None) - cpu0;
    master.stop().await.unwrap();
    (wall, submit, cpu, ok, status_kib(None, "VmHWM:"))
}

fn main() {
    if maybe_run_as_worker() || std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut rates = Vec::new();
    let mut cpus = Vec::new();
    for r in 1..=RUNS {
        let (wall, submit, cpu, ok, hwm) = async_std::task::block_on(run());
        let rate = N as f64 / wall;
        println!(
            "engine_w2 run {r}: {N} builds in {wall:.3} s = {rate:.1} builds/s; submit {submit:.3} s; \
             master CPU {cpu:.2} s = {:.2} ms/build; successful {ok}/{N}; VmHWM {:.1} MiB",
            cpu * 1000.0 / N as f64,
            mib(hwm)
        );
        assert_eq!(ok, N, "every build succeeded");
        rates.push(rate);
        cpus.push(cpu * 1000.0 / N as f64);
    }
    let min = rates.iter().cloned().fold(f64::MAX, f64::min);
    let max = rates.iter().cloned().fold(0.0, f64::max);
    println!(
        "engine_w2: median {:.1} builds/s (range {min:.1}-{max:.1}, n={RUNS}; ideal 80, target >= 70; \
         Python 3.19); master CPU median {:.2} ms/build (Python 268)",
        median(rates.clone()),
        median(cpus)
    );
}
