//! What a live client may hold, per client and in total, and the counters that enforce it.
//!
//! | limit | default | `[www]` key (0 = no limit) |
//! |---|---|---|
//! | live connections (`/ws` + SSE streams) of the master | [`MAX_CONNECTIONS`] = 512 | `live_max_connections` |
//! | live connections from one client address | [`MAX_CONNECTIONS_PER_ADDRESS`] = 32 | `live_max_connections_per_address` |
//! | subscriptions (paths) of all live clients | [`MAX_SUBSCRIPTIONS`] = 10,000 | `live_max_subscriptions` |
//! | subscriptions of one `/ws` connection or SSE stream | [`MAX_SUBSCRIPTIONS_PER_CLIENT`] = 256 | `live_max_subscriptions_per_client` |
//! | undelivered events of one client, all its paths together | [`MAX_PENDING_EVENTS`] = 1,024 | `live_max_pending_events` |
//! | size of a `/ws` message, and of each of its frames | [`WS_MAX_MESSAGE_SIZE`] = 64 KiB | `ws_max_message_size` |
//! | time to finish a `/ws` frame or fragmented message once started | [`WS_MESSAGE_TIMEOUT`] = 10 s | `ws_message_timeout` (seconds) |
//! | time for a `/ws` client to take one frame of ours | [`WS_SEND_TIMEOUT`] = 60 s | — |
//! | length of a subscribed path | [`MAX_PATH_LEN`] = 512 bytes, [`MAX_PATH_PARTS`] = 16 elements | — |
//!
//! A connection over a connection limit is refused before it opens (`503`, or `429` for the
//! per-address limit); a subscription over a subscription limit is refused with Buildbot's
//! error frame (`/ws`, code 429 or 503) or answer (`/sse/add`, status 429 or 503) and the
//! client keeps what it has; a client whose undelivered events reach its limit is
//! disconnected as a too-slow consumer (`/ws` close code 1011, the SSE stream ends); an
//! oversized or unfinished `/ws` message closes the connection (1009, 1008). Each refusal is
//! logged with its reason, the client's address and the `[www]` key to raise (throttled to a
//! line per second, and once per connection for its own subscriptions).
//!
//! Behind a reverse proxy every client has the proxy's address: raise
//! `live_max_connections_per_address` to the number of live pages expected, or set it to 0.
//!
//! Memory: an idle subscription costs well under a kilobyte (its queue grows only while
//! events wait), so the defaults bound what live clients hold to about
//! `MAX_CONNECTIONS × (MAX_PENDING_EVENTS × ~250 B + 2 × WS_MAX_MESSAGE_SIZE)` plus the
//! messages themselves, which all subscribers share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use buildbot_core::master::config::WwwConfig;
use serde_json::Value;

use buildbot_core::util::lock;

/// Default of `www.live_max_connections`.
pub(crate) const MAX_CONNECTIONS: usize = 512;
/// Default of `www.live_max_connections_per_address`.
pub(crate) const MAX_CONNECTIONS_PER_ADDRESS: usize = 32;
/// Default of `www.live_max_subscriptions`.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 10_000;
/// Default of `www.live_max_subscriptions_per_client`.
pub(crate) const MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 256;
/// Default of `www.live_max_pending_events`.
pub(crate) const MAX_PENDING_EVENTS: usize = 1024;
/// Default of `www.ws_max_message_size` (bytes; Buildbot's client frames are under 1 KB).
pub(crate) const WS_MAX_MESSAGE_SIZE: usize = 64 << 10;
/// Default of `www.ws_message_timeout`.
pub(crate) const WS_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sending one frame to a `/ws` client may take before it is dropped.
pub(crate) const WS_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest subscribed path, in bytes (Buildbot's are under 100).
pub(crate) const MAX_PATH_LEN: usize = 512;
/// Most elements of a subscribed path (routing keys have at most 7).
pub(crate) const MAX_PATH_PARTS: usize = 16;
/// Read buffer of a `/ws` connection (grows for a larger frame, up to the message size).
pub(crate) const WS_READ_BUFFER: usize = 4 << 10;

/// The limits in force, read from `[www]` when a client connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LiveLimits {
    /// Live connections in total.
    pub(crate) max_connections: usize,
    /// Live connections per client address.
    pub(crate) max_connections_per_address: usize,
    /// Subscriptions in total.
    pub(crate) max_subscriptions: usize,
    /// Subscriptions per client.
    pub(crate) max_subscriptions_per_client: usize,
    /// Undelivered events per client (`None`: only the bus's per-subscriber bound).
    pub(crate) max_pending_events: Option<usize>,
    /// `/ws` message and frame size (`None`: no limit).
    pub(crate) ws_max_message_size: Option<usize>,
    /// Time to finish a started `/ws` frame or message (`None`: no limit).
    pub(crate) ws_message_timeout: Option<Duration>,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            max_connections: MAX_CONNECTIONS,
            max_connections_per_address: MAX_CONNECTIONS_PER_ADDRESS,
            max_subscriptions: MAX_SUBSCRIPTIONS,
            max_subscriptions_per_client: MAX_SUBSCRIPTIONS_PER_CLIENT,
            max_pending_events: Some(MAX_PENDING_EVENTS),
            ws_max_message_size: Some(WS_MAX_MESSAGE_SIZE),
            ws_message_timeout: Some(WS_MESSAGE_TIMEOUT),
        }
    }
}

impl LiveLimits {
    /// The limits `www` sets (the config loader has checked they are integers ≥ 0).
    pub(crate) fn from_www(www: &WwwConfig) -> Self {
        let get = |k: &str| www.extra.get(k).and_then(Value::as_u64);
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        // 0 turns a count off
        let count = |k: &str, default: usize| match get(k) {
            None => default,
            Some(0) => usize::MAX,
            Some(n) => size(n),
        };
        let opt = |k: &str, default: usize| match get(k) {
            None => Some(default),
            Some(0) => None,
            Some(n) => Some(size(n)),
        };
        LiveLimits {
            max_connections: count("live_max_connections", MAX_CONNECTIONS),
            max_connections_per_address: count(
                "live_max_connections_per_address",
                MAX_CONNECTIONS_PER_ADDRESS,
            ),
            max_subscriptions: count("live_max_subscriptions", MAX_SUBSCRIPTIONS),
            max_subscriptions_per_client: count(
                "live_max_subscriptions_per_client",
                MAX_SUBSCRIPTIONS_PER_CLIENT,
            ),
            max_pending_events: opt("live_max_pending_events", MAX_PENDING_EVENTS),
            ws_max_message_size: opt("ws_max_message_size", WS_MAX_MESSAGE_SIZE),
            ws_message_timeout: match get("ws_message_timeout") {
                None => Some(WS_MESSAGE_TIMEOUT),
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
            },
        }
    }
}

/// Why a connection or subscription was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The master-wide connection limit.
    Connections(usize),
    /// The per-address connection limit.
    ConnectionsPerAddress(usize),
    /// The master-wide subscription limit.
    Subscriptions(usize),
    /// The client's subscription limit.
    SubscriptionsPerClient(usize),
    /// A path longer than [`MAX_PATH_LEN`] or with more than [`MAX_PATH_PARTS`] elements.
    Path,
}

impl Refusal {
    /// The HTTP status (and `/ws` error code) that reports it.
    pub(crate) fn code(&self) -> u16 {
        match self {
            Refusal::Connections(_) | Refusal::Subscriptions(_) => 503,
            Refusal::ConnectionsPerAddress(_) | Refusal::SubscriptionsPerClient(_) => 429,
            Refusal::Path => 400,
        }
    }

    /// The `[www]` key that sets the limit, if any.
    fn key(&self) -> Option<&'static str> {
        match self {
            Refusal::Connections(_) => Some("live_max_connections"),
            Refusal::ConnectionsPerAddress(_) => Some("live_max_connections_per_address"),
            Refusal::Subscriptions(_) => Some("live_max_subscriptions"),
            Refusal::SubscriptionsPerClient(_) => Some("live_max_subscriptions_per_client"),
            Refusal::Path => None,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Connections(n) => write!(f, "too many live connections to this master ({n})"),
            Refusal::ConnectionsPerAddress(n) => {
                write!(f, "too many live connections from this address ({n})")
            }
            Refusal::Subscriptions(n) => {
                write!(f, "too many live subscriptions on this master ({n})")
            }
            Refusal::SubscriptionsPerClient(n) => {
                write!(f, "too many subscriptions on this connection ({n})")
            }
            Refusal::Path => write!(
                f,
                "path too long (at most {MAX_PATH_LEN} bytes and {MAX_PATH_PARTS} elements)"
            ),
        }?;
        if let Some(k) = self.key() {
            write!(f, "; the limit is www.{k}")?;
        }
        Ok(())
    }
}

/// Checks a path a client asks to subscribe to.
pub(crate) fn check_path(path: &str) -> Result<(), Refusal> {
    if path.len() > MAX_PATH_LEN || path.split('/').nth(MAX_PATH_PARTS).is_some() {
        return Err(Refusal::Path);
    }
    Ok(())
}

/// The live clients of one web server, counted (a part of `State`).
#[derive(Debug, Default)]
pub(crate) struct LiveCounters {
    connections: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
    subscriptions: AtomicUsize,
    /// Unix time (s) of the last refusal logged, for [`LiveCounters::log_refusal`].
    last_logged: AtomicU64,
    suppressed: AtomicU64,
}

/// A live connection's place in the counts; given back when dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
    counters: Arc<LiveCounters>,
    addr: Option<IpAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.counters.connections.fetch_sub(1, Ordering::AcqRel);
        if let Some(a) = self.addr {
            let mut m = lock(&self.counters.by_address);
            if let Some(n) = m.get_mut(&a) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&a);
                }
            }
        }
    }
}

/// A subscription's place in the master-wide count; given back when dropped.
#[derive(Debug)]
pub(crate) struct SubscriptionSlot {
    counters: Arc<LiveCounters>,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.counters.subscriptions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Adds one to `n` unless it is at `limit`.
fn take(n: &AtomicUsize, limit: usize) -> bool {
    n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        (v < limit).then_some(v + 1)
    })
    .is_ok()
}

impl LiveCounters {
    /// A place for one more live connection from `addr` (`None`: unknown, counted in the
    /// total only).
    pub(crate) fn connect(
        self: &Arc<Self>,
        addr: Option<IpAddr>,
        limits: &LiveLimits,
    ) -> Result<ConnectionSlot, Refusal> {
        if !take(&self.connections, limits.max_connections) {
            return Err(Refusal::Connections(limits.max_connections));
        }
        if let Some(a) = addr {
            let mut m = lock(&self.by_address);
            let n = m.entry(a).or_insert(0);
            if *n >= limits.max_connections_per_address {
                if *n == 0 {
                    m.remove(&a);
                }
                drop(m);
                self.connections.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::ConnectionsPerAddress(
                    limits.max_connections_per_address,
                ));
            }
            *n += 1;
        }
        Ok(ConnectionSlot {
            counters: self.clone(),
            addr,
        })
    }

    /// A place for one more subscription, within the master-wide `limit`.
    pub(crate) fn subscribe(self: &Arc<Self>, limit: usize) -> Result<SubscriptionSlot, Refusal> {
        if !take(&self.subscriptions, limit) {
            return Err(Refusal::Subscriptions(limit));
        }
        Ok(SubscriptionSlot {
            counters: self.clone(),
        })
    }

    /// Live connections now.
    #[cfg(test)]
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Subscriptions now.
    pub(crate) fn subscriptions(&self) -> usize {
        self.subscriptions.load(Ordering::Acquire)
    }

    /// Logs a refused connection, at most one line per second (saying how many were not
    /// logged since), so that a flood of refusals cannot flood the log.
    pub(crate) fn log_refusal(&self, what: &str, peer: &str, why: &Refusal) {
        let now = buildbot_core::util::unix_now().max(0).unsigned_abs();
        let last = self.last_logged.load(Ordering::Acquire);
        if now > last
            && self
                .last_logged
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let skipped = self.suppressed.swap(0, Ordering::AcqRel);
            let more = if skipped > 0 {
                format!(" ({skipped} more refused since the last such line)")
            } else {
                String::new()
            };
            log::warn!("refused {what} from {peer}: {why}{more}");
        } else {
            self.suppressed.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_limits_total_and_per_address() {
        let c = Arc::new(LiveCounters::default());
        let limits = LiveLimits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..LiveLimits::default()
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = c.connect(Some(a), &limits).unwrap();
        let _s2 = c.connect(Some(a), &limits).unwrap();
        assert_eq!(
            c.connect(Some(a), &limits).unwrap_err(),
            Refusal::ConnectionsPerAddress(2)
        );
        let _s3 = c.connect(Some(b), &limits).unwrap();
        assert_eq!(
            c.connect(None, &limits).unwrap_err(),
            Refusal::Connections(3)
        );
        drop(s1);
        assert_eq!(c.connections(), 2);
        let _s4 = c.connect(Some(a), &limits).unwrap();
        assert_eq!(lock(&c.by_address).get(&a), Some(&2));
    }

    #[test]
    fn subscription_slots_are_given_back() {
        let c = Arc::new(LiveCounters::default());
        let s: Vec<_> = (0..2).map(|_| c.subscribe(2).unwrap()).collect();
        assert_eq!(c.subscribe(2).unwrap_err(), Refusal::Subscriptions(2));
        drop(s);
        assert_eq!(c.subscriptions(), 0);
    }

    #[test]
    fn limits_from_www() {
        let mut www = WwwConfig::default();
        assert_eq!(LiveLimits::from_www(&www), LiveLimits::default());
        for (k, v) in [
            ("live_max_connections_per_address", 0),
            ("live_max_subscriptions_per_client", 5),
            ("ws_max_message_size", 0),
            ("ws_message_timeout", 3),
        ] {
            www.extra.insert(k.into(), Value::from(v));
        }
        let l = LiveLimits::from_www(&www);
        assert_eq!(l.max_connections_per_address, usize::MAX);
        assert_eq!(l.max_subscriptions_per_client, 5);
        assert_eq!(l.ws_max_message_size, None);
        assert_eq!(l.ws_message_timeout, Some(Duration::from_secs(3)));
        assert_eq!(l.max_connections, MAX_CONNECTIONS);
    }

    #[test]
    fn paths_are_checked() {
        assert!(check_path("builds/*/steps/*/logs/*/append").is_ok());
        assert!(check_path(&"x".repeat(MAX_PATH_LEN + 1)).is_err());
        assert!(check_path(&"a/".repeat(MAX_PATH_PARTS)).is_err());
        assert!(check_path(&"a/".repeat(MAX_PATH_PARTS - 1)).is_ok());
    }
}
