//! The one error type of this crate.

use std::path::PathBuf;

use sea_orm::DbErr;

/// Everything that can go wrong in the database layer.
///
/// Each variant carries the context needed to act on it (the operation, the masked URL, the
/// file, the unknown migration ...) and, where there is one, the underlying error as `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The `db_url` could not be understood.
    #[error("could not parse database URL '{url}': {reason}")]
    BadUrl {
        /// The URL, password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database server could not be reached or refused the connection.
    #[error("could not connect to database {target} ({url}): {source}")]
    Connect {
        /// `host:port/database` (or the SQLite file).
        target: String,
        /// The URL, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// The SQLite file cannot be opened or written.
    #[error("cannot use SQLite database file '{}': {reason}", path.display())]
    SqliteFile {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A query failed.
    #[error("database error while {op}: {source}")]
    Query {
        /// What we were doing (`"claiming build requests"`, table and operation).
        op: &'static str,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// The database was written by a newer version (migrations we do not know).
    #[error(
        "the database schema is newer than this version of Buildbot knows (unknown migrations: {}); \
         use a newer Buildbot",
        unknown.join(", ")
    )]
    SchemaTooNew {
        /// Names of the unknown migrations / schema revisions.
        unknown: Vec<String>,
    },
    /// The database schema is older than this code and must be upgraded first.
    #[error(
        "the database schema is out of date (pending migrations: {}); run `buildbot upgrade-master`",
        pending.join(", ")
    )]
    SchemaOutOfDate {
        /// Names of the pending migrations.
        pending: Vec<String>,
    },
    /// The database holds an unsupported (too old or foreign) schema.
    #[error("unsupported database schema: {reason}")]
    UnsupportedSchema {
        /// What was found.
        reason: String,
    },
    /// A row that must exist does not.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of row (`"build"`, `"log"` ...).
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// A filter or order named a field the resource does not have.
    #[error("unknown field '{field}' for resource '{resource}'")]
    UnknownField {
        /// Resource (`"builds"` ...).
        resource: &'static str,
        /// The offending field name.
        field: String,
    },
    /// A filter value did not fit the field's type.
    #[error("invalid value '{value}' for field '{field}'")]
    BadFilterValue {
        /// Field name.
        field: String,
        /// The value.
        value: String,
    },
    /// A log chunk uses a compression id we do not know.
    #[error("log {logid}: unknown log chunk compression id {id}")]
    UnknownCompression {
        /// The log.
        logid: i64,
        /// The stored id.
        id: i16,
    },
    /// Compressing or decompressing a log chunk failed.
    #[error("log {logid}: could not {action} a log chunk: {source}")]
    Compression {
        /// The log (0 when not known).
        logid: i64,
        /// `"compress"` or `"decompress"`.
        action: &'static str,
        /// The codec's error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration name (e.g. `logCompressionMethod`) is not valid.
    #[error("invalid {what} '{value}': {hint}")]
    InvalidSetting {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        hint: String,
    },
    /// Invalid input to a query function (e.g. an empty name).
    #[error("invalid argument for {op}: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// A state transition was refused (e.g. completing a finished test result set).
    #[error("{op}: {reason}")]
    Conflict {
        /// The operation.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// A stored JSON column could not be decoded.
    #[error("invalid JSON in {column}: {source}")]
    Json {
        /// `table.column`.
        column: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Attach an operation name to a sea-orm result.
pub(crate) trait Ctx<T> {
    fn ctx(self, op: &'static str) -> Result<T, DbError>;
}

impl<T> Ctx<T> for Result<T, DbErr> {
    fn ctx(self, op: &'static str) -> Result<T, DbError> {
        self.map_err(|source| DbError::Query { op, source })
    }
}

/// Is this a unique-constraint violation (another writer won a race)?
pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    use sea_orm::SqlErr;
    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return true;
    }
    let s = e.to_string();
    s.contains("UNIQUE constraint failed")
        || s.contains("duplicate key value")
        || s.contains("Duplicate entry")
        || s.contains("1062")
}
