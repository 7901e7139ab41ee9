//! Integration tests of the master side of the worker protocol: real sockets, real Python
//! `buildbot-worker` 4.3 processes (when `BUILDBOT_TEST_PYTHON_VENV` is set), our own
//! worker in-process, and a scripted raw WebSocket client for malformed input.

// Test helpers outside #[test] functions may unwrap and print SKIP lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod harness;
mod own;
mod python;
mod raw;
mod scenarios;
