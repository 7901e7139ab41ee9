//! Buildbot's engine.
#![warn(missing_docs)]

#[cfg(unix)]
pub mod daemon;
pub mod protocol;
pub mod slave;
pub mod util;
pub use slave::{
    AllowShutdown, Slave, SlaveConfig, SlaveError, SlaveEvent, SlaveExit, SlaveHandle,
};

#[cfg(feature = "master")]
pub mod master;
