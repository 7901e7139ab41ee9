//! Buildbot's `/ws` WebSocket protocol: `startConsuming`/`stopConsuming`/`ping` commands
//! answered as Buildbot answers them, events as `{"k":…,"m":…}` frames, pings to keep the
//! connection open.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use buildbot_core::master::EventBus;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tide::http::StatusCode;
use tide::{Request, Response};

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
pub(super) async fn ws_handshake(req: Request<State>) -> tide::Result {
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
}
