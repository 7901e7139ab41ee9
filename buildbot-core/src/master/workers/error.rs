//! Errors of the worker manager.

use crate::protocol::ProtocolError;

/// Everything that can go wrong in the worker manager and on worker connections.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum WorkerManagerError {
    /// The listening socket could not be opened.
    #[error("cannot listen for workers on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The worker is not (or no longer) connected.
    #[error("worker {worker} is not connected")]
    NotConnected {
        /// Worker name.
        worker: String,
    },
    /// A request to the worker failed (connection lost, or an error response).
    #[error("worker {worker}: {op} failed: {source}")]
    Request {
        /// Worker name.
        worker: String,
        /// The operation (`print`, `start_command shell`, ...).
        op: String,
        /// What went wrong.
        #[source]
        source: ProtocolError,
    },
    /// The arguments of a remote command are unusable.
    #[error("worker {worker}: invalid arguments for command {command}: {message}")]
    InvalidArgs {
        /// Worker name.
        worker: String,
        /// Command name.
        command: String,
        /// What is wrong.
        message: String,
    },
    /// The session start or a builder-list update (§5) failed.
    #[error("Worker {worker} reconfiguration or connection to master failed: {message}")]
    Attach {
        /// Worker name.
        worker: String,
        /// What went wrong.
        message: String,
    },
    /// A master-side file operation of a transfer failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
