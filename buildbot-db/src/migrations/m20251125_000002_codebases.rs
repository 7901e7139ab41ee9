//! Buildbot 4.3 "add codebase data" (alembic `067`): `codebases`, `codebase_commits`,
//! `codebase_branches`.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use super::{ALEMBIC_HEAD, list_tables, run_script, set_alembic};

pub(super) const NAME: &str = "m20251125_000002_codebases";

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
        if !tables.iter().any(|t| t == "codebases") {
            let script = match manager.get_database_backend() {
                DbBackend::Sqlite => include_str!("sql/codebases.sqlite.sql"),
                DbBackend::Postgres => include_str!("sql/codebases.pg.sql"),
                _ => include_str!("sql/codebases.mysql.sql"),
            };
            run_script(c, script).await?;
        }
        set_alembic(c, ALEMBIC_HEAD).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "downgrading the Buildbot schema is not supported".into(),
        ))
    }
}
