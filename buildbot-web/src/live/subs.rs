//! What both transports share: [`SubSet`], a changing set of event-bus subscriptions read
//! as one stream, the keep-alive interval, and the plain-text answer.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use buildbot_core::master::{Event, EventBus};
use futures::Stream;
use futures::task::AtomicWaker;
use tide::Response;
use tide::http::{StatusCode, mime};

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

/// A changing set of bus subscriptions, keyed by their path, read as one stream.
#[derive(Default)]
pub(super) struct SubSet {
    subs: Mutex<Vec<(String, buildbot_core::master::Subscription)>>,
    waker: AtomicWaker,
    /// Round-robin start so a busy subscription does not starve the others.
    next: AtomicUsize,
}

impl SubSet {
    /// Subscribes to `path` unless already subscribed; `false` if it was.
    pub(super) fn add(&self, bus: &EventBus, path: &str) -> bool {
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
    pub(super) fn remove(&self, path: &str) -> bool {
        let mut subs = lock(&self.subs);
        let before = subs.len();
        subs.retain(|(p, _)| p != path);
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
                    let (path, _) = subs.remove(i);
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
