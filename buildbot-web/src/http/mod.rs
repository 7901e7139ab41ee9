//! The HTTP/1.1 front end: accepts connections and serves each one (keep-alive, `/ws`
//! upgrades), refusing what a hostile client could use to exhaust the master.
//!
//! It replaces `async_h1::accept`, whose decoder closes the connection without a status on a
//! malformed head, reads any body a handler asks for and drains any it does not. Responses
//! are still written by `async_h1`'s [`Encoder`], so a normal request is answered byte for
//! byte as before.
//!
//! Every limit, its default and where it is configured (`[www]` in `master.cfg`; the route
//! body limits are in `crate::body_limits`):
//!
//! | what | default | answer | `[www]` key |
//! |---|---|---|---|
//! | open connections in total | [`DEFAULT_MAX_CONNECTIONS`], at most the file-descriptor limit minus [`FD_RESERVE`] | `503`, closed | `max_connections` |
//! | open connections from one address (IPv6: its /64) | [`DEFAULT_MAX_CONNECTIONS_PER_IP`] | `503`, closed | `max_connections_per_ip` |
//! | time to send a request head (and to start the next one on a kept-alive connection) | [`DEFAULT_HEADER_TIMEOUT`] | `408` (closed silently if nothing was sent) | `header_timeout` |
//! | time to send a request body | [`DEFAULT_BODY_TIMEOUT`] | `408`, closed | `body_timeout` |
//! | request-target length | [`MAX_REQUEST_TARGET`] | `414` | — |
//! | header section size (after the request line) | [`MAX_HEADER_BYTES`] | `431` | — |
//! | header lines | [`MAX_HEADERS`] | `431` | — |
//! | a response write making no progress | [`WRITE_TIMEOUT`] | closed | — |
//!
//! A request head must also be well-formed HTTP/1.1 (`505` for another version) with one
//! `Host` header, header values of visible ASCII (plus space and tab), at most one
//! `Content-Length` value, never both `Content-Length` and `Transfer-Encoding`, and no
//! transfer coding but `chunked` (`501`); otherwise `400`.
//!
//! Request bodies: before a body is read the route's limit is asked for
//! ([`App::body_limit`]). A declared `Content-Length` above it is answered `413` unread; a
//! `chunked` body is cut off at the chunk that passes it (`413`). A route whose limit is `0`
//! reads no body: its handler sees an empty one. `Expect: 100-continue` is answered only when
//! a handler starts reading a body it may read. Whenever a body is left unread the answer
//! carries `Connection: close` and the connection is closed (the rest of the body is never
//! read, beyond a short bounded drain so that the client sees the answer).
//!
//! Every refusal is logged with the client's address and the request line (escaped and
//! truncated), at most [`log_throttle::LINES_PER_WINDOW`] lines per window, then one count.

mod body;
mod conns;
mod head;
mod input;
pub(crate) mod log_throttle;

use std::future::Future;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_h1::server::Encoder;
use async_std::net::{TcpListener, TcpStream};
use futures::{AsyncRead, AsyncReadExt, AsyncWriteExt, FutureExt, StreamExt};
use tide::http::{Method, Request, Response, StatusCode};

use body::{BodyReader, Returned, Slot};
use conns::{ConnGuard, ConnTable};
use head::{Framing, Head, Refusal};
use input::Input;
use log_throttle::Throttle;

/// Default of `[www] max_connections`.
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 2048;
/// Default of `[www] max_connections_per_ip`.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_IP: u32 = 128;
/// File descriptors kept for everything but web connections (database, workers, logs):
/// the total connection limit is at most the process's soft `RLIMIT_NOFILE` minus this.
pub(crate) const FD_RESERVE: u64 = 256;
/// Default of `[www] header_timeout`.
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of `[www] body_timeout`.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request-target (`414` above).
pub(crate) const MAX_REQUEST_TARGET: usize = 8 << 10;
/// Largest header section, the request line excluded (`431` above).
pub(crate) const MAX_HEADER_BYTES: usize = 8 << 10;
/// Most header lines (`431` above).
pub(crate) const MAX_HEADERS: usize = 100;
/// How long one write of a response may wait for the client to read.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// After a refusal, how long the rest of what the client sends is read and discarded before
/// the connection is closed (so that the client reads the answer rather than a reset).
const LINGER_TIME: Duration = Duration::from_secs(2);
/// ... and at most this many bytes of it.
const LINGER_BYTES: u64 = 1 << 20;
/// Size of the buffer a response is written through.
const WRITE_BUF: usize = 8 << 10;

/// The application behind the front end.
pub(crate) trait App: Clone + Send + Sync + 'static {
    /// The limits for a new connection (read from the configuration when it is accepted).
    fn limits(&self) -> Limits;
    /// The most body bytes the route of `method path` reads; `0`: it reads no body.
    fn body_limit(&self, method: Method, path: &str) -> u64;
    /// The `413` answer for a body to `path` larger than `limit`.
    fn too_large(&self, path: &str, limit: u64) -> Response;
    /// Answers a request.
    fn respond(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// The limits of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Open connections in total (already capped by the file-descriptor limit).
    pub(crate) max_connections: u32,
    /// Open connections from one address.
    pub(crate) max_connections_per_ip: u32,
    /// Time to send a request head.
    pub(crate) header_timeout: Duration,
    /// Time to send a request body.
    pub(crate) body_timeout: Duration,
}

impl Limits {
    /// The limits `[www]` asks for, the total capped below the file-descriptor limit.
    pub(crate) fn from_config(l: &buildbot_core::master::config::WwwLimits) -> Limits {
        Limits {
            max_connections: l
                .max_connections
                .unwrap_or(DEFAULT_MAX_CONNECTIONS)
                .min(fd_budget()),
            max_connections_per_ip: l
                .max_connections_per_ip
                .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP),
            header_timeout: l.header_timeout.unwrap_or(DEFAULT_HEADER_TIMEOUT),
            body_timeout: l.body_timeout.unwrap_or(DEFAULT_BODY_TIMEOUT),
        }
    }
}

/// The connections the file-descriptor limit leaves room for (at least 16).
pub(crate) fn fd_budget() -> u32 {
    static BUDGET: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` through a valid pointer.
        let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
        if !ok || r.rlim_cur == libc::RLIM_INFINITY {
            return u32::MAX;
        }
        let soft: u64 = r.rlim_cur;
        let budget = soft.saturating_sub(FD_RESERVE).max(16);
        u32::try_from(budget).unwrap_or(u32::MAX)
    })
}

/// Accepts connections on `listener` and serves each with `app`.
pub(crate) async fn accept_loop<A: App>(app: A, listener: TcpListener) {
    let table = Arc::new(ConnTable::default());
    let refusals = Throttle::default();
    let mut incoming = listener.incoming();
    while let Some(stream) = incoming.next().await {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // e.g. too many open files: keep serving the connections we have
                log::warn!("web server: cannot accept a connection: {e}");
                async_std::task::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let limits = app.limits();
        let guard = match table.admit(peer.ip(), &limits) {
            Ok(g) => g,
            Err(why) => {
                if let Some(suppressed) = refusals.allow() {
                    log::warn!(
                        "web server: refused a connection from {}: {why}{}",
                        peer.ip(),
                        log_throttle::suppressed_note(suppressed)
                    );
                }
                refuse_connection(stream);
                continue;
            }
        };
        // Without TCP_NODELAY a kept-alive client waits for the delayed ACK (about 40 ms)
        // before each response's last segment is sent.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        async_std::task::spawn(async move {
            serve_connection(app, stream, peer, limits, guard).await;
        });
    }
}

/// Tells a client over a connection limit to come back later, without waiting for it.
fn refuse_connection(stream: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\
                          Retry-After: 10\r\nConnection: close\r\n\r\n";
    let mut s = &stream;
    let _ = s.write(BUSY).now_or_never();
    let _ = stream.shutdown(Shutdown::Both);
}

/// What became of a request's body once its handler answered.
enum BodyFate {
    /// There was none, or it was read to its end.
    Done,
    /// Some of it is still unread: the connection cannot be reused.
    Unread,
    /// Refused while it was read: answer this instead.
    Refused(StatusCode, &'static str),
}

/// Serves one connection until it closes, times out, is upgraded or misbehaves.
async fn serve_connection<A: App>(
    app: A,
    stream: TcpStream,
    peer: SocketAddr,
    limits: Limits,
    guard: ConnGuard,
) {
    let local = stream.local_addr().ok();
    let out = stream.clone();
    let mut input = Some(Input::new(stream));
    let mut wbuf = Vec::new();
    let mut slot: Option<Slot> = None;
    // declared last, so dropped first: the slot is free before the client sees the close
    let guard = guard;
    while let Some(inp) = input.as_mut() {
        let head = match head::read_head(inp, limits.header_timeout).await {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(refusal) => {
                refuse(&out, &mut wbuf, peer, refusal, input.take(), None).await;
                return;
            }
        };
        let Head {
            mut request,
            framing,
            expect_continue,
            close: client_close,
            upgrade,
        } = head;
        let method = request.method();
        request.set_local_addr(local);
        request.set_peer_addr(Some(peer));

        // the body: refused, attached (read by the handler) or left unread
        let limit = match framing {
            Framing::None => 0,
            _ => app.body_limit(method, request.url().path()),
        };
        let mut fate = BodyFate::Done;
        match framing {
            Framing::None | Framing::Length(0) => {}
            Framing::Length(n) if limit > 0 && n > limit => {
                let path = request.url().path();
                let refusal = Refusal::new(
                    StatusCode::PayloadTooLarge,
                    format!("declared body of {n} bytes, above this route's limit of {limit}"),
                )
                .with_request(method, path);
                let res = app.too_large(path, limit);
                refuse(&out, &mut wbuf, peer, refusal, input.take(), Some(res)).await;
                return;
            }
            _ if limit == 0 => fate = BodyFate::Unread,
            _ => {
                let Some(inp) = input.take() else {
                    break;
                };
                let home = slot.get_or_insert_with(Slot::default).clone();
                let reader = BodyReader::new(
                    inp,
                    home,
                    framing,
                    limit,
                    limits.body_timeout,
                    expect_continue,
                );
                let len = match framing {
                    Framing::Length(n) => usize::try_from(n).ok(),
                    _ => None,
                };
                request.set_body(tide::http::Body::from_reader(reader, len));
            }
        }
        let path = (input.is_none()).then(|| request.url().path().to_owned());

        let mut res = app.respond(request).await;

        // take the connection's input back from the body reader, if there was one
        if input.is_none() {
            match slot.as_ref().and_then(Slot::take) {
                Some(Returned { input: i, outcome }) => {
                    input = Some(i);
                    fate = fate_of(outcome);
                }
                // still held (e.g. by a streaming answer): the connection ends with it
                None => fate = BodyFate::Unread,
            }
        }
        if let BodyFate::Refused(status, why) = fate {
            let path = path.unwrap_or_default();
            let refusal = Refusal::new(status, why).with_request(method, &path);
            let answer =
                (status == StatusCode::PayloadTooLarge).then(|| app.too_large(&path, limit));
            refuse(&out, &mut wbuf, peer, refusal, input.take(), answer).await;
            return;
        }

        let unread = matches!(fate, BodyFate::Unread);
        if unread && res.status() == StatusCode::SwitchingProtocols {
            // the body's bytes would be taken for the new protocol's
            res = Response::new(StatusCode::BadRequest);
            res.set_body("a request with a body cannot switch protocols\n");
        }
        let upgrade_sender =
            (upgrade && res.status() == StatusCode::SwitchingProtocols && res.has_upgrade())
                .then(|| res.send_upgrade());
        let mut close = client_close
            || unread
            || res
                .header("Connection")
                .is_some_and(|c| c.as_str().eq_ignore_ascii_case("close"));
        if unread && upgrade_sender.is_none() {
            res.insert_header("Connection", "close");
        }
        if write_response(&out, &mut wbuf, res, method).await.is_err() {
            return;
        }
        if let Some(sender) = upgrade_sender {
            if let Some(inp) = input.take() {
                sender
                    .send(tide::http::upgrade::Connection::new(inp.upgraded(guard)))
                    .await;
            }
            return;
        }
        if input.is_none() {
            close = true;
        }
        if close {
            if unread {
                linger(&out, input.take()).await;
            }
            return;
        }
    }
}

/// What a body reader's outcome means for the answer and the connection.
fn fate_of(outcome: body::Outcome) -> BodyFate {
    match outcome {
        body::Outcome::Complete => BodyFate::Done,
        body::Outcome::Unread => BodyFate::Unread,
        body::Outcome::TooLarge => BodyFate::Refused(
            StatusCode::PayloadTooLarge,
            "chunked body above this route's limit",
        ),
        body::Outcome::TimedOut => BodyFate::Refused(
            StatusCode::RequestTimeout,
            "body not sent within the body timeout",
        ),
        body::Outcome::Malformed(why) => BodyFate::Refused(StatusCode::BadRequest, why),
        body::Outcome::Failed => BodyFate::Refused(
            StatusCode::BadRequest,
            "connection closed or failed before the end of the body",
        ),
    }
}

/// Answers a refused request (with `answer`, or a short text), logs it, and closes the
/// connection after a bounded drain.
async fn refuse(
    out: &TcpStream,
    wbuf: &mut Vec<u8>,
    peer: SocketAddr,
    refusal: Refusal,
    input: Option<Input>,
    answer: Option<Response>,
) {
    static THROTTLE: Throttle = Throttle::new();
    if let Some(suppressed) = THROTTLE.allow() {
        log::warn!(
            "web server: {} to {}: {}{}{}",
            refusal.status as u16,
            peer,
            refusal.reason,
            refusal.request_note(),
            log_throttle::suppressed_note(suppressed)
        );
    }
    let mut res = answer.unwrap_or_else(|| {
        let mut r = Response::new(refusal.status);
        r.insert_header("Content-Type", "text/plain; charset=utf-8");
        r.set_body(format!(
            "{} {}\n",
            refusal.status as u16,
            refusal.status.canonical_reason()
        ));
        r
    });
    res.insert_header("Connection", "close");
    if write_response(out, wbuf, res, Method::Get).await.is_ok() {
        linger(out, input).await;
    }
}

/// Closes our side, then reads and discards what the client still sends for a while, so
/// that it reads our answer instead of a connection reset.
async fn linger(out: &TcpStream, input: Option<Input>) {
    let _ = out.shutdown(Shutdown::Write);
    let Some(input) = input else {
        return;
    };
    let mut s = input.into_stream();
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0u64;
        while total < LINGER_BYTES {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n as u64,
            }
        }
    };
    let _ = async_std::future::timeout(LINGER_TIME, drain).await;
}

/// Writes `res` (head and body, through `async_h1`'s encoder) to `out`: as few writes as
/// the body allows, and each bounded by [`WRITE_TIMEOUT`].
async fn write_response(
    out: &TcpStream,
    wbuf: &mut Vec<u8>,
    res: Response,
    method: Method,
) -> std::io::Result<()> {
    use std::pin::Pin;
    use std::task::Poll;
    if wbuf.len() < WRITE_BUF {
        wbuf.resize(WRITE_BUF, 0);
    }
    let mut enc = Encoder::new(res, method);
    loop {
        // as much of the encoded answer as is ready now (at least one byte)
        let (n, end) = futures::future::poll_fn(|cx| {
            let mut filled = 0;
            loop {
                match Pin::new(&mut enc).poll_read(cx, &mut wbuf[filled..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Ok((filled, true))),
                    Poll::Ready(Ok(n)) => {
                        filled += n;
                        if filled == wbuf.len() {
                            return Poll::Ready(Ok((filled, false)));
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending if filled > 0 => return Poll::Ready(Ok((filled, false))),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await?;
        write_all(out, &wbuf[..n]).await?;
        if end {
            return Ok(());
        }
    }
}

/// `write_all`, giving up when one write makes no progress for [`WRITE_TIMEOUT`] (a timer
/// is only set up when the socket's buffer is full).
async fn write_all(out: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    let mut s = out;
    while !buf.is_empty() {
        let n = match s.write(buf).now_or_never() {
            Some(r) => r?,
            None => async_std::io::timeout(WRITE_TIMEOUT, s.write(buf)).await?,
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}
