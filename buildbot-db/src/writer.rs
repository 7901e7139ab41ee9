//! SQLite's writer: one connection of this process's own (rusqlite), behind its writer lock,
//! that runs the statements that write, in place on the calling task.
//!
//! SQLite takes one writer at a time, and a write in WAL mode with `synchronous=NORMAL` is
//! a few microseconds of work. Through the pool, each statement was a trip to the
//! connection's thread and back, plus a second trip for the ping that returns the
//! connection to the pool: two thread wake-ups per statement, which cost more than the
//! write. Here it runs on the calling task's thread, and waiting for another process's lock
//! (`SQLITE_BUSY`) is an async sleep, never a blocked thread.
//!
//! What runs here: the engine's writes outside a transaction (`Db::write`, `Db::insert`),
//! execute-only transactions (`Db::exec_txn`), the log appends and small integer reads
//! (`Db::select_ints`). Other statements, and transactions that also read, use the pool
//! under the same lock. The writer never checkpoints (that would block the task for an
//! fsync); every thousandth writer statement asks the pool for a passive checkpoint instead.
//!
//! The WAL stays bounded. A passive checkpoint copies what it can but never waits for a
//! reader, so under continuous readers (a web UI polling the REST API) it never catches up
//! and the WAL would grow without end (25,000 builds once left a 4 GB WAL beside a 58 MB
//! database). So every tenth write (a statement on the writer, or a transaction's
//! commit, on the writer or the pool) also looks at the WAL's size, and past
//! [`WAL_LIMIT`] the next write to take the writer lock first runs a `TRUNCATE` checkpoint
//! on the pool (so no write of this process slips in, however busy it is): it waits (busy
//! timeout) only for readers of older snapshots, which finish in milliseconds, copies
//! everything and empties the file.
//! `journal_size_limit` trims the file to that size whenever SQLite resets it by itself.
//!
//! For PostgreSQL, MySQL and in-memory SQLite there is no writer: statements take the
//! pool.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_std::sync::MutexGuardArc;
use rusqlite::types::Value as LiteValue;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, Insert,
    PrimaryKeyTrait, QueryResult, QueryTrait, RuntimeErr, Statement,
};

use crate::stats::DbStats;

/// Writes between two passive checkpoint requests.
const CHECKPOINT_EVERY: u64 = 1000;

/// Writes between two looks at the WAL's size.
const WAL_CHECK_EVERY: u64 = 10;

/// The WAL size (bytes) past which it is checkpointed to completion and truncated; also
/// SQLite's `journal_size_limit`. Between two looks at most [`WAL_CHECK_EVERY`] writes
/// are added, so the file stays within a few MiB of this.
pub const WAL_LIMIT: u64 = 32 * 1024 * 1024;

/// What the writer lock guards: the writer connection, if this database has one.
#[derive(Default)]
pub(crate) struct Slot {
    conn: Option<Conn>,
    /// A checkpoint asked of the pool is running.
    checkpointing: Arc<AtomicBool>,
    /// Writes seen by [`Slot::after_write`].
    writes: u64,
    /// What a checkpoint needs (an SQLite file only).
    watch: Option<WalWatch>,
    /// The WAL has passed [`WAL_LIMIT`]: the next taker of the writer lock truncates it.
    pub(crate) truncate_pending: bool,
}

/// The WAL file and the pool that checkpoints it.
pub(crate) struct WalWatch {
    pub(crate) wal: std::path::PathBuf,
    pub(crate) pool: sea_orm::DatabaseConnection,
}

/// A `TRUNCATE` checkpoint on `pool`: `Ok(false)` when a reader or another process kept it
/// from finishing. The caller holds the writer lock.
pub(crate) async fn truncate_wal(pool: &sea_orm::DatabaseConnection) -> Result<bool, DbErr> {
    let row = pool
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await?;
    // (busy, WAL frames, frames checkpointed): busy = 1 when it could not finish
    Ok(row
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .is_none_or(|busy| busy == 0))
}

/// The connection (a `Mutex` only to be `Sync`, as the async lock's guard must be: the
/// writer lock around it already makes it uncontended).
pub(crate) struct Conn(std::sync::Mutex<rusqlite::Connection>);

impl Conn {
    fn get(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writer lock, held.
pub(crate) type SlotGuard = MutexGuardArc<Slot>;

/// Opens the writer connection on an SQLite file (already in WAL mode).
pub(crate) fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path)?;
    // lock waits are async sleeps in `run`, not a blocked thread
    c.busy_timeout(Duration::ZERO)?;
    c.execute_batch(
        "PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=OFF;PRAGMA cache_size=-4096;\
         PRAGMA wal_autocheckpoint=0;PRAGMA mmap_size=268435456;\
         PRAGMA journal_size_limit=33554432;",
    )?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

/// Checks that the writer can write (a read-only file or file system fails here), waiting
/// for other writers like any write.
pub(crate) async fn probe(slot: &mut Slot, stats: &DbStats) -> Result<(), DbErr> {
    run(slot, stats, "writability probe", |c| {
        c.execute_batch(
            "BEGIN IMMEDIATE;CREATE TEMP TABLE IF NOT EXISTS bb_probe(x INTEGER);ROLLBACK;",
        )
    })
    .await
    .unwrap_or_else(closed)
}

impl Slot {
    pub(crate) fn new(conn: rusqlite::Connection) -> Slot {
        Slot {
            conn: Some(Conn(std::sync::Mutex::new(conn))),
            ..Slot::default()
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.conn.is_some()
    }

    /// Sets what checkpoints of an SQLite file need.
    pub(crate) fn watch_wal(&mut self, watch: WalWatch) {
        self.watch = Some(watch);
    }

    /// After a write (held under the writer lock): every [`WAL_CHECK_EVERY`] writes, marks a
    /// truncating checkpoint due when the WAL has passed [`WAL_LIMIT`] (the next taker of the
    /// lock runs it: `Db::writer`), else every [`CHECKPOINT_EVERY`] asks the pool for a
    /// passive one in a task of its own.
    pub(crate) fn after_write(&mut self) {
        self.writes += 1;
        let n = self.writes;
        let Some(w) = &self.watch else { return };
        if !n.is_multiple_of(WAL_CHECK_EVERY) {
            return;
        }
        if std::fs::metadata(&w.wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            self.truncate_pending = true;
            return;
        }
        if !n.is_multiple_of(CHECKPOINT_EVERY) || self.checkpointing.swap(true, Ordering::AcqRel) {
            return;
        }
        let running = self.checkpointing.clone();
        let pool = w.pool.clone();
        async_std::task::spawn(async move {
            if let Err(e) = pool
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                log::debug!("checkpoint: {e}");
            }
            running.store(false, Ordering::Release);
        });
    }

    /// Takes the connection out (to close it); later users fall back to the pool.
    pub(crate) fn take(&mut self) -> Option<rusqlite::Connection> {
        self.conn.take().map(|c| {
            c.0.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }
}

fn lite_err(e: rusqlite::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(e.to_string()))
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// How long a write waits for another process's lock (the pool's `busy_timeout`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `f` on the writer connection; while another process holds the database lock,
/// sleeps and tries again (an `f` that fails with `SQLITE_BUSY` must have changed nothing:
/// one statement, or a transaction it rolled back). `None`: this database has no writer.
pub(crate) async fn run<T>(
    slot: &mut Slot,
    stats: &DbStats,
    label: &str,
    mut f: impl FnMut(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Option<Result<T, DbErr>> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let t = Instant::now();
        let r = {
            let conn = slot.conn.as_ref()?.get();
            let r = f(&conn);
            if matches!(&r, Err(e) if is_busy(e)) && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            r
        };
        match r {
            Err(e) if is_busy(&e) && start.elapsed() < BUSY_TIMEOUT => {
                async_std::task::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            r => {
                stats.record(label, t.elapsed(), r.is_err());
                return Some(r.map_err(lite_err));
            }
        }
    }
}

/// The statement's values as SQLite values.
fn params(values: Option<sea_orm::Values>) -> Result<Vec<LiteValue>, DbErr> {
    use sea_orm::Value as V;
    let int = |v: Option<i64>| v.map_or(LiteValue::Null, LiteValue::Integer);
    values
        .map(|v| v.0)
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            Ok(match v {
                V::Bool(b) => int(b.map(i64::from)),
                V::TinyInt(i) => int(i.map(i64::from)),
                V::SmallInt(i) => int(i.map(i64::from)),
                V::Int(i) => int(i.map(i64::from)),
                V::BigInt(i) => int(i),
                V::TinyUnsigned(i) => int(i.map(i64::from)),
                V::SmallUnsigned(i) => int(i.map(i64::from)),
                V::Unsigned(i) => int(i.map(i64::from)),
                V::BigUnsigned(Some(i)) => {
                    LiteValue::Integer(i64::try_from(i).map_err(|_| {
                        DbErr::Custom(format!("{i} does not fit an SQLite integer"))
                    })?)
                }
                V::BigUnsigned(None) => LiteValue::Null,
                V::Float(f) => f.map_or(LiteValue::Null, |f| LiteValue::Real(f64::from(f))),
                V::Double(f) => f.map_or(LiteValue::Null, LiteValue::Real),
                V::String(s) => s.map_or(LiteValue::Null, LiteValue::Text),
                V::Char(c) => c.map_or(LiteValue::Null, |c| LiteValue::Text(c.to_string())),
                V::Bytes(b) => b.map_or(LiteValue::Null, LiteValue::Blob),
                V::Json(j) => j.map_or(LiteValue::Null, |j| LiteValue::Text(j.to_string())),
                other => {
                    return Err(DbErr::Custom(format!(
                        "value {other:?} is not supported by the SQLite writer"
                    )));
                }
            })
        })
        .collect()
}

/// One statement that writes, with its values: rows changed.
fn execute(conn: &rusqlite::Connection, sql: &str, p: &[LiteValue]) -> rusqlite::Result<u64> {
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(p.iter()))
        .map(|n| n as u64)
}

impl crate::Db {
    /// Runs `f` (given the statement's SQL and values) on the writer connection, where this
    /// database has one; `None`: use the pool.
    async fn on_writer<T>(
        &self,
        stmt: &Statement,
        mut f: impl FnMut(&rusqlite::Connection, &str, &[LiteValue]) -> rusqlite::Result<T>,
    ) -> Option<Result<T, DbErr>> {
        if !self.has_writer {
            return None;
        }
        let mut slot = self.writer().await;
        if !slot.is_open() {
            return None;
        }
        let p = match params(stmt.values.clone()) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let sql = stmt.sql.as_str();
        let r = run(&mut slot, &self.stats, sql, |c| f(c, sql, &p)).await;
        slot.after_write();
        r
    }

    /// An `UPDATE`, `DELETE` or `INSERT` (no `RETURNING`) built by sea-orm, outside a
    /// transaction: the number of rows it changed. On an SQLite file it runs on the writer
    /// connection; elsewhere like `.exec(&db)`.
    pub(crate) async fn write(&self, q: &impl QueryTrait) -> Result<u64, DbErr> {
        let stmt = q.build(self.db_backend());
        if let Some(r) = self.on_writer(&stmt, execute).await {
            return r;
        }
        Ok(self.x().execute_raw(stmt).await?.rows_affected())
    }

    /// An `INSERT` of one row built by sea-orm, outside a transaction: its id.
    pub(crate) async fn insert<A>(&self, ins: Insert<A>) -> Result<i64, DbErr>
    where
        A: ActiveModelTrait,
        PkValue<A>: Into<i64>,
    {
        let stmt = ins.build(self.db_backend());
        let on_writer = self.on_writer(&stmt, |c, sql, p| {
            execute(c, sql, p).map(|_| c.last_insert_rowid())
        });
        if let Some(r) = on_writer.await {
            return r;
        }
        Ok(ins.exec(&self.x()).await?.last_insert_id.into())
    }

    /// The rows of a query whose columns are all integers or NULL. On an SQLite file it runs
    /// on the writer connection, in place (it sees every write of this process); elsewhere on
    /// the pool.
    pub(crate) async fn select_ints(
        &self,
        q: &impl QueryTrait,
    ) -> Result<Vec<Vec<Option<i64>>>, DbErr> {
        let stmt = q.build(self.db_backend());
        let on_writer = self.on_writer(&stmt, |c, sql, p| {
            let mut st = c.prepare_cached(sql)?;
            let n = st.column_count();
            let rows = st.query_map(rusqlite::params_from_iter(p.iter()), |r| {
                (0..n).map(|i| r.get::<_, Option<i64>>(i)).collect()
            })?;
            rows.collect()
        });
        if let Some(r) = on_writer.await {
            return r;
        }
        let rows = self.x().query_all_raw(stmt).await?;
        Ok(rows.iter().map(row_ints).collect())
    }

    /// Runs an `INSERT … RETURNING` whose columns are all integers and returns the first
    /// row's values: on the writer connection where there is one, else on the pool.
    pub(crate) async fn insert_returning_ints(
        &self,
        stmt: Statement,
    ) -> Result<Option<Vec<i64>>, DbErr> {
        let on_writer = self.on_writer(&stmt, |c, sql, p| {
            let mut st = c.prepare_cached(sql)?;
            let n = st.column_count();
            let mut rows = st.query(rusqlite::params_from_iter(p.iter()))?;
            let Some(row) = rows.next()? else {
                return Ok(None);
            };
            let v = (0..n)
                .map(|i| row.get::<_, i64>(i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // step to the end so that the statement completes
            while rows.next()?.is_some() {}
            Ok(Some(v))
        });
        if let Some(r) = on_writer.await {
            return r;
        }
        let row = self.x().query_one_raw(stmt).await?;
        Ok(row.map(|r| row_ints(&r).into_iter().map_while(|v| v).collect()))
    }
}

/// A pool row's leading integer columns (up to the first that is not one). PostgreSQL and
/// MySQL type their integers: each column is read at whichever width it has.
fn row_ints(r: &QueryResult) -> Vec<Option<i64>> {
    let int = |i: usize| {
        r.try_get_by_index::<Option<i64>>(i)
            .or_else(|_| {
                r.try_get_by_index::<Option<i32>>(i)
                    .map(|v| v.map(i64::from))
            })
            .or_else(|_| {
                r.try_get_by_index::<Option<i16>>(i)
                    .map(|v| v.map(i64::from))
            })
            .ok()
    };
    (0..).map_while(int).collect()
}

type PkValue<A> =
    <<<A as ActiveModelTrait>::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType;

fn closed<T>() -> Result<T, DbErr> {
    Err(DbErr::Custom(
        "the SQLite writer connection is closed".into(),
    ))
}

/// A write transaction on the pool (plus, on SQLite, this process's writer lock until it
/// ends).
pub(crate) struct WriteTxn {
    txn: DatabaseTransaction,
    stats: Arc<DbStats>,
    _guard: Option<SlotGuard>,
}

impl WriteTxn {
    pub(crate) fn new(
        txn: DatabaseTransaction,
        guard: Option<SlotGuard>,
        stats: Arc<DbStats>,
    ) -> WriteTxn {
        WriteTxn {
            txn,
            stats,
            _guard: guard,
        }
    }

    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        let WriteTxn { txn, stats, _guard } = self;
        let r = txn.commit().await;
        // what the transaction wrote is visible now (its statements counted before)
        stats.count_write();
        if let Some(mut g) = _guard {
            g.after_write();
        }
        r
    }

    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// A transaction of statements that only write ([`crate::Db::exec_txn`]): `BEGIN IMMEDIATE`
/// … `COMMIT` on the writer connection, or a [`WriteTxn`] where there is none. Dropped
/// without [`ExecTxn::commit`], it rolls back.
pub(crate) enum ExecTxn {
    Writer {
        slot: SlotGuard,
        stats: Arc<DbStats>,
        /// Committed or rolled back.
        ended: bool,
    },
    /// `None` once ended.
    Pool(Option<WriteTxn>),
}

impl ExecTxn {
    /// `BEGIN IMMEDIATE` on the writer `slot` holds (it has one).
    pub(crate) async fn begin(mut slot: SlotGuard, stats: Arc<DbStats>) -> Result<ExecTxn, DbErr> {
        run(&mut slot, &stats, "BEGIN IMMEDIATE", |c| {
            c.execute_batch("BEGIN IMMEDIATE")
        })
        .await
        .unwrap_or_else(closed)?;
        Ok(ExecTxn::Writer {
            slot,
            stats,
            ended: false,
        })
    }

    /// Runs `f` inside the open transaction on the writer (no busy retries: `BEGIN
    /// IMMEDIATE` holds the lock), recorded in `stats` under `sql`.
    fn in_txn<T>(
        slot: &Slot,
        stats: &DbStats,
        sql: &str,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DbErr> {
        let Some(c) = slot.conn.as_ref() else {
            return closed();
        };
        let t = Instant::now();
        let r = f(&c.get());
        stats.record(sql, t.elapsed(), r.is_err());
        r.map_err(lite_err)
    }

    /// An `UPDATE`, `DELETE` or `INSERT` (no `RETURNING`): rows changed.
    pub(crate) async fn write(&self, q: &impl QueryTrait) -> Result<u64, DbErr> {
        match self {
            ExecTxn::Writer { slot, stats, .. } => {
                let stmt = q.build(DbBackend::Sqlite);
                let p = params(stmt.values)?;
                Self::in_txn(slot, stats, &stmt.sql, |c| execute(c, &stmt.sql, &p))
            }
            ExecTxn::Pool(Some(txn)) => {
                let stmt = q.build(txn.get_database_backend());
                Ok(txn.execute_raw(stmt).await?.rows_affected())
            }
            ExecTxn::Pool(None) => closed(),
        }
    }

    /// An `INSERT` of one row: its id.
    pub(crate) async fn insert<A>(&self, ins: Insert<A>) -> Result<i64, DbErr>
    where
        A: ActiveModelTrait,
        PkValue<A>: Into<i64>,
    {
        match self {
            ExecTxn::Writer { slot, stats, .. } => {
                let stmt = ins.build(DbBackend::Sqlite);
                let p = params(stmt.values)?;
                Self::in_txn(slot, stats, &stmt.sql, |c| {
                    execute(c, &stmt.sql, &p).map(|_| c.last_insert_rowid())
                })
            }
            ExecTxn::Pool(Some(txn)) => Ok(ins.exec(&**txn).await?.last_insert_id.into()),
            ExecTxn::Pool(None) => closed(),
        }
    }

    pub(crate) async fn commit(mut self) -> Result<(), DbErr> {
        match &mut self {
            ExecTxn::Pool(txn) => match txn.take() {
                Some(t) => t.commit().await,
                None => Ok(()),
            },
            ExecTxn::Writer { slot, stats, ended } => {
                let r = Self::in_txn(slot, stats, "COMMIT", |c| c.execute_batch("COMMIT"));
                stats.count_write();
                slot.after_write();
                // a failed COMMIT leaves the transaction open: Drop rolls it back
                *ended = r.is_ok();
                r
            }
        }
    }
}

impl Drop for ExecTxn {
    fn drop(&mut self) {
        // dropped before its end (an error on the way): roll back now, so that the writer
        // is clean for the next statement
        if let ExecTxn::Writer {
            slot, ended: false, ..
        } = self
            && let Some(c) = slot.conn.as_ref()
        {
            let c = c.get();
            if !c.is_autocommit() {
                let _ = c.execute_batch("ROLLBACK");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, Set};

    use crate::entities::buildsets;
    use crate::{BuildsetId, Db};

    fn buildset(reason: &str) -> sea_orm::Insert<buildsets::ActiveModel> {
        buildsets::Entity::insert(buildsets::ActiveModel {
            reason: Set(Some(reason.to_owned())),
            submitted_at: Set(1),
            complete: Set(0),
            results: Set(Some(-1)),
            ..Default::default()
        })
    }

    /// An execute-only transaction dropped before its commit leaves nothing behind and the
    /// writer usable; a committed one is visible to the pool's readers.
    #[test]
    fn exec_txn_commits_or_rolls_back_on_drop() {
        async_std::task::block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = Db::connect("sqlite:///state.sqlite", dir.path())
                .await
                .expect("connect");
            db.upgrade().await.expect("schema");
            assert!(db.has_writer);
            let dropped = {
                let txn = db.exec_txn("test").await.expect("begin");
                txn.insert(buildset("dropped")).await.expect("insert")
            };
            assert!(
                db.get_buildset(BuildsetId(dropped))
                    .await
                    .expect("read")
                    .is_none()
            );
            let txn = db.exec_txn("test").await.expect("begin");
            let kept = txn.insert(buildset("kept")).await.expect("insert");
            txn.commit().await.expect("commit");
            let row = db.get_buildset(BuildsetId(kept)).await.expect("read");
            assert_eq!(row.expect("row").reason.as_deref(), Some("kept"));
            // outside a transaction too, and the writer is not left inside one
            let id = db.insert(buildset("alone")).await.expect("insert");
            assert!(id > kept);
            assert!(
                db.get_buildset(BuildsetId(id))
                    .await
                    .expect("read")
                    .is_some()
            );
            db.close().await.expect("close");
        });
    }
}
