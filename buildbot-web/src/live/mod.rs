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
//!
//! A client can make the master hold only so much: connections (per address and in total),
//! subscriptions (per connection or stream and in total), undelivered events, and the size
//! and arrival time of `/ws` messages are bounded, each by a `[www]` key (`limits.rs` has the
//! table). A page elsewhere cannot use a visitor's browser here: `/ws` and `/sse` refuse a
//! foreign `Origin` with `403` (`crate::origin`).

mod client;
mod deadline;
pub(crate) mod limits;
mod sse;
mod subs;
mod ws;

pub(crate) use sse::SSE_STREAMS;
pub(crate) use ws::WS_CONNECTIONS;

use crate::State;

/// Adds `/ws` and `/sse`.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.at("/ws").get(ws::ws_handshake);
    sse::add_routes_sse(app);
}
