//! Taking `MasterLock` / `WorkerLock`s for a build (`locks` of the builder, before the
//! first step) or for one step (`locks` of the step), from the master's [`LockTable`].
//! Waiters look again whenever a lock is released.

use buildbot_db::Results;

use crate::master::config::LockAccess;
use crate::util::unix_now as now;

use super::lock_table::{self, LocksHeld, Want};
use super::{Build, StepContext, StepDone, StepError};

/// The lock instances `accesses` want on the build's worker, with the counts the build's
/// configuration allows.
fn wants(b: &Build, accesses: &[LockAccess]) -> Result<Vec<Want>, StepError> {
    lock_table::resolve(&b.services.config, accesses, b.worker.name()).map_err(StepError::Failed)
}

/// Waits for all of `wants`: `None` when the build was stopped while waiting.
async fn acquire(b: &Build, wants: &[Want]) -> Option<LocksHeld> {
    let table = &b.services.locks;
    loop {
        if b.stop_reason().is_some() {
            return None;
        }
        if let Some(held) = table.try_claim(wants) {
            return Some(held);
        }
        table.wait_release().await;
    }
}

/// The builder's locks, before the first step: the `locks_acquire` step, the build state
/// `acquiring locks`, and `locks_duration_s`. `Ok(Err(result))`: the build was stopped
/// while waiting.
pub(crate) async fn build_locks(
    b: &Build,
) -> Result<Result<Option<LocksHeld>, Results>, StepError> {
    if b.build_locks.is_empty() {
        return Ok(Ok(None));
    }
    b.set_state("acquiring locks").await?;
    let started = now();
    let (stepid, number, name) = b.add_started_step("locks_acquire", started).await?;
    let publish = |event: &str, state: &str, done: Option<(i64, Results)>| {
        let step = (stepid, number, name.as_str());
        b.publish_own_step(step, started, done.map(|d| d.0), event, state, done);
    };
    publish("new", "pending", None);
    publish("started", "pending", None);
    let wants = wants(b, &b.build_locks)?;
    let held = acquire(b, &wants).await;
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
    let build = ctx.build.clone();
    let started = now();
    let wants = wants(&build, accesses)?;
    // no state change when the locks are free
    if let Some(held) = build.services.locks.try_claim(&wants) {
        return Ok(Ok(Some(held)));
    }
    let previous = ctx.state_string.clone();
    ctx.set_state_string("waiting for locks").await?;
    let held = acquire(&build, &wants).await;
    let Some(held) = held else {
        return Ok(Err(StepDone::with_summary(
            Results::Cancelled,
            "cancelled while waiting for locks",
        )));
    };
    build
        .db
        .add_build_locks_duration(build.buildid, now() - started)
        .await?;
    ctx.set_state_string(&previous).await?;
    Ok(Ok(Some(held)))
}
