//! W1 (bench/WORKLOADS.md) through the library: one worker (our slave runtime in its own
//! OS process, msgpack over WebSocket), one builder `b0` whose step runs `["true"]`, 200
//! forces submitted one after another, then wait for all of them. No collapsing, logs
//! compressed with gz, SQLite.
//!
//! Run: `cargo bench --bench engine_w1` (`BB_BENCH_DB_URL=sqlite://` measures the engine
//! without SQLite file I/O). Prints builds/s and master CPU ms per build
//! (Python Buildbot 4.3: 3.09 builds/s, 246 ms CPU per build).
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

fn vm(key: &str) -> String {
    format!("{} kB", status_kib(None, key))
}

fn main() {
    if maybe_run_as_worker() || std::env::args().any(|a| a == "--list") {
        return;
    }
    async_std::task::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let master = start_master(&config_text(1, r#"["true"]"#), &dir.path().join("master")).await;
        let _worker = spawn_self_worker(
            master.worker_addr().port(),
            "w0",
            &dir.path().join("worker"),
        );
        wait_connected(&master, 1, Duration::from_secs(30)).await;
        let idle0 = cpu_seconds(None);
        async_std::task::sleep(Duration::from_secs(1)).await;
        let idle = cpu_seconds(None) - idle0;

        // completion is observed on the event bus (as a web UI would), not by polling
        let done = master.events().subscribe_path("buildrequests/*/complete");
        let sql0 = master.db().stats().latency();
        let cpu0 = cpu_seconds(None);
        let start = Instant::now();
        for i in 0..N {
            master
                .force(
                    "force",
                    ForceRequest::new("bench", format!("w1 {i}")).builders(["b0"]),
                )
                .await
                .unwrap();
        }
        let submit = start.elapsed();
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
        let sql = master.db().stats().latency();
        let db_size = std::fs::metadata(dir.path().join("master/state.sqlite"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "engine_w1: {N} builds in {wall:.3} s = {:.1} builds/s (Python 3.09)",
            N as f64 / wall
        );
        println!("engine_w1: submissions took {:.3} s", submit.as_secs_f64());
        println!(
            "engine_w1: master CPU {cpu:.2} s = {:.2} ms/build (Python 246)",
            cpu * 1000.0 / N as f64
        );
        println!(
            "engine_w1: {:.1} SQL statements per build, {:.2} ms DB time per build",
            (sql.count - sql0.count) as f64 / N as f64,
            (sql.sum_seconds - sql0.sum_seconds) * 1000.0 / N as f64
        );
        println!("engine_w1: idle master CPU {:.0} ms/s", idle * 1000.0);
        println!(
            "engine_w1: successful {ok}/{N}; VmRSS {} VmHWM {}; DB {db_size} bytes",
            vm("VmRSS:"),
            vm("VmHWM:")
        );
        master.stop().await.unwrap();
    });
}
