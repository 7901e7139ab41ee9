//! Timed schedulers (`Periodic`, `Nightly`): turns at their times, `onlyIfChanged`, the
//! time of the last turn kept in the scheduler's state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use buildbot_db::{ChangeId, DbError};
use serde_json::Value;

use crate::master::config::{ChangeFilter, CronField, Importance, SchedulerConfig, SchedulerKind};

use super::super::state::Inner;

use super::{sourcestamps_for, submit, triggered};

/// What a timed scheduler (`Periodic`, `Nightly`) needs.
pub(super) struct Timed<'a> {
    /// Buildbot's class (its state is kept under this name).
    pub(super) class: &'static str,
    /// `(scheduler settings)`: the next turn after `last` (a new scheduler: `None`), at `now`.
    pub(super) next: Box<dyn Fn(Option<f64>, f64) -> f64 + Send + Sync + 'a>,
    /// A key that changes when the settings that decide the times do.
    pub(super) settings: String,
    pub(super) only_if_changed: bool,
    /// Changes it notes for `onlyIfChanged` (`None`: all).
    pub(super) filter: Option<&'a ChangeFilter>,
    /// `Nightly`'s `branch`: the only branch whose changes count, and the branch it builds.
    pub(super) branch: Option<&'a str>,
    /// `fileIsImportant`/`onlyImportant` (`None`: every change is important).
    pub(super) importance: Option<&'a Importance>,
}

pub(super) fn timed(s: &SchedulerConfig) -> Option<Timed<'_>> {
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
                importance: None,
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
            importance,
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
                importance: Some(importance),
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
pub(crate) async fn timed_loop(inner: Arc<Inner>) {
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
    if !inner.scheduler_enabled(sid).await? {
        return Ok(());
    }
    let classified = inner.db.get_change_classifications(sid).await?;
    if only_if_changed && !classified.iter().any(|(_, important)| *important) && !first {
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
    let sourcestamps = sourcestamps_for(inner, s, &changes, t.branch).await?;
    if submit(inner, s, sourcestamps, &triggered(s)).await {
        let ids: Vec<ChangeId> = classified.iter().map(|c| c.0).collect();
        inner.db.unclassify_changes(sid, &ids).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
