//! REST API v2 against a real engine (SQLite in a temp dir) and an in-process worker.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod harness;
mod rest;
