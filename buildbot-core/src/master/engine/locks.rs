//! `MasterLock` / `WorkerLock`: counting and exclusive access, held by a whole build
//! (`locks` of the builder) or by one step (`locks` of the step).
//!
//! A build or step claims all its locks at once or none (as Buildbot does), so two builds
//! each holding one of two locks never deadlock. Waiters look again whenever a lock is
//! released (and at least every [`RECHECK`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::channel::{Receiver, Sender};
use buildbot_db::Results;

use crate::master::config::{LockAccess, LockKind, LockMode, MasterConfig};

use super::build::{BuildShared, now};
use super::json;
use super::step::{StepContext, StepDone, StepError, lock};

/// How long a waiter sleeps at most before looking again.
const RECHECK: Duration = Duration::from_millis(250);

/// A lock instance: a master lock by name, a worker lock by name and worker.
type Key = (String, Option<String>);

#[derive(Default)]
struct Held {
    count: u32,
    exclusive: bool,
}

/// One wanted access, resolved against the configuration.
#[derive(Clone)]
struct Want {
    key: Key,
    exclusive: bool,
    count: u32,
    max: u32,
}

/// The lock state of one master.
pub(crate) struct LockTable {
    held: Mutex<HashMap<Key, Held>>,
    released: (Sender<()>, Receiver<()>),
}

impl Default for LockTable {
    fn default() -> Self {
        LockTable {
            held: Mutex::new(HashMap::new()),
            released: async_std::channel::unbounded(),
        }
    }
}

impl LockTable {
    /// Claims all of `wants` if all are available now.
    fn try_claim(&self, wants: &[Want]) -> bool {
        let mut held = lock(&self.held);
        let available = wants.iter().all(|w| match held.get(&w.key) {
            None => true,
            Some(h) if w.exclusive => h.count == 0 && !h.exclusive,
            Some(h) => !h.exclusive && h.count + w.count <= w.max,
        });
        if available {
            for w in wants {
                let h = held.entry(w.key.clone()).or_default();
                if w.exclusive {
                    h.exclusive = true;
                } else {
                    h.count += w.count;
                }
            }
        }
        available
    }

    fn release(&self, wants: &[Want]) {
        {
            let mut held = lock(&self.held);
            for w in wants {
                if let Some(h) = held.get_mut(&w.key) {
                    if w.exclusive {
                        h.exclusive = false;
                    } else {
                        h.count = h.count.saturating_sub(w.count);
                    }
                    if h.count == 0 && !h.exclusive {
                        held.remove(&w.key);
                    }
                }
            }
        }
        // wake every waiter (each receiver takes one; the rest look again on RECHECK)
        let _ = self.released.0.try_send(());
    }
}

/// Locks held until dropped.
pub(crate) struct LocksHeld {
    table: Arc<LockTable>,
    wants: Vec<Want>,
}

impl Drop for LocksHeld {
    fn drop(&mut self) {
        self.table.release(&self.wants);
    }
}

fn resolve(
    cfg: &MasterConfig,
    accesses: &[LockAccess],
    worker: &str,
) -> Result<Vec<Want>, StepError> {
    accesses
        .iter()
        .map(|a| {
            let l = cfg
                .locks
                .iter()
                .find(|l| l.name == a.name)
                .ok_or_else(|| StepError::Failed(format!("unknown lock '{}'", a.name)))?;
            let (key, max) = match l.kind {
                LockKind::Worker => (
                    (l.name.clone(), Some(worker.to_owned())),
                    l.max_count_for_worker
                        .get(worker)
                        .copied()
                        .unwrap_or(l.max_count),
                ),
                _ => ((l.name.clone(), None), l.max_count),
            };
            Ok(Want {
                key,
                exclusive: a.mode == LockMode::Exclusive,
                count: a.count.max(1),
                max: max.max(1),
            })
        })
        .collect()
}

/// Waits for all of `accesses`: `Ok(None)` when the build was stopped while waiting.
async fn acquire(b: &BuildShared, accesses: &[LockAccess]) -> Result<Option<LocksHeld>, StepError> {
    let inner = b
        .master
        .upgrade()
        .ok_or_else(|| StepError::Failed("the master is stopping".into()))?;
    let wants = resolve(&inner.config(), accesses, b.worker.name())?;
    let table = inner.locks.clone();
    drop(inner);
    loop {
        if b.stop_reason().is_some() {
            return Ok(None);
        }
        if table.try_claim(&wants) {
            return Ok(Some(LocksHeld {
                table: table.clone(),
                wants,
            }));
        }
        let _ = async_std::future::timeout(RECHECK, table.released.1.recv()).await;
    }
}

/// The builder's locks, before the first step: the `locks_acquire` step, the build state
/// `acquiring locks`, and `locks_duration_s`. `Ok(Err(result))`: the build was stopped
/// while waiting.
pub(crate) async fn build_locks(
    b: &BuildShared,
) -> Result<Result<Option<LocksHeld>, Results>, StepError> {
    if b.build_locks.is_empty() {
        return Ok(Ok(None));
    }
    b.set_state("acquiring locks").await?;
    let started = now();
    let (stepid, number, name) = b.add_started_step("locks_acquire", started).await?;
    let publish = |event: &str, state: &str, done: Option<(i64, Results)>| {
        b.events.publish_step(b.buildid, stepid, event, || {
            json::step(&json::StepJson {
                stepid,
                number,
                name: &name,
                buildid: b.buildid,
                started_at: Some(started),
                locks_acquired_at: done.map(|d| d.0),
                complete_at: done.map(|d| d.0),
                state_string: state,
                results: done.map(|d| d.1),
                urls: &[],
                hidden: false,
            })
        });
    };
    publish("new", "pending", None);
    publish("started", "pending", None);
    let held = acquire(b, &b.build_locks).await?;
    let Some(held) = held else {
        b.db.finish_step_with_state(stepid, Results::Cancelled, false, Some("cancelled"))
            .await?;
        publish("finished", "cancelled", Some((now(), Results::Cancelled)));
        return Ok(Err(Results::Cancelled));
    };
    let acquired = now();
    b.db.add_build_locks_duration(b.buildid, acquired - started)
        .await?;
    b.db.finish_step_with_state(stepid, Results::Success, false, Some("locks acquired"))
        .await?;
    publish("updated", "locks acquired", None);
    publish(
        "finished",
        "locks acquired",
        Some((now(), Results::Success)),
    );
    Ok(Ok(Some(held)))
}

/// A step's locks, once it has started (state `waiting for locks` while it waits; the wait
/// is added to the build's `locks_duration_s`). `Ok(Err(done))`: stopped while waiting.
pub(crate) async fn step_locks(
    ctx: &mut StepContext,
    accesses: &[LockAccess],
) -> Result<Result<Option<LocksHeld>, StepDone>, StepError> {
    if accesses.is_empty() {
        return Ok(Ok(None));
    }
    let shared = ctx.shared.clone();
    let started = now();
    let wants = {
        let inner = shared
            .master
            .upgrade()
            .ok_or_else(|| StepError::Failed("the master is stopping".into()))?;
        let w = resolve(&inner.config(), accesses, shared.worker.name())?;
        (inner.locks.clone(), w)
    };
    // no state change when the locks are free
    if wants.0.try_claim(&wants.1) {
        return Ok(Ok(Some(LocksHeld {
            table: wants.0,
            wants: wants.1,
        })));
    }
    let previous = ctx.state_string.clone();
    ctx.set_state_string("waiting for locks").await?;
    let held = acquire(&shared, accesses).await?;
    let Some(held) = held else {
        return Ok(Err(StepDone::with_summary(
            Results::Cancelled,
            "cancelled while waiting for locks",
        )));
    };
    shared
        .db
        .add_build_locks_duration(shared.buildid, now() - started)
        .await?;
    ctx.set_state_string(&previous).await?;
    Ok(Ok(Some(held)))
}
