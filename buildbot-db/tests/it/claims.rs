//! Two masters (separate pools) racing for the same requests; concurrent SQLite writers.

use std::collections::BTreeSet;

use buildbot_db::*;

use crate::db_tests;
use crate::harness::Ctx;

async fn race(db: Db, master: MasterId, builder: BuilderId) -> Vec<BuildRequestId> {
    let mut won = Vec::new();
    for _ in 0..10_000 {
        let pending = db
            .pending_buildrequests(Some(builder), Some(3))
            .await
            .expect("pending");
        if pending.is_empty() {
            break;
        }
        // Take one or two at a time, like a distributor merging requests.
        let want: Vec<_> = pending
            .iter()
            .take(1 + (won.len() % 2))
            .map(|r| r.buildrequestid)
            .collect();
        match db
            .claim_buildrequests(&want, master, None)
            .await
            .expect("claim")
        {
            ClaimOutcome::Claimed => won.extend(want),
            _ => async_std::task::yield_now().await,
        }
    }
    won
}

async fn two_masters_claim_each_request_once(ctx: Ctx) {
    let db = &ctx.db;
    let builder = db.find_or_create_builder("b").await.expect("b");
    let m1 = db.find_or_create_master("h:/1").await.expect("m1");
    let m2 = db.find_or_create_master("h:/2").await.expect("m2");
    let mut all = BTreeSet::new();
    for _ in 0..10 {
        let bs = NewBuildset::new("r", vec![], vec![builder]);
        let futs: Vec<_> = (0..100).map(|_| db.add_buildset(&bs)).collect();
        for r in futures::future::join_all(futs).await {
            all.insert(r.expect("bs").1[&builder]);
        }
    }
    assert_eq!(all.len(), 1000);
    let db1 = ctx.connect_again().await;
    let db2 = ctx.connect_again().await;
    let t1 = async_std::task::spawn(race(db1, m1, builder));
    let t2 = async_std::task::spawn(race(db2, m2, builder));
    let (w1, w2) = futures::join!(t1, t2);
    let mut seen = BTreeSet::new();
    for id in w1.iter().chain(w2.iter()) {
        assert!(seen.insert(*id), "request {id} claimed twice");
    }
    assert_eq!(seen, all, "every request claimed exactly once");
    assert!(
        !w1.is_empty() && !w2.is_empty(),
        "both masters won some ({} / {})",
        w1.len(),
        w2.len()
    );
    let rows = db
        .list_buildrequests(&Query::new().eq("claimed", true))
        .await
        .expect("l");
    assert_eq!(rows.len(), 1000);
    let by_m1 = db
        .list_buildrequests(&Query::new().eq("claimed_by_masterid", m1))
        .await
        .expect("l");
    assert_eq!(by_m1.len(), w1.len());
}

db_tests! {
    claim_race => two_masters_claim_each_request_once,
}

/// Several pools writing to one SQLite file at once never see "database is locked".
#[test]
fn sqlite_concurrent_writers_never_locked() {
    async_std::task::block_on(async {
        let (ctx, _g) = crate::harness::fresh(crate::harness::Kind::Sqlite)
            .await
            .expect("sqlite");
        let w = crate::harness::world(&ctx.db).await;
        let mut tasks = Vec::new();
        for p in 0..4 {
            let db = ctx.connect_again().await;
            let step = w.step;
            let builder = w.builder;
            let master = w.master;
            tasks.push(async_std::task::spawn(async move {
                let log = db
                    .add_log(step, &format!("log{p}"), LogType::Text)
                    .await
                    .expect("log");
                for i in 0..200 {
                    db.append_log(log, &format!("pool {p} line {i}\n"))
                        .await
                        .expect("append");
                    let (_, brids) = db
                        .add_buildset(&NewBuildset::new("r", vec![], vec![builder]))
                        .await
                        .expect("bs");
                    db.claim_buildrequests(&[brids[&builder]], master, None)
                        .await
                        .expect("claim");
                    db.set_state(
                        db.get_object_id("o", "C").await.expect("o"),
                        &format!("k{p}"),
                        &serde_json::json!(i),
                    )
                    .await
                    .expect("state");
                }
                (log, db)
            }));
        }
        for t in tasks {
            let (log, db) = t.await;
            assert_eq!(
                db.get_log(log).await.expect("g").expect("row").num_lines,
                200
            );
        }
    });
}
