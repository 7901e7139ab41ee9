//! W4 (bench/WORKLOADS.md) through the library: master memory when idle.
//!
//! (a) 1 builder, 1 worker: master VmRSS before the worker connects, and VmRSS/VmHWM after it
//! is connected and 10 s idle (target <= 15 MiB; Python Buildbot 4.3: 80.6 MiB).
//! (b) 1 builder on 100 workers, 100 worker processes launched at once: time until all are
//! connected, master VmRSS/VmHWM after 10 s idle (target <= 25 MiB; Python: 84.4 MiB), the
//! workers' median/sum VmRSS.
//!
//! Like `buildbot start`, the master gives memory back whenever it falls idle
//! (`buildbot_core::daemon::release_memory_when_idle`).
//!
//! Workers are the release `buildslave` binary (built like benches/slave_footprint.rs does),
//! one OS process each. The master is this process; each part starts a fresh master. The
//! master runs (b) in a child process of its own, so that (a)'s peak does not count.
//!
//! Run: `cargo bench --bench engine_w4`.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

fn part(workers: usize, bin: PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    async_std::task::block_on(async {
        let master = start_master(
            &config_text(workers, r#"["true"]"#),
            &dir.path().join("master"),
        )
        .await;
        // as `buildbot start` does once the master is up (daemon/memory.rs)
        buildbot::core::daemon::release_memory_when_idle(
            buildbot::core::daemon::IDLE_RELEASE_AFTER,
        );
        async_std::task::sleep(Duration::from_secs(1)).await;
        let before = status_kib(None, "VmRSS:");
        let port = master.worker_addr().port();
        let dirs: Vec<PathBuf> = (0..workers)
            .map(|i| {
                let d = dir.path().join(format!("w{i}"));
                create_buildslave(&bin, port, &format!("w{i}"), &d);
                d
            })
            .collect();
        // launched all at once (created beforehand)
        let launch = std::time::Instant::now();
        let procs: Vec<Proc> = dirs.iter().map(|d| start_buildslave(&bin, d)).collect();
        wait_connected(&master, workers, Duration::from_secs(120)).await;
        let took = launch.elapsed();
        async_std::task::sleep(Duration::from_secs(10)).await;
        let rss = status_kib(None, "VmRSS:");
        let hwm = status_kib(None, "VmHWM:");
        let anon = status_kib(None, "RssAnon:");
        let wrss: Vec<f64> = procs
            .iter()
            .map(|p| mib(status_kib(Some(p.0.id()), "VmRSS:")))
            .collect();
        let sum: f64 = wrss.iter().sum();
        let (target, py) = if workers == 1 {
            ("<= 15 MiB", "80.6 MiB")
        } else {
            ("<= 25 MiB", "84.4 MiB")
        };
        println!(
            "engine_w4 {workers} worker(s): master VmRSS {:.1} MiB before, {:.1} MiB connected+10 s idle \
             (VmHWM {:.1} MiB, anonymous {:.1} MiB; target {target}; Python {py}); all connected {:.2} s after launch; \
             per-worker increment {:.1} KiB; worker VmRSS median {:.2} MiB, sum {sum:.1} MiB",
            mib(before),
            mib(rss),
            mib(hwm),
            mib(anon),
            took.as_secs_f64(),
            (rss as f64 - before as f64) / workers as f64,
            median(wrss.clone()),
        );
        drop(procs);
        master.stop().await.unwrap();
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Ok(n) = std::env::var("BB_W4_PART") {
        part(
            n.parse().unwrap(),
            PathBuf::from(std::env::var("BUILDSLAVE_BIN").unwrap()),
        );
        return;
    }
    let bin = release_buildslave();
    for n in [1, 100] {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env("BB_W4_PART", n.to_string())
            .env("BUILDSLAVE_BIN", &bin)
            .status()
            .unwrap();
        assert!(status.success(), "part with {n} workers failed");
    }
}
