//! The schedulers that start builds by themselves: change-driven, `Dependent` and timed.
//!
//! Change-driven (`SingleBranchScheduler`, `AnyBranchScheduler`): every new change
//! (`changes/<id>/new` on the event bus: `sendchange`, web hooks,
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
//!
//! `Dependent` schedulers remember the buildsets their upstream scheduler submits
//! (`upstream_bsids` in their state, as Buildbot keeps them) and, when one completes with
//! SUCCESS or WARNINGS, submit a buildset of the same source stamps, reason `downstream`.
//!
//! Timed schedulers: `Periodic` builds every `periodicBuildTimer` seconds, the first time at
//! once; `Nightly` at the minutes its cron-like fields select, in the master's local time
//! (day of week 0 = Monday, as in Buildbot). The time of the last turn is kept in the
//! scheduler's state (`last_build`), so a restarted master goes on from there, and a turn
//! missed while it was down runs once, at start. With `onlyIfChanged` they classify new
//! changes (`Nightly`: those of its `branch` that its change filter accepts) and skip a turn
//! that has none (except the very first); a turn with changes builds them as above, one
//! without builds the scheduler's codebases (default: the codebase `""` on `Nightly`'s
//! `branch`).

mod changes;
mod timed;
pub(super) mod upstream;

pub(super) use changes::change_loop;
pub(super) use timed::timed_loop;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_std::channel::Receiver;
use buildbot_db::{ChangeRow, DbError, NewBuildset, SourceStampId, SourceStampSpec};
use serde_json::Value;

use crate::master::config::{ChangeFilter, CodebaseConfig, FieldFilter, SchedulerConfig};
use crate::master::properties::Properties;
use crate::util::lock;

use super::MasterHandle;
use super::state::Inner;

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

/// Buildbot's default reason of a scheduler's buildsets.
fn triggered(s: &SchedulerConfig) -> String {
    format!(
        "The {} scheduler named '{}' triggered this build",
        s.kind.type_name(),
        s.name
    )
}

/// The scheduler's codebases (Buildbot's default: the codebase `""` alone).
fn codebases(s: &SchedulerConfig) -> BTreeMap<String, CodebaseConfig> {
    if s.codebases.is_empty() {
        BTreeMap::from([(String::new(), CodebaseConfig::default())])
    } else {
        s.codebases.clone()
    }
}

/// Whether the scheduler builds changes of `codebase` (Buildbot ignores, with a log line,
/// a change of a codebase the scheduler does not list).
fn has_codebase(s: &SchedulerConfig, ch: &ChangeRow) -> bool {
    let known = if s.codebases.is_empty() {
        ch.codebase.is_empty()
    } else {
        s.codebases.contains_key(&ch.codebase)
    };
    if !known {
        log::info!(
            "change {} contains codebase {} that is not processed by scheduler {}",
            ch.changeid.0,
            crate::util::log_text(&ch.codebase),
            s.name
        );
    }
    known
}

/// The source stamps of a buildset of `changes`, as Buildbot's `addBuildsetForChanges`:
/// for each of the scheduler's codebases, the source stamp of its latest change, or, for a
/// codebase without one, a source stamp of its configured repository, branch (else
/// `default_branch`) and revision.
async fn sourcestamps_for(
    inner: &Inner,
    s: &SchedulerConfig,
    changes: &[ChangeRow],
    default_branch: Option<&str>,
) -> Result<Vec<SourceStampId>, DbError> {
    let mut latest: BTreeMap<&str, &ChangeRow> = BTreeMap::new();
    for ch in changes {
        let e = latest.entry(ch.codebase.as_str()).or_insert(ch);
        if ch.changeid.0 > e.changeid.0 {
            *e = ch;
        }
    }
    let mut ids = Vec::new();
    for (cb, c) in codebases(s) {
        if let Some(ch) = latest.get(cb.as_str()) {
            ids.push(ch.sourcestampid);
            continue;
        }
        let mut spec = SourceStampSpec::new(
            Some(c.branch.as_deref().or(default_branch).unwrap_or("")),
            Some(c.revision.as_deref().unwrap_or("")),
            &c.repository,
        );
        spec.codebase = cb;
        ids.push(inner.db.find_or_create_sourcestamp(&spec).await?);
    }
    Ok(ids)
}

/// Submits a buildset of scheduler `s` for `sourcestamps`: Buildbot's reason, the
/// scheduler's properties and `scheduler`. `false` when it could not.
async fn submit(
    inner: &Arc<Inner>,
    s: &SchedulerConfig,
    sourcestamps: Vec<SourceStampId>,
    reason: &str,
) -> bool {
    let name = &s.name;
    let builderids = {
        let st = lock(&inner.state);
        s.builder_names
            .iter()
            .filter_map(|n| st.builders.get(n).map(|b| b.id))
            .collect()
    };
    let mut props = Properties::new();
    for (k, v, src) in s.properties.iter() {
        props.set(k, v.clone(), src);
    }
    props.set("scheduler", Value::from(name.as_str()), "Scheduler");
    let mut bs = NewBuildset::new(reason, sourcestamps, builderids);
    bs.properties = props.as_map().clone();
    bs.priority = s.priority;
    let master = MasterHandle {
        inner: inner.clone(),
    };
    match master.submit(bs, name, None).await {
        Ok(_) => true,
        Err(e) => {
            log::warn!("scheduler {name}: cannot submit a buildset: {e}");
            false
        }
    }
}

/// Submits the buildsets of `Dependent` schedulers ([`buildset_completed`]) until the
/// master stops.
pub(crate) async fn dependent_loop(inner: Arc<Inner>, rx: Receiver<(String, Vec<SourceStampId>)>) {
    while let Ok((name, sourcestamps)) = rx.recv().await {
        let cfg = inner.config();
        if let Some(s) = cfg.schedulers.iter().find(|s| s.name == name) {
            submit(&inner, s, sourcestamps, "downstream").await;
        }
    }
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
