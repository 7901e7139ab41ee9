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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildbot_db::{
    BuildsetId, ChangeId, ChangeRow, DbError, NewBuildset, ObjectId, SchedulerId, SourceStampId,
    SourceStampSpec,
};
use serde_json::Value;

use async_std::channel::Receiver;

use super::{Inner, MasterHandle, lock};
use crate::master::config::{ChangeFilter, CronField, FieldFilter, SchedulerConfig, SchedulerKind};
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

/// Running timers: `(scheduler, key)` → generation; a timer that fires with an older
/// generation than the current one was restarted by a later change.
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
        if let Some(t) = timed(s) {
            // a timed scheduler with onlyIfChanged notes the changes it would build
            let branch_ok = t.branch.is_none_or(|b| ch.branch.as_deref() == Some(b));
            if t.only_if_changed && branch_ok && t.filter.is_none_or(|f| filter_matches(f, &ch)) {
                let sid = inner.db.find_or_create_scheduler(&s.name).await?;
                inner.db.classify_changes(sid, &[(id, true)]).await?;
            }
            continue;
        }
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
    if important && !submit(inner, s, latest_sourcestamps(&changes), &triggered(s)).await {
        return Ok(()); // classified changes stay for the next attempt
    }
    inner.db.unclassify_changes(sid, &ids).await
}

/// Buildbot's default reason of a scheduler's buildsets.
fn triggered(s: &SchedulerConfig) -> String {
    format!(
        "The {} scheduler named '{}' triggered this build",
        s.kind.type_name(),
        s.name
    )
}

/// For each codebase of `changes`, the source stamp of its latest change.
fn latest_sourcestamps(changes: &[ChangeRow]) -> Vec<SourceStampId> {
    let mut latest: BTreeMap<&str, &ChangeRow> = BTreeMap::new();
    for ch in changes {
        let e = latest.entry(ch.codebase.as_str()).or_insert(ch);
        if ch.changeid.0 > e.changeid.0 {
            *e = ch;
        }
    }
    latest.values().map(|c| c.sourcestampid).collect()
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

/// What a timed scheduler (`Periodic`, `Nightly`) needs.
struct Timed<'a> {
    /// Buildbot's class (its state is kept under this name).
    class: &'static str,
    /// `(scheduler settings)`: the next turn after `last` (a new scheduler: `None`), at `now`.
    next: Box<dyn Fn(Option<f64>, f64) -> f64 + Send + Sync + 'a>,
    /// A key that changes when the settings that decide the times do.
    settings: String,
    only_if_changed: bool,
    /// Changes it notes for `onlyIfChanged` (`None`: all).
    filter: Option<&'a ChangeFilter>,
    /// `Nightly`'s `branch`: the only branch whose changes count, and the branch it builds.
    branch: Option<&'a str>,
}

fn timed(s: &SchedulerConfig) -> Option<Timed<'_>> {
    match &s.kind {
        SchedulerKind::Periodic {
            periodic_build_timer: every,
            only_if_changed,
        } => {
            let every = *every as f64;
            Some(Timed {
                class: "buildbot.schedulers.timed.Periodic",
                // a new scheduler builds at once
                next: Box::new(move |last, now| last.map_or(now, |l| l + every)),
                settings: every.to_string(),
                only_if_changed: *only_if_changed,
                filter: None,
                branch: None,
            })
        }
        SchedulerKind::Nightly {
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
            only_if_changed,
            change_filter,
            branch,
        } => {
            let cron = Cron {
                minute: minute.clone(),
                hour: hour.clone(),
                day_of_month: day_of_month.clone(),
                month: month.clone(),
                day_of_week: day_of_week.clone(),
            };
            let settings = format!("{cron:?}");
            Some(Timed {
                class: "buildbot.schedulers.timed.Nightly",
                next: Box::new(move |last, now| cron.next_after(last.unwrap_or(now))),
                settings,
                only_if_changed: *only_if_changed,
                filter: Some(change_filter),
                branch: branch.as_deref(),
            })
        }
        _ => None,
    }
}

/// A `Nightly` schedule, in the master's local time (as Buildbot's croniter schedule).
#[derive(Clone, Debug)]
pub(crate) struct Cron {
    minute: CronField,
    hour: CronField,
    day_of_month: CronField,
    month: CronField,
    /// 0 = Monday, as in Buildbot.
    day_of_week: CronField,
}

impl Cron {
    fn has(f: &CronField, v: u32) -> bool {
        match f {
            CronField::Any => true,
            CronField::Values(l) => l.contains(&v),
        }
    }

    /// Whether the minute starting at `t` is on the schedule. Day of month and day of week:
    /// both must match when one is `*`, either when both are given (cron's rule).
    fn matches(&self, t: &chrono::DateTime<chrono::Local>) -> bool {
        use chrono::{Datelike, Timelike};
        let dom = Self::has(&self.day_of_month, t.day());
        let dow = Self::has(&self.day_of_week, t.weekday().num_days_from_monday());
        let day = match (&self.day_of_month, &self.day_of_week) {
            (CronField::Values(_), CronField::Values(_)) => dom || dow,
            _ => dom && dow,
        };
        day && Self::has(&self.minute, t.minute())
            && Self::has(&self.hour, t.hour())
            && Self::has(&self.month, t.month())
    }

    /// The first scheduled minute after `after` (Unix seconds), within five years.
    pub(crate) fn next_after(&self, after: f64) -> f64 {
        use chrono::{TimeZone, Timelike};
        let start = (after / 60.0).floor() as i64 * 60 + 60;
        let mut t = start;
        let end = start + 5 * 366 * 86_400;
        while t < end {
            let Some(local) = chrono::Local.timestamp_opt(t, 0).earliest() else {
                t += 60;
                continue;
            };
            if self.matches(&local) {
                return t as f64;
            }
            // skip whole hours that cannot match
            t += if Self::has(&self.hour, local.hour()) {
                60
            } else {
                60 * (60 - i64::from(local.minute()))
            };
        }
        f64::INFINITY
    }
}

/// Runs the timed schedulers (`Periodic`, `Nightly`) of the current configuration until
/// the master stops.
pub(super) async fn timed_loop(inner: Arc<Inner>) {
    // per scheduler: (settings, next turn) from its state or the last turn
    let mut next: HashMap<String, (String, f64)> = HashMap::new();
    loop {
        let cfg = inner.config();
        let now = now_f64();
        let mut wake = now + 5.0; // a reconfig may add schedulers: look again soon
        for s in &cfg.schedulers {
            let Some(t) = timed(s) else {
                continue;
            };
            let at = match next.get(&s.name) {
                Some((settings, at)) if *settings == t.settings => *at,
                _ => match last_build(&inner, &s.name, t.class).await {
                    Ok(last) => (t.next)(last, now),
                    Err(e) => {
                        log::error!("scheduler {}: reading its state: {e}", s.name);
                        continue;
                    }
                },
            };
            let at = if at <= now {
                // an overdue turn (the master was down) runs once, now, as Buildbot's does
                if let Err(e) = timed_turn(&inner, s, &t, now).await {
                    log::error!("scheduler {}: {e}", s.name);
                }
                (t.next)(Some(now), now)
            } else {
                at
            };
            next.insert(s.name.clone(), (t.settings.clone(), at));
            wake = wake.min(at);
        }
        next.retain(|n, _| cfg.schedulers.iter().any(|s| &s.name == n));
        let secs = (wake - now_f64()).clamp(0.0, 5.0);
        async_std::task::sleep(Duration::from_secs_f64(secs)).await;
    }
}

fn now_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

async fn last_build(inner: &Inner, name: &str, class: &str) -> Result<Option<f64>, DbError> {
    let oid = inner.db.get_object_id(name, class).await?;
    Ok(inner
        .db
        .get_state(oid, "last_build")
        .await?
        .and_then(|v| v.as_f64()))
}

/// One turn of a timed scheduler, at `at` (its `last_build` from now on).
async fn timed_turn(
    inner: &Arc<Inner>,
    s: &SchedulerConfig,
    t: &Timed<'_>,
    at: f64,
) -> Result<(), DbError> {
    let only_if_changed = t.only_if_changed;
    let oid = inner.db.get_object_id(&s.name, t.class).await?;
    let first = inner.db.get_state(oid, "last_build").await?.is_none();
    inner
        .db
        .set_state(oid, "last_build", &Value::from(at))
        .await?;
    let sid = inner.db.find_or_create_scheduler(&s.name).await?;
    if !enabled(inner, sid).await? {
        return Ok(());
    }
    let classified = inner.db.get_change_classifications(sid).await?;
    if only_if_changed && classified.is_empty() && !first {
        log::info!(
            "{} scheduler <{}>: skipping build - No important changes",
            s.kind.type_name(),
            s.name
        );
        return Ok(());
    }
    let mut changes = Vec::new();
    for (id, _) in &classified {
        if let Some(ch) = inner.db.get_change(*id).await? {
            changes.push(ch);
        }
    }
    let sourcestamps = if changes.is_empty() {
        // no changes: the scheduler's codebases as configured
        let mut ids = Vec::new();
        let default = BTreeMap::from([(String::new(), Default::default())]);
        let codebases = if s.codebases.is_empty() {
            &default
        } else {
            &s.codebases
        };
        for (cb, c) in codebases {
            let c: &crate::master::config::CodebaseConfig = c;
            let mut spec = SourceStampSpec::new(
                Some(c.branch.as_deref().or(t.branch).unwrap_or("")),
                Some(c.revision.as_deref().unwrap_or("")),
                &c.repository,
            );
            spec.codebase = cb.clone();
            ids.push(inner.db.find_or_create_sourcestamp(&spec).await?);
        }
        ids
    } else {
        latest_sourcestamps(&changes)
    };
    if submit(inner, s, sourcestamps, &triggered(s)).await {
        let ids: Vec<ChangeId> = classified.iter().map(|c| c.0).collect();
        inner.db.unclassify_changes(sid, &ids).await?;
    }
    Ok(())
}

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
pub(super) async fn buildset_submitted(
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
pub(super) async fn buildset_completed(inner: &Inner, bsid: BuildsetId) -> Result<(), DbError> {
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
        if !matches!(bs.results, Some(0 | 1)) || !enabled(inner, sid).await? {
            continue;
        }
        // submitted by `dependent_loop`: the new buildset may complete (and come back here)
        // at once
        let _ = inner.dependent.try_send((s.name.clone(), bs.sourcestamps));
    }
    Ok(())
}

/// Submits the buildsets of `Dependent` schedulers ([`buildset_completed`]) until the
/// master stops.
pub(super) async fn dependent_loop(inner: Arc<Inner>, rx: Receiver<(String, Vec<SourceStampId>)>) {
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

    fn local(t: f64) -> chrono::DateTime<chrono::Local> {
        use chrono::TimeZone;
        chrono::Local.timestamp_opt(t as i64, 0).unwrap()
    }

    #[test]
    fn cron_finds_the_next_scheduled_minute() {
        use chrono::{Datelike, Timelike};
        let v = |l: &[u32]| CronField::Values(l.to_vec());
        let t0 = 1_795_600_000.0 + 17.0; // a Thursday, not on a minute boundary
        // 02:30 every day
        let daily = Cron {
            minute: v(&[30]),
            hour: v(&[2]),
            day_of_month: CronField::Any,
            month: CronField::Any,
            day_of_week: CronField::Any,
        };
        let n = daily.next_after(t0);
        let l = local(n);
        assert_eq!((l.hour(), l.minute(), l.second()), (2, 30, 0));
        assert!(n > t0 && n - t0 <= 86_400.0, "{l}");
        // the very next minute of the schedule: nothing between t0 and n matches
        let mut m = (t0 / 60.0).floor() * 60.0 + 60.0;
        while m < n {
            assert!(!daily.matches(&local(m)), "{} matches", local(m));
            m += 60.0;
        }
        // strictly after: from n itself, the next day
        assert_eq!(daily.next_after(n), n + 86_400.0);
        // Mondays (0 = Monday) at 08:00
        let monday = Cron {
            minute: v(&[0]),
            hour: v(&[8]),
            day_of_week: v(&[0]),
            ..daily.clone()
        };
        let l = local(monday.next_after(t0));
        assert_eq!(
            (l.weekday(), l.hour(), l.minute()),
            (chrono::Weekday::Mon, 8, 0)
        );
        // day of month and day of week both given: either one (cron's rule)
        let either = Cron {
            day_of_month: v(&[1]),
            day_of_week: v(&[5]),
            ..monday.clone()
        };
        let l = local(either.next_after(t0));
        assert!(l.day() == 1 || l.weekday() == chrono::Weekday::Sat, "{l}");
        assert!(either.next_after(t0) - t0 <= 7.0 * 86_400.0);
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
