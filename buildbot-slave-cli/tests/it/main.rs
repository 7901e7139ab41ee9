//! Integration tests of the `buildslave` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod create;
mod harness;
mod python;
mod run;
mod upgrade;
