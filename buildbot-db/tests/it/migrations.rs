//! Schema creation, upgrade, status detection.

use buildbot_db::{DbError, SchemaStatus};
use sea_orm::{ConnectionTrait, Database};

use crate::harness::{Ctx, Kind, fresh_empty};

async fn tables(ctx: &Ctx) -> Vec<String> {
    let c = Database::connect(server_url(ctx).as_str())
        .await
        .expect("raw connect");
    let sql = match ctx.kind {
        Kind::Sqlite => "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name",
        Kind::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema='public' ORDER BY 1"
        }
        Kind::MySql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema=DATABASE() ORDER BY 1"
        }
    };
    let rows = c
        .query_all_raw(sea_orm::Statement::from_string(
            c.get_database_backend(),
            sql,
        ))
        .await
        .expect("q");
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("s"))
        .collect()
}

pub fn server_url(ctx: &Ctx) -> String {
    match ctx.kind {
        Kind::Sqlite => format!("sqlite://{}", ctx.basedir.join("state.sqlite").display()),
        _ => ctx.url.clone(),
    }
}

pub async fn raw(ctx: &Ctx, sql: &str) {
    let c = Database::connect(server_url(ctx).as_str())
        .await
        .expect("raw connect");
    c.execute_unprepared(sql).await.expect(sql);
    c.close().await.expect("close");
}

async fn lifecycle(kind: Kind) {
    let Some((ctx, _g)) = fresh_empty(kind).await else {
        return;
    };
    assert_eq!(
        ctx.db.schema_status().await.expect("status"),
        SchemaStatus::Empty
    );
    assert!(matches!(
        ctx.db.check_schema().await,
        Err(DbError::SchemaOutOfDate { .. })
    ));
    let applied = ctx.db.upgrade().await.expect("upgrade");
    assert_eq!(applied.len(), 3);
    assert_eq!(
        ctx.db.schema_status().await.expect("status"),
        SchemaStatus::UpToDate
    );
    ctx.db.check_schema().await.expect("up to date");
    // Twice: nothing to do.
    assert!(ctx.db.upgrade().await.expect("again").is_empty());
    let t = tables(&ctx).await;
    let model: Vec<&String> = t.iter().filter(|n| *n != "seaql_migrations").collect();
    assert_eq!(model.len(), 43, "{t:?}");
    for name in [
        "masters",
        "logchunks",
        "codebase_branches",
        "alembic_version",
        "buildrequest_claims",
    ] {
        assert!(t.iter().any(|x| x == name), "{name} missing");
    }
    // A migration from the future: refused, naming it.
    raw(&ctx, "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000000_from_the_future', 0)").await;
    match ctx.db.schema_status().await.expect("status") {
        SchemaStatus::TooNew { unknown } => {
            assert_eq!(unknown, vec!["m20991231_000000_from_the_future".to_owned()])
        }
        other => panic!("{other:?}"),
    }
    let e = ctx.db.upgrade().await.expect_err("too new");
    assert!(matches!(e, DbError::SchemaTooNew { .. }));
    assert!(
        e.to_string().contains("m20991231_000000_from_the_future"),
        "{e}"
    );
}

async fn old_schema_upgrades(kind: Kind) {
    // A Buildbot 4.2 database (alembic 066, no codebase tables), as Python 4.2 made it.
    let Some((ctx, _g)) = fresh_empty(kind).await else {
        return;
    };
    ctx.db.upgrade().await.expect("upgrade");
    raw(&ctx, "DROP TABLE codebase_branches").await;
    raw(&ctx, "DROP TABLE codebase_commits").await;
    raw(&ctx, "DROP TABLE codebases").await;
    raw(&ctx, "DROP TABLE seaql_migrations").await;
    raw(&ctx, "UPDATE alembic_version SET version_num = '066'").await;
    match ctx.db.schema_status().await.expect("status") {
        SchemaStatus::NeedsUpgrade { pending } => assert_eq!(
            pending,
            vec![
                "m20251125_000002_codebases".to_owned(),
                "m20251125_000003_pending_requests_index".to_owned()
            ]
        ),
        other => panic!("{other:?}"),
    }
    let e = ctx.db.check_schema().await.expect_err("old");
    assert!(e.to_string().contains("buildbot upgrade-master"), "{e}");
    ctx.db.upgrade().await.expect("upgrade old");
    assert_eq!(
        ctx.db.schema_status().await.expect("status"),
        SchemaStatus::UpToDate
    );
    assert!(tables(&ctx).await.iter().any(|t| t == "codebases"));
    // alembic_version now says 067 for Python.
    let c = Database::connect(server_url(&ctx).as_str())
        .await
        .expect("c");
    let r = c
        .query_one_raw(sea_orm::Statement::from_string(
            c.get_database_backend(),
            "SELECT version_num FROM alembic_version",
        ))
        .await
        .expect("q")
        .expect("row");
    assert_eq!(r.try_get_by_index::<String>(0).expect("s"), "067");
}

async fn python_revision_too_new(kind: Kind) {
    let Some((ctx, _g)) = fresh_empty(kind).await else {
        return;
    };
    ctx.db.upgrade().await.expect("upgrade");
    raw(&ctx, "DROP TABLE seaql_migrations").await;
    raw(&ctx, "UPDATE alembic_version SET version_num = '068'").await;
    assert!(matches!(
        ctx.db.schema_status().await.expect("s"),
        SchemaStatus::TooNew { .. }
    ));
}

macro_rules! per_backend {
    ($($name:ident),*) => {$(
        mod $name {
            use crate::harness::Kind;
            #[test] fn sqlite() { async_std::task::block_on(super::$name(Kind::Sqlite)) }
            #[test] fn postgres() { async_std::task::block_on(super::$name(Kind::Postgres)) }
            #[test] fn mysql() { async_std::task::block_on(super::$name(Kind::MySql)) }
        }
    )*};
}

per_backend!(lifecycle, old_schema_upgrades, python_revision_too_new);

/// A PostgreSQL database as Python Buildbot creates it (32-bit INTEGER/SERIAL ids, no
/// sea-orm table): reported as needing an upgrade, then adopted and widened to BIGINT.
async fn python_postgres_schema_is_widened(kind: Kind) {
    if kind != Kind::Postgres {
        return;
    }
    let Some((ctx, _g)) = fresh_empty(kind).await else {
        return;
    };
    ctx.db.upgrade().await.expect("upgrade");
    raw(&ctx, "DROP TABLE seaql_migrations").await;
    raw(&ctx, "DROP INDEX buildrequests_pending").await;
    raw(
        &ctx,
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT table_name, column_name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND data_type = 'bigint' LOOP \
         EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE INTEGER', r.table_name, r.column_name); END LOOP; END $$",
    )
    .await;
    match ctx.db.schema_status().await.expect("status") {
        SchemaStatus::NeedsUpgrade { pending } => assert_eq!(pending.len(), 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(ctx.db.upgrade().await.expect("adopt").len(), 3);
    assert_eq!(
        ctx.db.schema_status().await.expect("status"),
        SchemaStatus::UpToDate
    );
    let w = crate::harness::world(&ctx.db).await;
    assert_eq!(
        ctx.db
            .get_build(w.build)
            .await
            .expect("read")
            .expect("row")
            .number,
        1
    );
}

per_backend!(python_postgres_schema_is_widened);
