//! Buildbot's database layer: the Buildbot 4.3 schema as sea-orm entities, migrations that
//! create or adopt it, and typed async queries for every resource.
//!
//! The same code runs on SQLite (default, `sqlite:///state.sqlite` relative to the master's
//! base directory), PostgreSQL and MySQL/MariaDB, and produces the rows a Python Buildbot 4.3
//! master would, so both can share one database (`spec/data-model.md`).
//!
//! Callers never see SQL or sea-orm entities: they get plain row structs (`BuildRow`,
//! `LogRow`, ...) and id newtypes.
//!
//! ```no_run
//! use std::path::Path;
//! use buildbot_db::{Db, Query, Results, SchemaStatus};
//!
//! # async fn demo() -> Result<(), buildbot_db::DbError> {
//! let db = Db::connect("sqlite:///state.sqlite", Path::new("/srv/master")).await?;
//! if db.schema_status().await? != SchemaStatus::UpToDate {
//!     db.upgrade().await?; // what `buildbot upgrade-master` does
//! }
//! let master = db.find_or_create_master("host:/srv/master").await?;
//! db.set_master_state(master, true).await?;
//! let builder = db.find_or_create_builder("runtests").await?;
//! let failed = db
//!     .list_builds(&Query::new().eq("builderid", builder).eq("results", Results::Failure.code()).order("number", true).limit(10))
//!     .await?;
//! for b in failed {
//!     println!("build #{} {}", b.number, b.state_string);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Concurrency
//!
//! SQLite runs in WAL mode with a 30 s busy timeout and write transactions begin with
//! `BEGIN IMMEDIATE`, so several pools (two masters, or web and engine) writing to one file
//! wait for each other instead of failing with "database is locked". Foreign keys stay off as
//! in Python Buildbot; deletions are explicit. The WAL is kept under about [`WAL_LIMIT`] even
//! under continuous readers (a truncating checkpoint when it passes the limit), and
//! [`Db::close`] leaves none behind.
//!
//! # Modules (all private; their types are re-exported here)
//!
//! * `db` — [`Db`]: connection, pool, backend detection, the SQLite writer lock;
//!   `writer` — the SQLite writer connection of its own; `stats` — statement counts and
//!   latencies.
//! * `entities`, `migrations` — the schema as sea-orm entities and the `Migrator`.
//! * one module of typed queries per resource: `builders`, `builds` (and steps, build
//!   data), `changes` (and source stamps), `logs` (compressed chunks, `compress`),
//!   `masters`, `requests` (buildsets and build requests), `services` (schedulers, change
//!   sources), `test_results`, `users`, `workers`.
//! * `query` — [`Query`]: Buildbot's REST filters, order and paging turned into SQL;
//!   `types` — id newtypes and [`Results`]; `common`, `hash`, `error`.
#![warn(missing_docs)]

mod builders;
mod builds;
mod changes;
mod common;
mod compress;
mod db;
mod entities;
mod error;
mod hash;
mod logs;
mod masters;
mod migrations;
mod query;
mod requests;
mod services;
mod stats;
mod test_results;
mod types;
mod users;
mod workers;
mod writer;

pub use builders::{BuilderInfo, BuilderRow, ProjectRow};
pub use builds::{BuildDataRow, BuildRow, StepRow};
pub use changes::{ChangeRow, NewChange, Patch, SourceStampRow, SourceStampSpec};
pub use common::Properties;
pub use compress::LogCompression;
pub use db::{Backend, Db, mask_password};
pub use error::DbError;
pub use hash::{
    HashArg, force_identifier, hash_columns, increment_identifier, is_identifier, name_hash,
    ss_hash,
};
pub use logs::{LogChunk, LogRow, LogType, MAX_CHUNK_LINES, MAX_CHUNK_SIZE, stdio_lines};
pub use masters::{Housekeeping, MasterRow};
pub use migrations::SchemaStatus;
pub use query::{Filter, Op, Query};
pub use requests::{BuildRequestRow, BuildsetRow, CancelOutcome, ClaimOutcome, NewBuildset};
pub use services::{ChangeSourceRow, SchedulerRow, ServiceClaim};
pub use stats::{DbStats, LATENCY_BUCKETS, LatencySnapshot};
pub use test_results::{NewTestResult, TestResultRow, TestResultSetRow};
pub use types::*;
pub use users::{UserRow, check_password, hash_password};
pub use workers::WorkerRow;
pub use writer::WAL_LIMIT;

/// Everything a caller usually needs, for glob import.
pub mod prelude {
    pub use crate::{
        BuildId, BuildRequestId, BuilderId, BuildsetId, ChangeId, Db, DbError, LogCompression,
        LogId, LogType, MasterId, Query, Results, SchemaStatus, SourceStampId, StepId, WorkerId,
    };
}
