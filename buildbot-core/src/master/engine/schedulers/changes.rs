//! Change-driven schedulers (`SingleBranchScheduler`, `AnyBranchScheduler`): new changes
//! classified, a `treeStableTimer` per scheduler or per branch, stable trees built.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildbot_db::{ChangeId, ChangeRow, DbError};
use serde_json::Value;

use crate::master::config::{ChangeFilter, Importance, SchedulerConfig, SchedulerKind};
use crate::master::events::Subscription;
use crate::util::lock;

use super::super::state::Inner;

use super::timed::timed;
use super::{filter_matches, has_codebase, sourcestamps_for, submit, triggered};

/// What a change-driven scheduler needs (`None` for the other kinds).
struct ChangeDriven<'a> {
    filter: &'a ChangeFilter,
    /// `treeStableTimer` seconds.
    stable: Option<u64>,
    /// One timer per branch (`AnyBranchScheduler`).
    per_branch: bool,
    importance: &'a Importance,
}

fn change_driven(s: &SchedulerConfig) -> Option<ChangeDriven<'_>> {
    match &s.kind {
        SchedulerKind::SingleBranch {
            change_filter,
            tree_stable_timer,
            importance,
        } => Some(ChangeDriven {
            filter: change_filter,
            stable: *tree_stable_timer,
            per_branch: false,
            importance,
        }),
        SchedulerKind::AnyBranch {
            change_filter,
            tree_stable_timer,
            importance,
        } => Some(ChangeDriven {
            filter: change_filter,
            stable: *tree_stable_timer,
            per_branch: true,
            importance,
        }),
        _ => None,
    }
}

/// The timer a change belongs to: one per scheduler, or (`AnyBranchScheduler`) per branch.
fn timer_key(per_branch: bool, ch: &ChangeRow) -> String {
    if per_branch {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            ch.codebase,
            ch.project,
            ch.repository,
            ch.branch.as_deref().unwrap_or("")
        )
    } else {
        String::new()
    }
}

/// Running timers: `(scheduler, key)` → generation; a timer that fires with an older
/// generation than the current one was restarted by a later change.
type Timers = Arc<Mutex<HashMap<(String, String), u64>>>;

/// Follows new changes for the change-driven schedulers until the master stops.
pub(crate) async fn change_loop(inner: Arc<Inner>, changes: Subscription) {
    let timers: Timers = Arc::default();
    // changes classified before a restart: built after the timer, as new ones are
    if let Err(e) = resume(&inner, &timers).await {
        log::error!("schedulers: resuming classified changes: {e}");
    }
    while let Some(ev) = changes.recv().await {
        let Some(id) = ev.message.get("changeid").and_then(Value::as_i64) else {
            continue;
        };
        if let Err(e) = on_change(&inner, &timers, ChangeId(id)).await {
            log::error!("schedulers: change {id}: {e}");
        }
    }
}

async fn resume(inner: &Arc<Inner>, timers: &Timers) -> Result<(), DbError> {
    let cfg = inner.config();
    for s in &cfg.schedulers {
        let Some(cd) = change_driven(s) else {
            continue;
        };
        let sid = inner.db.find_or_create_scheduler(&s.name).await?;
        let mut keys = Vec::new();
        for (id, _) in inner.db.get_change_classifications(sid).await? {
            if let Some(ch) = inner.db.get_change(id).await? {
                let key = timer_key(cd.per_branch, &ch);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for key in keys {
            arm(inner, timers, &s.name, key, cd.stable);
        }
    }
    Ok(())
}

async fn on_change(inner: &Arc<Inner>, timers: &Timers, id: ChangeId) -> Result<(), DbError> {
    let Some(ch) = inner.db.get_change(id).await? else {
        return Ok(());
    };
    let cfg = inner.config();
    for s in &cfg.schedulers {
        if let Some(t) = timed(s) {
            // a timed scheduler with onlyIfChanged notes the changes it would build
            let branch_ok = t.branch.is_none_or(|b| ch.branch.as_deref() == Some(b));
            if t.only_if_changed
                && branch_ok
                && t.filter.is_none_or(|f| filter_matches(f, &ch))
                && has_codebase(s, &ch)
            {
                let important = t.importance.is_none_or(|i| i.is_important(&ch.files));
                if important || !t.importance.is_some_and(|i| i.only_important) {
                    let sid = inner.db.find_or_create_scheduler(&s.name).await?;
                    inner.db.classify_changes(sid, &[(id, important)]).await?;
                }
            }
            continue;
        }
        let Some(cd) = change_driven(s) else {
            continue;
        };
        if !filter_matches(cd.filter, &ch) || !has_codebase(s, &ch) {
            continue;
        }
        // as Buildbot's `gotChange`: an unimportant change is dropped with `onlyImportant`
        // or without a timer; with one it is recorded (built along with the next important
        // one) and restarts a running timer, but never starts one
        let important = cd.importance.is_important(&ch.files);
        if !important && (cd.importance.only_important || cd.stable.is_none()) {
            continue;
        }
        let sid = inner.db.find_or_create_scheduler(&s.name).await?;
        if !inner.scheduler_enabled(sid).await? {
            continue;
        }
        inner.db.classify_changes(sid, &[(id, important)]).await?;
        let key = timer_key(cd.per_branch, &ch);
        if important || running(timers, &s.name, &key) {
            arm(inner, timers, &s.name, key, cd.stable);
        }
    }
    Ok(())
}

/// Whether the timer of `key` is running.
fn running(timers: &Timers, name: &str, key: &str) -> bool {
    lock(timers).contains_key(&(name.to_owned(), key.to_owned()))
}

/// (Re)starts the timer of `key`; without a timer, builds now.
fn arm(inner: &Arc<Inner>, timers: &Timers, name: &str, key: String, stable: Option<u64>) {
    let k = (name.to_owned(), key);
    let generation = {
        let mut t = lock(timers);
        let g = t.entry(k.clone()).or_insert(0);
        *g += 1;
        *g
    };
    let (inner, timers) = (inner.clone(), timers.clone());
    let task = async_std::task::spawn(async move {
        if let Some(secs) = stable {
            async_std::task::sleep(Duration::from_secs(secs)).await;
        }
        {
            let mut t = lock(&timers);
            if t.get(&k) != Some(&generation) {
                return; // a later change restarted the timer
            }
            // fired: a later change starts a new timer
            t.remove(&k);
        }
        if let Err(e) = fire(&inner, &k.0, &k.1).await {
            log::error!("scheduler {}: starting a build for its changes: {e}", k.0);
        }
    });
    drop(task);
}

/// The tree of `key` is stable: its classified changes become one buildset.
async fn fire(inner: &Arc<Inner>, name: &str, key: &str) -> Result<(), DbError> {
    let cfg = inner.config();
    let Some(s) = cfg.schedulers.iter().find(|s| s.name == name) else {
        return Ok(()); // removed by a reconfig
    };
    let Some(cd) = change_driven(s) else {
        return Ok(());
    };
    let per_branch = cd.per_branch;
    let sid = inner.db.find_or_create_scheduler(name).await?;
    let mut changes: Vec<ChangeRow> = Vec::new();
    let mut important = false;
    for (id, imp) in inner.db.get_change_classifications(sid).await? {
        if let Some(ch) = inner.db.get_change(id).await?
            && timer_key(per_branch, &ch) == key
        {
            important |= imp;
            changes.push(ch);
        }
    }
    let ids: Vec<ChangeId> = changes.iter().map(|c| c.changeid).collect();
    if important
        && !submit(
            inner,
            s,
            sourcestamps_for(inner, s, &changes, None).await?,
            &triggered(s),
        )
        .await
    {
        return Ok(()); // classified changes stay for the next attempt
    }
    inner.db.unclassify_changes(sid, &ids).await
}
