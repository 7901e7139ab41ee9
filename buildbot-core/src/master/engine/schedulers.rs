//! Change-driven schedulers: `SingleBranchScheduler` and `AnyBranchScheduler`.
//!
//! Every new change (`changes/<id>/new` on the event bus: `sendchange`, web hooks,
//! [`super::MasterHandle::add_change`]) that a scheduler's change filter accepts is
//! classified for it (`scheduler_changes`, as Buildbot records it). Without a
//! `treeStableTimer` the change is built at once; with one, each new change restarts the
//! timer of its branch (`SingleBranchScheduler` has one timer, `AnyBranchScheduler` one per
//! codebase, project, repository and branch), and when the tree has been stable that long
//! the classified changes become one buildset: for each codebase the source stamp of its
//! latest change, reason `The SingleBranchScheduler scheduler named 'N' triggered this
//! build`, the scheduler's properties and `scheduler`. Classified changes left by a stopped
//! master are built once it runs again (after the timer). A disabled scheduler
//! (`schedulers.enabled`) ignores changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildbot_db::{ChangeId, ChangeRow, DbError, NewBuildset, SchedulerId};
use serde_json::Value;

use super::{Inner, MasterHandle, lock};
use crate::master::config::{ChangeFilter, FieldFilter, SchedulerConfig, SchedulerKind};
use crate::master::events::Subscription;
use crate::master::properties::Properties;

/// Whether `f` accepts a change whose field is `v` (`eq`: one of; `not_eq`: none of; `re` /
/// `not_re`: a regular expression that matches from the start, as Python's `re.match`).
pub(crate) fn field_matches(f: &FieldFilter, v: Option<&str>) -> bool {
    let value = v.unwrap_or("");
    let re_match =
        |re: &str| regex::Regex::new(&format!("^(?:{re})")).is_ok_and(|r| r.is_match(value));
    f.eq.as_ref().is_none_or(|l| l.iter().any(|x| x == value))
        && f.not_eq
            .as_ref()
            .is_none_or(|l| !l.iter().any(|x| x == value))
        && f.re.as_deref().is_none_or(re_match)
        && f.not_re.as_deref().is_none_or(|re| !re_match(re))
}

/// Whether `filter` accepts `ch`.
pub(crate) fn filter_matches(filter: &ChangeFilter, ch: &ChangeRow) -> bool {
    field_matches(&filter.project, Some(&ch.project))
        && field_matches(&filter.repository, Some(&ch.repository))
        && field_matches(&filter.branch, ch.branch.as_deref())
        && field_matches(&filter.category, ch.category.as_deref())
        && field_matches(&filter.codebase, Some(&ch.codebase))
}

/// A change-driven scheduler's filter and timer (`None` for the other kinds).
fn change_driven(s: &SchedulerConfig) -> Option<(&ChangeFilter, Option<u64>, bool)> {
    match &s.kind {
        SchedulerKind::SingleBranch {
            change_filter,
            tree_stable_timer,
        } => Some((change_filter, *tree_stable_timer, false)),
        SchedulerKind::AnyBranch {
            change_filter,
            tree_stable_timer,
        } => Some((change_filter, *tree_stable_timer, true)),
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

/// Timers: `(scheduler, key)` → generation; a timer that fires with an older generation
/// than the current one was restarted by a later change.
type Timers = Arc<Mutex<HashMap<(String, String), u64>>>;

/// Follows new changes for the change-driven schedulers until the master stops.
pub(super) async fn change_loop(inner: Arc<Inner>, changes: Subscription) {
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
        let Some((_, stable, per_branch)) = change_driven(s) else {
            continue;
        };
        let sid = inner.db.find_or_create_scheduler(&s.name).await?;
        let mut keys = Vec::new();
        for (id, _) in inner.db.get_change_classifications(sid).await? {
            if let Some(ch) = inner.db.get_change(id).await? {
                let key = timer_key(per_branch, &ch);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        for key in keys {
            arm(inner, timers, &s.name, key, stable);
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
        let Some((filter, stable, per_branch)) = change_driven(s) else {
            continue;
        };
        if !filter_matches(filter, &ch) {
            continue;
        }
        let sid = inner.db.find_or_create_scheduler(&s.name).await?;
        if !enabled(inner, sid).await? {
            continue;
        }
        inner.db.classify_changes(sid, &[(id, true)]).await?;
        arm(inner, timers, &s.name, timer_key(per_branch, &ch), stable);
    }
    Ok(())
}

async fn enabled(inner: &Inner, sid: SchedulerId) -> Result<bool, DbError> {
    Ok(inner
        .db
        .list_schedulers()
        .await?
        .iter()
        .find(|r| r.schedulerid == sid)
        .is_none_or(|r| r.enabled))
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
        if lock(&timers).get(&k) != Some(&generation) {
            return; // a later change restarted the timer
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
    let Some((_, _, per_branch)) = change_driven(s) else {
        return Ok(());
    };
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
    if important {
        // the latest change's source stamp of each codebase
        let mut latest: BTreeMap<&str, &ChangeRow> = BTreeMap::new();
        for ch in &changes {
            let e = latest.entry(ch.codebase.as_str()).or_insert(ch);
            if ch.changeid.0 > e.changeid.0 {
                *e = ch;
            }
        }
        let sourcestamps = latest.values().map(|c| c.sourcestampid).collect();
        let builderids = {
            let st = lock(&inner.state);
            s.builder_names
                .iter()
                .filter_map(|n| st.builders.get(n).map(|b| b.id))
                .collect()
        };
        let reason = format!(
            "The {} scheduler named '{name}' triggered this build",
            s.kind.type_name()
        );
        let mut props = Properties::new();
        for (k, v, src) in s.properties.iter() {
            props.set(k, v.clone(), src);
        }
        props.set("scheduler", Value::from(name), "Scheduler");
        let mut bs = NewBuildset::new(&reason, sourcestamps, builderids);
        bs.properties = props.as_map().clone();
        bs.priority = s.priority;
        let master = MasterHandle {
            inner: inner.clone(),
        };
        if let Err(e) = master.submit(bs, name, None).await {
            log::warn!("scheduler {name}: cannot submit a buildset: {e}");
            return Ok(()); // classified changes stay for the next attempt
        }
    }
    inner.db.unclassify_changes(sid, &ids).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        eq: Option<&[&str]>,
        not_eq: Option<&[&str]>,
        re: Option<&str>,
        not_re: Option<&str>,
    ) -> FieldFilter {
        let list = |l: Option<&[&str]>| l.map(|l| l.iter().map(|s| s.to_string()).collect());
        FieldFilter {
            eq: list(eq),
            not_eq: list(not_eq),
            re: re.map(str::to_owned),
            not_re: not_re.map(str::to_owned),
        }
    }

    #[test]
    fn field_filters_match_as_buildbot_does() {
        // no test: anything, even a missing value
        assert!(field_matches(&FieldFilter::default(), None));
        let main = f(Some(&["main", "release"]), None, None, None);
        assert!(field_matches(&main, Some("release")));
        assert!(!field_matches(&main, Some("mainline")));
        assert!(!field_matches(&main, None));
        let not_wip = f(None, Some(&["wip"]), None, None);
        assert!(field_matches(&not_wip, Some("main")) && !field_matches(&not_wip, Some("wip")));
        // `re` matches from the start (Python's re.match), not necessarily to the end
        let feat = f(None, None, Some("feat/"), None);
        assert!(field_matches(&feat, Some("feat/x")));
        assert!(!field_matches(&feat, Some("my-feat/x")));
        let no_tmp = f(None, None, None, Some("tmp|wip"));
        assert!(field_matches(&no_tmp, Some("main")) && !field_matches(&no_tmp, Some("wip/1")));
        // all tests must pass
        let both = f(None, Some(&["feat/old"]), Some("feat/"), None);
        assert!(field_matches(&both, Some("feat/new")) && !field_matches(&both, Some("feat/old")));
    }
}
