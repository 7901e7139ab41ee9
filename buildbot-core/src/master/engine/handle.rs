//! [`MasterHandle`]: what a program holding a running master can read and wait for. What
//! it can do is spread over the modules that own it: `control` (force, stop, cancel,
//! rebuild), `buildsets` (submission), `attach` (worker actions), `lifecycle` (reconfig,
//! stop).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use buildbot_db::{
    BuildId, BuildRequestId, BuildRequestRow, BuildRow, ChangeId, Db, MasterId, NewChange, Query,
};

use crate::master::EventBus;
use crate::master::config::MasterConfig;
use crate::util::lock;

use super::MasterError;
use super::state::Inner;
use crate::master::rest;

/// A running master. Cheap to clone.
#[derive(Clone)]
pub struct MasterHandle {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for MasterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterHandle")
            .field("masterid", &self.inner.masterid)
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl MasterHandle {
    /// The master's id.
    pub fn masterid(&self) -> MasterId {
        self.inner.masterid
    }

    /// The master's name (`<hostname>:<basedir>`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address the worker listener is bound to.
    pub fn worker_addr(&self) -> std::net::SocketAddr {
        self.inner.manager.local_addr()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The event bus (subscribe with Buildbot's routing keys).
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<MasterConfig> {
        self.inner.config()
    }

    /// The base directory.
    pub fn basedir(&self) -> &Path {
        &self.inner.basedir
    }

    /// Names of the workers currently attached.
    pub fn connected_workers(&self) -> Vec<String> {
        lock(&self.inner.state)
            .workers
            .iter()
            .filter(|(_, w)| w.conn.as_ref().is_some_and(|c| c.is_connected()))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Ids of the builds running on this master.
    pub fn running_builds(&self) -> Vec<BuildId> {
        lock(&self.inner.state).builds.keys().copied().collect()
    }

    pub(super) fn check_running(&self) -> Result<(), MasterError> {
        if self.inner.draining.load(Ordering::SeqCst) {
            return Err(MasterError::Stopping);
        }
        Ok(())
    }

    /// Adds a change — what change sources, `buildbot sendchange` and the web's change hooks
    /// do — and announces it on the event bus (`changes/<id>/new`).
    pub async fn add_change(&self, ch: &NewChange) -> Result<ChangeId, MasterError> {
        let db = &self.inner.db;
        let id = db.add_change(ch).await?;
        if let Some(row) = db.get_change(id).await? {
            let ss = db.get_sourcestamp(row.sourcestampid).await?;
            self.inner
                .events
                .publish_change(id, || rest::change(&row, ss.as_ref()));
        }
        Ok(id)
    }

    /// Waits until a request is complete and returns it.
    pub async fn wait_for_request(
        &self,
        brid: BuildRequestId,
        timeout: Duration,
    ) -> Result<BuildRequestRow, MasterError> {
        let what = format!("build request {}", brid.0);
        let path = format!("buildrequests/{}/complete", brid.0);
        self.wait_until(&path, what, timeout, WAKE_CHECK, || async {
            match self.inner.db.get_buildrequest(brid).await? {
                Some(r) if r.complete => Ok(Some(r)),
                Some(_) => Ok(None),
                None => Err(MasterError::NotFound {
                    what: "build request",
                    id: brid.0,
                }),
            }
        })
        .await
    }

    /// Waits until a build is finished and returns its row.
    pub async fn wait_for_build(
        &self,
        buildid: BuildId,
        timeout: Duration,
    ) -> Result<BuildRow, MasterError> {
        let what = format!("build {}", buildid.0);
        let path = format!("builds/{}/finished", buildid.0);
        self.wait_until(&path, what, timeout, WAKE_CHECK, || async {
            match self.inner.db.get_build(buildid).await? {
                Some(b) if b.complete_at.is_some() => Ok(Some(b)),
                Some(_) => Ok(None),
                None => Err(MasterError::NotFound {
                    what: "build",
                    id: buildid.0,
                }),
            }
        })
        .await
    }

    /// Waits until a request has a build (started by any master) and returns the newest.
    pub async fn wait_for_build_of(
        &self,
        brid: BuildRequestId,
        timeout: Duration,
    ) -> Result<BuildRow, MasterError> {
        let what = format!("a build of request {}", brid.0);
        // another master's build is announced on its own bus: look often
        self.wait_until(
            "builds/*/new",
            what,
            timeout,
            Duration::from_millis(50),
            || async { Ok(self.builds_of_request(brid).await?.into_iter().last()) },
        )
        .await
    }

    /// Reads with `check` until it gives a value, looking again when an event matching
    /// `path` is published and at least every `tick`; [`MasterError::Timeout`] after
    /// `timeout`.
    async fn wait_until<T, F, Fut>(
        &self,
        path: &str,
        what: String,
        timeout: Duration,
        tick: Duration,
        mut check: F,
    ) -> Result<T, MasterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, MasterError>>,
    {
        let sub = self.inner.events.subscribe_path(path);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await? {
                return Ok(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MasterError::Timeout(timeout, what));
            }
            let _ = async_std::future::timeout(left.min(tick), sub.recv()).await;
        }
    }

    /// Builds of a request, oldest first.
    pub async fn builds_of_request(
        &self,
        brid: BuildRequestId,
    ) -> Result<Vec<BuildRow>, MasterError> {
        Ok(self
            .inner
            .db
            .list_builds(
                &Query::new()
                    .eq("buildrequestid", brid.0)
                    .order("buildid", false),
            )
            .await?)
    }
}

/// How often a wait looks again when no event came.
const WAKE_CHECK: Duration = Duration::from_millis(250);
