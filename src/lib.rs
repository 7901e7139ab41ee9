//! Buildbot in Rust: facade crate re-exporting the libraries.
#![warn(missing_docs)]
pub use buildbot_core as core;
pub use buildbot_db as db;
pub use buildbot_web as web;
