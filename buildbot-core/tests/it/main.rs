//! Integration tests of the protocol and the slave runtime (real sockets, real processes).
// helpers outside #[test] functions unwrap too; the tungstenite callback type is fixed
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod fuzz;
mod golden;
mod harness;
mod interop;
mod worker_commands;
mod worker_resilience;
mod worker_safety;
mod worker_session;
