//! Server-Sent Events: `/sse/listen[/<path>]` (Buildbot's), `/sse/<path>` (ours, one
//! event name per key), and `/sse/add|remove/<uuid>/<path>` changing an open stream.
//! Streams count as live connections and their paths as subscriptions (`limits.rs`); a
//! foreign `Origin` is refused with `403` on every route.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use buildbot_core::master::Event;
use buildbot_core::util::log_text;
use futures::{Stream, TryStreamExt};
use tide::http::{StatusCode, mime};
use tide::{Body, Request, Response};

use super::client::{Client, refused};
use super::subs::{Item, KEEPALIVE, SubSet, lock, text};
use crate::State;
use crate::json;

/// Most events (or bytes) written in one SSE chunk when they arrive in a burst.
const BATCH_EVENTS: usize = 64;
const BATCH_BYTES: usize = 64 * 1024;

/// Live SSE streams (for `/metrics`).
pub(crate) static SSE_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// Event formatting of an SSE stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SseFormat {
    /// Buildbot's: `event: event` / `data: {"key": [...], "message": ...}`.
    Buildbot,
    /// Ours: `event: <key>` / `data: <message>`.
    Simple,
}

/// Open SSE streams by uuid, for `/sse/add` and `/sse/remove`.
#[derive(Default)]
struct Registry {
    streams: Mutex<HashMap<String, Weak<SubSet>>>,
}

impl Registry {
    fn get(&self, uuid: &str) -> Option<Arc<SubSet>> {
        lock(&self.streams).get(uuid).and_then(Weak::upgrade)
    }
}

/// The body of an SSE response: handshake, events, keep-alives; unregisters when dropped
/// (the client went away or the response was abandoned).
struct SseStream {
    queued: VecDeque<Vec<u8>>,
    set: Arc<SubSet>,
    /// The client's place in the connection counts, given back with the stream.
    client: Client,
    keepalive: async_std::stream::Interval,
    format: SseFormat,
    uuid: String,
    registry: Arc<Registry>,
    ended: bool,
}

impl Drop for SseStream {
    fn drop(&mut self) {
        lock(&self.registry.streams).remove(&self.uuid);
        SSE_STREAMS.fetch_sub(1, Ordering::Relaxed);
        log::debug!("SSE stream {} closed", self.uuid);
    }
}

fn write_sse_event(out: &mut Vec<u8>, format: SseFormat, ev: &Event) {
    match format {
        SseFormat::Buildbot => {
            out.extend_from_slice(b"event: event\ndata: ");
            let msg = serde_json::json!({"key": ev.key.parts(), "message": &*ev.message});
            // "key" sorts before "message" either way, as Python writes them
            if json::write_py_line_ascii(&mut *out, &msg).is_err() {
                out.extend_from_slice(b"null");
            }
        }
        SseFormat::Simple => {
            out.extend_from_slice(b"event: ");
            // keys never hold newlines in practice; never let one break the framing
            out.extend(
                ev.key
                    .to_string()
                    .bytes()
                    .filter(|b| *b != b'\n' && *b != b'\r'),
            );
            out.extend_from_slice(b"\ndata: ");
            if serde_json::to_writer(&mut *out, &*ev.message).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }
    out.extend_from_slice(b"\n\n");
}

impl Stream for SseStream {
    type Item = io::Result<Vec<u8>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(b) = self.queued.pop_front() {
            return Poll::Ready(Some(Ok(b)));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        let mut out = Vec::new();
        let mut n = 0;
        while n < BATCH_EVENTS && out.len() < BATCH_BYTES {
            match self.set.poll_item(cx) {
                Poll::Ready(Item::Event(ev)) => {
                    write_sse_event(&mut out, self.format, &ev);
                    n += 1;
                }
                Poll::Ready(Item::Lost(path)) => {
                    log::warn!(
                        "SSE stream {} of {}: subscription {} dropped by the event bus (client too slow); ending the stream",
                        self.uuid,
                        self.client.peer,
                        log_text(&path)
                    );
                    self.ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !out.is_empty() {
            return Poll::Ready(Some(Ok(out)));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        if Pin::new(&mut self.keepalive).poll_next(cx).is_ready() {
            return Poll::Ready(Some(Ok(b": keepalive\n\n".to_vec())));
        }
        Poll::Pending
    }
}

/// `Body::from_reader` wants a `Sync` reader; the stream is only ever used by one task, so
/// a mutex costs nothing and gives that.
struct SyncStream<S>(Mutex<S>);

impl<S: Stream + Unpin> Stream for SyncStream<S> {
    type Item = S::Item;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut s = lock(&self.0);
        Pin::new(&mut *s).poll_next(cx)
    }
}

fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The path given after a route prefix: `*` may arrive percent-encoded; a trailing slash is
/// ignored (as Buildbot does).
fn clean_path(raw: &str) -> String {
    let p = raw.replace("%2A", "*").replace("%2a", "*");
    p.strip_suffix('/').unwrap_or(&p).to_owned()
}

/// A foreign `Origin` gets `403` (a stream may carry a session's data).
fn foreign(req: &Request<State>) -> Option<Response> {
    (!crate::origin::allowed_or_log(req, "SSE request")).then(|| {
        text(
            StatusCode::Forbidden,
            "cross-site request refused: Origin is not this site",
        )
    })
}

fn open_sse(
    req: &Request<State>,
    registry: &Arc<Registry>,
    path: Option<String>,
    format: SseFormat,
) -> Response {
    if let Some(res) = foreign(req) {
        return res;
    }
    let client = match Client::connect(req, "SSE stream") {
        Ok(c) => c,
        Err(why) => return refused(&why),
    };
    let set = Arc::new(client.subscriptions());
    if let Some(p) = &path
        && let Err(why) = set.add(req.state().handle.events(), p, &client.peer)
    {
        return refused(&why);
    }
    let uuid = new_uuid();
    lock(&registry.streams).insert(uuid.clone(), Arc::downgrade(&set));
    log::debug!(
        "SSE stream {uuid} opened for {} ({format:?}, path {})",
        client.peer,
        log_text(path.as_deref().unwrap_or(""))
    );
    let keepalive = async_std::stream::interval(KEEPALIVE);
    SSE_STREAMS.fetch_add(1, Ordering::Relaxed);
    let stream = SseStream {
        queued: VecDeque::from([format!("event: handshake\ndata: {uuid}\n\n").into_bytes()]),
        set,
        client,
        keepalive,
        format,
        uuid,
        registry: registry.clone(),
        ended: false,
    };
    let reader = SyncStream(Mutex::new(stream)).into_async_read();
    let mut res = Response::new(StatusCode::Ok);
    res.set_body(Body::from_reader(reader, None));
    res.set_content_type(mime::SSE);
    res.insert_header("Cache-Control", "no-cache");
    res.insert_header("X-Accel-Buffering", "no");
    res
}

/// Adds the `/sse` routes.
pub(super) fn add_routes_sse(app: &mut tide::Server<State>) {
    let registry = Arc::new(Registry::default());

    let r = registry.clone();
    let listen = move |req: Request<State>| {
        let r = r.clone();
        async move {
            let path = req
                .param("path")
                .ok()
                .map(clean_path)
                .filter(|p| !p.is_empty());
            Ok(open_sse(&req, &r, path, SseFormat::Buildbot))
        }
    };
    app.at("/sse").get(listen.clone());
    app.at("/sse/").get(listen.clone());
    app.at("/sse/listen").get(listen.clone());
    app.at("/sse/listen/").get(listen.clone());
    app.at("/sse/listen/*path").get(listen);

    for (cmd, add) in [("add", true), ("remove", false)] {
        let need = |_req: Request<State>| async { Ok(text(StatusCode::BadRequest, "need uuid")) };
        app.at(&format!("/sse/{cmd}")).get(need);
        app.at(&format!("/sse/{cmd}/")).get(need);
        let r = registry.clone();
        let change = move |req: Request<State>| {
            let r = r.clone();
            async move {
                if let Some(res) = foreign(&req) {
                    return Ok(res);
                }
                let uuid = req.param("uuid").unwrap_or_default();
                let Some(set) = r.get(uuid) else {
                    return Ok(text(StatusCode::BadRequest, "unknown uuid"));
                };
                let path = req.param("path").map(clean_path).unwrap_or_default();
                if add {
                    let peer = crate::origin::peer(&req);
                    if let Err(why) = set.add(req.state().handle.events(), &path, &peer) {
                        return Ok(refused(&why));
                    }
                } else if !set.remove(&path) {
                    return Ok(text(
                        StatusCode::NotFound,
                        "consumer is not listening to this event",
                    ));
                }
                Ok(text(StatusCode::Ok, "ok"))
            }
        };
        app.at(&format!("/sse/{cmd}/:uuid")).get(change.clone());
        app.at(&format!("/sse/{cmd}/:uuid/")).get(change.clone());
        app.at(&format!("/sse/{cmd}/:uuid/*path")).get(change);
    }

    let r = registry;
    app.at("/sse/*path").get(move |req: Request<State>| {
        let r = r.clone();
        async move {
            let path = req.param("path").map(clean_path).unwrap_or_default();
            Ok(open_sse(&req, &r, Some(path), SseFormat::Simple))
        }
    });
}
