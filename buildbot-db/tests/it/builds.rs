//! Buildsets, build requests, builds, steps, properties, build data.

use buildbot_db::*;
use serde_json::json;

use crate::db_tests;
use crate::harness::{Ctx, world};

async fn buildset_submission_and_completion(ctx: Ctx) {
    let db = &ctx.db;
    let m = db.find_or_create_master("h:/a").await.expect("m");
    let b1 = db.find_or_create_builder("b1").await.expect("b1");
    let b2 = db.find_or_create_builder("b2").await.expect("b2");
    let ss = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(
            Some("main"),
            Some("abc"),
            "https://example.invalid/r.git",
        ))
        .await
        .expect("ss");
    let mut bs = NewBuildset::new(
        "A build was forced by 'tester <t@example.com>': spec good",
        vec![ss],
        vec![b1, b2],
    );
    bs.properties.insert(
        "reason".into(),
        (json!("spec good"), "Force Build Form".into()),
    );
    bs.properties
        .insert("scheduler".into(), (json!("force"), "Scheduler".into()));
    bs.priority = 5;
    let (bsid, brids) = db.add_buildset(&bs).await.expect("add");
    assert_eq!(brids.len(), 2);
    let row = db.get_buildset(bsid).await.expect("g").expect("row");
    assert_eq!(row.results, Some(-1));
    assert!(!row.complete);
    assert_eq!(row.sourcestamps, vec![ss]);
    let props = db.get_buildset_properties(bsid).await.expect("props");
    assert_eq!(
        props["reason"],
        (json!("spec good"), "Force Build Form".to_owned())
    );
    let br = db
        .get_buildrequest(brids[&b1])
        .await
        .expect("g")
        .expect("row");
    assert_eq!(
        (br.results, br.priority, br.claimed, br.complete),
        (-1, 5, false, false)
    );
    assert_eq!(br.submitted_at, row.submitted_at);

    // Claim both, complete one → buildset still pending.
    assert_eq!(
        db.claim_buildrequests(&[brids[&b1], brids[&b2]], m, None)
            .await
            .expect("c"),
        ClaimOutcome::Claimed
    );
    assert!(
        db.complete_buildrequests(&[brids[&b1]], Results::Success, None)
            .await
            .expect("done")
    );
    assert_eq!(db.maybe_complete_buildset(bsid).await.expect("m"), None);
    // Completing an already-complete request changes nothing (all-must-match).
    assert!(
        !db.complete_buildrequests(&[brids[&b1], brids[&b2]], Results::Failure, None)
            .await
            .expect("conflict")
    );
    assert!(
        !db.get_buildrequest(brids[&b2])
            .await
            .expect("g")
            .expect("r")
            .complete
    );
    assert!(
        db.complete_buildrequests(&[brids[&b2]], Results::Retry, None)
            .await
            .is_err()
    );
    assert!(
        db.complete_buildrequests(&[brids[&b2]], Results::Failure, None)
            .await
            .expect("done")
    );
    assert_eq!(
        db.maybe_complete_buildset(bsid).await.expect("m"),
        Some(Results::Failure)
    );
    assert_eq!(
        db.maybe_complete_buildset(bsid).await.expect("m"),
        None,
        "only once"
    );
    let row = db.get_buildset(bsid).await.expect("g").expect("row");
    assert!(row.complete);
    assert_eq!(row.results, Some(2));
    let br = db
        .get_buildrequest(brids[&b1])
        .await
        .expect("g")
        .expect("row");
    assert!(br.claimed, "claims are kept after completion");
    assert_eq!(br.claimed_by_masterid, Some(m));
    assert_eq!(br.results, 0);

    // Priority changes and cancel.
    let (bsid2, brids2) = db
        .add_buildset(&NewBuildset::new("x", vec![ss], vec![b1]))
        .await
        .expect("bs2");
    db.set_buildrequest_priority(brids2[&b1], 9)
        .await
        .expect("prio");
    assert_eq!(
        db.get_buildrequest(brids2[&b1])
            .await
            .expect("g")
            .expect("r")
            .priority,
        9
    );
    match db
        .cancel_buildrequest(brids2[&b1], m)
        .await
        .expect("cancel")
    {
        CancelOutcome::Cancelled {
            bsid,
            buildset_results,
        } => {
            assert_eq!(bsid, bsid2);
            assert_eq!(buildset_results, Some(Results::Cancelled));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        db.cancel_buildrequest(brids2[&b1], m).await.expect("again"),
        CancelOutcome::AlreadyClaimed
    );
    // Buildset without builders.
    let (bsid3, brids3) = db
        .add_buildset(&NewBuildset::new("none", vec![], vec![]))
        .await
        .expect("empty");
    assert!(brids3.is_empty());
    assert_eq!(
        db.maybe_complete_buildset(bsid3).await.expect("m"),
        Some(Results::Success)
    );
}

async fn pending_order_and_unclaim(ctx: Ctx) {
    let db = &ctx.db;
    let m1 = db.find_or_create_master("h:/1").await.expect("m1");
    let m2 = db.find_or_create_master("h:/2").await.expect("m2");
    let b = db.find_or_create_builder("b").await.expect("b");
    let other = db.find_or_create_builder("o").await.expect("o");
    let mut ids = Vec::new();
    for prio in [0, 5, 0, 5, 1] {
        let mut bs = NewBuildset::new("r", vec![], vec![b, other]);
        bs.priority = prio;
        let (_, brids) = db.add_buildset(&bs).await.expect("bs");
        ids.push(brids[&b]);
    }
    let pending: Vec<_> = db
        .pending_buildrequests(Some(b), None)
        .await
        .expect("p")
        .into_iter()
        .map(|r| r.buildrequestid)
        .collect();
    assert_eq!(pending, vec![ids[1], ids[3], ids[4], ids[0], ids[2]]);
    let two: Vec<_> = db
        .pending_buildrequests(Some(b), Some(2))
        .await
        .expect("p")
        .into_iter()
        .map(|r| r.buildrequestid)
        .collect();
    assert_eq!(two, vec![ids[1], ids[3]]);
    assert_eq!(
        db.pending_buildrequests(None, None)
            .await
            .expect("all")
            .len(),
        10
    );
    let by_builder = db.builders_with_pending_requests().await.expect("bwp");
    assert_eq!(by_builder.len(), 2);
    assert!(by_builder.iter().all(|(_, prio, _)| *prio == 5));
    assert_eq!(
        db.claim_buildrequests(&[ids[1], ids[3]], m1, None)
            .await
            .expect("c"),
        ClaimOutcome::Claimed
    );
    // Overlapping claim by another master: all or nothing.
    assert_eq!(
        db.claim_buildrequests(&[ids[4], ids[3]], m2, None)
            .await
            .expect("c"),
        ClaimOutcome::AlreadyClaimed
    );
    assert!(
        !db.get_buildrequest(ids[4])
            .await
            .expect("g")
            .expect("r")
            .claimed
    );
    // Unclaim only own claims.
    db.unclaim_buildrequests(&[ids[1]], m2)
        .await
        .expect("not mine");
    assert!(
        db.get_buildrequest(ids[1])
            .await
            .expect("g")
            .expect("r")
            .claimed
    );
    db.unclaim_buildrequests(&[ids[1]], m1).await.expect("mine");
    let pending: Vec<_> = db
        .pending_buildrequests(Some(b), None)
        .await
        .expect("p")
        .into_iter()
        .map(|r| r.buildrequestid)
        .collect();
    assert_eq!(pending, vec![ids[1], ids[4], ids[0], ids[2]]);
}

async fn builds_steps_properties(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    let b = db.get_build(w.build).await.expect("g").expect("row");
    assert_eq!(
        (
            b.number,
            b.state_string.as_str(),
            b.results,
            b.locks_duration_s
        ),
        (1, "created", None, 0)
    );
    let (b2, n2) = db
        .add_build(w.builder, w.brid, Some(w.worker), w.master, "created")
        .await
        .expect("b2");
    assert_eq!(n2, 2);
    // Concurrent number allocation: numbers stay unique.
    let futs: Vec<_> = (0..8)
        .map(|_| db.add_build(w.builder, w.brid, None, w.master, "created"))
        .collect();
    let mut nums: Vec<i64> = futures::future::join_all(futs)
        .await
        .into_iter()
        .map(|r| r.expect("add").1)
        .collect();
    nums.sort();
    nums.dedup();
    assert_eq!(nums.len(), 8);
    assert_eq!(
        db.get_build_by_number(w.builder, 2)
            .await
            .expect("g")
            .expect("row")
            .buildid,
        b2
    );
    db.set_build_state_string(w.build, "building")
        .await
        .expect("ss");
    db.add_build_locks_duration(w.build, 3)
        .await
        .expect("locks");
    let mut props = Properties::new();
    props.insert(
        "reason".into(),
        (json!("spec good"), "Force Build Form".into()),
    );
    props.insert("buildnumber".into(), (json!(1), "Build".into()));
    props.insert(
        "owners".into(),
        (json!(["tester <t@example.com>"]), "Build".into()),
    );
    let mut changed = db
        .set_build_properties(w.build, &props)
        .await
        .expect("props");
    changed.sort();
    assert_eq!(changed, vec!["buildnumber", "owners", "reason"]);
    assert!(
        db.set_build_properties(w.build, &props)
            .await
            .expect("same")
            .is_empty()
    );
    props.insert("buildnumber".into(), (json!(1), "Other".into()));
    assert_eq!(
        db.set_build_properties(w.build, &props).await.expect("src"),
        vec!["buildnumber"]
    );
    let got = db.get_build_properties(w.build).await.expect("get");
    assert_eq!(
        got["owners"],
        (json!(["tester <t@example.com>"]), "Build".to_owned())
    );
    db.set_build_data(w.build, "coverage", b"\x00\x01data", "ExtrasStep")
        .await
        .expect("data");
    db.set_build_data(w.build, "coverage", b"\x00dat", "ExtrasStep")
        .await
        .expect("upsert");
    let d = db
        .get_build_data(w.build, "coverage")
        .await
        .expect("g")
        .expect("row");
    assert_eq!((d.value.as_deref(), d.length), (Some(&b"\x00dat"[..]), 4));
    assert_eq!(db.list_build_data(w.build).await.expect("l")[0].value, None);

    // Steps: numbering and name uniqueness.
    let (s2, n, name) = db
        .add_step(w.build, "shell", "pending")
        .await
        .expect("dup name");
    assert_eq!((n, name.as_str()), (1, "shell_1"));
    let long = "x".repeat(50);
    let (_, _, n1) = db.add_step(w.build, &long, "pending").await.expect("long");
    let (_, _, n2) = db
        .add_step(w.build, &long, "pending")
        .await
        .expect("long dup");
    assert_eq!(n1, long);
    assert_eq!(n2, format!("{}_1", "x".repeat(48)));
    db.start_step(s2, false).await.expect("start");
    db.set_step_locks_acquired(s2).await.expect("locks");
    db.set_step_state_string(s2, "'sh -c ...'")
        .await
        .expect("ss");
    assert!(
        db.add_step_url(s2, "docs", "http://127.0.0.1/docs")
            .await
            .expect("url")
    );
    assert!(
        !db.add_step_url(s2, "docs", "http://127.0.0.1/docs")
            .await
            .expect("dup url")
    );
    db.add_step_url(s2, "more", "http://x/")
        .await
        .expect("url2");
    db.finish_step(s2, Results::Failure, true)
        .await
        .expect("finish");
    let s = db.get_step(s2).await.expect("g").expect("row");
    assert_eq!(
        s.urls,
        vec![
            ("docs".into(), "http://127.0.0.1/docs".into()),
            ("more".into(), "http://x/".into())
        ]
    );
    assert!(s.hidden && s.complete() && s.started_at.is_some() && s.locks_acquired_at.is_some());
    assert_eq!(s.results, Some(2));
    let steps = db
        .list_steps(&Query::new().eq("buildid", w.build).order("number", false))
        .await
        .expect("l");
    assert_eq!(
        steps.iter().map(|s| s.number).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    db.finish_build(w.build, Results::Success)
        .await
        .expect("finish");
    let b = db.get_build(w.build).await.expect("g").expect("row");
    assert!(b.complete());
    assert_eq!(
        (b.results, b.state_string.as_str(), b.locks_duration_s),
        (Some(0), "building", 3)
    );
}

db_tests! {
    buildsets => buildset_submission_and_completion,
    pending => pending_order_and_unclaim,
    builds_and_steps => builds_steps_properties,
}
