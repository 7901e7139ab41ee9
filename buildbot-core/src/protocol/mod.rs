//! Buildbot's master ⇄ worker protocol `msgpack_experimental_v7`: msgpack maps carried in
//! WebSocket binary messages (see `spec/worker-protocol.md`).
//!
//! * [`Message`], [`Op`], [`UpdateEntry`], [`TextChunk`], [`WorkerSettings`]: typed messages
//!   for both directions; [`encode_request`], [`encode_response`] and [`decode`] convert
//!   them to and from the exact bytes the Python programs use (maps with string keys, `str`
//!   for text, `bin` for file data, `is_exception` only on failure).
//! * [`RpcPeer`]: the request/response layer of one connection (sequence numbers from 0,
//!   pending-request table, "Connection lost" on close), shared by master and worker.
//!
//! # Extensions (Rust master ⇄ Rust worker only)
//!
//! The Python master must never receive an operation it does not know, so extensions are
//! negotiated: a master that supports them adds the HTTP header
//! [`EXTENSIONS_HEADER`] (`X-Buildbot-Worker-Extensions`) to its `101 Switching Protocols`
//! response, with a comma-separated list of extension names. The Python master never sends
//! it, so a worker talking to Python behaves exactly like `buildbot-worker` 4.3.
//!
//! * `keepalive` ([`EXT_KEEPALIVE`]): the worker sends `{"op": "keepalive", "seq_number": n}`
//!   every `keepalive` seconds (its configuration); the master answers `result: nil`. A
//!   worker that gets no response within the interval considers the connection dead,
//!   drops it and reconnects.
//! * `shutdown-request` ([`EXT_SHUTDOWN_REQUEST`]): for a graceful shutdown (shutdown
//!   stamp file or SIGHUP) the worker sends `{"op": "shutdown_request", "seq_number": n}`;
//!   the master answers `nil`, stops giving the worker new builds and, once the worker is
//!   idle, sends the ordinary `shutdown` op (§3.7). Without this extension the worker
//!   refuses new commands (`is_exception` "worker is shutting down"), waits for its
//!   running commands and disconnects on its own.
mod error;
mod message;
mod rpc;

pub use error::ProtocolError;
pub use message::{
    DEFAULT_NEWLINE_RE, Incoming, Message, Op, Request, Response, TextChunk, UpdateEntry,
    WorkerSettings, decode, decode_value, encode, encode_request, encode_response,
};
pub use rmpv::Value;
pub use rpc::{IncomingRequest, RpcPeer};

/// A JSON value as the msgpack value Python's `msgpack` would make of the same Python
/// object (integers stay integers, other numbers become floats, objects become maps with
/// string keys): how command arguments built as JSON go on the wire.
pub fn json_to_msgpack(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::from(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::Array(a.iter().map(json_to_msgpack).collect()),
        J::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

/// The protocol's name, as a slave's `buildbot.tac` and both programs' `--version` write it.
pub const WIRE_PROTOCOL: &str = "msgpack_experimental_v7";
/// Response header of the WebSocket upgrade listing the extensions a master supports.
pub const EXTENSIONS_HEADER: &str = "X-Buildbot-Worker-Extensions";
/// Extension: worker-originated `keepalive` requests.
pub const EXT_KEEPALIVE: &str = "keepalive";
/// Extension: worker-originated `shutdown_request`.
pub const EXT_SHUTDOWN_REQUEST: &str = "shutdown-request";
/// Largest message the slave accepts from a master (64 MiB); larger ones are protocol errors.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;
/// Largest message a master accepts from a worker (16 MiB): output updates are a few
/// KiB, file-transfer blocks at most [`MAX_TRANSFER_BLOCK`]; a larger message drops the
/// connection with a logged reason.
pub const MAX_WORKER_MESSAGE_SIZE: usize = 16 << 20;
/// Largest `blocksize` a transfer step may ask for (8 MiB), so that a worker's blocks stay
/// well within [`MAX_WORKER_MESSAGE_SIZE`].
pub const MAX_TRANSFER_BLOCK: u64 = 8 << 20;

/// Parses the value of [`EXTENSIONS_HEADER`] into extension names.
pub fn parse_extensions(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}
