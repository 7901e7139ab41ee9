//! W1 (bench/WORKLOADS.md) through the library: one worker (our worker runtime in its own
//! OS process, msgpack over WebSocket), one builder `b0` whose step runs `["true"]`, 200
//! forces submitted one after another, then wait for all of them. No collapsing, logs
//! compressed with gz, SQLite.
//!
//! Run: `cargo bench --bench engine_w1`. Prints builds/s and master CPU ms per build
//! (Python Buildbot 4.3: 3.09 builds/s, 246 ms CPU per build).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::time::{Duration, Instant};

use buildbot::core::master::config::{Registry, parse_config};
use buildbot::core::master::engine::{ForceRequest, Master, MasterOptions};
use buildbot::core::{Worker, WorkerConfig};

const N: usize = 200;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the command name
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn vm(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run_worker(port: u16, dir: &str) {
    async_std::task::block_on(async {
        let mut cfg = WorkerConfig::new("127.0.0.1", port, "w0", "pass", dir);
        cfg.maxretries = Some(3);
        let _ = Worker::new(cfg).run().await;
    });
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if let (Ok(port), Ok(dir)) = (
        std::env::var("BB_W1_WORKER_PORT"),
        std::env::var("BB_W1_WORKER_DIR"),
    ) {
        run_worker(port.parse().unwrap(), &dir);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    async_std::task::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
logCompressionMethod = "gz"
collapseRequests = false
[protocols.msgpack]
port = 0
[[workers]]
name = "w0"
password = "pass"
max_builds = 1
[[builders]]
name = "b0"
workernames = ["w0"]
steps = [{ type = "ShellCommand", name = "cmd", command = ["true"] }]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b0"]
"#;
        let cfg = parse_config(text, "master.cfg", &Registry::new())
            .unwrap()
            .config;
        // BB_W1_DB_URL=sqlite:// measures the engine without SQLite file I/O
        let mut opts = MasterOptions::new(dir.path().join("master"))
            .upgrade_db(true)
            .worker_bind("127.0.0.1:0");
        if let Ok(url) = std::env::var("BB_W1_DB_URL") {
            opts = opts.db_url(url);
        }
        let master = Master::start(cfg, opts).await.expect("master");
        let wdir = dir.path().join("worker");
        std::fs::create_dir_all(&wdir).unwrap();
        let _worker = Kill(
            std::process::Command::new(std::env::current_exe().unwrap())
                .env("BB_W1_WORKER_PORT", master.worker_addr().port().to_string())
                .env("BB_W1_WORKER_DIR", &wdir)
                .spawn()
                .unwrap(),
        );
        let t = Instant::now();
        while master.connected_workers().is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "worker did not connect"
            );
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
        let idle0 = cpu_seconds();
        async_std::task::sleep(Duration::from_secs(1)).await;
        let idle = cpu_seconds() - idle0;

        // completion is observed on the event bus (as a web UI would), not by polling
        let done = master.events().subscribe_path("buildrequests/*/complete");
        let cpu0 = cpu_seconds();
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
        let cpu = cpu_seconds() - cpu0;
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
        println!("engine_w1: idle master CPU {:.0} ms/s", idle * 1000.0);
        println!(
            "engine_w1: successful {ok}/{N}; VmRSS {} VmHWM {}; DB {db_size} bytes",
            vm("VmRSS:"),
            vm("VmHWM:")
        );
        master.stop().await.unwrap();
    });
}
