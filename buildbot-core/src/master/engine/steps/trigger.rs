//! The `Trigger` step: submits buildsets to `Triggerable` schedulers (with the triggering
//! build as their parent) and, with `waitForFinish`, waits for them and takes the worst of
//! their results.

use std::time::Duration;

use buildbot_db::{
    BuildRequestId, BuildRow, BuildsetId, NewBuildset, Query, Results, SourceStampId,
    SourceStampSpec,
};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{SchedulerKind, TriggerConfig};
use crate::master::properties::Properties;

use crate::master::engine::build::MasterControl;
use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

/// How often a waiting `Trigger` step looks at its buildsets.
const POLL: Duration = Duration::from_millis(200);

/// `steps.Trigger`.
pub(crate) struct TriggerStep {
    pub(crate) cfg: TriggerConfig,
}

/// Buildbot's `statusToString(status, count)`.
fn status_to_string(r: Results, count: usize) -> String {
    let one = r.to_string();
    if count <= 1 {
        return one;
    }
    match r {
        Results::Success => "successes".into(),
        Results::Failure => "failures".into(),
        Results::Exception => "exceptions".into(),
        Results::Retry => "retries".into(),
        _ => one,
    }
}

fn summary(names: &[String], results: &[Results]) -> String {
    let mut s = format!("triggered {}", names.join(", "));
    for code in 0..7 {
        let Some(r) = Results::from_code(code) else {
            continue;
        };
        let n = results.iter().filter(|x| **x == r).count();
        if n > 0 {
            s.push_str(&format!(", {n} {}", status_to_string(r, n)));
        }
    }
    s
}

/// A stopped `Trigger` step that waits stops what it triggered: running builds are
/// stopped, pending requests cancelled.
async fn cancel_triggered(
    master: &dyn MasterControl,
    ctx: &StepContext,
    buildsets: &[BuildsetId],
    reason: &str,
) {
    for bsid in buildsets {
        let reqs = match ctx
            .db()
            .list_buildrequests(&Query::new().eq("buildsetid", bsid.0))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                log::warn!("trigger: reading requests of buildset {}: {e}", bsid.0);
                continue;
            }
        };
        for req in reqs.into_iter().filter(|r| !r.complete) {
            let builds = builds_of_request(ctx, req.buildrequestid)
                .await
                .unwrap_or_default();
            let running: Vec<_> = builds.iter().filter(|b| b.complete_at.is_none()).collect();
            let r = if running.is_empty() {
                master
                    .cancel_request(req.buildrequestid, reason.to_owned())
                    .await
            } else {
                let mut r = Ok(());
                for b in running {
                    r = r.and(master.stop_build(b.buildid, reason.to_owned()).await);
                }
                r
            };
            if let Err(e) = r {
                log::warn!("trigger: stopping request {}: {e}", req.buildrequestid.0);
            }
        }
    }
}

/// Builds of a request, oldest first.
async fn builds_of_request(
    ctx: &StepContext,
    brid: BuildRequestId,
) -> Result<Vec<BuildRow>, StepError> {
    Ok(ctx
        .db()
        .list_builds(
            &Query::new()
                .eq("buildrequestid", brid.0)
                .order("buildid", false),
        )
        .await?)
}

impl TriggerStep {
    /// The source stamps of the triggered buildsets (`prepareSourcestampListForTrigger`).
    async fn sourcestamps(&self, ctx: &StepContext) -> Result<Vec<SourceStampId>, StepError> {
        let db = ctx.db();
        if self.cfg.always_use_latest {
            // the scheduler's default codebase, latest revision
            let mut ss = SourceStampSpec::new(None, None, "");
            ss.codebase = String::new();
            return Ok(vec![db.find_or_create_sourcestamp(&ss).await?]);
        }
        let update = self
            .cfg
            .update_source_stamp
            .unwrap_or(!self.cfg.always_use_latest);
        let got = match ctx.property("got_revision") {
            Some(Value::Object(m)) => m,
            Some(Value::String(s)) => {
                let mut m = serde_json::Map::new();
                m.insert(String::new(), Value::from(s));
                m
            }
            _ => serde_json::Map::new(),
        };
        let mut out = Vec::new();
        for (codebase, ss) in &ctx.build.sourcestamps {
            let got_rev = got.get(codebase).and_then(Value::as_str).filter(|_| update);
            let ssid = ss.get("ssid").and_then(Value::as_i64);
            match (got_rev, ssid) {
                (None, Some(id)) => out.push(SourceStampId(id)),
                _ => {
                    let s = |k: &str| ss.get(k).and_then(Value::as_str).map(str::to_owned);
                    let mut spec = SourceStampSpec::new(
                        s("branch").as_deref(),
                        got_rev.map(str::to_owned).or(s("revision")).as_deref(),
                        &s("repository").unwrap_or_default(),
                    );
                    spec.project = s("project").unwrap_or_default();
                    spec.codebase = codebase.clone();
                    out.push(db.find_or_create_sourcestamp(&spec).await?);
                }
            }
        }
        Ok(out)
    }

    async fn go(&self, ctx: &mut StepContext) -> Result<StepDone, StepError> {
        let master = ctx.build.services.control.clone();
        let config = ctx.build.services.config.clone();
        // resolve everything before submitting anything
        let mut targets = Vec::new();
        for name in &self.cfg.scheduler_names {
            let sched = config.scheduler(name).ok_or_else(|| {
                StepError::Failed(format!("unknown triggered scheduler: '{name}'"))
            })?;
            if !matches!(sched.kind, SchedulerKind::Triggerable) {
                return Err(StepError::Failed(format!(
                    "triggered scheduler is not ITriggerableScheduler: '{name}'"
                )));
            }
            targets.push(sched.clone());
        }
        let mut set_props = Properties::new();
        for (k, r) in &self.cfg.set_properties {
            set_props.set(k, ctx.render("set_properties", r)?, "Trigger");
        }
        let sourcestamps = self.sourcestamps(ctx).await?;
        let base_url = config.buildbot_url.clone();
        let mut buildsets: Vec<BuildsetId> = Vec::new();
        let mut names = Vec::new();
        for sched in &targets {
            let mut builderids = Vec::new();
            for b in &sched.builder_names {
                match ctx.db().builder_id_by_name(b).await? {
                    Some(id) => builderids.push(id),
                    None => {
                        return Err(StepError::Failed(format!(
                            "scheduler '{}': unknown builder '{b}'",
                            sched.name
                        )));
                    }
                }
            }
            let mut props = Properties::new();
            for (k, v, s) in sched.properties.iter() {
                props.set(k, v.clone(), s);
            }
            for (k, v, s) in set_props.iter() {
                props.set(k, v.clone(), s);
            }
            let reason = match props.get("reason") {
                Some(Value::String(r)) => r.clone(),
                _ => format!(
                    "The Triggerable scheduler named '{}' triggered this build",
                    sched.name
                ),
            };
            props.set("scheduler", Value::from(sched.name.clone()), "Scheduler");
            let mut bs = NewBuildset::new(&reason, sourcestamps.clone(), builderids);
            bs.properties = props.as_map().clone();
            bs.waited_for = self.cfg.wait_for_finish;
            bs.parent_buildid = Some(ctx.build.buildid);
            bs.parent_relationship = Some(self.cfg.parent_relationship.clone());
            bs.priority = sched.priority;
            let (bsid, reqs) = master
                .submit_buildset(bs, sched.name.clone())
                .await
                .map_err(|e| StepError::Failed(format!("triggering '{}': {e}", sched.name)))?;
            for (_, brid) in &reqs {
                ctx.add_url(
                    &format!("{} #{}", sched.name, brid.0),
                    &format!("{base_url}#/buildrequests/{}", brid.0),
                )
                .await?;
            }
            buildsets.push(bsid);
            names.push(sched.name.clone());
        }
        ctx.set_state_string(&summary(&names, &[])).await?;
        if !self.cfg.wait_for_finish {
            return Ok(StepDone::with_summary(
                Results::Success,
                summary(&names, &[]),
            ));
        }
        let mut results = Results::Success;
        let mut build_results = Vec::new();
        for bsid in buildsets.clone() {
            let bs = loop {
                if let Some(reason) = ctx.stop_reason() {
                    cancel_triggered(master.as_ref(), ctx, &buildsets, &reason).await;
                    return Ok(StepDone::with_summary(Results::Cancelled, "interrupted"));
                }
                match ctx.db().get_buildset(bsid).await? {
                    Some(bs) if bs.complete => break bs,
                    Some(_) => async_std::task::sleep(POLL).await,
                    None => {
                        return Err(StepError::Failed(format!(
                            "buildset {} disappeared",
                            bsid.0
                        )));
                    }
                }
            };
            let r = bs
                .results
                .and_then(Results::from_code)
                .unwrap_or(Results::Exception);
            results = results.worst(r);
            let reqs = ctx
                .db()
                .list_buildrequests(&Query::new().eq("buildsetid", bsid.0))
                .await?;
            for req in reqs {
                for b in builds_of_request(ctx, req.buildrequestid).await? {
                    let br = b
                        .results
                        .and_then(Results::from_code)
                        .unwrap_or(Results::Exception);
                    build_results.push(br);
                    let bname = ctx
                        .db()
                        .get_builder(b.builderid)
                        .await?
                        .map(|r| r.name)
                        .unwrap_or_default();
                    ctx.add_url(
                        &format!("{}: {bname} #{}", status_to_string(br, 1), b.number),
                        &format!("{base_url}#/builders/{}/builds/{}", b.builderid.0, b.number),
                    )
                    .await?;
                }
            }
        }
        Ok(StepDone::with_summary(
            results,
            summary(&names, &build_results),
        ))
    }
}

impl BuildStep for TriggerStep {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}
