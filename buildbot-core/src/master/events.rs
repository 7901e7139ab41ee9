//! The in-process event bus, with Buildbot's routing keys (`spec/data-model.md` §9).
//!
//! A routing key is a tuple of strings such as `("builds", "12", "new")`. A consumer subscribes
//! with a filter of the same length where `None` (`*` in WebSocket/SSE paths) matches any
//! element, and receives every matching `(key, message)` published afterwards. Messages are
//! the entity as JSON, shared between subscribers behind an [`Arc`].
//!
//! Publishing is cheap when nobody listens: keys are given as borrowed [`KeyPart`]s (numbers are
//! compared without formatting them) and the message is built lazily, so a log append with no
//! matching subscriber allocates nothing. Each subscriber has a bounded buffer; a subscriber
//! that falls that far behind is disconnected (its stream ends) with a warning in the log, so a
//! slow consumer cannot make the master's memory grow without limit.
//!
//! A subscriber's queue takes memory only for the events waiting in it (it grows and shrinks
//! in small blocks), so an idle subscription costs a few hundred bytes, not its whole bound.
//! Subscriptions made for one client can also share an [`EventBudget`]: together they hold at
//! most its limit of undelivered events, however many paths the client subscribes to.
//!
//! ```
//! use buildbot_core::master::{EventBus, KeyPart};
//! use serde_json::json;
//!
//! let bus = EventBus::new();
//! let sub = bus.subscribe(&[Some("builds"), None, Some("finished")]);
//! bus.publish(&["builds".into(), KeyPart::Int(12), "finished".into()], json!({"buildid": 12}));
//! let ev = sub.try_recv().expect("one event");
//! assert_eq!(ev.key.to_string(), "builds/12/finished");
//! assert_eq!(ev.message["buildid"], 12);
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};

use async_std::channel::{Receiver, Sender, TrySendError, unbounded};
use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, ChangeId, LogId, MasterId, SchedulerId, StepId,
    WorkerId,
};
use futures::Stream;
use serde_json::Value;

/// Default number of undelivered events a subscriber may have before it is disconnected.
/// It is a bound, not a reservation: the queue holds memory only for waiting events.
pub const DEFAULT_SUBSCRIBER_BUFFER: usize = 4096;

/// A bound on the undelivered events of a group of subscriptions (for example all those of
/// one web client), shared through an [`Arc`].
///
/// An event that would take the group past its limit is not queued: the subscription it was
/// for is disconnected, as when its own buffer is full. Events count from publication until
/// they are received or their subscription is dropped.
///
/// ```
/// use buildbot_core::master::{EventBudget, EventBus, KeyPart};
/// use serde_json::json;
///
/// let bus = EventBus::new();
/// let budget = EventBudget::new(2);
/// let a = bus.subscribe_path_within("changes/*/new", &budget);
/// let b = bus.subscribe_path_within("changes/*/*", &budget);
/// bus.publish(&["changes".into(), KeyPart::Int(1), "new".into()], json!({}));
/// assert_eq!(budget.pending(), 2);
/// bus.publish(&["changes".into(), KeyPart::Int(2), "new".into()], json!({}));
/// assert!(a.is_disconnected() && b.is_disconnected());
/// ```
#[derive(Debug)]
pub struct EventBudget {
    limit: usize,
    pending: AtomicUsize,
    /// Whether the group went over its limit once (logged once).
    overflowed: AtomicBool,
}

impl EventBudget {
    /// A budget of at most `limit` undelivered events (at least 1).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(EventBudget {
            limit: limit.max(1),
            pending: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
        })
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Events published to the group and not yet received.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Counts one more pending event; `false` (and nothing counted) at the limit.
    fn take(&self) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                (p < self.limit).then_some(p + 1)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        if n > 0 {
            let _ = self
                .pending
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                    Some(p.saturating_sub(n))
                });
        }
    }
}

/// One element of a routing key being published, borrowed so that no allocation is needed
/// to decide that nobody is interested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPart<'a> {
    /// A text element (`"builds"`, an event name, a log slug).
    Str(&'a str),
    /// A numeric id, written in decimal.
    Int(i64),
}

impl<'a> From<&'a str> for KeyPart<'a> {
    fn from(s: &'a str) -> Self {
        KeyPart::Str(s)
    }
}

impl From<i64> for KeyPart<'_> {
    fn from(i: i64) -> Self {
        KeyPart::Int(i)
    }
}

impl fmt::Display for KeyPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPart::Str(s) => f.write_str(s),
            KeyPart::Int(i) => write!(f, "{i}"),
        }
    }
}

/// An owned routing key; displays as the `/`-joined path (`builds/12/new`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoutingKey(pub Vec<String>);

impl RoutingKey {
    /// The key's elements.
    pub fn parts(&self) -> &[String] {
        &self.0
    }

    /// Parses a `/`-joined path.
    pub fn from_path(path: &str) -> Self {
        RoutingKey(path.split('/').map(str::to_owned).collect())
    }

    fn from_parts(parts: &[KeyPart<'_>]) -> Self {
        RoutingKey(parts.iter().map(ToString::to_string).collect())
    }
}

impl fmt::Display for RoutingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// One delivered event.
#[derive(Clone, Debug)]
pub struct Event {
    /// Its routing key, event name last.
    pub key: RoutingKey,
    /// The message (usually the full entity), shared by every subscriber.
    pub message: Arc<Value>,
}

#[derive(Debug)]
enum FilterPart {
    Any,
    Exact { text: String, int: Option<i64> },
}

impl FilterPart {
    fn matches(&self, p: &KeyPart<'_>) -> bool {
        match (self, p) {
            (FilterPart::Any, _) => true,
            (FilterPart::Exact { text, .. }, KeyPart::Str(s)) => text == s,
            (FilterPart::Exact { int, .. }, KeyPart::Int(i)) => *int == Some(*i),
        }
    }
}

#[derive(Debug)]
struct Subscriber {
    id: u64,
    filter: Vec<FilterPart>,
    tx: Sender<Event>,
    budget: Option<Arc<EventBudget>>,
}

impl Subscriber {
    fn matches(&self, key: &[KeyPart<'_>]) -> bool {
        self.filter.len() == key.len() && self.filter.iter().zip(key).all(|(f, p)| f.matches(p))
    }
}

#[derive(Debug)]
struct Inner {
    subs: RwLock<Vec<Subscriber>>,
    count: AtomicUsize,
    next_id: AtomicU64,
    buffer: usize,
}

impl Inner {
    fn remove(&self, id: u64) {
        let mut subs = match self.subs.write() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        subs.retain(|s| s.id != id);
        self.count.store(subs.len(), Ordering::Release);
    }
}

/// The event bus: in-process pub/sub with Buildbot's routing keys (`spec/data-model.md` §9).
///
/// Subscribers filter with tuples where `None`/`*` matches any element; each has a bounded
/// buffer and is disconnected (with a warning in the log) when it falls that far behind.
/// Publishing with no matching subscriber does not allocate. Cloning gives another handle to
/// the same bus.
#[derive(Clone, Debug)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

/// A live subscription: a [`Stream`] of events (also `recv().await` / `try_recv()`). Dropping
/// it unsubscribes. The stream ends if the subscriber was disconnected for being too slow.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    rx: Receiver<Event>,
    bus: Weak<Inner>,
    budget: Option<Arc<EventBudget>>,
}

impl Subscription {
    /// Waits for the next event; `None` once disconnected.
    pub async fn recv(&self) -> Option<Event> {
        self.received(self.rx.recv().await.ok())
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Event> {
        self.received(self.rx.try_recv().ok())
    }

    /// Gives a received event back to the budget.
    fn received(&self, ev: Option<Event>) -> Option<Event> {
        if ev.is_some()
            && let Some(b) = &self.budget
        {
            b.give_back(1);
        }
        ev
    }

    /// Whether the bus disconnected this subscriber (after its buffer overflowed).
    pub fn is_disconnected(&self) -> bool {
        self.rx.is_closed()
    }
}

impl Stream for Subscription {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let polled = Pin::new(&mut self.rx).poll_next(cx);
        match polled {
            Poll::Ready(ev) => Poll::Ready(self.received(ev)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.bus.upgrade() {
            inner.remove(self.id);
        }
        // removed under the write lock: no publisher is still sending to this queue
        if let Some(b) = &self.budget {
            b.give_back(self.rx.len());
        }
    }
}

impl EventBus {
    /// A bus with the default per-subscriber buffer.
    pub fn new() -> Self {
        Self::with_buffer(DEFAULT_SUBSCRIBER_BUFFER)
    }

    /// A bus whose subscribers may each have at most `buffer` undelivered events.
    pub fn with_buffer(buffer: usize) -> Self {
        EventBus {
            inner: Arc::new(Inner {
                subs: RwLock::new(Vec::new()),
                count: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                buffer: buffer.max(1),
            }),
        }
    }

    /// Subscribes with a filter; `None` (or `Some("*")`) matches any element.
    pub fn subscribe(&self, filter: &[Option<&str>]) -> Subscription {
        self.subscribe_in(filter, None)
    }

    /// Subscribes to a `/`-separated path filter (as [`EventBus::subscribe_path`]), the
    /// subscription's undelivered events counting against `budget` as well as against the
    /// bus's per-subscriber buffer.
    pub fn subscribe_path_within(&self, path: &str, budget: &Arc<EventBudget>) -> Subscription {
        let parts: Vec<Option<&str>> = path.split('/').map(Some).collect();
        self.subscribe_in(&parts, Some(budget.clone()))
    }

    fn subscribe_in(
        &self,
        filter: &[Option<&str>],
        budget: Option<Arc<EventBudget>>,
    ) -> Subscription {
        let filter = filter
            .iter()
            .map(|p| match p {
                None | Some("*") => FilterPart::Any,
                Some(s) => FilterPart::Exact {
                    text: (*s).to_owned(),
                    int: s.parse().ok().filter(|i: &i64| i.to_string() == *s),
                },
            })
            .collect();
        // unbounded in type only: `publish_many` keeps it within `buffer`, and its memory
        // is allocated as events arrive (blocks of 31) rather than `buffer` slots up front
        let (tx, rx) = unbounded();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = match self.inner.subs.write() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        subs.push(Subscriber {
            id,
            filter,
            tx,
            budget: budget.clone(),
        });
        self.inner.count.store(subs.len(), Ordering::Release);
        Subscription {
            id,
            rx,
            bus: Arc::downgrade(&self.inner),
            budget,
        }
    }

    /// Subscribes to a `/`-separated path filter where `*` matches any element
    /// (`"builds/*/finished"`).
    pub fn subscribe_path(&self, path: &str) -> Subscription {
        let parts: Vec<Option<&str>> = path.split('/').map(Some).collect();
        self.subscribe(&parts)
    }

    /// Number of live subscribers.
    pub fn subscriber_count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Whether any subscriber would receive an event with this key.
    pub fn is_wanted(&self, key: &[KeyPart<'_>]) -> bool {
        if self.subscriber_count() == 0 {
            return false;
        }
        match self.inner.subs.read() {
            Ok(subs) => subs.iter().any(|s| s.matches(key)),
            Err(p) => p.into_inner().iter().any(|s| s.matches(key)),
        }
    }

    /// Publishes one message on one key.
    pub fn publish(&self, key: &[KeyPart<'_>], message: Value) {
        self.publish_many(&[key], move || message);
    }

    /// Publishes one message on several keys (an entity's event paths); `message` is only
    /// called if some subscriber matches one of the keys.
    pub fn publish_many(&self, keys: &[&[KeyPart<'_>]], message: impl FnOnce() -> Value) {
        if self.subscriber_count() == 0 {
            return;
        }
        let mut msg: Option<Arc<Value>> = None;
        let mut message = Some(message);
        let mut dead: Vec<u64> = Vec::new();
        {
            let subs = match self.inner.subs.read() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            for key in keys {
                let mut owned: Option<RoutingKey> = None;
                for s in subs.iter().filter(|s| s.matches(key)) {
                    let m = match &msg {
                        Some(m) => m.clone(),
                        None => {
                            let v = Arc::new(message.take().map(|f| f()).unwrap_or(Value::Null));
                            msg = Some(v.clone());
                            v
                        }
                    };
                    if s.tx.is_closed() {
                        // disconnected by an earlier key of this call
                        continue;
                    }
                    let k = owned.get_or_insert_with(|| RoutingKey::from_parts(key));
                    let waiting = s.tx.len();
                    let within_budget = s.budget.as_ref().is_none_or(|b| b.take());
                    if waiting >= self.inner.buffer || !within_budget {
                        if within_budget && let Some(b) = &s.budget {
                            b.give_back(1);
                        }
                        match &s.budget {
                            // the group's other subscriptions follow as events reach them:
                            // one line for the group
                            Some(b) if !within_budget => {
                                if !b.overflowed.swap(true, Ordering::AcqRel) {
                                    log::warn!(
                                        "event subscriber {} is too slow ({} events waiting for its group); disconnecting it at {k}, and the rest of its group",
                                        s.id,
                                        b.limit
                                    );
                                }
                            }
                            _ => log::warn!(
                                "event subscriber {} is too slow ({waiting} events waiting); disconnecting it at {k}",
                                s.id,
                            ),
                        }
                        s.tx.close();
                        dead.push(s.id);
                        continue;
                    }
                    let ev = Event {
                        key: k.clone(),
                        message: m,
                    };
                    match s.tx.try_send(ev) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                            if let Some(b) = &s.budget {
                                b.give_back(1);
                            }
                            dead.push(s.id);
                        }
                    }
                }
            }
        }
        for id in dead {
            self.inner.remove(id);
        }
    }

    // ----- entity helpers: every key path of spec/data-model.md §9 -----

    /// `masters/{masterid}/{event}` (`started`, `stopped`).
    pub fn publish_master(&self, masterid: MasterId, event: &str, msg: impl FnOnce() -> Value) {
        self.publish_many(&[&["masters".into(), masterid.0.into(), event.into()]], msg);
    }

    /// `builders/{builderid}/{event}` (`update`, `started`, `stopped`).
    pub fn publish_builder(&self, builderid: BuilderId, event: &str, msg: impl FnOnce() -> Value) {
        self.publish_many(
            &[&["builders".into(), builderid.0.into(), event.into()]],
            msg,
        );
    }

    /// A build event (`new`, `update`, `finished`) on `builders/{builderid}/builds/{number}`,
    /// `builds/{buildid}` and `workers/{workerid}/builds/{buildid}`.
    pub fn publish_build(&self, ids: BuildKeys, event: &str, msg: impl FnOnce() -> Value) {
        let e = KeyPart::Str(event);
        self.publish_many(
            &[
                &[
                    "builders".into(),
                    ids.builderid.0.into(),
                    "builds".into(),
                    ids.number.into(),
                    e,
                ],
                &["builds".into(), ids.buildid.0.into(), e],
                &[
                    "workers".into(),
                    ids.workerid.0.into(),
                    "builds".into(),
                    ids.buildid.0.into(),
                    e,
                ],
            ],
            msg,
        );
    }

    /// `builds/{buildid}/properties/update` with the changed properties only.
    pub fn publish_build_properties(&self, buildid: BuildId, msg: impl FnOnce() -> Value) {
        self.publish_many(
            &[&[
                "builds".into(),
                buildid.0.into(),
                "properties".into(),
                "update".into(),
            ]],
            msg,
        );
    }

    /// A step event (`new`, `started`, `updated`, `finished`) on
    /// `builds/{buildid}/steps/{stepid}` and `steps/{stepid}`.
    pub fn publish_step(
        &self,
        buildid: BuildId,
        stepid: StepId,
        event: &str,
        msg: impl FnOnce() -> Value,
    ) {
        let e = KeyPart::Str(event);
        self.publish_many(
            &[
                &[
                    "builds".into(),
                    buildid.0.into(),
                    "steps".into(),
                    stepid.0.into(),
                    e,
                ],
                &["steps".into(), stepid.0.into(), e],
            ],
            msg,
        );
    }

    /// A log event (`new`, `append`, `finished`) on `logs/{logid}` and
    /// `steps/{stepid}/logs/{slug}`.
    pub fn publish_log(
        &self,
        logid: LogId,
        stepid: StepId,
        slug: &str,
        event: &str,
        msg: impl FnOnce() -> Value,
    ) {
        let e = KeyPart::Str(event);
        self.publish_many(
            &[
                &["logs".into(), logid.0.into(), e],
                &[
                    "steps".into(),
                    stepid.0.into(),
                    "logs".into(),
                    slug.into(),
                    e,
                ],
            ],
            msg,
        );
    }

    /// `buildsets/{bsid}/{event}` (`new`, `complete`).
    pub fn publish_buildset(&self, bsid: BuildsetId, event: &str, msg: impl FnOnce() -> Value) {
        self.publish_many(&[&["buildsets".into(), bsid.0.into(), event.into()]], msg);
    }

    /// A build request event (`new`, `claimed`, `unclaimed`, `complete`) on its three paths.
    /// (`cancel` is published on `buildrequests/{brid}/cancel` only: use
    /// [`EventBus::publish_buildrequest_cancel`].)
    pub fn publish_buildrequest(
        &self,
        bsid: BuildsetId,
        builderid: BuilderId,
        brid: BuildRequestId,
        event: &str,
        msg: impl FnOnce() -> Value,
    ) {
        let e = KeyPart::Str(event);
        self.publish_many(
            &[
                &[
                    "buildsets".into(),
                    bsid.0.into(),
                    "builders".into(),
                    builderid.0.into(),
                    "buildrequests".into(),
                    brid.0.into(),
                    e,
                ],
                &["buildrequests".into(), brid.0.into(), e],
                &[
                    "builders".into(),
                    builderid.0.into(),
                    "buildrequests".into(),
                    brid.0.into(),
                    e,
                ],
            ],
            msg,
        );
    }

    /// `buildrequests/{brid}/cancel` with a `null` message.
    pub fn publish_buildrequest_cancel(&self, brid: BuildRequestId) {
        self.publish(
            &["buildrequests".into(), brid.0.into(), "cancel".into()],
            Value::Null,
        );
    }

    /// `changes/{changeid}/new`.
    pub fn publish_change(&self, changeid: ChangeId, msg: impl FnOnce() -> Value) {
        self.publish_many(&[&["changes".into(), changeid.0.into(), "new".into()]], msg);
    }

    /// `schedulers/{schedulerid}/updated`.
    pub fn publish_scheduler(&self, schedulerid: SchedulerId, msg: impl FnOnce() -> Value) {
        self.publish_many(
            &[&["schedulers".into(), schedulerid.0.into(), "updated".into()]],
            msg,
        );
    }

    /// `workers/{workerid}/{event}` (`connected`, `disconnected`, `state_updated`, `missing`).
    pub fn publish_worker(&self, workerid: WorkerId, event: &str, msg: impl FnOnce() -> Value) {
        self.publish_many(&[&["workers".into(), workerid.0.into(), event.into()]], msg);
    }

    /// `control/builds/{buildid}/stop` with `{"reason": ...}`.
    pub fn publish_control_build_stop(&self, buildid: BuildId, reason: &str) {
        self.publish(
            &[
                "control".into(),
                "builds".into(),
                buildid.0.into(),
                "stop".into(),
            ],
            serde_json::json!({ "reason": reason }),
        );
    }

    /// `control/buildrequests/{brid}/cancel` with `{"reason": ...}`.
    pub fn publish_control_buildrequest_cancel(&self, brid: BuildRequestId, reason: &str) {
        self.publish(
            &[
                "control".into(),
                "buildrequests".into(),
                brid.0.into(),
                "cancel".into(),
            ],
            serde_json::json!({ "reason": reason }),
        );
    }

    /// `control/worker/{workerid}/{action}` (`stop`, `pause`, `unpause`, `kill`; note the
    /// singular `worker`) with `{"reason": ...}`.
    pub fn publish_control_worker(&self, workerid: WorkerId, action: &str, reason: &str) {
        self.publish(
            &[
                "control".into(),
                "worker".into(),
                workerid.0.into(),
                action.into(),
            ],
            serde_json::json!({ "reason": reason }),
        );
    }
}

/// The ids that make up a build's three key paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildKeys {
    /// `builds.builderid`
    pub builderid: BuilderId,
    /// `builds.number`
    pub number: i64,
    /// `builds.id`
    pub buildid: BuildId,
    /// `builds.workerid`
    pub workerid: WorkerId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::cell::Cell;

    fn keys(sub: &Subscription) -> Vec<String> {
        std::iter::from_fn(|| sub.try_recv())
            .map(|e| e.key.to_string())
            .collect()
    }

    #[test]
    fn wildcards_and_lengths() {
        let bus = EventBus::new();
        let all3 = bus.subscribe(&[None, None, None]);
        let builds = bus.subscribe_path("builds/*/*");
        let b12 = bus.subscribe(&[Some("builds"), Some("12"), None]);
        let finished = bus.subscribe_path("builds/*/finished");
        let ids = BuildKeys {
            builderid: BuilderId(3),
            number: 7,
            buildid: BuildId(12),
            workerid: WorkerId(1),
        };
        bus.publish_build(ids, "new", || json!({"buildid": 12}));
        bus.publish_build(ids, "finished", || json!({"buildid": 12}));
        bus.publish_build(
            BuildKeys {
                buildid: BuildId(13),
                ..ids
            },
            "new",
            || json!({}),
        );
        bus.publish_change(ChangeId(5), || json!({"changeid": 5}));

        assert_eq!(
            keys(&all3),
            [
                "builds/12/new",
                "builds/12/finished",
                "builds/13/new",
                "changes/5/new"
            ]
        );
        assert_eq!(
            keys(&builds),
            ["builds/12/new", "builds/12/finished", "builds/13/new"]
        );
        assert_eq!(keys(&b12), ["builds/12/new", "builds/12/finished"]);
        assert_eq!(keys(&finished), ["builds/12/finished"]);
    }

    #[test]
    fn entity_key_sets() {
        let bus = EventBus::new();
        let any: Vec<Subscription> = (1..=7).map(|n| bus.subscribe(&vec![None; n])).collect();
        let ids = BuildKeys {
            builderid: BuilderId(3),
            number: 7,
            buildid: BuildId(12),
            workerid: WorkerId(1),
        };
        bus.publish_build(ids, "update", || json!({}));
        bus.publish_step(BuildId(12), StepId(4), "started", || json!({}));
        bus.publish_log(LogId(9), StepId(4), "stdio", "append", || json!({}));
        bus.publish_buildrequest(
            BuildsetId(2),
            BuilderId(3),
            BuildRequestId(8),
            "claimed",
            || json!({}),
        );
        bus.publish_buildrequest_cancel(BuildRequestId(8));
        bus.publish_build_properties(BuildId(12), || json!({"a": [1, "Step"]}));
        bus.publish_control_worker(WorkerId(1), "pause", "why");
        bus.publish_master(MasterId(1), "started", || json!({}));
        let mut all: Vec<String> = any.iter().flat_map(keys).collect();
        all.sort();
        assert_eq!(
            all,
            [
                "builders/3/buildrequests/8/claimed",
                "builders/3/builds/7/update",
                "buildrequests/8/cancel",
                "buildrequests/8/claimed",
                "builds/12/properties/update",
                "builds/12/steps/4/started",
                "builds/12/update",
                "buildsets/2/builders/3/buildrequests/8/claimed",
                "control/worker/1/pause",
                "logs/9/append",
                "masters/1/started",
                "steps/4/logs/stdio/append",
                "steps/4/started",
                "workers/1/builds/12/update",
            ]
        );
    }

    #[test]
    fn message_built_only_when_wanted_and_shared() {
        let bus = EventBus::new();
        let called = Cell::new(0);
        bus.publish_log(LogId(1), StepId(1), "stdio", "append", || {
            called.set(called.get() + 1);
            json!({})
        });
        assert_eq!(called.get(), 0);
        let _other = bus.subscribe_path("changes/*/new");
        bus.publish_log(LogId(1), StepId(1), "stdio", "append", || {
            called.set(called.get() + 1);
            json!({})
        });
        assert_eq!(called.get(), 0);
        assert!(!bus.is_wanted(&["logs".into(), KeyPart::Int(1), "append".into()]));
        let a = bus.subscribe_path("logs/1/append");
        let b = bus.subscribe_path("steps/1/logs/stdio/*");
        bus.publish_log(LogId(1), StepId(1), "stdio", "append", || {
            called.set(called.get() + 1);
            json!({"logid": 1})
        });
        assert_eq!(called.get(), 1);
        let (ea, eb) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&ea.message, &eb.message));
        // a numeric filter element only matches the same number
        let c = bus.subscribe(&[Some("logs"), Some("01"), None]);
        bus.publish_log(LogId(1), StepId(1), "stdio", "finished", || json!({}));
        assert!(c.try_recv().is_none());
    }

    #[test]
    fn slow_consumer_is_disconnected_and_others_continue() {
        let bus = EventBus::with_buffer(8);
        let slow = bus.subscribe_path("changes/*/new");
        let fast = bus.subscribe_path("changes/*/new");
        let mut got = 0;
        for i in 0..100 {
            bus.publish_change(ChangeId(i), || json!({"changeid": i}));
            while fast.try_recv().is_some() {
                got += 1;
            }
        }
        assert_eq!(got, 100);
        assert_eq!(bus.subscriber_count(), 1);
        assert!(slow.is_disconnected());
        // what was buffered is still readable, then the stream ends
        assert_eq!(keys(&slow).len(), 8);
        drop(fast);
        assert_eq!(bus.subscriber_count(), 0);
    }

    #[test]
    fn budget_is_shared_given_back_and_bounds_a_group() {
        let bus = EventBus::new();
        let budget = EventBudget::new(3);
        let a = bus.subscribe_path_within("changes/*/new", &budget);
        let b = bus.subscribe_path_within("changes/*/*", &budget);
        let other = bus.subscribe_path("changes/*/new");
        bus.publish_change(ChangeId(1), || json!({}));
        assert_eq!(budget.pending(), 2);
        assert!(a.try_recv().is_some());
        assert_eq!(budget.pending(), 1);
        bus.publish_change(ChangeId(2), || json!({}));
        assert_eq!(budget.pending(), 3);
        // dropping a subscription gives back what it still held
        drop(b);
        assert_eq!(budget.pending(), 1);
        let c = bus.subscribe_path_within("changes/*/*", &budget);
        bus.publish_change(ChangeId(3), || json!({}));
        bus.publish_change(ChangeId(4), || json!({}));
        // the fourth event for the group is refused: the subscription it was for goes
        assert_eq!(budget.pending(), 3);
        assert!(a.is_disconnected() || c.is_disconnected());
        // a subscriber outside the group is unaffected
        assert_eq!(keys(&other).len(), 4);
        assert!(!other.is_disconnected());
        drop((a, c));
        assert_eq!(budget.pending(), 0);
        assert_eq!(bus.subscriber_count(), 1);
    }

    #[test]
    fn async_stream_receives() {
        use futures::StreamExt;
        let bus = EventBus::new();
        let mut sub = bus.subscribe_path("workers/*/connected");
        let bus2 = bus.clone();
        async_std::task::block_on(async move {
            let h = async_std::task::spawn(async move {
                bus2.publish_worker(WorkerId(4), "connected", || json!({"workerid": 4}));
            });
            let ev = async_std::future::timeout(std::time::Duration::from_secs(5), sub.next())
                .await
                .expect("timely")
                .expect("event");
            assert_eq!(ev.key.to_string(), "workers/4/connected");
            h.await;
        });
    }
}
