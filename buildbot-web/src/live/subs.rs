//! What both transports share: [`SubSet`], a changing set of event-bus subscriptions read
//! as one stream within a client's limits, the keep-alive interval, and the plain-text answer.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use buildbot_core::master::{Event, EventBudget, EventBus, Subscription};
use buildbot_core::util::log_text;
use futures::Stream;
use futures::task::AtomicWaker;
use tide::Response;
use tide::http::{StatusCode, mime};

use super::limits::{LiveCounters, LiveLimits, Refusal, SubscriptionSlot, check_path};

/// Interval of SSE keep-alive comments and WebSocket pings.
pub(super) const KEEPALIVE: Duration = Duration::from_secs(15);

/// Locks `m`, ignoring poisoning.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// What a [`SubSet`] yields.
pub(super) enum Item {
    /// An event of one of the subscriptions.
    Event(Event),
    /// The bus disconnected this path's subscription (the consumer was too slow).
    Lost(String),
}

/// A changing set of bus subscriptions, keyed by their path, read as one stream: one live
/// client's. It keeps to the client's limits: at most `max` paths, each also holding a place
/// in the master-wide count, and their undelivered events sharing one [`EventBudget`].
pub(super) struct SubSet {
    subs: Mutex<Vec<(String, Subscription, SubscriptionSlot)>>,
    waker: AtomicWaker,
    /// Round-robin start so a busy subscription does not starve the others.
    next: AtomicUsize,
    counters: Arc<LiveCounters>,
    limits: LiveLimits,
    budget: Option<Arc<EventBudget>>,
    /// Whether a refusal was logged already (one line per client is enough).
    refused: AtomicBool,
}

impl SubSet {
    /// An empty set for one client, counted in `counters`.
    pub(super) fn new(counters: Arc<LiveCounters>, limits: LiveLimits) -> Self {
        SubSet {
            subs: Mutex::default(),
            waker: AtomicWaker::new(),
            next: AtomicUsize::new(0),
            counters,
            limits,
            budget: limits.max_pending_events.map(EventBudget::new),
            refused: AtomicBool::new(false),
        }
    }

    /// Subscribes to `path` unless already subscribed; `Ok(false)` if it was, `Err` when a
    /// limit refuses it (logged once per client, naming `peer`).
    pub(super) fn add(&self, bus: &EventBus, path: &str, peer: &str) -> Result<bool, Refusal> {
        self.try_add(bus, path).inspect_err(|why| {
            if !self.refused.swap(true, Ordering::AcqRel) {
                log::warn!(
                    "refused live subscription to '{}' for {peer}: {why} (further refusals for this client are not logged)",
                    log_text(path)
                );
            }
        })
    }

    fn try_add(&self, bus: &EventBus, path: &str) -> Result<bool, Refusal> {
        check_path(path)?;
        let mut subs = lock(&self.subs);
        if subs.iter().any(|(p, _, _)| p == path) {
            return Ok(false);
        }
        if subs.len() >= self.limits.max_subscriptions_per_client {
            return Err(Refusal::SubscriptionsPerClient(
                self.limits.max_subscriptions_per_client,
            ));
        }
        let slot = self.counters.subscribe(self.limits.max_subscriptions)?;
        let sub = match &self.budget {
            Some(b) => bus.subscribe_path_within(path, b),
            None => bus.subscribe_path(path),
        };
        subs.push((path.to_owned(), sub, slot));
        drop(subs);
        self.waker.wake();
        Ok(true)
    }

    /// Unsubscribes from `path`; `false` if it was not subscribed.
    pub(super) fn remove(&self, path: &str) -> bool {
        let mut subs = lock(&self.subs);
        let before = subs.len();
        subs.retain(|(p, _, _)| p != path);
        before != subs.len()
    }

    /// The next event of any subscription (round-robin), or a lost subscription.
    pub(super) fn poll_item(&self, cx: &mut Context<'_>) -> Poll<Item> {
        self.waker.register(cx.waker());
        let mut subs = lock(&self.subs);
        let n = subs.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) % n;
            match Pin::new(&mut subs[i].1).poll_next(cx) {
                Poll::Ready(Some(ev)) => return Poll::Ready(Item::Event(ev)),
                Poll::Ready(None) => {
                    let (path, _, _) = subs.remove(i);
                    return Poll::Ready(Item::Lost(path));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}

/// A plain-text answer.
pub(super) fn text(status: StatusCode, body: &str) -> Response {
    let mut res = Response::new(status);
    res.set_content_type(mime::PLAIN);
    res.set_body(body.to_owned());
    res
}
