//! Integration tests of the `buildbot` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod changeport;
mod checkconfig;
#[path = "../../../tests/support/cli_harness.rs"]
mod cli_harness;
mod create;
mod harness;
mod hostile;
mod run;
mod sendchange;
mod upgrade;
mod users;
