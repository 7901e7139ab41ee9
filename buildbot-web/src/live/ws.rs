//! Buildbot's `/ws` WebSocket protocol: `startConsuming`/`stopConsuming`/`ping` commands
//! answered as Buildbot answers them, events as `{"k":…,"m":…}` frames, pings to keep the
//! connection open. Within the limits of `limits.rs`: the handshake checks `Origin` and the
//! connection counts; messages and frames are bounded in size and, with `deadline.rs`, in
//! the time they take to arrive; subscriptions are bounded per connection and in total.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use buildbot_core::master::EventBus;
use buildbot_core::util::log_text;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tide::http::StatusCode;
use tide::{Request, Response};

use super::client::{Client, refused};
use super::deadline::MessageDeadline;
use super::limits::{WS_READ_BUFFER, WS_SEND_TIMEOUT};
use super::subs::{Item, KEEPALIVE, SubSet, text};
use crate::State;

/// Live WebSocket connections (for `/metrics`).
pub(crate) static WS_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

fn header_has_token(req: &Request<State>, name: &str, token: &str) -> bool {
    req.header(name).is_some_and(|vs| {
        vs.iter().any(|v| {
            v.as_str()
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// `GET /ws`: the WebSocket handshake; the connection is then served by its own task.
///
/// Refused with `403` from a foreign `Origin` (`crate::origin`: a page elsewhere must not
/// ride a logged-in user's cookie), and with `503`/`429` over the connection limits.
pub(super) async fn ws_handshake(req: Request<State>) -> tide::Result {
    if !crate::origin::allowed_or_log(&req, "WebSocket handshake") {
        return Ok(text(
            StatusCode::Forbidden,
            "cross-site WebSocket refused: Origin is not this site",
        ));
    }
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
    let client = match Client::connect(&req, "WebSocket connection") {
        Ok(c) => c,
        Err(why) => return Ok(refused(&why)),
    };
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
            let limits = client.limits;
            let config = WebSocketConfig::default()
                .read_buffer_size(WS_READ_BUFFER)
                .max_message_size(limits.ws_max_message_size)
                .max_frame_size(limits.ws_max_message_size);
            let conn = MessageDeadline::new(conn, limits.ws_message_timeout);
            let ws = WebSocketStream::from_raw_socket(conn, Role::Server, Some(config)).await;
            WS_CONNECTIONS.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = run_ws(ws, bus, &client).await {
                log::debug!("WebSocket client {} ended: {e}", client.peer);
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

type WsError = async_tungstenite::tungstenite::Error;

/// Sends one frame, giving up (and dropping the client) after [`WS_SEND_TIMEOUT`].
async fn send<S>(
    sink: &mut async_tungstenite::WebSocketSender<S>,
    msg: Message,
    peer: &str,
) -> Result<(), WsError>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    match async_std::future::timeout(WS_SEND_TIMEOUT, sink.send(msg)).await {
        Ok(r) => r,
        Err(_) => {
            log::warn!(
                "WebSocket client {peer} took no frame for {} s: dropping it",
                WS_SEND_TIMEOUT.as_secs()
            );
            Err(WsError::Io(std::io::ErrorKind::TimedOut.into()))
        }
    }
}

/// Closes the connection with `code` and `reason` (best effort, bounded in time).
async fn close_with<S>(
    sink: &mut async_tungstenite::WebSocketSender<S>,
    code: CloseCode,
    reason: &str,
) where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    let frame = CloseFrame {
        code,
        reason: reason.to_owned().into(),
    };
    let _ = async_std::future::timeout(Duration::from_secs(2), sink.close(Some(frame))).await;
}

async fn run_ws<S>(ws: WebSocketStream<S>, bus: EventBus, client: &Client) -> Result<(), WsError>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    let peer = client.peer.as_str();
    let (mut sink, stream) = ws.split();
    let set = Arc::new(client.subscriptions());
    let from_client =
        stream
            .map(WsInput::Client)
            .chain(futures::stream::once(futures::future::ready(
                WsInput::ClientGone,
            )));
    let events = SetStream(set.clone()).map(WsInput::Bus);
    let ticks = async_std::stream::interval(KEEPALIVE).map(|_| WsInput::Tick);
    let mut input = futures::stream::select(from_client, futures::stream::select(events, ticks));
    while let Some(i) = input.next().await {
        match i {
            WsInput::Client(Ok(Message::Text(t))) => {
                if let Some(reply) = ws_command(t.as_str(), &set, &bus, peer) {
                    send(&mut sink, Message::text(reply), peer).await?;
                }
            }
            WsInput::Client(Ok(Message::Binary(b))) => {
                let reply = match std::str::from_utf8(&b) {
                    Ok(t) => ws_command(t, &set, &bus, peer),
                    Err(_) => Some(error_frame(
                        "websocket frame is not UTF-8 JSON",
                        400,
                        &Value::Null,
                    )),
                };
                if let Some(reply) = reply {
                    send(&mut sink, Message::text(reply), peer).await?;
                }
            }
            WsInput::Client(Ok(Message::Close(_))) | WsInput::ClientGone => break,
            WsInput::Client(Ok(_)) => {} // ping/pong: answered by tungstenite
            WsInput::Client(Err(e)) => return refuse_input(&mut sink, e, client).await,
            WsInput::Bus(Item::Event(ev)) => {
                let mut frame = String::with_capacity(64);
                frame.push_str("{\"k\":");
                frame.push_str(&json_str(&ev.key.to_string()));
                frame.push_str(",\"m\":");
                frame.push_str(
                    &serde_json::to_string(&*ev.message).unwrap_or_else(|_| "null".into()),
                );
                frame.push('}');
                send(&mut sink, Message::text(frame), peer).await?;
            }
            WsInput::Bus(Item::Lost(path)) => {
                log::warn!(
                    "WebSocket client {peer} too slow for {}: closing it",
                    log_text(&path)
                );
                close_with(&mut sink, CloseCode::Error, "too slow: events were dropped").await;
                return Ok(());
            }
            WsInput::Tick => send(&mut sink, Message::Ping(Vec::new().into()), peer).await?,
        }
    }
    Ok(())
}

/// A read error: an oversized message or one not finished in time closes the connection
/// with a logged reason (1009, 1008); other errors just end it.
async fn refuse_input<S>(
    sink: &mut async_tungstenite::WebSocketSender<S>,
    e: WsError,
    client: &Client,
) -> Result<(), WsError>
where
    S: futures::AsyncRead + futures::AsyncWrite + Unpin + Send,
{
    use async_tungstenite::tungstenite::error::CapacityError;
    let (code, reason) = match &e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            log::warn!(
                "WebSocket client {}: message of {size} bytes is over the limit of {max_size} (www.ws_max_message_size): closing it",
                client.peer
            );
            (CloseCode::Size, "message too big")
        }
        WsError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            log::warn!(
                "WebSocket client {}: {io} (www.ws_message_timeout): closing it",
                client.peer
            );
            (CloseCode::Policy, "message not finished in time")
        }
        _ => return Err(e),
    };
    close_with(sink, code, reason).await;
    Ok(())
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

/// Handles one client frame; the reply to send, if any. `peer` names the client in logs.
fn ws_command(frame: &str, set: &SubSet, bus: &EventBus, peer: &str) -> Option<String> {
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
        Some(match set.add(bus, path, peer) {
            Ok(_) => ok_frame("OK", &id),
            Err(why) => error_frame(&why.to_string(), why.code(), &id),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::live::limits::{LiveCounters, LiveLimits};

    fn cmd(set: &SubSet, bus: &EventBus, f: &str) -> Value {
        serde_json::from_str(&ws_command(f, set, bus, "test").unwrap()).unwrap()
    }

    fn set_with(limits: LiveLimits) -> SubSet {
        SubSet::new(Arc::new(LiveCounters::default()), limits)
    }

    #[test]
    fn command_replies_match_buildbot() {
        let bus = EventBus::new();
        let set = set_with(LiveLimits::default());
        let ok = |id| serde_json::json!({"msg": "OK", "code": 200, "_id": id});
        let start = r#"{"cmd":"startConsuming","path":"builds/*/*","_id":1}"#;
        assert_eq!(cmd(&set, &bus, start), ok(1));
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(cmd(&set, &bus, start), ok(1));
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(
            ws_command(r#"{"cmd":"ping","_id":"abc"}"#, &set, &bus, "test").unwrap(),
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
    fn subscriptions_over_a_limit_get_an_error_frame() {
        let bus = EventBus::new();
        let set = set_with(LiveLimits {
            max_subscriptions_per_client: 2,
            ..LiveLimits::default()
        });
        let start = |i: usize| format!(r#"{{"cmd":"startConsuming","path":"x{i}/*","_id":{i}}}"#);
        assert_eq!(cmd(&set, &bus, &start(1))["code"], 200);
        assert_eq!(cmd(&set, &bus, &start(2))["code"], 200);
        let v = cmd(&set, &bus, &start(3));
        assert_eq!(v["code"], 429, "{v}");
        assert_eq!(v["_id"], 3);
        assert_eq!(
            v["error"],
            "too many subscriptions on this connection (2); the limit is www.live_max_subscriptions_per_client"
        );
        // an existing path is still fine, and stopping one makes room
        assert_eq!(cmd(&set, &bus, &start(2))["code"], 200);
        let stop = r#"{"cmd":"stopConsuming","path":"x1/*","_id":4}"#;
        assert_eq!(cmd(&set, &bus, stop)["code"], 200);
        assert_eq!(cmd(&set, &bus, &start(3))["code"], 200);
        assert_eq!(bus.subscriber_count(), 2);
        let long = format!(
            r#"{{"cmd":"startConsuming","path":"{}","_id":5}}"#,
            "a/".repeat(300)
        );
        assert_eq!(cmd(&set, &bus, &long)["code"], 400);
    }

    /// Issue 19: the `/ws` command parser under random frames (JSON of Buildbot's shape with
    /// random keys and values, and arbitrary text): every frame gets a JSON reply with a
    /// Buildbot code, never a panic, and a client never holds more subscriptions than its
    /// limit. Cases: `PROPTEST_CASES` (default 256).
    #[test]
    fn random_frames_get_a_reply_and_respect_the_limit() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let value = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(&["builds/*/*", "ping", "startConsuming", "", "*", "/"][..])
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            prop::collection::vec(any::<i64>(), 0..3).prop_map(Value::from),
        ];
        let key = prop_oneof![
            prop::sample::select(&["cmd", "path", "_id", "type", "extra"][..])
                .prop_map(str::to_owned),
            ".{0,6}",
        ];
        let object = prop::collection::btree_map(key, value, 0..6).prop_map(|m| {
            Value::Object(m.into_iter().collect::<serde_json::Map<_, _>>()).to_string()
        });
        let frame = prop_oneof![object, ".{0,200}", "[\\[\\]{}\":,0-9a-z ]{0,60}",];
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let bus = EventBus::new();
        let set = set_with(LiveLimits {
            max_subscriptions_per_client: 4,
            ..LiveLimits::default()
        });
        runner
            .run(&prop::collection::vec(frame, 1..20), |frames| {
                for f in &frames {
                    if let Some(reply) = ws_command(f, &set, &bus, "fuzz") {
                        let v: Value = serde_json::from_str(&reply)
                            .map_err(|e| TestCaseError::fail(format!("{reply}: {e}")))?;
                        let code = v["code"].as_u64().unwrap_or(0);
                        prop_assert!([200, 400, 404, 429, 503].contains(&code), "{f} -> {reply}");
                        prop_assert!(v.get("_id").is_some(), "{f} -> {reply}");
                    }
                    prop_assert!(bus.subscriber_count() <= 4, "{f}");
                }
                Ok(())
            })
            .unwrap();
    }
}
