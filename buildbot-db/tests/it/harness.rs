//! Fresh databases per test on each backend.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use buildbot_db::Db;
use sea_orm::{ConnectionTrait, Database};

/// What a test gets: a migrated database, its URL (to open more pools) and a base directory.
pub struct Ctx {
    pub db: Db,
    pub url: String,
    pub basedir: PathBuf,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

impl Ctx {
    /// Another, independent connection pool on the same database (as a second master).
    pub async fn connect_again(&self) -> Db {
        Db::connect(&self.url, &self.basedir)
            .await
            .expect("second connect")
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Drops the server database (also on panic).
pub struct Guard {
    server: Option<(String, String, Kind)>,
    _dir: tempfile::TempDir,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((server, name, kind)) = self.server.take() {
            async_std::task::block_on(async move {
                let admin = admin_url(&server, kind);
                if let Ok(c) = Database::connect(admin.as_str()).await {
                    let sql = match kind {
                        Kind::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        _ => format!("DROP DATABASE IF EXISTS {name}"),
                    };
                    let _ = c.execute_unprepared(&sql).await;
                    let _ = c.close().await;
                }
            });
        }
    }
}

fn admin_url(server: &str, kind: Kind) -> String {
    match kind {
        Kind::Postgres => format!("{}/postgres", server.trim_end_matches('/')),
        _ => format!("{}/mysql", server.trim_end_matches('/')),
    }
}

pub fn env_url(kind: Kind) -> Option<String> {
    let var = match kind {
        Kind::Sqlite => return None,
        Kind::Postgres => "BUILDBOT_TEST_PG_URL",
        Kind::MySql => "BUILDBOT_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            eprintln!("SKIP: {var} not set");
            None
        }
    }
}

/// A fresh, empty database (not migrated). `None` = backend not configured (SKIP printed).
pub async fn fresh_empty(kind: Kind) -> Option<(Ctx, Guard)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let basedir = dir.path().to_owned();
    let (url, server) = match kind {
        Kind::Sqlite => ("sqlite:///state.sqlite".to_owned(), None),
        _ => {
            let server = env_url(kind)?;
            let name = format!(
                "bbt_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            );
            let admin = Database::connect(admin_url(&server, kind).as_str())
                .await
                .expect("admin connect");
            let create = match kind {
                Kind::Postgres => format!("CREATE DATABASE {name}"),
                _ => format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
            };
            admin
                .execute_unprepared(&create)
                .await
                .expect("create database");
            admin.close().await.expect("close admin");
            (
                format!("{}/{name}", server.trim_end_matches('/')),
                Some((server, name, kind)),
            )
        }
    };
    let guard = Guard { server, _dir: dir };
    let db = Db::connect(&url, &basedir).await.expect("connect");
    Some((
        Ctx {
            db,
            url,
            basedir,
            kind,
        },
        guard,
    ))
}

/// A fresh database with the schema created.
pub async fn fresh(kind: Kind) -> Option<(Ctx, Guard)> {
    let (ctx, guard) = fresh_empty(kind).await?;
    ctx.db.upgrade().await.expect("upgrade");
    Some((ctx, guard))
}

/// Define tests that run on every backend: `db_tests! { name => path::to::async_fn, ... }`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident => $f:path),* $(,)?) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[test]
                fn sqlite() {
                    async_std::task::block_on(async {
                        let (ctx, _g) = $crate::harness::fresh($crate::harness::Kind::Sqlite).await.expect("sqlite");
                        $f(ctx).await;
                    });
                }
                #[test]
                fn postgres() {
                    async_std::task::block_on(async {
                        if let Some((ctx, _g)) = $crate::harness::fresh($crate::harness::Kind::Postgres).await {
                            $f(ctx).await;
                        }
                    });
                }
                #[test]
                fn mysql() {
                    async_std::task::block_on(async {
                        if let Some((ctx, _g)) = $crate::harness::fresh($crate::harness::Kind::MySql).await {
                            $f(ctx).await;
                        }
                    });
                }
            }
        )*
    };
}

/// A master, builder, worker, buildset + request, claimed, and a running build — the rows a
/// real build needs (MariaDB enforces foreign keys).
pub struct World {
    pub master: buildbot_db::MasterId,
    pub builder: buildbot_db::BuilderId,
    pub worker: buildbot_db::WorkerId,
    #[allow(dead_code)]
    pub bsid: buildbot_db::BuildsetId,
    pub brid: buildbot_db::BuildRequestId,
    pub build: buildbot_db::BuildId,
    pub step: buildbot_db::StepId,
}

pub async fn world(db: &Db) -> World {
    use buildbot_db::*;
    let master = db
        .find_or_create_master("host:/master")
        .await
        .expect("master");
    let builder = db.find_or_create_builder("b").await.expect("builder");
    let worker = db.find_or_create_worker("w1").await.expect("worker");
    let ss = db
        .find_or_create_sourcestamp(&SourceStampSpec::new(Some(""), Some(""), ""))
        .await
        .expect("ss");
    let (bsid, brids) = db
        .add_buildset(&NewBuildset::new("force", vec![ss], vec![builder]))
        .await
        .expect("bs");
    let brid = brids[&builder];
    assert_eq!(
        db.claim_buildrequests(&[brid], master, None)
            .await
            .expect("claim"),
        ClaimOutcome::Claimed
    );
    let (build, _) = db
        .add_build(builder, brid, Some(worker), master, "created")
        .await
        .expect("build");
    let (step, _, _) = db.add_step(build, "shell", "pending").await.expect("step");
    World {
        master,
        builder,
        worker,
        bsid,
        brid,
        build,
        step,
    }
}

/// W3 byte stream lines `from..to` (100 bytes each).
pub fn w3_lines(from: usize, to: usize) -> String {
    const A: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let a = A.repeat(3);
    let mut s = String::with_capacity((to - from) * 100);
    for i in from..to {
        let k = i % 64;
        s.push_str(&format!("{:08} {}\n", i, &a[k..k + 90]));
    }
    s
}
