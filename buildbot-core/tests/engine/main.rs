//! Integration tests of the build engine: a real master (SQLite file, worker listener on
//! 127.0.0.1) with our worker in-process or real Python `buildbot-worker` 4.3 processes.

// Test helpers outside #[test] functions may unwrap and print SKIP lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod crash;
mod fuzz;
mod git_modes;
mod harness;
mod hg_step;
mod housekeeping;
mod lifecycle;
mod locks;
mod own;
mod pollers;
mod python;
mod registry;
mod schedulers;
mod source;
mod strategies;
mod svn_step;
mod trigger;
