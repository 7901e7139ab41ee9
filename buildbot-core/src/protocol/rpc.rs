//! The request/response layer shared by both sides.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_std::channel::{Receiver, Sender, unbounded};
use futures::channel::oneshot;
use rmpv::Value;

use super::error::ProtocolError;
use super::message::{Incoming, Op, Request, Response, decode, encode_request, encode_response};

type Pending = HashMap<u64, (String, oneshot::Sender<Result<Value, ProtocolError>>)>;

struct Inner {
    next_seq: AtomicU64,
    /// `None` once the connection is closed.
    pending: Mutex<Option<Pending>>,
    outgoing: Sender<Vec<u8>>,
}

/// One side of one connection: a sequence counter starting at 0, the table of requests
/// waiting for their response, and the queue of encoded frames to send.
///
/// The transport (a WebSocket) reads frames from the receiver returned by [`RpcPeer::new`]
/// and sends each as one binary message; it feeds received binary payloads to
/// [`RpcPeer::receive`], which resolves responses and hands requests back to the caller,
/// who handles them concurrently and answers with [`RpcPeer::respond`]. When the transport
/// ends it calls [`RpcPeer::close`]: every pending request fails with "Connection lost".
#[derive(Clone)]
pub struct RpcPeer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RpcPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcPeer")
            .field("next_seq", &self.inner.next_seq.load(Ordering::Relaxed))
            .finish()
    }
}

/// A received request, ready to be handled.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingRequest {
    /// The peer's sequence number, to be used in the response.
    pub seq_number: u64,
    /// The operation name.
    pub op_name: String,
    /// The decoded operation, or the text of the `is_exception` response to send.
    pub op: Result<Op, String>,
}

impl RpcPeer {
    /// A fresh peer (sequence numbers from 0) and the queue of frames it wants sent.
    pub fn new() -> (RpcPeer, Receiver<Vec<u8>>) {
        let (tx, rx) = unbounded();
        (
            RpcPeer {
                inner: Arc::new(Inner {
                    next_seq: AtomicU64::new(0),
                    pending: Mutex::new(Some(HashMap::new())),
                    outgoing: tx,
                }),
            },
            rx,
        )
    }

    fn pending(&self) -> MutexGuard<'_, Option<Pending>> {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `true` once [`RpcPeer::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.pending().is_none()
    }

    /// Sends a request and returns a future resolving to its result. The request is sent
    /// (and registered) immediately, whether or not the future is awaited; dropping the
    /// future just discards the response.
    pub fn send(&self, op: Op) -> impl Future<Output = Result<Value, ProtocolError>> + use<> {
        let (tx, rx) = oneshot::channel();
        let op_name = op.name().to_string();
        let sent = (|| {
            let mut guard = self.pending();
            let table = guard.as_mut().ok_or(ProtocolError::ConnectionLost)?;
            let seq = self.inner.next_seq.fetch_add(1, Ordering::SeqCst);
            let frame = encode_request(seq, &op)?;
            table.insert(seq, (op_name.clone(), tx));
            self.inner
                .outgoing
                .try_send(frame)
                .map_err(|_| ProtocolError::ConnectionLost)?;
            Ok::<(), ProtocolError>(())
        })();
        async move {
            sent?;
            match rx.await {
                Ok(r) => r,
                Err(_) => Err(ProtocolError::ConnectionLost),
            }
        }
    }

    /// Sends a request and waits for its result.
    pub async fn call(&self, op: Op) -> Result<Value, ProtocolError> {
        self.send(op).await
    }

    /// Sends a response.
    pub fn respond(&self, seq_number: u64, result: Result<Value, String>) {
        let response = match result {
            Ok(result) => Response {
                seq_number,
                result,
                is_exception: false,
            },
            Err(text) => Response {
                seq_number,
                result: Value::from(text),
                is_exception: true,
            },
        };
        match encode_response(&response) {
            Ok(frame) => {
                if self.inner.outgoing.try_send(frame).is_err() {
                    log::debug!("response {seq_number} not sent: connection closed");
                }
            }
            Err(e) => log::error!("cannot encode response {seq_number}: {e}"),
        }
    }

    /// Handles one received binary payload. Responses resolve their pending request;
    /// requests are returned for handling; ignorable payloads are logged.
    ///
    /// An error means the connection must be dropped (invalid msgpack, unexpected
    /// response sequence number, top-level scalar).
    pub fn receive(&self, payload: &[u8]) -> Result<Option<IncomingRequest>, ProtocolError> {
        match decode(payload)? {
            Incoming::Ignored(why) => {
                log::warn!("{why}");
                Ok(None)
            }
            Incoming::Response(r) => {
                let entry = self
                    .pending()
                    .as_mut()
                    .and_then(|table| table.remove(&r.seq_number));
                let Some((op, tx)) = entry else {
                    return Err(ProtocolError::UnexpectedResponse(r.seq_number));
                };
                let result = if r.is_exception {
                    Err(ProtocolError::Remote {
                        op,
                        message: match r.result {
                            Value::String(s) => s.as_str().unwrap_or_default().to_string(),
                            other => other.to_string(),
                        },
                    })
                } else {
                    Ok(r.result)
                };
                let _ = tx.send(result);
                Ok(None)
            }
            Incoming::Request {
                seq_number,
                op_name,
                op,
            } => Ok(Some(IncomingRequest {
                seq_number,
                op_name,
                op,
            })),
        }
    }

    /// Marks the connection closed: every pending request fails with "Connection lost",
    /// later requests fail at once, and the outgoing queue is closed.
    pub fn close(&self) {
        let table = self.pending().take();
        if let Some(table) = table {
            for (_, (_, tx)) in table {
                let _ = tx.send(Err(ProtocolError::ConnectionLost));
            }
        }
        self.inner.outgoing.close();
    }

    /// Number of requests waiting for a response.
    pub fn pending_count(&self) -> usize {
        self.pending().as_ref().map_or(0, HashMap::len)
    }
}

impl From<&IncomingRequest> for Request {
    fn from(r: &IncomingRequest) -> Request {
        Request {
            seq_number: r.seq_number,
            op: r.op.clone().unwrap_or(Op::Unknown {
                op: r.op_name.clone(),
                fields: vec![],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[async_std::test]
    async fn request_response_roundtrip() {
        let (a, a_out) = RpcPeer::new();
        let (b, b_out) = RpcPeer::new();
        let fut = a.send(Op::Keepalive);
        let frame = a_out.recv().await.unwrap();
        let req = b.receive(&frame).unwrap().unwrap();
        assert_eq!(req.seq_number, 0);
        b.respond(req.seq_number, Ok(Value::Nil));
        let resp = b_out.recv().await.unwrap();
        assert!(a.receive(&resp).unwrap().is_none());
        assert_eq!(fut.await.unwrap(), Value::Nil);
        let pending = a.send(Op::Keepalive);
        a.close();
        assert!(matches!(pending.await, Err(ProtocolError::ConnectionLost)));
        // a response nobody waits for is a protocol error
        assert!(matches!(
            b.receive(&resp),
            Err(ProtocolError::UnexpectedResponse(0))
        ));
    }
}
