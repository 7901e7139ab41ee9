//! Buildbot's engine: the master ⇄ worker protocol, the slave runtime that `buildslave`
//! runs, process life for both programs, and (feature `master`, default) the build master.
//!
//! * [`protocol`] — Buildbot's `msgpack_experimental_v7` wire protocol (both sides).
//! * [`Slave`], [`SlaveConfig`], [`SlaveHandle`] … — the slave runtime (module `slave`):
//!   connection with back-off, the session, every remote command.
//! * [`daemon`] — `twistd.pid`, daemonizing, `twistd.log`, signals, memory release, and the
//!   two programs' terminal output.
//! * [`master`] — configuration, the running master ([`master::Master`]), its worker
//!   connections, schedulers, builds and steps, the event bus and Buildbot's REST shapes.
//! * [`util`] — small helpers everything here uses (locking, the time, client text in logs).
//!
//! Every type has one public path: modules whose types are re-exported are private.
#![warn(missing_docs)]

#[cfg(unix)]
pub mod daemon;
#[cfg(feature = "master")]
pub mod master;
pub mod protocol;
mod slave;
pub mod util;

pub use slave::{
    AllowShutdown, Slave, SlaveConfig, SlaveError, SlaveEvent, SlaveExit, SlaveHandle,
};
