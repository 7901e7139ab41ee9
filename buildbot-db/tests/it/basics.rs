//! Connecting, masters, builders, workers, services, state, users, test results.

use std::path::Path;

use buildbot_db::*;
use serde_json::json;

use crate::db_tests;
use crate::harness::{Ctx, world};

#[test]
fn malformed_url_is_a_clear_error() {
    async_std::task::block_on(async {
        let e = Db::connect("postgresql://bb:s3cret@db.example", Path::new("/tmp"))
            .await
            .expect_err("bad");
        let msg = e.to_string();
        assert!(
            msg.starts_with("could not parse database URL 'postgresql://bb:****@db.example'"),
            "{msg}"
        );
        assert!(!msg.contains("s3cret"));
        assert!(matches!(e, DbError::BadUrl { .. }));
        let e = Db::connect("mysql://u@h/db?storage_engine=MyISAM", Path::new("/tmp"))
            .await
            .expect_err("engine");
        assert!(e.to_string().contains("InnoDB"), "{e}");
    });
}

#[test]
fn unreachable_server_names_host_and_masks_password() {
    async_std::task::block_on(async {
        for url in [
            "postgresql://bb:s3cret@127.0.0.1:1/bbdb",
            "mysql://bb:s3cret@127.0.0.1:1/bbdb",
        ] {
            let e = Db::connect(url, Path::new("/tmp"))
                .await
                .expect_err("unreachable");
            let msg = e.to_string();
            assert!(matches!(e, DbError::Connect { .. }), "{msg}");
            assert!(msg.contains("127.0.0.1:1/bbdb"), "{msg}");
            assert!(!msg.contains("s3cret"), "{msg}");
        }
    });
}

#[test]
fn sqlite_bad_locations_name_the_file() {
    async_std::task::block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let e = Db::connect("sqlite:///nodir/state.sqlite", dir.path())
            .await
            .expect_err("no dir");
        assert!(e.to_string().contains("nodir/state.sqlite"), "{e}");
        assert!(!dir.path().join("nodir").exists());
        // A file on a read-only file system.
        let e = Db::connect("sqlite:////proc/state.sqlite", dir.path())
            .await
            .expect_err("ro fs");
        assert!(e.to_string().contains("/proc/state.sqlite"), "{e}");
        // A read-only file. Permissions do not stop root, the immutable flag does.
        let f = dir.path().join("ro.sqlite");
        {
            let db = Db::connect("sqlite:///ro.sqlite", dir.path())
                .await
                .expect("create");
            db.upgrade().await.expect("upgrade");
            db.close().await.expect("close");
        }
        let _ = std::fs::remove_file(dir.path().join("ro.sqlite-wal"));
        let _ = std::fs::remove_file(dir.path().join("ro.sqlite-shm"));
        let before = std::fs::read(&f).expect("read");
        let mut perm = std::fs::metadata(&f).expect("meta").permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&f, perm).expect("chmod");
        let immutable = if unsafe_is_root() {
            Immutable::set(&f)
        } else {
            Some(Immutable(None))
        };
        if immutable.is_none() {
            eprintln!("SKIP: running as root and `chattr +i` is not available here");
        } else {
            let e = Db::connect("sqlite:///ro.sqlite", dir.path())
                .await
                .expect_err("ro file");
            assert!(e.to_string().contains("ro.sqlite"), "{e}");
            assert_eq!(std::fs::read(&f).expect("read"), before, "nothing written");
        }
        // Memory databases work for tests.
        let db = Db::connect("sqlite://", dir.path()).await.expect("memory");
        db.upgrade().await.expect("upgrade memory");
        assert_eq!(db.schema_status().await.expect("s"), SchemaStatus::UpToDate);
        assert_eq!(db.backend(), Backend::Sqlite);
    });
}

/// `chattr +i` on a file for as long as the guard lives (root only; `None` when the file
/// system or the tool does not support it).
struct Immutable(Option<std::path::PathBuf>);

impl Immutable {
    fn set(path: &Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(Some(path.to_owned())))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(p)
                .status();
        }
    }
}

fn unsafe_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn sqlite_schema_is_byte_identical_to_python() {
    async_std::task::block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::connect("sqlite:///state.sqlite", dir.path())
            .await
            .expect("c");
        db.upgrade().await.expect("u");
        db.close().await.expect("close");
        let url = format!("sqlite://{}", dir.path().join("state.sqlite").display());
        let c = sea_orm::Database::connect(url.as_str()).await.expect("raw");
        use sea_orm::ConnectionTrait;
        let rows = c
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT IN ('seaql_migrations', 'buildrequests_pending') AND name NOT LIKE 'sqlite_%'",
            ))
            .await
            .expect("q");
        let mut ours: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).expect("s"))
            .collect();
        let fixture = include_str!("../fixtures/schema-sqlite.sql");
        let mut theirs: Vec<String> = fixture
            .split(";\n")
            .map(|s| s.trim().trim_end_matches(';').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours.len(), 43 + 66);
        assert_eq!(ours, theirs);
    });
}

async fn masters_lifecycle(ctx: Ctx) {
    let db = &ctx.db;
    assert!(!db.engine_version().await.expect("version").is_empty());
    db.vacuum().await.expect("vacuum on an empty database");
    let m = db.find_or_create_master("h:/a").await.expect("m");
    assert_eq!(db.find_or_create_master("h:/a").await.expect("again"), m);
    let row = db.get_master(m).await.expect("g").expect("row");
    assert!(!row.active);
    assert!(db.set_master_state(m, true).await.expect("on"));
    assert!(!db.set_master_state(m, true).await.expect("still on"));
    db.master_heartbeat(m).await.expect("hb");
    assert!(db.get_master(m).await.expect("g").expect("r").active);
    assert!(db.stale_masters(60).await.expect("stale").is_empty());
    // Everything is stale relative to "the future".
    assert_eq!(db.stale_masters(-10).await.expect("stale").len(), 1);
    let flipped = db.expire_masters(-10).await.expect("expire");
    assert_eq!(flipped.len(), 1);
    assert!(!flipped[0].active);
    let active = db
        .list_masters(&Query::new().eq("active", true))
        .await
        .expect("list");
    assert!(active.is_empty());
    assert_eq!(db.list_masters(&Query::new()).await.expect("all").len(), 1);
}

async fn dead_master_housekeeping(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    let other = db.find_or_create_master("h:/other").await.expect("other");
    let bm = db
        .add_builder_master(w.builder, w.master)
        .await
        .expect("bm");
    assert_eq!(
        db.add_builder_master(w.builder, w.master)
            .await
            .expect("bm2"),
        bm
    );
    db.worker_configured(w.worker, w.master, &[w.builder])
        .await
        .expect("conf");
    let sch = db.find_or_create_scheduler("force").await.expect("sch");
    assert_eq!(
        db.claim_scheduler(sch, w.master).await.expect("claim"),
        ServiceClaim::Owned
    );
    let cs = db
        .find_or_create_changesource("PBChangeSource:None")
        .await
        .expect("cs");
    db.claim_changesource(cs, w.master).await.expect("cs claim");
    db.start_step(w.step, true).await.expect("start");
    let log = db
        .add_log(w.step, "stdio", LogType::Stdio)
        .await
        .expect("log");
    db.append_log(log, "ohello\n").await.expect("append");
    // A second pending request claimed by the dead master, plus one claimed by another master.
    let (_, brids) = db
        .add_buildset(&NewBuildset::new("x", vec![], vec![w.builder]))
        .await
        .expect("bs2");
    let br2 = brids[&w.builder];
    db.claim_buildrequests(&[br2], w.master, None)
        .await
        .expect("c2");
    let (_, brids) = db
        .add_buildset(&NewBuildset::new("y", vec![], vec![w.builder]))
        .await
        .expect("bs3");
    let br3 = brids[&w.builder];
    db.claim_buildrequests(&[br3], other, None)
        .await
        .expect("c3");

    let hk = db.master_housekeeping(w.master).await.expect("hk");
    assert_eq!(hk.builders_stopped, vec![w.builder]);
    assert_eq!(hk.builds_finished, vec![w.build]);
    assert_eq!(hk.steps_finished, vec![w.step]);
    assert_eq!(hk.logs_finished, vec![log]);
    let mut unclaimed = hk.requests_unclaimed.clone();
    unclaimed.sort();
    assert_eq!(unclaimed, vec![w.brid, br2]);
    let b = db.get_build(w.build).await.expect("b").expect("row");
    assert_eq!(b.results, Some(i64::from(Results::Retry.code())));
    assert!(b.complete());
    assert!(db.get_log(log).await.expect("l").expect("row").complete);
    let pending: Vec<_> = db
        .pending_buildrequests(Some(w.builder), None)
        .await
        .expect("p")
        .into_iter()
        .map(|r| r.buildrequestid)
        .collect();
    assert_eq!(
        pending,
        vec![w.brid, br2],
        "the dead master's requests are claimable again"
    );
    assert!(
        db.get_buildrequest(br3)
            .await
            .expect("r3")
            .expect("row")
            .claimed,
        "other claims untouched"
    );
    assert!(
        db.list_builders(&Query::new(), Some(w.master))
            .await
            .expect("lb")
            .is_empty()
    );
    assert!(db.list_schedulers().await.expect("s")[0].masterid.is_none());
    assert!(
        db.list_changesources().await.expect("cs")[0]
            .masterid
            .is_none()
    );
    assert!(
        db.get_worker(w.worker)
            .await
            .expect("w")
            .expect("row")
            .configured_on
            .is_empty()
    );
}

async fn builders_and_projects(ctx: Ctx) {
    let db = &ctx.db;
    let m = db.find_or_create_master("h:/a").await.expect("m");
    let b = db.find_or_create_builder("good").await.expect("b");
    assert_eq!(db.find_or_create_builder("good").await.expect("b2"), b);
    let p = db.find_or_create_project("proj").await.expect("p");
    let mut info = BuilderInfo::new(vec!["t1".into(), "ok".into()]);
    info.description = Some("desc".into());
    info.projectid = Some(p);
    db.update_builder_info(b, &info).await.expect("info");
    db.update_builder_info(b, &info).await.expect("info twice");
    db.add_builder_master(b, m).await.expect("bm");
    let row = db.get_builder(b).await.expect("g").expect("row");
    assert_eq!(row.tags, vec!["t1".to_owned(), "ok".to_owned()]);
    assert_eq!(row.masterids, vec![m]);
    assert_eq!(row.projectid, Some(p));
    assert_eq!(db.builder_id_by_name("good").await.expect("n"), Some(b));
    db.remove_builder_master(b, m).await.expect("rm");
    assert!(
        db.get_builder(b)
            .await
            .expect("g")
            .expect("row")
            .masterids
            .is_empty()
    );
    db.update_project_info(p, "proj-slug", Some("d"), None, None)
        .await
        .expect("pi");
    assert_eq!(db.list_projects().await.expect("lp")[0].slug, "proj-slug");
    let cb = db.find_or_create_codebase(p, "main").await.expect("cb");
    assert_eq!(
        db.find_or_create_codebase(p, "main").await.expect("cb2"),
        cb
    );
}

async fn workers_lifecycle(ctx: Ctx) {
    let db = &ctx.db;
    let m = db.find_or_create_master("h:/a").await.expect("m");
    let b1 = db.find_or_create_builder("b1").await.expect("b1");
    let b2 = db.find_or_create_builder("b2").await.expect("b2");
    db.add_builder_master(b1, m).await.expect("bm1");
    db.add_builder_master(b2, m).await.expect("bm2");
    let w = db.find_or_create_worker("w1").await.expect("w");
    assert_eq!(db.find_or_create_worker("w1").await.expect("w"), w);
    db.worker_configured(w, m, &[b1, b2]).await.expect("conf");
    db.worker_configured(w, m, &[b2]).await.expect("conf diff");
    let info =
        json!({"admin": "Admin <a@b>\n", "host": "box\n", "access_uri": null, "version": "4.3.0"});
    db.set_worker_state(w, false, true, None)
        .await
        .expect("graceful");
    db.worker_connected(w, m, &info).await.expect("conn");
    db.worker_connected(w, m, &info).await.expect("conn twice");
    let row = db.get_worker(w).await.expect("g").expect("row");
    assert_eq!(row.configured_on, vec![(m, b2)]);
    assert_eq!(row.connected_to, vec![m]);
    assert_eq!(row.workerinfo, info);
    assert!(!row.graceful, "attach resets graceful");
    db.set_worker_state(w, true, false, Some("maintenance"))
        .await
        .expect("pause");
    let row = db.get_worker_by_name("w1").await.expect("g").expect("row");
    assert!(row.paused);
    assert_eq!(row.pause_reason.as_deref(), Some("maintenance"));
    assert_eq!(
        db.list_workers(&Query::new(), Some(b2), None)
            .await
            .expect("l")
            .len(),
        1
    );
    assert!(
        db.list_workers(&Query::new(), Some(b1), None)
            .await
            .expect("l")
            .is_empty()
    );
    assert_eq!(
        db.list_workers(&Query::new().eq("paused", true), None, Some(m))
            .await
            .expect("l")
            .len(),
        1
    );
    db.worker_disconnected(w, m).await.expect("disc");
    db.deconfigure_all_workers_for_master(m)
        .await
        .expect("deconf");
    let row = db.get_worker(w).await.expect("g").expect("row");
    assert!(row.connected_to.is_empty() && row.configured_on.is_empty());
}

async fn services_and_classifications(ctx: Ctx) {
    let db = &ctx.db;
    let m1 = db.find_or_create_master("h:/1").await.expect("m1");
    let m2 = db.find_or_create_master("h:/2").await.expect("m2");
    let s = db.find_or_create_scheduler("sbs").await.expect("s");
    assert_eq!(
        db.claim_scheduler(s, m1).await.expect("c1"),
        ServiceClaim::Owned
    );
    assert_eq!(
        db.claim_scheduler(s, m1).await.expect("c1 again"),
        ServiceClaim::Owned
    );
    assert_eq!(
        db.claim_scheduler(s, m2).await.expect("c2"),
        ServiceClaim::OwnedBy(m1)
    );
    db.unclaim_scheduler(s, m2).await.expect("not mine");
    assert_eq!(db.list_schedulers().await.expect("l")[0].masterid, Some(m1));
    db.unclaim_scheduler(s, m1).await.expect("mine");
    assert_eq!(
        db.claim_scheduler(s, m2).await.expect("c2"),
        ServiceClaim::Owned
    );
    db.set_scheduler_enabled(s, false).await.expect("disable");
    assert!(!db.list_schedulers().await.expect("l")[0].enabled);
    let cs = db.find_or_create_changesource("poller").await.expect("cs");
    assert_eq!(
        db.claim_changesource(cs, m1).await.expect("c"),
        ServiceClaim::Owned
    );
    assert_eq!(
        db.claim_changesource(cs, m2).await.expect("c"),
        ServiceClaim::OwnedBy(m1)
    );
    db.unclaim_changesource(cs, m1).await.expect("u");
    let c1 = db
        .add_change(&NewChange::new("a", "one"))
        .await
        .expect("c1");
    let c2 = db
        .add_change(&NewChange::new("a", "two"))
        .await
        .expect("c2");
    db.classify_changes(s, &[(c1, true), (c2, false)])
        .await
        .expect("classify");
    db.classify_changes(s, &[(c2, true)])
        .await
        .expect("reclassify");
    assert_eq!(
        db.get_change_classifications(s).await.expect("g"),
        vec![(c1, true), (c2, true)]
    );
    db.flush_change_classifications(s, Some(c1))
        .await
        .expect("flush");
    assert_eq!(
        db.get_change_classifications(s).await.expect("g"),
        vec![(c2, true)]
    );
    db.flush_change_classifications(s, None)
        .await
        .expect("flush all");
    assert!(
        db.get_change_classifications(s)
            .await
            .expect("g")
            .is_empty()
    );
}

async fn state_store(ctx: Ctx) {
    let db = &ctx.db;
    let o = db
        .get_object_id("www", "buildbot.www.service.WWWService")
        .await
        .expect("o");
    assert_eq!(
        db.get_object_id("www", "buildbot.www.service.WWWService")
            .await
            .expect("o2"),
        o
    );
    assert_eq!(db.get_state(o, "session_secret").await.expect("g"), None);
    let v = db
        .atomic_create_state(o, "session_secret", &json!("abc"))
        .await
        .expect("create");
    assert_eq!(v, json!("abc"));
    let v = db
        .atomic_create_state(o, "session_secret", &json!("other"))
        .await
        .expect("create again");
    assert_eq!(v, json!("abc"));
    db.set_state(o, "lastRev", &json!({"main": "deadbeef"}))
        .await
        .expect("set");
    db.set_state(o, "lastRev", &json!({"main": "cafe"}))
        .await
        .expect("update");
    assert_eq!(
        db.get_state(o, "lastRev").await.expect("g"),
        Some(json!({"main": "cafe"}))
    );
    let long = "k".repeat(300);
    db.set_state(o, &long, &json!(1)).await.expect("long key");
    assert_eq!(db.get_state(o, &long).await.expect("g"), Some(json!(1)));
    let long_obj = db
        .get_object_id(&"n".repeat(200), "C")
        .await
        .expect("long object");
    assert_ne!(long_obj, o);
}

async fn users_crud(ctx: Ctx) {
    let db = &ctx.db;
    let u = db
        .find_user_by_attr(
            "Octo Cat <octo@example.com>",
            "git",
            "Octo Cat <octo@example.com>",
        )
        .await
        .expect("u");
    assert_eq!(
        db.find_user_by_attr("x", "git", "Octo Cat <octo@example.com>")
            .await
            .expect("same"),
        u
    );
    // Identifier collision → _2.
    let u2 = db
        .find_user_by_attr("Octo Cat <octo@example.com>", "svn", "octo")
        .await
        .expect("u2");
    assert_ne!(u, u2);
    let row = db.get_user(u2).await.expect("g").expect("row");
    assert!(row.identifier.ends_with("_2"), "{}", row.identifier);
    db.update_user(
        u,
        None,
        Some("octo"),
        Some("hash"),
        Some(("email", "octo@example.com")),
    )
    .await
    .expect("upd");
    let row = db
        .get_user_by_username("octo")
        .await
        .expect("g")
        .expect("row");
    assert_eq!(row.uid, u);
    assert_eq!(row.bb_password.as_deref(), Some("hash"));
    assert_eq!(
        row.attributes.get("email").map(String::as_str),
        Some("octo@example.com")
    );
    assert_eq!(db.list_users().await.expect("l").len(), 2);
    db.remove_user(u2).await.expect("rm");
    assert!(db.get_user(u2).await.expect("g").is_none());
}

async fn test_results_roundtrip(ctx: Ctx) {
    let db = &ctx.db;
    let w = world(db).await;
    let set = db
        .add_test_result_set(
            w.builder,
            w.build,
            w.step,
            Some("unit"),
            "pass_fail",
            "boolean",
        )
        .await
        .expect("set");
    let mut r3 = NewTestResult::named("t3", "1");
    r3.test_code_path = Some("src/a.rs".into());
    r3.line = Some(10);
    r3.duration_ns = Some(1500);
    db.add_test_results(
        w.builder,
        set,
        &[
            NewTestResult::named("t1", "1"),
            NewTestResult::named("t2", "0"),
            r3,
        ],
    )
    .await
    .expect("results");
    db.complete_test_result_set(set, Some(2), Some(1))
        .await
        .expect("complete");
    assert!(
        db.complete_test_result_set(set, Some(2), Some(1))
            .await
            .is_err(),
        "twice is an error"
    );
    let s = db.get_test_result_set(set).await.expect("g").expect("row");
    assert!(s.complete && s.tests_passed == Some(2));
    assert_eq!(db.list_test_result_sets(w.build).await.expect("l").len(), 1);
    let rs = db.list_test_results(set).await.expect("r");
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[2].test_code_path.as_deref(), Some("src/a.rs"));
    assert_eq!(rs[1].test_name.as_deref(), Some("t2"));
    assert!(
        db.add_test_results(w.builder, set, &[NewTestResult::default()])
            .await
            .is_err()
    );
}

db_tests! {
    masters => masters_lifecycle,
    housekeeping => dead_master_housekeeping,
    builders => builders_and_projects,
    workers => workers_lifecycle,
    services => services_and_classifications,
    state => state_store,
    users => users_crud,
    test_results => test_results_roundtrip,
}
