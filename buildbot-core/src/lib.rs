//! Buildbot's engine.
#![warn(missing_docs)]

#[cfg(unix)]
pub mod daemon;
pub mod protocol;
pub mod util;
pub mod worker;
pub use worker::{
    AllowShutdown, Worker, WorkerConfig, WorkerError, WorkerEvent, WorkerExit, WorkerHandle,
};

#[cfg(feature = "master")]
pub mod master;
