//! The master side of the worker protocol (`msgpack_experimental_v7`, see
//! `spec/worker-protocol.md`): accepting worker connections and running remote commands.
//!
//! * [`WorkerManager`] listens on the worker port, authenticates WebSocket upgrades with
//!   `Authorization: Basic` against a replaceable table of [`WorkerRegistration`]s (401 /
//!   400 like the Python master, every refusal logged), rejects or replaces duplicate
//!   connections (§6.4), runs the session start (§5.1) and reports
//!   [`ConnectionEvent`]s.
//! * [`WorkerConnection`] is a cheap handle on one attached worker: its
//!   [`WorkerInfo`], `ping`, `shutdown`, `disconnect`, the builder-list cycle
//!   ([`WorkerConnection::update_builders`]), and remote commands
//!   ([`WorkerConnection::start_command`], [`WorkerConnection::upload_file`],
//!   [`WorkerConnection::upload_directory`], [`WorkerConnection::download_file`]).
//! * [`RemoteCommand`] streams a command's [`CommandUpdate`]s and ends with a
//!   [`CommandResult`]; [`CommandHandle::interrupt`] stops it.
//!
//! Liveness: the master sends `keepalive` every [`WorkerRegistration::keepalive_interval`]
//! and drops a worker that does not answer within the interval. Workers that know the
//! `keepalive` extension (advertised in the `101` response) send their own keepalives;
//! once one did, silence for twice its observed interval drops it too. On connection loss
//! every pending request fails with "Connection lost" and every running command ends with
//! [`CommandOutcome::ConnectionLost`].
//!
//! Deliberate differences from the Python 4.3 master: `update_read_file` is answered with
//! the file's bytes (empty bin at the end) instead of nil (§14.1); `keepstamp` times are
//! applied (§14.2); a session start that fails drops the connection (the worker retries)
//! instead of leaving it open; an unanswered keepalive drops the connection; a failed
//! [`WorkerConnection::ping`] drops it as Python does.
//!
//! [`WorkerRegistration::from_config`] and [`WorkerManagerConfig::from_config`] turn a
//! [`crate::master::config::MasterConfig`] into the manager's inputs.
//!
//! Nothing here touches the database; the engine records what the events tell it.

mod command;
mod connection;
mod error;
mod info;
mod manager;
mod paths;
mod transfer;

pub use command::{
    CommandArgs, CommandHandle, CommandOutcome, CommandResult, CommandUpdate, RemoteCommand,
    wire_command_name,
};
pub use connection::{TransferOptions, WorkerConnection};
pub use error::WorkerManagerError;
pub use info::WorkerInfo;
pub use manager::{
    ConnectionEvent, WorkerBuilder, WorkerManager, WorkerManagerConfig, WorkerRegistration,
};
pub use paths::PathFlavour;
pub use transfer::{Compression, DownloadSource};
