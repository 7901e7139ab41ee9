//! Connecting: URL forms, SQLite pragmas, server pools.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::error::Ctx;
use crate::writer::{self, SlotGuard};
pub(crate) use crate::writer::{ExecTxn, WriteTxn};
use crate::{DbError, LogCompression};

/// The database engine behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite (file or in-memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

/// A handle on Buildbot's database: a connection pool plus settings. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pub(crate) conn: DatabaseConnection,
    /// This process's SQLite writer lock and, for a file, the writer connection
    /// (`writer.rs`): writes queue here instead of sleeping in SQLite's busy handler (other
    /// processes still wait on the busy timeout).
    writer: Arc<async_std::sync::Mutex<crate::writer::Slot>>,
    /// An SQLite file, with its writer connection.
    pub(crate) has_writer: bool,
    backend: Backend,
    compression: LogCompression,
    /// Chunks of at most this many bytes are stored uncompressed (`logCompressionLimit`).
    compression_limit: u64,
    target: Arc<str>,
    /// Statement latencies and log bytes (`stats.rs`).
    pub(crate) stats: Arc<crate::stats::DbStats>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .field("compression", &self.compression)
            .finish()
    }
}

/// Replace the password of a URL (`scheme://user:password@host/...`) with `****`.
/// Never log a database URL without passing it through this.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:****{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

/// A parsed `db_url`.
#[derive(Debug)]
enum Target {
    SqliteMemory,
    SqliteFile(PathBuf),
    Server {
        backend: Backend,
        sqlx_url: String,
        display: String,
        max_lifetime: Option<u64>,
    },
}

fn bad(url: &str, reason: impl Into<String>) -> DbError {
    DbError::BadUrl {
        url: mask_password(url),
        reason: reason.into(),
    }
}

fn parse_url(url: &str, basedir: &Path) -> Result<Target, DbError> {
    let url = url.trim();
    let expanded = url.replace("%(basedir)s", &basedir.to_string_lossy());
    let (scheme, rest) = match expanded.find(':') {
        Some(i) => (&expanded[..i], &expanded[i + 1..]),
        None => {
            return Err(bad(
                url,
                "no scheme (expected sqlite:, postgresql:// or mysql://)",
            ));
        }
    };
    let base = scheme
        .split('+')
        .next()
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    match base.as_str() {
        "sqlite" => {
            let path = if let Some(p) = rest.strip_prefix("//") {
                // sqlite:// (memory), sqlite:///rel, sqlite:////abs
                if p.is_empty() || p == "/:memory:" || p == ":memory:" {
                    return Ok(Target::SqliteMemory);
                }
                match p.strip_prefix('/') {
                    Some(p) => p.to_owned(),
                    None => {
                        return Err(bad(
                            url,
                            "expected sqlite:///relative or sqlite:////absolute path",
                        ));
                    }
                }
            } else {
                if rest.is_empty() || rest == ":memory:" {
                    return Ok(Target::SqliteMemory);
                }
                rest.to_owned()
            };
            let path = path.split('?').next().unwrap_or("").to_owned();
            if path.is_empty() {
                return Err(bad(url, "empty SQLite file name"));
            }
            let p = PathBuf::from(&path);
            Ok(Target::SqliteFile(if p.is_absolute() {
                p
            } else {
                basedir.join(p)
            }))
        }
        "postgresql" | "postgres" | "mysql" | "mariadb" => {
            let backend = if base.starts_with("postgres") {
                Backend::Postgres
            } else {
                Backend::MySql
            };
            let rest = rest
                .strip_prefix("//")
                .ok_or_else(|| bad(url, "expected '//' after the scheme"))?;
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, Some(q)),
                None => (rest, None),
            };
            let (authority, db) = main
                .split_once('/')
                .ok_or_else(|| bad(url, "no database name after the host"))?;
            if db.is_empty() || db.contains('/') {
                return Err(bad(url, "missing or invalid database name"));
            }
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if hostport.is_empty() {
                return Err(bad(url, "missing host name"));
            }
            if let Some((_, port)) = hostport.rsplit_once(':')
                && !hostport.ends_with(']')
                && port.parse::<u16>().is_err()
            {
                return Err(bad(url, format!("invalid port '{port}'")));
            }
            let mut max_lifetime = None;
            let mut extra = Vec::new();
            for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                match (backend, k) {
                    (Backend::MySql, "max_idle") => {
                        max_lifetime = Some(v.parse::<u64>().map_err(|_| {
                            bad(
                                url,
                                format!("max_idle must be a number of seconds, not '{v}'"),
                            )
                        })?);
                    }
                    (Backend::MySql, "charset") => {
                        if !v.eq_ignore_ascii_case("utf8mb4") {
                            return Err(bad(
                                url,
                                format!(
                                    "charset '{v}' is not supported: Buildbot always uses utf8mb4"
                                ),
                            ));
                        }
                    }
                    (Backend::MySql, "storage_engine") => {
                        if !v.eq_ignore_ascii_case("innodb") {
                            return Err(bad(
                                url,
                                format!(
                                    "storage_engine '{v}' is not supported: Buildbot needs InnoDB \
                                     (transactions and row locks for build request claims)"
                                ),
                            ));
                        }
                    }
                    (Backend::MySql, "use_unicode") => {}
                    _ => extra.push(kv.to_owned()),
                }
            }
            let scheme = if backend == Backend::Postgres {
                "postgres"
            } else {
                "mysql"
            };
            let mut sqlx_url = format!("{scheme}://{main}");
            if backend == Backend::MySql {
                extra.push("charset=utf8mb4".to_owned());
            }
            if !extra.is_empty() {
                sqlx_url.push('?');
                sqlx_url.push_str(&extra.join("&"));
            }
            Ok(Target::Server {
                backend,
                sqlx_url,
                display: format!("{hostport}/{db}"),
                max_lifetime,
            })
        }
        _ => Err(bad(
            url,
            format!("unknown database type '{scheme}' (expected sqlite, postgresql or mysql)"),
        )),
    }
}

fn sqlite_err(
    path: &Path,
    reason: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> DbError {
    DbError::SqliteFile {
        path: path.to_owned(),
        reason: reason.to_owned(),
        source: Some(Box::new(e)),
    }
}

impl Db {
    /// Connect to the database named by `url` (Buildbot's `db_url` forms; relative SQLite
    /// paths and `%(basedir)s` are resolved against `basedir`).
    ///
    /// This does not create or check the schema: call [`Db::upgrade`] or
    /// [`Db::schema_status`].
    pub async fn connect(url: &str, basedir: &Path) -> Result<Db, DbError> {
        let target = parse_url(url, basedir)?;
        let masked = mask_password(url);
        match target {
            Target::SqliteMemory => {
                let mut opts = ConnectOptions::new("sqlite::memory:");
                opts.sqlx_logging(false)
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>)
                    .map_sqlx_sqlite_opts(|o| o.foreign_keys(false));
                let conn = Database::connect(opts)
                    .await
                    .map_err(|source| DbError::Connect {
                        target: ":memory:".into(),
                        url: masked.clone(),
                        source,
                    })?;
                Ok(Db {
                    conn,
                    backend: Backend::Sqlite,
                    compression: LogCompression::default(),
                    compression_limit: 0,
                    target: ":memory:".into(),
                    writer: Default::default(),
                    has_writer: false,
                    stats: Default::default(),
                }
                .with_stats())
            }
            Target::SqliteFile(path) => Self::connect_sqlite_file(path).await,
            Target::Server {
                backend,
                sqlx_url,
                display,
                max_lifetime,
            } => {
                probe_server(backend, &sqlx_url)
                    .await
                    .map_err(|source| DbError::Connect {
                        target: display.clone(),
                        url: masked.clone(),
                        source,
                    })?;
                let mut opts = ConnectOptions::new(sqlx_url);
                opts.sqlx_logging(false)
                    .max_connections(10)
                    .min_connections(0)
                    .connect_timeout(Duration::from_secs(10))
                    .acquire_timeout(Duration::from_secs(30));
                if let Some(s) = max_lifetime {
                    opts.max_lifetime(Duration::from_secs(s));
                }
                let conn = Database::connect(opts)
                    .await
                    .map_err(|source| DbError::Connect {
                        target: display.clone(),
                        url: masked.clone(),
                        source,
                    })?;
                Ok(Db {
                    conn,
                    backend,
                    compression: LogCompression::default(),
                    compression_limit: 0,
                    target: display.into(),
                    writer: Default::default(),
                    has_writer: false,
                    stats: Default::default(),
                }
                .with_stats())
            }
        }
    }

    async fn connect_sqlite_file(path: PathBuf) -> Result<Db, DbError> {
        if path.is_dir() {
            return Err(DbError::SqliteFile {
                path,
                reason: "is a directory".into(),
                source: None,
            });
        }
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
                return Err(DbError::SqliteFile {
                    path: path.clone(),
                    reason: format!("directory '{}' does not exist", dir.display()),
                    source: None,
                });
            }
            _ => {}
        }
        if path.exists() {
            // Fail early and clearly on a read-only file.
            if let Err(e) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
            {
                return Err(sqlite_err(&path, "the file is not writable", e));
            }
        }
        let p2 = path.clone();
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.sqlx_logging(false)
            .test_before_acquire(false)
            .max_connections(8)
            // long-lived connections: each SQLite connection is a worker thread plus a file
            // open and the pragmas, not something to reopen after an idle spell. (No
            // `min_connections`: connections opened in parallel on a new file race for the
            // switch to WAL and fail with "database is locked".)
            .min_connections(0)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>)
            .acquire_timeout(Duration::from_secs(60))
            .map_sqlx_sqlite_opts(move |_| {
                use sea_orm::sqlx::ConnectOptions as _;
                SqliteConnectOptions::new()
                    .filename(&p2)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(false)
                    .pragma("checkpoint_fullfsync", "off")
                    .pragma("cache_size", "-4096")
                    .pragma("wal_autocheckpoint", "8192")
                    .pragma("journal_size_limit", writer::WAL_LIMIT.to_string())
                    // reads straight from the page cache instead of one pread per page
                    .pragma("mmap_size", "268435456")
                    .disable_statement_logging()
            });
        let conn = Database::connect(opts)
            .await
            .map_err(|source| sqlite_err(&path, "cannot open the database", source))?;
        // The writer connection, opened after the pool's first one has switched the file to
        // WAL, and probed for writability (read-only file system, read-only file as root ...).
        let stats = Arc::<crate::stats::DbStats>::default();
        let mut slot = match writer::open(&path) {
            Ok(w) => writer::Slot::new(w),
            Err(e) => return Err(sqlite_err(&path, "cannot open the database", e)),
        };
        if let Err(e) = writer::probe(&mut slot, &stats).await {
            return Err(sqlite_err(&path, "the database is not writable", e));
        }
        let target: Arc<str> = path.to_string_lossy().into();
        let writer = Arc::new(async_std::sync::Mutex::new(slot));
        writer.lock().await.watch_wal(writer::WalWatch {
            wal: PathBuf::from(format!("{target}-wal")),
            pool: conn.clone(),
        });
        Ok(Db {
            conn,
            backend: Backend::Sqlite,
            compression: LogCompression::default(),
            compression_limit: 0,
            target,
            writer,
            has_writer: true,
            stats,
        }
        .with_stats())
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where this database lives, password-free (`host:port/db` or the SQLite file).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Compression used for new log chunks.
    pub fn log_compression(&self) -> LogCompression {
        self.compression
    }

    /// Set the compression of new log chunks (reading always supports every method).
    pub fn set_log_compression(&mut self, c: LogCompression) {
        self.compression = c;
    }

    /// Chunks of at most this many bytes are stored uncompressed (Buildbot's
    /// `logCompressionLimit`; 0, the default here: every chunk is compressed when that
    /// makes it smaller).
    pub fn set_log_compression_limit(&mut self, bytes: u64) {
        self.compression_limit = bytes;
    }

    /// See [`Db::set_log_compression_limit`].
    pub fn log_compression_limit(&self) -> u64 {
        self.compression_limit
    }

    /// The database engine's version string (`sqlite_version()` for SQLite, `version()` for
    /// PostgreSQL and MySQL/MariaDB), e.g. for the master's start-up log line.
    pub async fn engine_version(&self) -> Result<String, DbError> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT sqlite_version()",
            _ => "SELECT CAST(version() AS CHAR)",
        };
        let sql = if self.backend == Backend::Postgres {
            "SELECT version()"
        } else {
            sql
        };
        let row = self
            .conn
            .query_one_raw(sea_orm::Statement::from_string(self.db_backend(), sql))
            .await
            .ctx("reading the database version")?;
        Ok(row
            .and_then(|r| r.try_get_by_index::<String>(0).ok())
            .unwrap_or_default())
    }

    /// Reclaims free space (`VACUUM` on SQLite and PostgreSQL; nothing on MySQL, where
    /// InnoDB manages its own space). For a stopped master (`buildbot cleanupdb`).
    pub async fn vacuum(&self) -> Result<(), DbError> {
        match self.backend {
            Backend::Sqlite | Backend::Postgres => {
                self.conn
                    .execute_unprepared("VACUUM")
                    .await
                    .ctx("vacuuming the database")?;
            }
            Backend::MySql => {}
        }
        Ok(())
    }

    /// The size in bytes of an SQLite file's WAL (`None`: not an SQLite file, or no WAL).
    pub fn wal_size(&self) -> Option<u64> {
        if !self.has_writer {
            return None;
        }
        std::fs::metadata(format!("{}-wal", self.target))
            .ok()
            .map(|m| m.len())
    }

    /// On an SQLite file: copies the whole WAL into the database and empties the WAL file
    /// (a `TRUNCATE` checkpoint), holding this process's writer lock so that no write of ours
    /// slips in, and waiting (busy timeout) for readers of older snapshots. `Ok(false)`:
    /// another process kept it from finishing. Nothing to do (`Ok(true)`) elsewhere.
    pub async fn checkpoint(&self) -> Result<bool, DbError> {
        if !self.has_writer {
            return Ok(true);
        }
        let _writes_wait = self.writer().await;
        writer::truncate_wal(&self.conn)
            .await
            .ctx("checkpointing the SQLite WAL")
    }

    /// Close the pool (and the SQLite writer connection). On an SQLite file the WAL is
    /// checkpointed first, so that the last connection to close removes it.
    pub async fn close(self) -> Result<(), DbError> {
        if let Err(e) = self.checkpoint().await {
            log::warn!("{e}");
        }
        let writer = self.writer.lock_arc().await.take();
        if let Some(w) = writer
            && let Err((_, e)) = w.close()
        {
            log::warn!("closing the SQLite writer connection: {e}");
        }
        self.conn.close().await.ctx("closing the connection pool")
    }

    pub(crate) fn db_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE` on SQLite so concurrent writers queue on
    /// the busy timeout instead of failing with "database is locked").
    pub(crate) async fn write_txn(&self, op: &'static str) -> Result<WriteTxn, DbError> {
        let (opts, guard) = match self.backend {
            Backend::Sqlite => (
                TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                },
                Some(self.writer().await),
            ),
            _ => (TransactionOptions::default(), None),
        };
        let txn = self.conn.begin_with_options(opts).await.ctx(op)?;
        Ok(WriteTxn::new(txn, guard, self.stats.clone()))
    }

    /// Begin a transaction of statements that only write, never read (no `SELECT`, no
    /// `RETURNING`: see [`ExecTxn`]). On an SQLite file it runs on the writer connection
    /// (`writer.rs`); elsewhere it is a [`Db::write_txn`].
    pub(crate) async fn exec_txn(&self, op: &'static str) -> Result<ExecTxn, DbError> {
        if self.has_writer {
            let slot = self.writer().await;
            if slot.is_open() {
                return ExecTxn::begin(slot, self.stats.clone()).await.ctx(op);
            }
        }
        Ok(ExecTxn::Pool(Some(self.write_txn(op).await?)))
    }

    /// The writer lock, held (SQLite; see `writer.rs`).
    /// This process's writer lock. A truncating checkpoint that a write marked due runs
    /// first, under it (see `writer.rs`).
    pub(crate) async fn writer(&self) -> SlotGuard {
        let mut g = self.writer.lock_arc().await;
        if g.truncate_pending {
            g.truncate_pending = false;
            match writer::truncate_wal(&self.conn).await {
                Ok(true) => {}
                Ok(false) => log::warn!("SQLite checkpoint: another process kept it busy"),
                Err(e) => log::warn!("SQLite checkpoint: {e}"),
            }
        }
        g
    }
}

/// The pool as a statement executor that, on SQLite, runs every statement but a `SELECT`
/// under this process's writer lock: concurrent builds' writes then queue here for
/// microseconds instead of colliding inside SQLite, whose busy handler sleeps a millisecond
/// or more before it retries. (Transactions hold the lock from `BEGIN` to the end; the
/// hot writes bypass the pool altogether, see `writer.rs`.)
pub(crate) struct Exec<'a>(&'a Db);

impl Db {
    /// The executor for statements outside a transaction (see [`Exec`]).
    pub(crate) fn x(&self) -> Exec<'_> {
        Exec(self)
    }

    pub(crate) async fn writer_for(&self, sql: &str) -> Option<SlotGuard> {
        if self.backend == Backend::Sqlite && !crate::stats::is_select(sql) {
            Some(self.writer().await)
        } else {
            None
        }
    }
}

#[async_trait::async_trait]
impl sea_orm::ConnectionTrait for Exec<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.conn.get_database_backend()
    }

    async fn execute_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        let _w = self.0.writer_for(&stmt.sql).await;
        self.0.conn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        let _w = self.0.writer_for(sql).await;
        self.0.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        let _w = self.0.writer_for(&stmt.sql).await;
        self.0.conn.query_one_raw(stmt).await
    }

    async fn query_all_raw(
        &self,
        stmt: sea_orm::Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        let _w = self.0.writer_for(&stmt.sql).await;
        self.0.conn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.0.conn.support_returning()
    }
}

/// One direct connection attempt (fails fast on a refused connection, unlike a pool which
/// retries until its acquire timeout).
async fn probe_server(backend: Backend, url: &str) -> Result<(), sea_orm::DbErr> {
    use sea_orm::sqlx::Connection;
    let conn_err =
        |e: sea_orm::sqlx::Error| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let attempt = async {
        match backend {
            Backend::Postgres => sea_orm::sqlx::PgConnection::connect(url)
                .await
                .map_err(conn_err)?
                .close()
                .await
                .map_err(conn_err),
            _ => sea_orm::sqlx::MySqlConnection::connect(url)
                .await
                .map_err(conn_err)?
                .close()
                .await
                .map_err(conn_err),
        }
    };
    match async_std::future::timeout(Duration::from_secs(15), attempt).await {
        Ok(r) => r,
        Err(_) => Err(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::Internal(
            "timed out after 15 s".into(),
        ))),
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_password("postgresql://bb:secret@db:5432/bb"),
            "postgresql://bb:****@db:5432/bb"
        );
        assert_eq!(mask_password("mysql://bb@db/bb"), "mysql://bb@db/bb");
        assert_eq!(
            mask_password("sqlite:///state.sqlite"),
            "sqlite:///state.sqlite"
        );
    }

    #[test]
    fn url_forms() {
        let b = Path::new("/base");
        let f = |u: &str| match parse_url(u, b) {
            Ok(Target::SqliteFile(p)) => p,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(f("sqlite:///state.sqlite"), Path::new("/base/state.sqlite"));
        assert_eq!(f("sqlite:state.sqlite"), Path::new("/base/state.sqlite"));
        assert_eq!(f("sqlite:////abs/x.sqlite"), Path::new("/abs/x.sqlite"));
        assert_eq!(
            f("sqlite:///%(basedir)s/s.sqlite"),
            Path::new("/base/s.sqlite")
        );
        assert!(matches!(
            parse_url("sqlite://", b),
            Ok(Target::SqliteMemory)
        ));
        match parse_url("postgresql+psycopg2://u:p@h:5433/db", b) {
            Ok(Target::Server {
                backend: Backend::Postgres,
                sqlx_url,
                display,
                ..
            }) => {
                assert_eq!(sqlx_url, "postgres://u:p@h:5433/db");
                assert_eq!(display, "h:5433/db");
            }
            other => panic!("{other:?}"),
        }
        match parse_url("mysql+mysqldb://u:p@h/db?max_idle=300&charset=utf8mb4", b) {
            Ok(Target::Server {
                backend: Backend::MySql,
                sqlx_url,
                max_lifetime,
                ..
            }) => {
                assert_eq!(sqlx_url, "mysql://u:p@h/db?charset=utf8mb4");
                assert_eq!(max_lifetime, Some(300));
            }
            other => panic!("{other:?}"),
        }
        let e = parse_url("mysql://u:pw@h/db?charset=latin1", b).expect_err("charset");
        assert!(
            e.to_string().contains("utf8mb4") && !e.to_string().contains("pw@"),
            "{e}"
        );
        let e = parse_url("mysql://u@h/db?storage_engine=MyISAM", b).expect_err("engine");
        assert!(e.to_string().contains("InnoDB"), "{e}");
        let e = parse_url("postgresql://u:hunter2@h", b).expect_err("nodb");
        assert!(
            e.to_string()
                .starts_with("could not parse database URL 'postgresql://u:****@h'"),
            "{e}"
        );
        assert!(parse_url("oracle://x/y", b).is_err());
        assert!(parse_url("nonsense", b).is_err());
        assert!(parse_url("postgresql://u@h:notaport/db", b).is_err());
    }
}
