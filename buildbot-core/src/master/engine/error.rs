//! What can go wrong in the running master.

use std::path::PathBuf;
use std::time::Duration;

use buildbot_db::DbError;

use crate::master::config::ConfigError;
use crate::master::workers::WorkerManagerError;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterError {
    /// A database operation failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database schema is missing or older than this version.
    #[error(
        "the database at {url} needs to be upgraded ({detail}); run 'buildbot upgrade-master <basedir>'"
    )]
    SchemaOutOfDate {
        /// The database URL (password masked).
        url: String,
        /// What is pending.
        detail: String,
    },
    /// The worker listener could not start.
    #[error(transparent)]
    Workers(#[from] WorkerManagerError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A reconfig changed settings that need a restart; nothing was changed.
    #[error("reconfig refused: {}", .0.join("; "))]
    RestartRequired(Vec<String>),
    /// No such scheduler, or not a `ForceScheduler`.
    #[error("no ForceScheduler named '{0}'")]
    NoForceScheduler(String),
    /// A builder name is unknown (or not served by the scheduler).
    #[error("builder '{builder}' is not known to scheduler '{scheduler}'")]
    UnknownBuilder {
        /// The scheduler.
        scheduler: String,
        /// The builder.
        builder: String,
    },
    /// Fields of a force were refused: field name → Buildbot's message (all of them, as
    /// Buildbot's `CollectedValidationError`).
    #[error("invalid force fields: {}", .0.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "))]
    InvalidForceFields(std::collections::BTreeMap<String, String>),
    /// A build, request or other row does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// The master is stopping or stopped.
    #[error("the master is stopping")]
    Stopping,
    /// The base directory cannot be created.
    #[error("cannot create the base directory {}: {source}", path.display())]
    Basedir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No worker of that name is configured.
    #[error("no worker named '{0}' is configured")]
    UnknownWorker(String),
    /// A wait did not end in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// A `PBChangeSource` port could not be opened.
    #[error("cannot listen for changes on {addr}: {source}")]
    ChangePort {
        /// The address.
        addr: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}
