//! Workers on the master's side: registering the configured workers with the listener,
//! recording attach/detach (database row, event, waking their builders), the worker's
//! own shutdown request, and the control actions on a worker (pause, unpause, graceful
//! stop, kill).

use std::sync::Arc;

use async_std::channel::Receiver;
use buildbot_db::{DbError, WorkerId};

use crate::master::config::MasterConfig;
use crate::master::workers::{
    ConnectionEvent, WorkerBuilder, WorkerConnection, WorkerRegistration,
};
use crate::util::{lock, log_text};

use super::state::{Inner, WorkerEntry};
use super::{MasterError, MasterHandle};
use crate::master::rest;

/// The listener's view of the configured workers: names, passwords, builders (with their
/// worker build directories), keepalive.
pub(super) fn registrations(cfg: &MasterConfig) -> Vec<WorkerRegistration> {
    cfg.workers
        .iter()
        .map(|w| {
            let mut r = WorkerRegistration::new(&w.name, &w.password).builders(
                cfg.builders
                    .iter()
                    .filter(|b| b.workernames.contains(&w.name))
                    .map(|b| WorkerBuilder::new(&b.name).workerbuilddir(&b.workerbuilddir)),
            );
            if let Some(k) = w.keepalive_interval {
                r = r.keepalive_interval(std::time::Duration::from_secs(k));
            }
            r
        })
        .collect()
}

pub(super) async fn connection_loop(inner: Arc<Inner>, events: Receiver<ConnectionEvent>) {
    while let Ok(ev) = events.recv().await {
        let r = match ev {
            ConnectionEvent::Attached(conn) => inner.on_attached(conn).await,
            ConnectionEvent::Detached { name, reason } => inner.on_detached(&name, &reason).await,
            ConnectionEvent::ShutdownRequested(name) => {
                let conn = {
                    let mut st = lock(&inner.state);
                    match st.workers.get_mut(&name) {
                        Some(w) => {
                            w.shutdown_requested = true;
                            if w.running == 0 { w.conn.clone() } else { None }
                        }
                        None => None,
                    }
                };
                if let Some(c) = conn {
                    async_std::task::spawn(async move {
                        let _ = c.shutdown().await;
                    });
                }
                Ok(())
            }
            ConnectionEvent::AuthFailed { name, peer, reason } => {
                let name = name.as_deref().unwrap_or("<none>");
                log::warn!(
                    "refused worker {} from {peer}: {}",
                    log_text(name),
                    log_text(&reason)
                );
                Ok(())
            }
        };
        if let Err(e) = r {
            log::error!("recording a worker event: {e}");
        }
    }
}

impl Inner {
    async fn on_attached(self: &Arc<Self>, conn: WorkerConnection) -> Result<(), DbError> {
        let name = conn.name().to_owned();
        let Some(id) = lock(&self.state).workers.get(&name).map(|w| w.id) else {
            return Ok(());
        };
        let info = conn.info();
        let info_json = serde_json::json!({
            "admin": info.admin,
            "host": info.host,
            "access_uri": info.access_uri,
            "version": info.version,
        });
        self.db
            .worker_connected(id, self.masterid, &info_json)
            .await?;
        let wake = {
            let mut st = lock(&self.state);
            if let Some(w) = st.workers.get_mut(&name) {
                w.conn = Some(conn);
                w.graceful = false;
                w.shutdown_requested = false;
            }
            st.builder_ids_of_worker(&name)
        };
        log::info!("worker {name} attached");
        self.publish_worker(id, "connected").await?;
        self.wake_builders(wake);
        Ok(())
    }

    async fn on_detached(self: &Arc<Self>, name: &str, reason: &str) -> Result<(), DbError> {
        let id = {
            let mut st = lock(&self.state);
            let Some(w) = st.workers.get_mut(name) else {
                return Ok(());
            };
            match &w.conn {
                Some(c) if !c.is_connected() => {
                    w.conn = None;
                    w.id
                }
                _ => return Ok(()),
            }
        };
        log::info!("worker {name} detached: {reason}");
        self.db.worker_disconnected(id, self.masterid).await?;
        self.publish_worker(id, "disconnected").await
    }

    /// Announces `workers/<id>/<event>` with the worker as the API shows it (as Buildbot
    /// does); read from the database only when someone listens.
    pub(super) async fn publish_worker(&self, id: WorkerId, event: &str) -> Result<(), DbError> {
        let key = ["workers".into(), id.0.into(), event.into()];
        if self.events.is_wanted(&key)
            && let Some(row) = self.db.get_worker(id).await?
        {
            self.events.publish_worker(id, event, || rest::worker(&row));
        }
        Ok(())
    }
}

impl MasterHandle {
    async fn worker_action(
        &self,
        name: &str,
        f: impl FnOnce(&mut WorkerEntry),
    ) -> Result<(WorkerId, Option<WorkerConnection>, bool, bool, usize), MasterError> {
        let (id, conn, paused, graceful, running) = {
            let mut st = lock(&self.inner.state);
            let w = st.workers.get_mut(name).ok_or(MasterError::NotFound {
                what: "worker",
                id: -1,
            })?;
            f(w);
            (w.id, w.conn.clone(), w.paused, w.graceful, w.running)
        };
        Ok((id, conn, paused, graceful, running))
    }

    async fn set_worker_flags(
        &self,
        id: WorkerId,
        paused: bool,
        graceful: bool,
        reason: Option<&str>,
    ) -> Result<(), MasterError> {
        self.inner
            .db
            .set_worker_state(id, paused, graceful, reason)
            .await?;
        self.inner.publish_worker(id, "state_updated").await?;
        Ok(())
    }

    /// Pauses a worker (§6.5): it gets no new builds until unpaused (persisted).
    pub async fn pause_worker(&self, name: &str, reason: Option<&str>) -> Result<(), MasterError> {
        let (id, _, _, graceful, _) = self.worker_action(name, |w| w.paused = true).await?;
        self.set_worker_flags(id, true, graceful, reason).await
    }

    /// Unpauses a worker.
    pub async fn unpause_worker(&self, name: &str) -> Result<(), MasterError> {
        let (id, _, _, graceful, _) = self.worker_action(name, |w| w.paused = false).await?;
        self.set_worker_flags(id, false, graceful, None).await?;
        let ids = lock(&self.inner.state).builder_ids_of_worker(name);
        self.inner.wake_builders(ids);
        Ok(())
    }

    /// Graceful stop of a worker (§6.5): no new builds; told to shut down once idle.
    pub async fn graceful_stop_worker(&self, name: &str) -> Result<(), MasterError> {
        let (id, conn, paused, _, running) = self
            .worker_action(name, |w| {
                w.graceful = true;
                w.shutdown_requested = true;
            })
            .await?;
        self.set_worker_flags(id, paused, true, None).await?;
        if running == 0
            && let Some(c) = conn
        {
            let _ = c.shutdown().await;
        }
        Ok(())
    }

    /// Drops a worker's connection at once (`kill`): its running builds end RETRY.
    pub async fn kill_worker(&self, name: &str) -> Result<(), MasterError> {
        let (_, conn, ..) = self.worker_action(name, |_| {}).await?;
        if let Some(c) = conn {
            c.disconnect();
        }
        Ok(())
    }
}
