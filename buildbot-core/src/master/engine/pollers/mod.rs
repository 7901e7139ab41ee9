//! Polling change sources (`GitPoller`, `HgPoller`, `SVNPoller`): one task per poller, polling every
//! `pollInterval` (plus a random `pollRandomDelayMin..=Max`), at launch with
//! `pollAtLaunch`, and whenever asked ([`MasterHandle::poll_now`], the `poller` change
//! hook). A poll runs its VCS commands off the executor; a failing poll is logged with the
//! reason, kept in the poller's status (the pages show it) and retried at the next turn.
//! What a poller has seen (Buildbot's `lastRev`) lives in its state object, so a restarted
//! master neither loses nor repeats changes. Reconfig starts new pollers, stops removed
//! ones and restarts changed ones.

mod git;
mod hg;
mod run;
mod svn;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_std::channel::{Receiver, Sender, bounded};
use async_std::task::JoinHandle;
use buildbot_db::{DbError, ObjectId};
use serde_json::Value;

use crate::master::config::{ChangeSourceConfig, ChangeSourceKind, MasterConfig};
use crate::util::{lock, log_text, unix_now};

use super::state::Inner;
use super::{MasterError, MasterHandle};

/// How a polling change source is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeSourceStatus {
    /// The change source's name.
    pub name: String,
    /// Buildbot's class name (`GitPoller`).
    pub type_name: String,
    /// When the last poll ended (Unix time).
    pub last_poll: Option<i64>,
    /// How many changes the last poll added.
    pub last_changes: usize,
    /// Why the last poll failed (`None`: it succeeded, or none ran yet).
    pub error: Option<String>,
}

/// A running poller.
pub(super) struct PollerRun {
    config: ChangeSourceConfig,
    poke: Sender<()>,
    task: JoinHandle<()>,
    status: Arc<Mutex<ChangeSourceStatus>>,
}

/// The pollers of the current configuration, by change source name.
pub(super) type Pollers = BTreeMap<String, PollerRun>;

/// Whether the master polls this change source.
fn is_poller(c: &ChangeSourceConfig) -> bool {
    matches!(
        c.kind,
        ChangeSourceKind::GitPoller(_)
            | ChangeSourceKind::HgPoller(_)
            | ChangeSourceKind::SVNPoller(_)
    )
}

/// Starts the pollers of `cfg` that are not running (or whose configuration changed) and
/// stops those `cfg` no longer has.
pub(super) async fn sync(inner: &Arc<Inner>, cfg: &MasterConfig) {
    let wanted: Vec<&ChangeSourceConfig> =
        cfg.change_sources.iter().filter(|c| is_poller(c)).collect();
    let stale: Vec<PollerRun> = {
        let mut runs = lock(&inner.pollers);
        let names: Vec<String> = runs
            .iter()
            .filter(|(n, r)| !wanted.iter().any(|c| &c.name == *n && **c == r.config))
            .map(|(n, _)| n.clone())
            .collect();
        names.iter().filter_map(|n| runs.remove(n)).collect()
    };
    for r in stale {
        log::info!("change source {}: stopped", log_text(&r.config.name));
        r.task.cancel().await;
    }
    let mut runs = lock(&inner.pollers);
    for c in wanted {
        if runs.contains_key(&c.name) {
            continue;
        }
        let (poke, poked) = bounded(1);
        let status = Arc::new(Mutex::new(ChangeSourceStatus {
            name: c.name.clone(),
            type_name: c.type_name().to_owned(),
            ..Default::default()
        }));
        let task = async_std::task::spawn(run::poll_loop(
            Arc::downgrade(inner),
            c.clone(),
            poked,
            status.clone(),
        ));
        runs.insert(
            c.name.clone(),
            PollerRun {
                config: c.clone(),
                poke,
                task,
                status,
            },
        );
    }
}

/// Stops every poller (master shutdown).
pub(super) async fn stop_all(inner: &Inner) {
    let runs: Vec<PollerRun> = std::mem::take(&mut *lock(&inner.pollers))
        .into_values()
        .collect();
    for r in runs {
        r.task.cancel().await;
    }
}

/// What one poll may use of the master.
pub(super) struct PollContext {
    master: Weak<Inner>,
    name: String,
    class: &'static str,
}

impl PollContext {
    fn handle(&self) -> Result<MasterHandle, MasterError> {
        self.master
            .upgrade()
            .map(|inner| MasterHandle { inner })
            .ok_or(MasterError::Stopping)
    }

    /// The poller's state object (name, Buildbot's class).
    async fn object(&self) -> Result<(MasterHandle, ObjectId), MasterError> {
        let m = self.handle()?;
        let oid = m.inner.db.get_object_id(&self.name, self.class).await?;
        Ok((m, oid))
    }

    /// A value of the poller's state (`lastRev`, ...).
    pub(super) async fn get_state(&self, key: &str) -> Result<Option<Value>, MasterError> {
        let (m, oid) = self.object().await?;
        Ok(m.inner.db.get_state(oid, key).await?)
    }

    /// Stores a value of the poller's state.
    pub(super) async fn set_state(&self, key: &str, v: &Value) -> Result<(), MasterError> {
        let (m, oid) = self.object().await?;
        m.inner.db.set_state(oid, key, v).await?;
        Ok(())
    }

    /// The master's base directory (a relative `workdir` is under it).
    pub(super) fn basedir(&self) -> Result<std::path::PathBuf, MasterError> {
        Ok(self.handle()?.inner.basedir.clone())
    }

    /// Adds a change, as every change source does.
    pub(super) async fn add_change(
        &self,
        ch: &buildbot_db::NewChange,
    ) -> Result<buildbot_db::ChangeId, MasterError> {
        self.handle()?.add_change(ch).await
    }
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum PollError {
    /// The master stopped, or its database failed.
    #[error(transparent)]
    Master(#[from] MasterError),
    /// A command failed (its text names the command and its stderr).
    #[error("{0}")]
    Command(String),
}

impl From<DbError> for PollError {
    fn from(e: DbError) -> Self {
        PollError::Master(e.into())
    }
}

impl MasterHandle {
    /// Asks polling change sources to poll now (all with `names` empty): what the `poller`
    /// change hook does. `Err` lists the names that are not pollers of this master.
    pub fn poll_now(&self, names: &[String]) -> Result<(), Vec<String>> {
        let runs = lock(&self.inner.pollers);
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !runs.contains_key(*n))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        for (name, r) in runs.iter() {
            if names.is_empty() || names.contains(name) {
                // a poll already asked for and not started yet is enough
                let _ = r.poke.try_send(());
            }
        }
        Ok(())
    }

    /// How each polling change source is doing, by name.
    pub fn change_source_status(&self) -> Vec<ChangeSourceStatus> {
        lock(&self.inner.pollers)
            .values()
            .map(|r| lock(&r.status).clone())
            .collect()
    }
}

/// Records the outcome of one poll.
fn record(status: &Mutex<ChangeSourceStatus>, outcome: &Result<usize, PollError>) {
    let mut s = lock(status);
    s.last_poll = Some(unix_now());
    match outcome {
        Ok(n) => {
            s.last_changes = *n;
            s.error = None;
        }
        Err(e) => {
            s.last_changes = 0;
            s.error = Some(e.to_string());
        }
    }
}

/// The longest a VCS command of a poll may take before it is killed.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Receiver of poll requests (see [`MasterHandle::poll_now`]).
type Poked = Receiver<()>;
