//! Buildbot's database layer.
#![warn(missing_docs)]

mod types;

pub use types::*;
