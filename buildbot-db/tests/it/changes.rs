//! Changes and source stamps.

use buildbot_db::*;
use serde_json::json;

use crate::db_tests;
use crate::harness::Ctx;

async fn sourcestamps_dedup(ctx: Ctx) {
    let db = &ctx.db;
    let a = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(Some(""), Some(""), ""))
        .await
        .expect("a");
    let b = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(Some(""), Some(""), ""))
        .await
        .expect("b");
    let c = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(None, None, ""))
        .await
        .expect("c");
    assert_eq!(a, b);
    assert_ne!(a, c, "'' and NULL differ");
    let mut p = SourceStampSpec::new(Some("main"), Some("abc"), "r");
    p.patch = Some(Patch::new(1, b"--- a\n+++ b\n".to_vec()));
    let p1 = db.find_or_create_sourcestamp(&p).await.expect("p1");
    let p2 = db.find_or_create_sourcestamp(&p).await.expect("p2");
    assert_ne!(p1, p2, "patched stamps are never shared");
    let row = db.get_sourcestamp(p1).await.expect("g").expect("row");
    let (_, patch) = row.patch.expect("patch");
    assert_eq!(patch.body, b"--- a\n+++ b\n");
    assert_eq!(patch.level, 1);
    assert_eq!(db.list_sourcestamps(None, None).await.expect("l").len(), 4);
    assert_eq!(
        db.get_sourcestamps(&[c, a])
            .await
            .expect("g")
            .iter()
            .map(|s| s.ssid)
            .collect::<Vec<_>>(),
        vec![c, a]
    );
}

async fn change_lifecycle(ctx: Ctx) {
    let db = &ctx.db;
    let mut ch = NewChange::new("Octo Cat <octo@example.com>", "fix things");
    ch.branch = Some("main".into());
    ch.revision = Some("abc123".into());
    ch.repository = "https://example.invalid/repo.git".into();
    ch.project = "demo".into();
    ch.files = vec!["a.txt".into(), "dir/b.rs".into()];
    ch.properties.insert("ticket".into(), json!("JIRA-1"));
    ch.properties.insert("flag".into(), json!(true));
    ch.when_timestamp = Some(1_700_000_000);
    ch.src = Some("git".into());
    let c1 = db.add_change(&ch).await.expect("c1");
    ch.revision = Some("def456".into());
    let c2 = db.add_change(&ch).await.expect("c2");
    let mut other = ch.clone();
    other.branch = None;
    let c3 = db.add_change(&other).await.expect("c3");
    let r1 = db.get_change(c1).await.expect("g").expect("row");
    let r2 = db.get_change(c2).await.expect("g").expect("row");
    let r3 = db.get_change(c3).await.expect("g").expect("row");
    assert!(r1.parent_changeids.is_empty());
    assert_eq!(r2.parent_changeids, vec![c1]);
    assert!(r3.parent_changeids.is_empty(), "different branch (NULL)");
    assert_eq!(r1.files, vec!["a.txt".to_owned(), "dir/b.rs".to_owned()]);
    assert_eq!(
        r1.properties["ticket"],
        (json!("JIRA-1"), "Change".to_owned())
    );
    assert_eq!(r1.when_timestamp, 1_700_000_000);
    let ss = db
        .get_sourcestamp(r1.sourcestampid)
        .await
        .expect("ss")
        .expect("row");
    assert_eq!(ss.branch.as_deref(), Some("main"));
    assert_eq!(ss.revision.as_deref(), Some("abc123"));
    assert_eq!(ss.project, "demo");
    // Same author/src → one user for all three changes.
    let u = db.change_users(c1).await.expect("cu");
    assert_eq!(u.len(), 1);
    assert_eq!(db.change_users(c2).await.expect("cu"), u);
    let user = db.get_user(u[0]).await.expect("u").expect("row");
    assert_eq!(
        user.attributes.get("git").map(String::as_str),
        Some("Octo Cat <octo@example.com>")
    );
    // No src → no change users.
    let c4 = db
        .add_change(&NewChange::new("someone", "x"))
        .await
        .expect("c4");
    assert!(db.change_users(c4).await.expect("cu").is_empty());
    assert_eq!(db.latest_change_id().await.expect("l"), Some(c4));
    let main = db
        .list_changes(&Query::new().eq("branch", "main"))
        .await
        .expect("l");
    assert_eq!(main.len(), 2);
    assert_eq!(
        db.changes_for_sourcestamp(r1.sourcestampid)
            .await
            .expect("s")
            .len(),
        1
    );
    assert_eq!(db.prune_changes(2).await.expect("prune"), 2);
    let left: Vec<_> = db
        .list_changes(&Query::new())
        .await
        .expect("l")
        .into_iter()
        .map(|c| c.changeid)
        .collect();
    assert_eq!(left, vec![c3, c4]);
}

db_tests! {
    sourcestamps => sourcestamps_dedup,
    changes => change_lifecycle,
}
