//! Integration tests of the `buildslave` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

#[path = "../../../tests/support/cli_harness.rs"]
mod cli_harness;
mod create;
mod harness;
mod python;
mod run;
mod upgrade;
