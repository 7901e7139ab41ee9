//! Build-request claiming: latency of one "pick the next pending request and claim it" on an
//! idle database with 25,000 pending requests, and throughput of two masters (separate
//! pools) draining 2,000 requests concurrently. SQLite always, PostgreSQL when
//! `BUILDBOT_TEST_PG_URL` is set, MariaDB when `BUILDBOT_TEST_MYSQL_URL` is set.
//!
//! `cargo bench -p buildbot --bench db_claims`
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use buildbot_db::{BuilderId, ClaimOutcome, Db, MasterId, NewBuildset};

async fn fill(db: &Db, builder: BuilderId, n: usize) {
    let bs = NewBuildset::new("bench", vec![], vec![builder]);
    for _ in 0..n / 50 {
        let futs: Vec<_> = (0..50).map(|_| db.add_buildset(&bs)).collect();
        for r in futures::future::join_all(futs).await {
            r.unwrap();
        }
    }
}

async fn drain(db: Db, master: MasterId, builder: BuilderId) -> (usize, Vec<Duration>) {
    let mut won = 0;
    let mut lat = Vec::new();
    loop {
        let t = Instant::now();
        let p = db
            .pending_buildrequests(Some(builder), Some(1))
            .await
            .unwrap();
        let Some(r) = p.first() else { break };
        if db
            .claim_buildrequests(&[r.buildrequestid], master, None)
            .await
            .unwrap()
            == ClaimOutcome::Claimed
        {
            won += 1;
            lat.push(t.elapsed());
        }
    }
    (won, lat)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3
}

async fn bench(label: &str, url: &str, basedir: &Path) {
    let db = Db::connect(url, basedir).await.unwrap();
    db.upgrade().await.unwrap();
    let m1 = db.find_or_create_master("bench:/1").await.unwrap();
    let m2 = db.find_or_create_master("bench:/2").await.unwrap();
    let big = db.find_or_create_builder("big").await.unwrap();
    let t = Instant::now();
    fill(&db, big, 25_000).await;
    let fill_t = t.elapsed();
    // Latency: 500 sequential pick+claim with 25k pending.
    let mut lat = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        let p = db.pending_buildrequests(Some(big), Some(1)).await.unwrap();
        assert_eq!(
            db.claim_buildrequests(&[p[0].buildrequestid], m1, None)
                .await
                .unwrap(),
            ClaimOutcome::Claimed
        );
        lat.push(t.elapsed());
    }
    let (p50, p99) = (pct(&mut lat, 0.5), pct(&mut lat, 0.99));
    // Contention: two pools drain 2,000 requests of another builder.
    let small = db.find_or_create_builder("small").await.unwrap();
    fill(&db, small, 2_000).await;
    let d1 = Db::connect(url, basedir).await.unwrap();
    let d2 = Db::connect(url, basedir).await.unwrap();
    let t = Instant::now();
    let a = async_std::task::spawn(drain(d1, m1, small));
    let b = async_std::task::spawn(drain(d2, m2, small));
    let ((w1, mut l1), (w2, l2)) = futures::join!(a, b);
    let el = t.elapsed();
    assert_eq!(w1 + w2, 2_000);
    l1.extend(l2);
    println!(
        "{label:<9} insert 25k requests {:>5.2} s ({:>6.0}/s) | pick+claim with 25k pending: p50 {p50:.2} ms, p99 {p99:.2} ms | \
         2 masters racing for 2,000: {:>6.0} claims/s ({w1}+{w2}), p50 {:.2} ms",
        fill_t.as_secs_f64(),
        25_000.0 / fill_t.as_secs_f64(),
        2_000.0 / el.as_secs_f64(),
        pct(&mut l1, 0.5),
    );
}

fn main() {
    async_std::task::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        bench("sqlite", "sqlite:///state.sqlite", dir.path()).await;
        for (var, kind) in [
            ("BUILDBOT_TEST_PG_URL", "postgres"),
            ("BUILDBOT_TEST_MYSQL_URL", "mariadb"),
        ] {
            let Ok(server) = std::env::var(var) else {
                println!("SKIP: {var} not set");
                continue;
            };
            let name = format!("bbbench_claims_{}", std::process::id());
            let admin_db = if kind == "postgres" {
                "postgres"
            } else {
                "mysql"
            };
            let admin = sea_orm::Database::connect(format!("{server}/{admin_db}"))
                .await
                .unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            bench(kind, &format!("{server}/{name}"), dir.path()).await;
            let drop = if kind == "postgres" {
                format!("DROP DATABASE {name} WITH (FORCE)")
            } else {
                format!("DROP DATABASE {name}")
            };
            admin.execute_unprepared(&drop).await.unwrap();
        }
    });
}
