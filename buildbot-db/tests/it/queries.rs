//! The generic REST query (filters, order, paging).

use buildbot_db::*;

use crate::db_tests;
use crate::harness::{Ctx, world};

async fn filters_and_order(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    for i in 0..5 {
        let (b, _) = db
            .add_build(
                w.builder,
                w.brid,
                Some(w.worker),
                w.master,
                &format!("s{i}"),
            )
            .await
            .expect("b");
        if i % 2 == 0 {
            db.finish_build(
                b,
                if i == 0 {
                    Results::Failure
                } else {
                    Results::Success
                },
            )
            .await
            .expect("f");
        }
    }
    let all = db.list_builds(&Query::new()).await.expect("all");
    assert_eq!(all.len(), 6);
    let done = db
        .list_builds(&Query::new().eq("complete", true))
        .await
        .expect("complete");
    assert_eq!(done.len(), 3);
    let running = db
        .list_builds(&Query::new().eq("complete", "false"))
        .await
        .expect("running");
    assert_eq!(running.len(), 3);
    let failed = db
        .list_builds(&Query::new().eq("results", 2))
        .await
        .expect("failed");
    assert_eq!(failed.len(), 1);
    let page = db
        .list_builds(
            &Query::new()
                .eq("builderid", w.builder)
                .order("number", true)
                .limit(2)
                .offset(1),
        )
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|b| b.number).collect::<Vec<_>>(),
        vec![5, 4]
    );
    let ge = db
        .list_builds(&Query::new().filter("number", Op::Ge, [4]))
        .await
        .expect("ge");
    assert_eq!(ge.len(), 3);
    let inn = db
        .list_builds(&Query::new().filter("number", Op::In, [1, 3]))
        .await
        .expect("in");
    assert_eq!(inn.len(), 2);
    let ne = db
        .list_builds(&Query::new().filter("number", Op::Ne, [1, 3]))
        .await
        .expect("ne");
    assert_eq!(ne.len(), 4);
    let contains = db
        .list_builds(&Query::new().filter("state_string", Op::Contains, ["s1", "s3"]))
        .await
        .expect("c");
    assert_eq!(contains.len(), 2);
    let null = db
        .list_builds(&Query::new().eq("results", "null"))
        .await
        .expect("null");
    assert_eq!(null.len(), 3);
    match db.list_builds(&Query::new().eq("nonsense", 1)).await {
        Err(DbError::UnknownField {
            resource: "builds",
            field,
        }) => assert_eq!(field, "nonsense"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        db.list_builds(&Query::new().eq("number", "abc")).await,
        Err(DbError::BadFilterValue { .. })
    ));
    assert!(
        db.list_builds(&Query::new().order("bogus", false))
            .await
            .is_err()
    );
    // Other resources accept their REST names.
    assert_eq!(
        db.list_steps(&Query::new().eq("buildid", w.build).eq("complete", false))
            .await
            .expect("s")
            .len(),
        1
    );
    assert_eq!(
        db.list_buildrequests(&Query::new().eq("claimed", true).eq("complete", false))
            .await
            .expect("r")
            .len(),
        1
    );
    assert_eq!(
        db.list_buildrequests(&Query::new().eq("claimed", false))
            .await
            .expect("r")
            .len(),
        0
    );
    assert_eq!(
        db.list_buildsets(&Query::new().eq("complete", false).eq("results", -1))
            .await
            .expect("bs")
            .len(),
        1
    );
    assert_eq!(
        db.list_logs(&Query::new().eq("type", "s"))
            .await
            .expect("l")
            .len(),
        0
    );
    assert_eq!(
        db.list_workers(&Query::new().eq("name", "w1"), None, None)
            .await
            .expect("w")
            .len(),
        1
    );
    assert_eq!(
        db.list_builders(&Query::new().filter("name", Op::Contains, ["b"]), None)
            .await
            .expect("b")
            .len(),
        1
    );
    assert_eq!(
        db.list_masters(&Query::new().eq("masterid", w.master))
            .await
            .expect("m")
            .len(),
        1
    );
    assert_eq!(
        db.list_changes(&Query::new().order("changeid", true).limit(1))
            .await
            .expect("c")
            .len(),
        0
    );
    assert!(matches!(
        db.list_steps(&Query::new().eq("claimed", true)).await,
        Err(DbError::UnknownField { .. })
    ));
}

db_tests! {
    rest_queries => filters_and_order,
}
