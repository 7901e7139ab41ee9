//! One live client (a `/ws` connection or an SSE stream) as the limits see it, and the
//! answer to one they refuse.

use std::sync::Arc;

use tide::Response;
use tide::http::StatusCode;

use super::limits::{ConnectionSlot, LiveCounters, LiveLimits, Refusal};
use super::subs::{SubSet, text};
use crate::state::Req;

/// The answer to a connection or subscription a limit refused: its status (`503`, `429` or
/// `400`), the reason as text, and `Retry-After` when waiting may help.
pub(super) fn refused(why: &Refusal) -> Response {
    let status = StatusCode::try_from(why.code()).unwrap_or(StatusCode::ServiceUnavailable);
    let mut res = text(status, &why.to_string());
    if status != StatusCode::BadRequest {
        res.insert_header("Retry-After", "10");
    }
    res
}

/// One live client (a `/ws` connection or an SSE stream): its address for the log, the
/// limits in force when it connected, and its place in the connection counts.
pub(super) struct Client {
    /// The client's address, for log lines.
    pub(super) peer: String,
    /// The limits in force when it connected.
    pub(super) limits: LiveLimits,
    counters: Arc<LiveCounters>,
    _slot: ConnectionSlot,
}

impl Client {
    /// Counts a new live client of `req`, or says why not (logged, throttled).
    pub(super) fn connect(req: &Req, what: &str) -> Result<Client, Refusal> {
        let state = req.state();
        let limits = LiveLimits::from_www(&state.handle.config().www);
        let counters = state.shared.live.clone();
        let addr = req
            .peer_addr()
            .and_then(|p| p.parse::<std::net::SocketAddr>().ok())
            .map(|a| a.ip());
        let peer = crate::origin::peer(req);
        match counters.connect(addr, &limits) {
            Ok(slot) => Ok(Client {
                peer,
                limits,
                counters,
                _slot: slot,
            }),
            Err(why) => {
                counters.log_refusal(what, &peer, &why);
                Err(why)
            }
        }
    }

    /// An empty subscription set within this client's limits.
    pub(super) fn subscriptions(&self) -> SubSet {
        SubSet::new(self.counters.clone(), self.limits)
    }
}
