//! The lock table of one master: which `MasterLock` / `WorkerLock` instances are held, by
//! how many, and whether exclusively. A claim takes all its locks at once or none (as
//! Buildbot does), so two builds each holding one of two locks never deadlock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_std::channel::{Receiver, Sender};

use crate::master::config::{LockAccess, LockKind, LockMode, MasterConfig};
use crate::util::lock;

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
pub(crate) struct Want {
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
    /// Claims all of `wants` if all are available now; they are held until the returned
    /// value is dropped.
    pub(crate) fn try_claim(self: &Arc<Self>, wants: &[Want]) -> Option<LocksHeld> {
        self.claim_all(wants).then(|| LocksHeld {
            table: self.clone(),
            wants: wants.to_vec(),
        })
    }

    /// Waits until some lock is released (or [`RECHECK`] has passed).
    pub(crate) async fn wait_release(&self) {
        let _ = async_std::future::timeout(RECHECK, self.released.1.recv()).await;
    }

    fn claim_all(&self, wants: &[Want]) -> bool {
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

/// The lock instances `accesses` want on `worker`, with the counts `cfg` allows; an
/// unknown lock name is an error.
pub(crate) fn resolve(
    cfg: &MasterConfig,
    accesses: &[LockAccess],
    worker: &str,
) -> Result<Vec<Want>, String> {
    accesses
        .iter()
        .map(|a| {
            let l = cfg
                .locks
                .iter()
                .find(|l| l.name == a.name)
                .ok_or_else(|| format!("unknown lock '{}'", a.name))?;
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
