//! Control of what the master runs: stopping a build, cancelling or re-prioritizing a
//! request, enabling a scheduler, rebuilding a build (`spec/data-model.md` §6.5); and
//! [`WeakMaster`], the [`MasterControl`] a running build gets.

use std::sync::{Arc, Weak};

use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, CancelOutcome, NewBuildset, Results,
};
use futures::future::BoxFuture;

use crate::util::lock;

use super::build::{Build, MasterControl, Submitted};
use super::buildsets::{publish_buildset_complete, publish_req};
use super::state::Inner;
use super::{MasterError, MasterHandle};

impl MasterHandle {
    /// Stops a running build (§6.5): its current command is interrupted and it ends
    /// CANCELLED with `cancelled (<reason>) …`. A build that is not running is left alone.
    pub async fn stop_build(&self, buildid: BuildId, reason: &str) -> Result<(), MasterError> {
        let shared = lock(&self.inner.state)
            .builds
            .get(&buildid)
            .map(|b| b.build.clone());
        match shared {
            Some(s) => {
                s.request_stop(reason, Results::Cancelled).await;
                Ok(())
            }
            None => match self.inner.db.get_build(buildid).await? {
                Some(_) => Ok(()),
                None => Err(MasterError::NotFound {
                    what: "build",
                    id: buildid.0,
                }),
            },
        }
    }

    /// Cancels a request (§6.5): a pending one is completed CANCELLED; a claimed one has its
    /// builds stopped.
    pub async fn cancel_request(
        &self,
        brid: BuildRequestId,
        reason: &str,
    ) -> Result<(), MasterError> {
        let inner = &self.inner;
        let Some(row) = inner.db.get_buildrequest(brid).await? else {
            return Err(MasterError::NotFound {
                what: "build request",
                id: brid.0,
            });
        };
        if row.complete {
            return Ok(());
        }
        match inner.db.cancel_buildrequest(brid, inner.masterid).await? {
            CancelOutcome::Cancelled {
                bsid,
                buildset_results,
            } => {
                publish_req(inner, &row, "claimed", false, None);
                publish_req(inner, &row, "complete", true, Some(Results::Cancelled));
                if buildset_results.is_some() {
                    publish_buildset_complete(inner, bsid).await?;
                }
                inner.events.publish_buildrequest_cancel(brid);
            }
            _ => {
                let builds: Vec<Arc<Build>> = lock(&inner.state)
                    .builds
                    .values()
                    .filter(|b| b.brids.contains(&brid))
                    .map(|b| b.build.clone())
                    .collect();
                for b in builds {
                    b.request_stop(reason, Results::Cancelled).await;
                }
            }
        }
        Ok(())
    }

    /// Sets the priority of a request that is not complete yet (the intended effect of the
    /// `set_priority` control action; a complete request is left unchanged).
    pub async fn set_request_priority(
        &self,
        brid: BuildRequestId,
        priority: i64,
    ) -> Result<(), MasterError> {
        let inner = &self.inner;
        let Some(row) = inner.db.get_buildrequest(brid).await? else {
            return Err(MasterError::NotFound {
                what: "build request",
                id: brid.0,
            });
        };
        if !row.complete {
            inner.db.set_buildrequest_priority(brid, priority).await?;
        }
        Ok(())
    }

    /// Enables or disables a scheduler (`schedulers.enabled`, the `enable` control action).
    pub async fn set_scheduler_enabled(
        &self,
        id: buildbot_db::SchedulerId,
        enabled: bool,
    ) -> Result<(), MasterError> {
        self.inner.db.set_scheduler_enabled(id, enabled).await?;
        Ok(())
    }

    /// Rebuilds a build (§6.5): a new buildset copying the original's source stamps and
    /// properties, reason `rebuild`, one request for the same builder.
    pub async fn rebuild(
        &self,
        buildid: BuildId,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        let db = &self.inner.db;
        let missing = |what, id| MasterError::NotFound { what, id };
        let b = (db.get_build(buildid).await?).ok_or(missing("build", buildid.0))?;
        let brid = b.buildrequestid;
        let br = (db.get_buildrequest(brid).await?).ok_or(missing("build request", brid.0))?;
        let bsid = br.buildsetid;
        let bs = (db.get_buildset(bsid).await?).ok_or(missing("buildset", bsid.0))?;
        let props = db.get_buildset_properties(bs.bsid).await?;
        let mut nb = NewBuildset::new("rebuild", bs.sourcestamps.clone(), vec![b.builderid]);
        nb.properties = props;
        nb.external_idstring = bs.external_idstring.clone();
        nb.parent_buildid = bs.parent_buildid;
        nb.parent_relationship = bs.parent_relationship.clone();
        nb.rebuilt_buildid = Some(bs.rebuilt_buildid.unwrap_or(buildid));
        nb.waited_for = false;
        nb.priority = br.priority;
        self.submit_buildset(nb, "rebuild").await
    }
}

/// The master as a running build sees it: a weak link (a build never keeps its master
/// alive), so that every action fails with [`MasterError::Stopping`] once the master is
/// gone.
pub(super) struct WeakMaster(Weak<Inner>);

impl WeakMaster {
    pub(super) fn new(inner: &Arc<Inner>) -> Self {
        WeakMaster(Arc::downgrade(inner))
    }

    fn handle(&self) -> Result<MasterHandle, MasterError> {
        self.0
            .upgrade()
            .map(|inner| MasterHandle { inner })
            .ok_or(MasterError::Stopping)
    }
}

impl MasterControl for WeakMaster {
    fn submit_buildset(
        &self,
        bs: NewBuildset,
        scheduler: String,
    ) -> BoxFuture<'static, Result<Submitted, MasterError>> {
        let m = self.handle();
        Box::pin(async move { m?.submit(bs, &scheduler, None).await })
    }

    fn cancel_request(
        &self,
        brid: BuildRequestId,
        reason: String,
    ) -> BoxFuture<'static, Result<(), MasterError>> {
        let m = self.handle();
        Box::pin(async move { m?.cancel_request(brid, &reason).await })
    }

    fn stop_build(
        &self,
        buildid: BuildId,
        reason: String,
    ) -> BoxFuture<'static, Result<(), MasterError>> {
        let m = self.handle();
        Box::pin(async move { m?.stop_build(buildid, &reason).await })
    }
}
