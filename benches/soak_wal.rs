//! Soak (issue 19 item 11): the backlog of a busy day on an SQLite file, with the REST API
//! read continuously, and what it leaves on disk.
//!
//! 5 builders (`true`), 10 workers (our slave runtime, each in its own OS process,
//! `max_builds=1`); 5,000 forces of all five builders queue 25,000 build requests before
//! any worker connects; then the workers connect and the backlog drains while a client
//! reads `GET /api/v2/builds?limit=50&order=-buildid` on the web server without pause.
//! Every 100 ms the WAL's size is read. Printed: the largest WAL (bound: `WAL_LIMIT` plus
//! what ten writes add), the builds/s of each fifth of the backlog (it must not
//! fall), the REST reads and their latency, the database file at the end (Python Buildbot
//! 4.3 keeps the same data in comparable space), and whether a WAL is left after the
//! master stopped and the database closed.
//!
//! Run: `cargo bench --bench soak_wal` (`BB_SOAK_FORCES=1000` for a shorter run).
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use buildbot::core::master::ForceRequest;
use common::*;

const BUILDERS: usize = 5;
const WORKERS: usize = 10;
const PATH: &str = "/api/v2/builds?limit=50&order=-buildid";

fn config() -> String {
    let mut t = String::from(
        "logCompressionMethod = \"gz\"\ncollapseRequests = false\n[protocols.msgpack]\nport = 0\n",
    );
    for i in 0..WORKERS {
        t.push_str(&format!(
            "[[workers]]\nname = \"w{i}\"\npassword = \"pass\"\nmax_builds = 1\n"
        ));
    }
    let workers: Vec<String> = (0..WORKERS).map(|i| format!("\"w{i}\"")).collect();
    let builders: Vec<String> = (0..BUILDERS).map(|i| format!("\"b{i}\"")).collect();
    for i in 0..BUILDERS {
        t.push_str(&format!(
            "[[builders]]\nname = \"b{i}\"\nworkernames = [{}]\n\
             steps = [{{ type = \"ShellCommand\", name = \"cmd\", command = [\"true\"] }}]\n",
            workers.join(", ")
        ));
    }
    t.push_str(&format!(
        "[[schedulers]]\ntype = \"ForceScheduler\"\nname = \"force\"\nbuilderNames = [{}]\n",
        builders.join(", ")
    ));
    t
}

/// The WAL's size, read from the file (the same way on any version of the code).
fn wal_size(base: &std::path::Path) -> u64 {
    std::fs::metadata(base.join("state.sqlite-wal"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Bytes as MiB text (`common::mib` takes KiB and gives a number).
fn mib_text(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() {
    if maybe_run_as_worker() {
        return;
    }
    let forces: usize = std::env::var("BB_SOAK_FORCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let total = forces * BUILDERS;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("master");
    async_std::task::block_on(async {
        let m = start_master(&config(), &base).await;
        let web = buildbot::web::serve(m.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let addr = web.addr();
        let t = Instant::now();
        for i in 0..forces {
            m.force("force", ForceRequest::new("bench", format!("soak {i}")))
                .await
                .unwrap();
        }
        println!(
            "soak_wal: {total} requests queued by {forces} forces in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        // the REST reader and the WAL sampler run until the backlog is drained
        let stop = Arc::new(AtomicBool::new(false));
        let largest_wal = Arc::new(AtomicU64::new(wal_size(&base)));
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Conn::new(addr);
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    c.get(PATH);
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                lat
            })
        };
        let sampler = {
            let (stop, largest, base) = (stop.clone(), largest_wal.clone(), base.clone());
            async_std::task::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    largest.fetch_max(wal_size(&base), Ordering::Relaxed);
                    async_std::task::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let done = m.events().subscribe_path("buildrequests/*/complete");
        let _workers: Vec<Proc> = (0..WORKERS)
            .map(|i| {
                spawn_self_worker(
                    m.worker_addr().port(),
                    &format!("w{i}"),
                    &dir.path().join(format!("w{i}")),
                )
            })
            .collect();
        let start = Instant::now();
        let fifth = total / 5;
        let mut mark = start;
        let mut ok = 0;
        for n in 1..=total {
            let ev = async_std::future::timeout(Duration::from_secs(600), done.recv())
                .await
                .expect("builds finish")
                .expect("subscription open");
            if ev.message["results"] == 0 {
                ok += 1;
            }
            if n % fifth == 0 {
                println!(
                    "soak_wal: builds {:>6}..{n:<6} (backlog {:>6} → {:>6}): {:.0} builds/s; WAL now {}, largest {}",
                    n - fifth + 1,
                    total - n + fifth,
                    total - n,
                    fifth as f64 / mark.elapsed().as_secs_f64(),
                    mib_text(wal_size(&base)),
                    mib_text(largest_wal.load(Ordering::Relaxed)),
                );
                mark = Instant::now();
            }
        }
        let wall = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        sampler.await;
        let mut lat = reader.join().unwrap();
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "soak_wal: {ok}/{total} builds successful in {wall:.1} s = {:.0} builds/s",
            total as f64 / wall
        );
        println!(
            "soak_wal: {} REST reads meanwhile, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lat.len(),
            pct(0.5),
            pct(0.99),
            lat.last().unwrap()
        );
        println!(
            "soak_wal: largest WAL {} (bound: buildbot_db::WAL_LIMIT, 32 MiB, plus what ten writes add); database file {}",
            mib_text(largest_wal.load(Ordering::Relaxed)),
            mib_text(std::fs::metadata(base.join("state.sqlite")).unwrap().len())
        );
        web.stop().await;
        m.stop().await.unwrap();
        let db = m.db().clone();
        db.close().await.unwrap();
        let left = std::fs::metadata(base.join("state.sqlite-wal")).map(|m| m.len());
        println!(
            "soak_wal: after stop and close: database file {}, WAL {}",
            mib_text(std::fs::metadata(base.join("state.sqlite")).unwrap().len()),
            match left {
                Ok(n) => format!("left behind, {}", mib_text(n)),
                Err(_) => "gone".to_owned(),
            }
        );
    });
}
