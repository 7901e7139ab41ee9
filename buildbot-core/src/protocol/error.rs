//! Errors of the wire protocol and of the RPC layer.

/// Everything that can go wrong while decoding, encoding or exchanging protocol messages.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The payload is not one valid msgpack object (the Python peers drop the connection).
    #[error("invalid msgpack payload: {0}")]
    InvalidMsgpack(#[source] rmpv::decode::Error),
    /// The payload holds more bytes after the first msgpack object.
    #[error("invalid msgpack payload: {0} extra bytes after the message")]
    TrailingBytes(usize),
    /// A msgpack `str` that is not valid UTF-8 (Python decodes with `raw=False`).
    #[error("invalid msgpack payload: a str value is not valid UTF-8")]
    InvalidUtf8,
    /// A map key that is not a string (Python uses strict map keys).
    #[error("invalid msgpack payload: map keys must be strings")]
    NonStringKey,
    /// A scalar other than a string at top level (Python raises and drops the connection).
    #[error("unexpected top-level msgpack value {0}")]
    UnexpectedValue(String),
    /// A response for a sequence number nobody is waiting for (Python drops the connection).
    #[error("response with unexpected seq_number {0}")]
    UnexpectedResponse(u64),
    /// A message larger than the configured maximum.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the offending message.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Encoding a message failed (only possible with exotic values).
    #[error("cannot encode message {op}: {source}")]
    Encode {
        /// Operation being encoded.
        op: String,
        /// Underlying encoder error.
        #[source]
        source: rmpv::encode::Error,
    },
    /// The connection closed while a request was pending (or before it could be sent).
    #[error("Connection lost")]
    ConnectionLost,
    /// The peer answered a request with `is_exception`.
    #[error("remote error in {op}: {message}")]
    Remote {
        /// Operation of the failed request.
        op: String,
        /// The error text sent by the peer (`result`).
        message: String,
    },
}
