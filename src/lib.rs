//! Buildbot in Rust: a facade with no code of its own. It re-exports the three libraries
//! under short names and hosts the examples, benchmarks and cross-crate tests.
//!
//! * [`core`] — `buildbot_core`: protocol, slave runtime, daemon utilities, the master.
//! * [`db`] — `buildbot_db`: the database layer.
//! * [`web`] — `buildbot_web`: the web server.
#![warn(missing_docs)]
pub use buildbot_core as core;
pub use buildbot_db as db;
pub use buildbot_web as web;
