//! Performance index for "next pending request of builder X": `buildrequests_pending` on
//! `(builderid, complete, priority DESC, id)`. Python Buildbot does not have it and does not
//! mind it; with it, picking the next request among 25,000 pending is a short index walk
//! instead of a scan and sort. Implied (optional) for databases made by Python Buildbot.

use sea_orm::{DbBackend, Statement};
use sea_orm_migration::prelude::*;

pub(super) const NAME: &str = "m20251125_000003_pending_requests_index";

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        NAME
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let c = manager.get_connection();
        let b = manager.get_database_backend();
        let (check, create) = match b {
            DbBackend::Sqlite => (
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'buildrequests_pending'",
                "CREATE INDEX buildrequests_pending ON buildrequests (builderid, complete, priority DESC, id)",
            ),
            DbBackend::Postgres => (
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'buildrequests_pending'",
                "CREATE INDEX \"buildrequests_pending\" ON \"buildrequests\" (\"builderid\", \"complete\", \"priority\" DESC, \"id\")",
            ),
            _ => (
                "SELECT CAST(index_name AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'buildrequests_pending'",
                "CREATE INDEX `buildrequests_pending` ON `buildrequests` (`builderid`, `complete`, `priority` DESC, `id`)",
            ),
        };
        if c.query_all_raw(Statement::from_string(b, check))
            .await?
            .is_empty()
        {
            c.execute_unprepared(create).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "downgrading the Buildbot schema is not supported".into(),
        ))
    }
}
