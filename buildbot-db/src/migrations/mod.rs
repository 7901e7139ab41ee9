//! Schema migrations (sea-orm-migration) and schema status detection.
//!
//! The baseline is Buildbot 4.3's schema as created by Python Buildbot (alembic revision
//! `067`). Migration 1 creates the 4.2 schema (alembic `066`), migration 2 adds the 4.3
//! codebase tables (`067`). A database created by Python Buildbot (alembic table present, no
//! `seaql_migrations` table) is adopted: the migrations implied by its alembic revision only
//! record themselves as applied.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sea_orm_migration::prelude::*;

use crate::DbError;
use crate::db::Db;
use crate::error::Ctx;

mod m20251125_000001_buildbot_4_2_schema;
mod m20251125_000002_codebases;
mod m20251125_000003_pending_requests_index;

/// The ordered list of migrations.
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20251125_000001_buildbot_4_2_schema::Migration),
            Box::new(m20251125_000002_codebases::Migration),
            Box::new(m20251125_000003_pending_requests_index::Migration),
        ]
    }
}

/// Alembic revision that implies each migration (Python Buildbot's version table). The
/// pending-requests index is optional: a Python 4.3 database is accepted without it and gets
/// it at the next upgrade.
const ALEMBIC: [(&str, &str); 3] = [
    (m20251125_000001_buildbot_4_2_schema::NAME, "066"),
    (m20251125_000002_codebases::NAME, "067"),
    (m20251125_000003_pending_requests_index::NAME, "067"),
];

/// The newest alembic revision we know.
pub(crate) const ALEMBIC_HEAD: &str = "067";

/// State of a database schema relative to this code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaStatus {
    /// Every migration is applied (or implied by a Python Buildbot 4.3 schema).
    UpToDate,
    /// Migrations are pending: run `buildbot upgrade-master`.
    NeedsUpgrade {
        /// Names of the pending migrations, in order.
        pending: Vec<String>,
    },
    /// No Buildbot table at all (a new database).
    Empty,
    /// The database was upgraded by a newer version.
    TooNew {
        /// Migrations / revisions this code does not know.
        unknown: Vec<String>,
    },
}

pub(crate) async fn list_tables<C: ConnectionTrait>(c: &C) -> Result<Vec<String>, DbErr> {
    let sql = match c.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        DbBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        _ => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()"
        }
    };
    let rows = c
        .query_all_raw(Statement::from_string(c.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect()
}

pub(crate) async fn alembic_revision<C: ConnectionTrait>(c: &C) -> Result<Option<String>, DbErr> {
    let rows = c
        .query_all_raw(Statement::from_string(
            c.get_database_backend(),
            "SELECT version_num FROM alembic_version",
        ))
        .await?;
    rows.first()
        .map(|r| r.try_get_by_index::<String>(0))
        .transpose()
}

/// Integer columns that stay 32-bit (flags and result codes read as `i32`).
const INT32_COLUMNS: [(&str, &str); 5] = [
    ("masters", "active"),
    ("buildrequests", "complete"),
    ("builds", "results"),
    ("steps", "results"),
    ("scheduler_changes", "important"),
];

/// PostgreSQL databases created by Python Buildbot use 32-bit `INTEGER` ids, counters and
/// timestamps; this code reads them as 64-bit. Widen them (`ALTER ... TYPE BIGINT`; Python
/// reads BIGINT the same). Returns the number of columns changed.
pub(crate) async fn widen_pg_integers<C: ConnectionTrait>(c: &C) -> Result<usize, DbErr> {
    let rows = c
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type = 'integer' \
             AND table_name <> 'seaql_migrations'",
        ))
        .await?;
    let mut n = 0;
    for r in rows {
        let t: String = r.try_get_by_index(0)?;
        let col: String = r.try_get_by_index(1)?;
        if INT32_COLUMNS.iter().any(|(a, b)| *a == t && *b == col) {
            continue;
        }
        c.execute_unprepared(&format!(
            "ALTER TABLE \"{t}\" ALTER COLUMN \"{col}\" TYPE BIGINT"
        ))
        .await?;
        n += 1;
    }
    Ok(n)
}

/// Does a PostgreSQL database still have Python's 32-bit id columns?
async fn pg_needs_widening<C: ConnectionTrait>(c: &C) -> Result<bool, DbErr> {
    let r = c
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT data_type::text FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'builds' AND column_name = 'id'",
        ))
        .await?;
    Ok(match r {
        Some(r) => r.try_get_by_index::<String>(0)? == "integer",
        None => false,
    })
}

/// Run a file of `;`-terminated statements.
pub(crate) async fn run_script<C: ConnectionTrait>(c: &C, script: &str) -> Result<(), DbErr> {
    for stmt in script.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        c.execute_unprepared(stmt).await?;
    }
    Ok(())
}

pub(crate) async fn set_alembic<C: ConnectionTrait>(c: &C, rev: &str) -> Result<(), DbErr> {
    let b = c.get_database_backend();
    c.execute_raw(Statement::from_string(b, "DELETE FROM alembic_version"))
        .await?;
    c.execute_raw(Statement::from_sql_and_values(
        b,
        match b {
            DbBackend::Postgres => "INSERT INTO alembic_version (version_num) VALUES ($1)",
            _ => "INSERT INTO alembic_version (version_num) VALUES (?)",
        },
        [rev.into()],
    ))
    .await?;
    Ok(())
}

impl Db {
    /// Compare the database schema with this code's migrations, without changing anything.
    ///
    /// The master refuses to start unless this is [`SchemaStatus::UpToDate`]
    /// (see [`Db::check_schema`]).
    pub async fn schema_status(&self) -> Result<SchemaStatus, DbError> {
        const OP: &str = "reading the schema version";
        let tables = list_tables(&self.conn).await.ctx(OP)?;
        let has = |t: &str| tables.iter().any(|x| x == t);
        let recorded: Vec<String> = if has("seaql_migrations") {
            let rows = self
                .conn
                .query_all_raw(Statement::from_string(
                    self.db_backend(),
                    "SELECT version FROM seaql_migrations ORDER BY version",
                ))
                .await
                .ctx(OP)?;
            rows.iter()
                .map(|r| r.try_get_by_index::<String>(0))
                .collect::<Result<_, _>>()
                .ctx(OP)?
        } else {
            Vec::new()
        };
        let alembic = if has("alembic_version") {
            alembic_revision(&self.conn).await.ctx(OP)?
        } else {
            None
        };
        let known: Vec<&str> = ALEMBIC.iter().map(|(n, _)| *n).collect();
        let mut unknown: Vec<String> = recorded
            .iter()
            .filter(|r| !known.contains(&r.as_str()))
            .cloned()
            .collect();
        if let Some(rev) = &alembic
            && rev.as_str() > ALEMBIC_HEAD
        {
            unknown.push(format!("alembic revision {rev}"));
        }
        if !unknown.is_empty() {
            return Ok(SchemaStatus::TooNew { unknown });
        }
        if recorded.is_empty() && !has("masters") && !has("builds") && alembic.is_none() {
            if tables
                .iter()
                .any(|t| t == "version" || t == "migrate_version")
            {
                return Err(DbError::UnsupportedSchema {
                    reason: "this is a pre-3.0 Buildbot database; upgrade it with Python Buildbot 4.3 first".into(),
                });
            }
            return Ok(SchemaStatus::Empty);
        }
        let widen = self.db_backend() == DbBackend::Postgres
            && pg_needs_widening(&self.conn).await.ctx(OP)?;
        let implied: Vec<&str> = if recorded.is_empty() && !widen {
            match alembic.as_deref() {
                Some(rev) if ALEMBIC.iter().any(|(_, r)| *r == rev) => ALEMBIC
                    .iter()
                    .filter(|(_, r)| *r <= rev)
                    .map(|(n, _)| *n)
                    .collect(),
                Some(rev) => {
                    return Err(DbError::UnsupportedSchema {
                        reason: format!(
                            "Python Buildbot schema revision {rev} is older than 066 (Buildbot 4.2); \
                             upgrade it with Python Buildbot 4.3 first"
                        ),
                    });
                }
                None => {
                    return Err(DbError::UnsupportedSchema {
                        reason:
                            "Buildbot tables exist but there is no schema version (alembic_version)"
                                .into(),
                    });
                }
            }
        } else {
            Vec::new()
        };
        let pending: Vec<String> = known
            .iter()
            .filter(|k| !recorded.iter().any(|r| r == *k) && !implied.contains(k))
            .map(|k| (*k).to_owned())
            .collect();
        Ok(if pending.is_empty() {
            SchemaStatus::UpToDate
        } else {
            SchemaStatus::NeedsUpgrade { pending }
        })
    }

    /// Error unless the schema is up to date (what a starting master calls).
    pub async fn check_schema(&self) -> Result<(), DbError> {
        match self.schema_status().await? {
            SchemaStatus::UpToDate => Ok(()),
            SchemaStatus::TooNew { unknown } => Err(DbError::SchemaTooNew { unknown }),
            SchemaStatus::NeedsUpgrade { pending } => Err(DbError::SchemaOutOfDate { pending }),
            SchemaStatus::Empty => Err(DbError::SchemaOutOfDate {
                pending: ALEMBIC.iter().map(|(n, _)| (*n).to_owned()).collect(),
            }),
        }
    }

    /// Create the schema of a new database or apply pending migrations to an old one
    /// (`buildbot upgrade-master`). Idempotent. Returns the names of the migrations applied.
    /// A database written by a newer version is refused with [`DbError::SchemaTooNew`].
    pub async fn upgrade(&self) -> Result<Vec<String>, DbError> {
        const OP: &str = "applying schema migrations";
        if let SchemaStatus::TooNew { unknown } = self.schema_status().await? {
            return Err(DbError::SchemaTooNew { unknown });
        }
        let before: Vec<String> = Migrator::get_applied_migrations(&self.conn)
            .await
            .ctx(OP)?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        // Also records migrations implied by a Python-made schema.
        Migrator::up(&self.conn, None).await.ctx(OP)?;
        let applied: Vec<String> = Migrator::get_applied_migrations(&self.conn)
            .await
            .ctx(OP)?
            .iter()
            .map(|m| m.name().to_owned())
            .filter(|n| !before.contains(n))
            .collect();
        if !applied.is_empty() {
            log::info!("database schema upgraded: {}", applied.join(", "));
        }
        Ok(applied)
    }
}
