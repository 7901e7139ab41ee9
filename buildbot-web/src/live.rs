//! Live updates: Buildbot's `/ws` WebSocket protocol and Server-Sent Events over the
//! master's event bus (`spec/rest-api.md` §8, §9).
//!
//! * `GET /ws` — RFC 6455; the client sends `{"cmd": "startConsuming"|"stopConsuming"|"ping",
//!   "path": "builds/*/*", "_id": 1}` and gets `{"msg":"OK","code":200,"_id":1}` (or
//!   `{"error":…,"code":…,"_id":…}`); events arrive as `{"k":"<key>","m":<message>}`.
//! * `GET /sse/listen[/<path>]` — Buildbot's SSE: a stream whose first event is
//!   `event: handshake` / `data: <uuid>`; `GET /sse/add/<uuid>/<path>` and
//!   `GET /sse/remove/<uuid>/<path>` change what it carries; events are `event: event` /
//!   `data: {"key": [...], "message": ...}` (Python's JSON spacing).
//! * `GET /sse/<path>` — the simple form used by our pages: the same handshake, then one
//!   `event: <key joined by />` / `data: <message as JSON>` per event, so an `EventSource`
//!   can `addEventListener` on a key. Its uuid works with `add`/`remove` too.
//!
//! Paths are event-bus filters: `/`-separated, `*` matches one element, the length must
//! equal the key's. Every stream gets a keep-alive comment (SSE) or ping (WebSocket) every
//! [`KEEPALIVE`], so proxies keep it open and a vanished client is noticed. A subscriber the
//! bus disconnects for being too slow gets its stream ended (SSE) or its socket closed with
//! code 1011 (WebSocket), so it reconnects and re-reads the state rather than miss events.
//! No task outlives its client: SSE streams are plain response bodies (dropping the body
//! unsubscribes), and a WebSocket's task ends when its socket does.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use buildbot_core::master::{Event, EventBus};
use futures::task::AtomicWaker;
use futures::{Stream, StreamExt, TryStreamExt};
use serde_json::Value;
use tide::http::{StatusCode, mime};
use tide::{Body, Request, Response};

use crate::State;

/// Interval of SSE keep-alive comments and WebSocket pings.
pub(crate) const KEEPALIVE: Duration = Duration::from_secs(15);

/// Most events (or bytes) written in one SSE chunk when they arrive in a burst.
const BATCH_EVENTS: usize = 64;
const BATCH_BYTES: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

// ------------------------------------------------------------------ subscription sets

/// What a [`SubSet`] yields.
enum Item {
    /// An event of one of the subscriptions.
    Event(Event),
    /// The bus disconnected this path's subscription (the consumer was too slow).
    Lost(String),
}

/// A changing set of bus subscriptions, keyed by their path, read as one stream.
#[derive(Default)]
struct SubSet {
    subs: Mutex<Vec<(String, buildbot_core::master::Subscription)>>,
    waker: AtomicWaker,
    /// Round-robin start so a busy subscription does not starve the others.
    next: AtomicUsize,
}

impl SubSet {
    /// Subscribes to `path` unless already subscribed; `false` if it was.
    fn add(&self, bus: &EventBus, path: &str) -> bool {
        let mut subs = lock(&self.subs);
        if subs.iter().any(|(p, _)| p == path) {
            return false;
        }
        subs.push((path.to_owned(), bus.subscribe_path(path)));
        drop(subs);
        self.waker.wake();
        true
    }

    /// Unsubscribes from `path`; `false` if it was not subscribed.
    fn remove(&self, path: &str) -> bool {
        let mut subs = lock(&self.subs);
        let before = subs.len();
        subs.retain(|(p, _)| p != path);
        before != subs.len()
    }

    fn poll_item(&self, cx: &mut Context<'_>) -> Poll<Item> {
        self.waker.register(cx.waker());
        let mut subs = lock(&self.subs);
        let n = subs.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) % n;
            match Pin::new(&mut subs[i].1).poll_next(cx) {
                Poll::Ready(Some(ev)) => return Poll::Ready(Item::Event(ev)),
                Poll::Ready(None) => {
                    let (path, _) = subs.remove(i);
                    return Poll::Ready(Item::Lost(path));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}

// ------------------------------------------------------------------ SSE

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
            let mut ser = serde_json::Serializer::with_formatter(&mut *out, PyFormatter);
            if serde::Serialize::serialize(&msg, &mut ser).is_err() {
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
                        "SSE stream {}: subscription {path} dropped by the event bus (client too slow); ending the stream",
                        self.uuid
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

fn text(status: StatusCode, body: &str) -> Response {
    let mut res = Response::new(status);
    res.set_content_type(mime::PLAIN);
    res.set_body(body.to_owned());
    res
}

fn open_sse(
    req: &Request<State>,
    registry: &Arc<Registry>,
    path: Option<String>,
    format: SseFormat,
) -> Response {
    let set = Arc::new(SubSet::default());
    if let Some(p) = &path {
        set.add(req.state().handle.events(), p);
    }
    let uuid = new_uuid();
    lock(&registry.streams).insert(uuid.clone(), Arc::downgrade(&set));
    log::debug!("SSE stream {uuid} opened ({format:?}, path {path:?})");
    let keepalive = async_std::stream::interval(KEEPALIVE);
    SSE_STREAMS.fetch_add(1, Ordering::Relaxed);
    let stream = SseStream {
        queued: VecDeque::from([format!("event: handshake\ndata: {uuid}\n\n").into_bytes()]),
        set,
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

fn add_routes_sse(app: &mut tide::Server<State>) {
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
                let uuid = req.param("uuid").unwrap_or_default();
                let Some(set) = r.get(uuid) else {
                    return Ok(text(StatusCode::BadRequest, "unknown uuid"));
                };
                let path = req.param("path").map(clean_path).unwrap_or_default();
                if add {
                    set.add(req.state().handle.events(), &path);
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

// ------------------------------------------------------------------ Python JSON spacing

/// serde_json formatting as Python's `json.dumps` defaults: `", "` and `": "` separators,
/// non-ASCII escaped as `\uXXXX`.
struct PyFormatter;

impl serde_json::ser::Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for u in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------------ WebSocket

/// Live WebSocket connections (for `/metrics`).
pub(crate) static WS_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
/// Live SSE streams (for `/metrics`).
pub(crate) static SSE_STREAMS: AtomicUsize = AtomicUsize::new(0);

fn header_has_token(req: &Request<State>, name: &str, token: &str) -> bool {
    req.header(name).is_some_and(|vs| {
        vs.iter().any(|v| {
            v.as_str()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    })
}

async fn ws_handshake(req: Request<State>) -> tide::Result {
    if !header_has_token(&req, "Upgrade", "websocket")
        || !header_has_token(&req, "Connection", "upgrade")
    {
        let mut res = text(
            StatusCode::UpgradeRequired,
            "this is Buildbot's WebSocket endpoint: connect with a WebSocket client",
        );
        res.insert_header("Upgrade", "websocket");
        return Ok(res);
    }
    let Some(key) = req
        .header("Sec-WebSocket-Key")
        .map(|v| v.last().as_str().to_owned())
    else {
        return Ok(text(
            StatusCode::BadRequest,
            "missing Sec-WebSocket-Key header",
        ));
    };
    if req
        .header("Sec-WebSocket-Version")
        .is_some_and(|v| v.last().as_str().trim() != "13")
    {
        let mut res = text(StatusCode::UpgradeRequired, "unsupported WebSocket version");
        res.insert_header("Sec-WebSocket-Version", "13");
        return Ok(res);
    }
    let accept = async_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut res = Response::new(StatusCode::SwitchingProtocols);
    res.insert_header("Upgrade", "websocket");
    res.insert_header("Connection", "Upgrade");
    res.insert_header("Sec-WebSocket-Accept", accept);
    let http_res: &mut tide::http::Response = res.as_mut();
    let upgrade = http_res.recv_upgrade().await;
    let bus = req.state().handle.events().clone();
    async_std::task::spawn(async move {
        // `None` when the response never reached a socket (in-process requests)
        if let Some(conn) = upgrade.await {
            let ws = WebSocketStream::from_raw_socket(conn, Role::Server, None).await;
            WS_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = run_ws(ws, bus).await {
                log::debug!("WebSocket client ended: {e}");
            }
            WS_CONNECTIONS.fetch_sub(1, Ordering::Relaxed);
        }
    });
    Ok(res)
}

enum WsInput {
    Client(Result<Message, async_tungstenite::tungstenite::Error>),
    ClientGone,
    Bus(Item),
    Tick,
}

/// Stream adapter over a shared [`SubSet`].
struct SetStream(Arc<SubSet>);

impl Stream for SetStream {
    type Item = Item;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.0.poll_item(cx).map(Some)
    }
}

async fn run_ws<S>(
    ws: WebSocketStream<S>,
    bus: EventBus,
) -> Result<(), async_tungstenite::tungstenite::Error>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    let (mut sink, stream) = ws.split();
    let set = Arc::new(SubSet::default());
    let client = stream
        .map(WsInput::Client)
        .chain(futures::stream::once(futures::future::ready(
            WsInput::ClientGone,
        )));
    let events = SetStream(set.clone()).map(WsInput::Bus);
    let ticks = async_std::stream::interval(KEEPALIVE).map(|_| WsInput::Tick);
    let mut input = futures::stream::select(client, futures::stream::select(events, ticks));
    while let Some(i) = input.next().await {
        match i {
            WsInput::Client(Ok(Message::Text(t))) => {
                if let Some(reply) = ws_command(t.as_str(), &set, &bus) {
                    sink.send(Message::text(reply)).await?;
                }
            }
            WsInput::Client(Ok(Message::Binary(b))) => match std::str::from_utf8(&b) {
                Ok(t) => {
                    if let Some(reply) = ws_command(t, &set, &bus) {
                        sink.send(Message::text(reply)).await?;
                    }
                }
                Err(_) => {
                    sink.send(Message::text(error_frame(
                        "websocket frame is not UTF-8 JSON",
                        400,
                        &Value::Null,
                    )))
                    .await?
                }
            },
            WsInput::Client(Ok(Message::Close(_))) | WsInput::ClientGone => break,
            WsInput::Client(Ok(_)) => {} // ping/pong: answered by tungstenite
            WsInput::Client(Err(e)) => return Err(e),
            WsInput::Bus(Item::Event(ev)) => {
                let mut frame = String::with_capacity(64);
                frame.push_str("{\"k\":");
                frame.push_str(&json_str(&ev.key.to_string()));
                frame.push_str(",\"m\":");
                frame.push_str(
                    &serde_json::to_string(&*ev.message).unwrap_or_else(|_| "null".into()),
                );
                frame.push('}');
                sink.send(Message::text(frame)).await?;
            }
            WsInput::Bus(Item::Lost(path)) => return close_lost(&mut sink, &path).await,
            WsInput::Tick => sink.send(Message::Ping(Vec::new().into())).await?,
        }
    }
    Ok(())
}

async fn close_lost<S>(
    sink: &mut async_tungstenite::WebSocketSender<S>,
    path: &str,
) -> Result<(), async_tungstenite::tungstenite::Error>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    log::warn!("WebSocket client too slow for {path}: closing it");
    sink.close(Some(CloseFrame {
        code: CloseCode::Error,
        reason: "too slow: events were dropped".into(),
    }))
    .await
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `{"error":…,"code":…,"_id":…}` in Buildbot's key order.
fn error_frame(error: &str, code: u16, id: &Value) -> String {
    format!(
        "{{\"error\":{},\"code\":{code},\"_id\":{id}}}",
        json_str(error)
    )
}

fn ok_frame(msg: &str, id: &Value) -> String {
    format!("{{\"msg\":{},\"code\":200,\"_id\":{id}}}", json_str(msg))
}

/// Python's `str()` of a JSON value, for error texts that quote one.
fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_repr(&Value::String(k.clone())), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        other => py_str(other),
    }
}

/// Handles one client frame; the reply to send, if any.
fn ws_command(frame: &str, set: &SubSet, bus: &EventBus) -> Option<String> {
    let parsed: Value = match serde_json::from_str(frame) {
        Ok(v) => v,
        Err(e) => {
            log::debug!("WebSocket frame is not JSON: {e}");
            return Some(error_frame(
                &format!("invalid JSON in websocket frame: {e}"),
                400,
                &Value::Null,
            ));
        }
    };
    let Value::Object(mut args) = parsed else {
        return Some(error_frame(
            "websocket frame is not a JSON object",
            400,
            &Value::Null,
        ));
    };
    let id = args.get("_id").cloned().unwrap_or(Value::Null);
    let typ = args.remove("type");
    if id.is_null() && typ.is_none_or(|t| t.is_null()) {
        return Some(error_frame(
            "no '_id' or 'type' in websocket frame",
            400,
            &Value::Null,
        ));
    }
    let cmd = match args.remove("cmd") {
        None | Some(Value::Null) => {
            return Some(error_frame(
                "no 'cmd' in websocket frame",
                400,
                &Value::Null,
            ));
        }
        Some(Value::String(s)) => s,
        Some(other) => py_str(&other),
    };
    let params: &[&str] = match cmd.as_str() {
        "ping" => &["_id"],
        "startConsuming" | "stopConsuming" => &["path", "_id"],
        _ => {
            return Some(error_frame(
                &format!("no such command type '{cmd}'"),
                404,
                &id,
            ));
        }
    };
    // argument checks as Python's call `cmd_<name>(**frame)` reports them
    let fname = format!("WsProtocol.cmd_{cmd}()");
    if let Some(extra) = args.keys().find(|k| !params.contains(&k.as_str())) {
        return Some(error_frame(
            &format!(
                "Invalid method argument '{fname} got an unexpected keyword argument '{extra}''"
            ),
            400,
            &id,
        ));
    }
    let missing: Vec<&str> = params
        .iter()
        .copied()
        .filter(|p| !args.contains_key(*p))
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        let list = match names.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} and {b}"),
            more => more.join(", "),
        };
        let s = if missing.len() == 1 { "" } else { "s" };
        return Some(error_frame(
            &format!(
                "Invalid method argument '{fname} missing {} required positional argument{s}: {list}'",
                missing.len()
            ),
            400,
            &id,
        ));
    }
    if cmd == "ping" {
        return Some(ok_frame("pong", &id));
    }
    let path = match &args["path"] {
        Value::String(p) => p,
        other => {
            return Some(error_frame(
                &format!("invalid path format '{}'", py_str(other)),
                400,
                &id,
            ));
        }
    };
    if cmd == "startConsuming" {
        set.add(bus, path);
        Some(ok_frame("OK", &id))
    } else if set.remove(path) {
        Some(ok_frame("OK", &id))
    } else {
        Some(error_frame(
            &format!("path was not consumed '{path}'"),
            400,
            &id,
        ))
    }
}

/// Adds `/ws` and `/sse`.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.at("/ws").get(ws_handshake);
    add_routes_sse(app);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(set: &SubSet, bus: &EventBus, f: &str) -> Value {
        serde_json::from_str(&ws_command(f, set, bus).unwrap()).unwrap()
    }

    #[test]
    fn command_replies_match_buildbot() {
        let bus = EventBus::new();
        let set = SubSet::default();
        let ok = |id| serde_json::json!({"msg": "OK", "code": 200, "_id": id});
        let start = r#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#;
        assert_eq!(cmd(&set, &bus, start), ok(1));
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(cmd(&set, &bus, start), ok(1));
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(
            ws_command(r#"{"cmd":"ping","_id":"abc"}"#, &set, &bus).unwrap(),
            r#"{"msg":"pong","code":200,"_id":"abc"}"#
        );
        let cases = [
            (
                r#"{"cmd":"startConsuming","path":"builds/*/*","_id":3,"extra":1}"#,
                "Invalid method argument 'WsProtocol.cmd_startConsuming() got an unexpected keyword argument 'extra''",
                400,
            ),
            (
                r#"{"cmd":"ping","type":"x"}"#,
                "Invalid method argument 'WsProtocol.cmd_ping() missing 1 required positional argument: '_id''",
                400,
            ),
            (
                r#"{"cmd":"startConsuming","path":5,"_id":4}"#,
                "invalid path format '5'",
                400,
            ),
            (
                r#"{"cmd":"startConsuming","_id":7}"#,
                "Invalid method argument 'WsProtocol.cmd_startConsuming() missing 1 required positional argument: 'path''",
                400,
            ),
            (
                r#"{"cmd":"nope","_id":8}"#,
                "no such command type 'nope'",
                404,
            ),
            (
                r#"{"cmd":"ping"}"#,
                "no '_id' or 'type' in websocket frame",
                400,
            ),
            (r#"{"_id":9}"#, "no 'cmd' in websocket frame", 400),
        ];
        for (frame, err, code) in cases {
            let v = cmd(&set, &bus, frame);
            assert_eq!(v["error"], err, "{frame}");
            assert_eq!(v["code"], code, "{frame}");
        }
        let stop = r#"{"cmd":"stopConsuming","path":"builds/*/*","_id":5}"#;
        assert_eq!(cmd(&set, &bus, stop), ok(5));
        assert_eq!(bus.subscriber_count(), 0);
        assert_eq!(
            cmd(&set, &bus, stop)["error"],
            "path was not consumed 'builds/*/*'"
        );
        assert_eq!(cmd(&set, &bus, "{not json")["code"], 400);
    }

    #[test]
    fn python_json_spacing() {
        let v = serde_json::json!({"key": ["a", "1"], "message": {"s": ["é", 2]}});
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
        serde::Serialize::serialize(&v, &mut ser).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"key": ["a", "1"], "message": {"s": ["\u00e9", 2]}}"#
        );
    }
}
