//! Baseline: the Buildbot 4.2 schema (alembic `066`), with Python's exact table, index and
//! constraint names.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::{alembic_revision, list_tables, run_script, set_alembic};

pub(super) const NAME: &str = "m20251125_000001_buildbot_4_2_schema";

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
        let tables = list_tables(c).await?;
        if tables.iter().any(|t| t == "masters") {
            // A schema made by Python Buildbot: accept 066/067, nothing to create.
            let rev = alembic_revision(c).await?;
            return match rev.as_deref() {
                Some("066") | Some("067") => {
                    if manager.get_database_backend() == DbBackend::Postgres {
                        super::widen_pg_integers(c).await?;
                    }
                    Ok(())
                }
                other => Err(DbErr::Migration(format!(
                    "existing Buildbot schema at revision {other:?} is not supported (expected 066 or 067)"
                ))),
            };
        }
        let script = match manager.get_database_backend() {
            DbBackend::Sqlite => include_str!("sql/base.sqlite.sql"),
            DbBackend::Postgres => include_str!("sql/base.pg.sql"),
            _ => include_str!("sql/base.mysql.sql"),
        };
        run_script(c, script).await?;
        set_alembic(c, "066").await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "downgrading the Buildbot schema is not supported".into(),
        ))
    }
}
