//! What `Dependent` schedulers remember of their upstream scheduler's buildsets
//! (`upstream_bsids` in their state, as Buildbot keeps them), and what they do when one
//! completes.

use buildbot_db::{BuildsetId, DbError, ObjectId};
use serde_json::Value;

use crate::master::config::{SchedulerConfig, SchedulerKind};

use super::super::state::Inner;

/// Buildbot's class of a `Dependent` scheduler (its state is kept under this name).
const DEPENDENT_CLASS: &str = "buildbot.schedulers.dependent.Dependent";

/// The `Dependent` schedulers of the current configuration, with their upstream's name.
fn dependents(cfg: &crate::master::config::MasterConfig) -> Vec<(&SchedulerConfig, &str)> {
    cfg.schedulers
        .iter()
        .filter_map(|s| match &s.kind {
            SchedulerKind::Dependent { upstream } => Some((s, upstream.as_str())),
            _ => None,
        })
        .collect()
}

async fn upstream_bsids(inner: &Inner, name: &str) -> Result<(ObjectId, Vec<i64>), DbError> {
    let oid = inner.db.get_object_id(name, DEPENDENT_CLASS).await?;
    let ids = inner
        .db
        .get_state(oid, "upstream_bsids")
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    Ok((oid, ids))
}

/// `scheduler` submitted `bsid`: the `Dependent` schedulers downstream of it remember it.
pub(crate) async fn buildset_submitted(
    inner: &Inner,
    scheduler: &str,
    bsid: BuildsetId,
) -> Result<(), DbError> {
    let cfg = inner.config();
    for (s, upstream) in dependents(&cfg) {
        if upstream == scheduler {
            let (oid, mut ids) = upstream_bsids(inner, &s.name).await?;
            ids.push(bsid.0);
            inner
                .db
                .set_state(oid, "upstream_bsids", &Value::from(ids))
                .await?;
        }
    }
    Ok(())
}

/// `bsid` completed: a `Dependent` scheduler that remembered it builds its source stamps
/// when it succeeded (SUCCESS or WARNINGS).
pub(crate) async fn buildset_completed(inner: &Inner, bsid: BuildsetId) -> Result<(), DbError> {
    let cfg = inner.config();
    for (s, _) in dependents(&cfg) {
        let (oid, mut ids) = upstream_bsids(inner, &s.name).await?;
        if !ids.contains(&bsid.0) {
            continue;
        }
        ids.retain(|i| *i != bsid.0);
        inner
            .db
            .set_state(oid, "upstream_bsids", &Value::from(ids))
            .await?;
        let Some(bs) = inner.db.get_buildset(bsid).await? else {
            continue;
        };
        let sid = inner.db.find_or_create_scheduler(&s.name).await?;
        if !matches!(bs.results, Some(0 | 1)) || !inner.scheduler_enabled(sid).await? {
            continue;
        }
        // submitted by `dependent_loop`: the new buildset may complete (and come back here)
        // at once
        let _ = inner.dependent.try_send((s.name.clone(), bs.sourcestamps));
    }
    Ok(())
}
