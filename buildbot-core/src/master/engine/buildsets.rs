//! Buildsets (`spec/data-model.md` §6.1, §6.4, §6.6): submission with one request per
//! builder and the requests' events, collapsing of older compatible requests, completion of
//! requests when their build ends (or their return to the queue on RETRY), and completion
//! of a buildset with its last request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use buildbot_db::{
    BuildRequestId, BuildRequestRow, BuilderId, BuildsetId, ClaimOutcome, Db, DbError, NewBuildset,
    Results,
};
use serde_json::Value;

use crate::util::{lock, unix_now as now};

use super::state::{BuildsetInputs, Inner};
use super::{MasterError, MasterHandle, schedulers};
use crate::master::rest;

pub(super) async fn load_buildset_inputs(
    db: &Db,
    bsid: BuildsetId,
) -> Result<BuildsetInputs, DbError> {
    let properties = db.get_buildset_properties(bsid).await?;
    let ssids = db
        .get_buildset(bsid)
        .await?
        .map(|b| b.sourcestamps)
        .unwrap_or_default();
    let sourcestamps = db.get_sourcestamps(&ssids).await?;
    Ok(BuildsetInputs {
        properties,
        sourcestamps,
    })
}

pub(super) fn publish_req(
    inner: &Inner,
    r: &BuildRequestRow,
    event: &str,
    complete: bool,
    results: Option<Results>,
) {
    let mut row = r.clone();
    if event == "unclaimed" {
        row.claimed = false;
        row.claimed_at = None;
        row.claimed_by_masterid = None;
    }
    if complete {
        row.complete = true;
        row.complete_at = Some(now());
        row.results = results.map_or(-1, |r| i64::from(r.code()));
    }
    inner.events.publish_buildrequest(
        row.buildsetid,
        row.builderid,
        row.buildrequestid,
        event,
        || rest::buildrequest(&row),
    );
}

pub(super) async fn publish_buildset_complete(
    inner: &Inner,
    bsid: BuildsetId,
) -> Result<(), DbError> {
    let inputs = lock(&inner.buildsets).remove(&bsid);
    schedulers::upstream::buildset_completed(inner, bsid).await?;
    if inner
        .events
        .is_wanted(&["buildsets".into(), bsid.0.into(), "complete".into()])
        && let Some(bs) = inner.db.get_buildset(bsid).await?
    {
        let sourcestamps = match inputs {
            Some(i) => i.sourcestamps.clone(),
            None => inner.db.get_sourcestamps(&bs.sourcestamps).await?,
        };
        inner
            .events
            .publish_buildset(bsid, "complete", || rest::buildset(&bs, &sourcestamps));
    }
    Ok(())
}

/// §6.4: requests of a finished build completed (or unclaimed on RETRY), buildsets
/// completed when their last request is.
pub(super) async fn finish_requests(
    inner: &Inner,
    reqs: &[BuildRequestRow],
    results: Results,
) -> Result<(), DbError> {
    let brids: Vec<BuildRequestId> = reqs.iter().map(|r| r.buildrequestid).collect();
    if results == Results::Retry {
        inner
            .db
            .unclaim_buildrequests(&brids, inner.masterid)
            .await?;
        for r in reqs {
            publish_req(inner, r, "unclaimed", false, None);
        }
        return Ok(());
    }
    if !inner
        .db
        .complete_buildrequests(&brids, results, None)
        .await?
    {
        return Ok(());
    }
    for r in reqs {
        publish_req(inner, r, "complete", true, Some(results));
    }
    let bsids: BTreeSet<BuildsetId> = reqs.iter().map(|r| r.buildsetid).collect();
    for bsid in bsids {
        if inner.db.maybe_complete_buildset(bsid).await?.is_some() {
            publish_buildset_complete(inner, bsid).await?;
        }
    }
    Ok(())
}

impl MasterHandle {
    /// Submits a buildset (§6.1) — what every scheduler does — with collapsing (§6.6) and
    /// events; returns the buildset id and `(builder, request)` pairs.
    pub async fn submit_buildset(
        &self,
        bs: NewBuildset,
        scheduler: &str,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        self.submit(bs, scheduler, None).await
    }

    pub(super) async fn submit(
        &self,
        bs: NewBuildset,
        scheduler: &str,
        ss_rows: Option<Vec<buildbot_db::SourceStampRow>>,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        self.check_running()?;
        let inner = &self.inner;
        let (bsid, map) = inner.db.add_buildset(&bs).await?;
        schedulers::upstream::buildset_submitted(inner, scheduler, bsid).await?;
        let reqs: Vec<(BuilderId, BuildRequestId)> = map.into_iter().collect();
        for (builderid, brid) in &reqs {
            self.collapse(*builderid, *brid, bsid).await?;
        }
        let ss_rows = match ss_rows {
            Some(r) => r,
            None => inner.db.get_sourcestamps(&bs.sourcestamps).await?,
        };
        if inner.events.subscriber_count() > 0 {
            let submitted = bs.submitted_at.unwrap_or_else(now);
            for (builderid, brid) in &reqs {
                inner
                    .events
                    .publish_buildrequest(bsid, *builderid, *brid, "new", || {
                        rest::BuildRequestView::submitted(
                            *brid,
                            bsid,
                            *builderid,
                            bs.priority,
                            submitted,
                            bs.waited_for,
                        )
                        .to_json()
                    });
            }
            inner.events.publish_buildset(bsid, "new", || {
                rest::NewBuildsetView {
                    bsid,
                    external_idstring: bs.external_idstring.as_deref(),
                    reason: &bs.reason,
                    parent_buildid: bs.parent_buildid,
                    rebuilt_buildid: bs.rebuilt_buildid,
                    submitted_at: submitted,
                    scheduler,
                    sourcestamps: &ss_rows,
                }
                .to_json()
            });
        }
        if !reqs.is_empty() {
            lock(&inner.buildsets).insert(
                bsid,
                Arc::new(BuildsetInputs {
                    properties: bs.properties.clone(),
                    sourcestamps: ss_rows,
                }),
            );
        }
        if reqs.is_empty() {
            inner.db.complete_buildset(bsid, Results::Success).await?;
            publish_buildset_complete(inner, bsid).await?;
        }
        inner.wake_builders(reqs.iter().map(|r| r.0).collect());
        Ok((bsid, reqs))
    }

    /// §6.6: older compatible pending requests of the builder are completed SKIPPED.
    async fn collapse(
        &self,
        builderid: BuilderId,
        brid: BuildRequestId,
        bsid: BuildsetId,
    ) -> Result<(), DbError> {
        let inner = &self.inner;
        let cfg = inner.config();
        let enabled = {
            let st = lock(&inner.state);
            st.builders
                .values()
                .find(|b| b.id == builderid)
                .map(|b| b.config.collapse_requests.unwrap_or(cfg.collapse_requests))
                .unwrap_or(false)
        };
        if !enabled {
            return Ok(());
        }
        let pending = inner
            .db
            .pending_buildrequests(Some(builderid), Some(100))
            .await?;
        let older: Vec<BuildRequestRow> = pending
            .into_iter()
            .filter(|r| r.buildrequestid.0 < brid.0)
            .collect();
        if older.is_empty() {
            return Ok(());
        }
        let new_bs = inner.db.get_buildset(bsid).await?;
        let new_props = scheduler_props(&inner.db.get_buildset_properties(bsid).await?);
        for o in older {
            let compatible = if o.buildsetid == bsid {
                true
            } else {
                let old_bs = inner.db.get_buildset(o.buildsetid).await?;
                let same_ss = match (&new_bs, &old_bs) {
                    (Some(a), Some(b)) => {
                        let mut x = a.sourcestamps.clone();
                        let mut y = b.sourcestamps.clone();
                        x.sort();
                        y.sort();
                        x == y
                    }
                    _ => false,
                };
                same_ss
                    && scheduler_props(&inner.db.get_buildset_properties(o.buildsetid).await?)
                        == new_props
            };
            if !compatible {
                continue;
            }
            if inner
                .db
                .claim_buildrequests(&[o.buildrequestid], inner.masterid, None)
                .await?
                != ClaimOutcome::Claimed
            {
                continue;
            }
            publish_req(inner, &o, "claimed", false, None);
            if inner
                .db
                .complete_buildrequests(&[o.buildrequestid], Results::Skipped, None)
                .await?
            {
                publish_req(inner, &o, "complete", true, Some(Results::Skipped));
                if inner
                    .db
                    .maybe_complete_buildset(o.buildsetid)
                    .await?
                    .is_some()
                {
                    publish_buildset_complete(inner, o.buildsetid).await?;
                }
            }
        }
        Ok(())
    }
}

fn scheduler_props(p: &buildbot_db::Properties) -> BTreeMap<String, Value> {
    p.iter()
        .filter(|(k, (_, s))| s == "Scheduler" && k.as_str() != "scheduler")
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}
