//! Log append throughput into SQLite (W3 text: 524,288 lines of 100 bytes = 50 MiB) in
//! worker-sized updates (8–16 KiB), per compression method, plus read-back throughput.
//!
//! `cargo bench -p buildbot --bench db_logs` (set `BB_BENCH_METHODS=zstd,gz,lz4,raw` to
//! choose methods; `BUILDBOT_TEST_PG_URL` adds a PostgreSQL run with zstd).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use sea_orm::ConnectionTrait;

use buildbot_db::{Db, LogCompression, LogType, NewBuildset, SourceStampSpec};

const A: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
const LINES: usize = 524_288;

fn updates() -> Vec<String> {
    updates_of(None)
}

/// The W3 text cut in updates of 80–160 lines (8–16 KiB), or of exactly `fixed` lines.
fn updates_of(fixed: Option<usize>) -> Vec<String> {
    let a = A.repeat(3);
    let mut out = Vec::new();
    let (mut line, mut k) = (0usize, 0usize);
    while line < LINES {
        let n = fixed.unwrap_or(80 + (k * 37) % 81).min(LINES - line);
        let mut s = String::with_capacity(n * 100);
        for i in line..line + n {
            let o = i % 64;
            s.push_str(&format!("{:08} {}\n", i, &a[o..o + 90]));
        }
        out.push(s);
        line += n;
        k += 1;
    }
    out
}

async fn run(db: &mut Db, method: LogCompression, updates: &[String], label: &str) {
    db.set_log_compression(method);
    let master = db.find_or_create_master("bench:/m").await.unwrap();
    let builder = db.find_or_create_builder("bench").await.unwrap();
    let ss = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(Some(""), Some(""), ""))
        .await
        .unwrap();
    let (_, brids) = db
        .add_buildset(&NewBuildset::new("bench", vec![ss], vec![builder]))
        .await
        .unwrap();
    let (build, _) = db
        .add_build(builder, brids[&builder], None, master, "created")
        .await
        .unwrap();
    let (step, _, _) = db
        .add_step(build, &format!("s-{label}"), "pending")
        .await
        .unwrap();
    let log = db.add_log(step, "stdio", LogType::Text).await.unwrap();
    let bytes: usize = updates.iter().map(String::len).sum();
    let t = Instant::now();
    for u in updates {
        db.append_log(log, u).await.unwrap();
    }
    db.finish_log(log).await.unwrap();
    let append = t.elapsed();
    let t = Instant::now();
    let compacted = db.compress_log(log).await.unwrap();
    let compact = t.elapsed();
    let (chunks, stored) = db.log_chunk_stats(log).await.unwrap();
    let t = Instant::now();
    let mut read = 0usize;
    let mut first = 0i64;
    while first < LINES as i64 {
        let s = db.get_log_lines(log, first, first + 9_999).await.unwrap();
        read += s.len();
        first += 10_000;
    }
    let read_t = t.elapsed();
    assert_eq!(read, bytes);
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "{label:<18} append {:>7.1} MiB/s ({:>5.2} s, {} updates) | compaction {:>5.2} s ({compacted} groups) | \
         {chunks} chunks, {:.2} MiB stored, ratio {:.1}x | read {:>7.1} MiB/s",
        mib / append.as_secs_f64(),
        append.as_secs_f64(),
        updates.len(),
        compact.as_secs_f64(),
        stored as f64 / (1024.0 * 1024.0),
        bytes as f64 / stored as f64,
        mib / read_t.as_secs_f64(),
    );
}

fn main() {
    let updates = updates();
    // Pure compression speed of the same text in 64 KiB pieces (no database).
    let big = updates_of(Some(655));
    for m in [
        LogCompression::Zstd,
        LogCompression::Gz,
        LogCompression::Lz4,
    ] {
        let t = Instant::now();
        let out: usize = big
            .iter()
            .map(|u| m.compress(u.as_bytes()).unwrap().len())
            .sum();
        println!(
            "compress-only {:<5} {:>7.1} MiB/s ({:.2} MiB out)",
            m.name(),
            50.0 / t.elapsed().as_secs_f64(),
            out as f64 / 1048576.0
        );
    }
    let methods = std::env::var("BB_BENCH_METHODS").unwrap_or_else(|_| "zstd,gz,lz4,raw".into());
    async_std::task::block_on(async {
        for name in methods.split(',') {
            let method: LogCompression = name.parse().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut db = Db::connect("sqlite:///state.sqlite", dir.path())
                .await
                .unwrap();
            db.upgrade().await.unwrap();
            run(&mut db, method, &updates, &format!("sqlite/{name}")).await;
            // The same text when the engine coalesces queued updates into ~64 KiB appends.
            run(&mut db, method, &big, &format!("sqlite/{name}/64K")).await;
            db.close().await.unwrap();
            let size: u64 = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum();
            println!(
                "{:<18} database files {:.1} MiB",
                format!("sqlite/{name}"),
                size as f64 / 1048576.0
            );
        }
        if let Ok(server) = std::env::var("BUILDBOT_TEST_PG_URL") {
            let name = format!("bbbench_logs_{}", std::process::id());
            let admin = sea_orm::Database::connect(format!("{server}/postgres"))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let mut db = Db::connect(&format!("{server}/{name}"), Path::new("/"))
                .await
                .unwrap();
            db.upgrade().await.unwrap();
            run(&mut db, LogCompression::Zstd, &updates, "postgres/zstd").await;
            db.close().await.unwrap();
            admin
                .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .unwrap();
        } else {
            println!("SKIP: BUILDBOT_TEST_PG_URL not set (no PostgreSQL run)");
        }
    });
}
