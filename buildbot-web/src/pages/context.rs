//! The pieces of page contexts that several pages share: times, durations and result
//! classes as shown, names of builders and workers by id, and what lists show of a build.

use std::collections::BTreeMap;

use buildbot_db::{BuildRow, DbError, Query, Results};
use serde_json::{Value, json};

use crate::State;

/// The time now (epoch seconds).
pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for an epoch time.
pub(super) fn fmt_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `1h 2m 3s`-style duration.
pub(super) fn fmt_duration(s: i64) -> String {
    let s = s.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// CSS class / label of a result: `success`, `failure`, ..., `running`, `pending`.
pub(super) fn result_class(results: Option<i64>, complete: bool) -> &'static str {
    match (complete, results) {
        (false, _) => "running",
        (true, Some(r)) => Results::from_code(r).map_or("unknown", Results::name),
        (true, None) => "unknown",
    }
}

/// Builder and worker names by id.
pub(super) struct Names {
    pub(super) builders: BTreeMap<i64, String>,
    pub(super) workers: BTreeMap<i64, String>,
}

/// Names of all builders and workers.
pub(super) async fn names(state: &State) -> Result<Names, DbError> {
    let db = state.handle.db();
    Ok(Names {
        builders: db
            .list_builders(&Query::new(), None)
            .await?
            .into_iter()
            .map(|b| (b.builderid.0, b.name))
            .collect(),
        workers: db
            .list_workers(&Query::new(), None, None)
            .await?
            .into_iter()
            .map(|w| (w.workerid.0, w.name))
            .collect(),
    })
}

/// The page of a build.
pub(super) fn build_url(b: &BuildRow) -> String {
    format!("/builders/{}/builds/{}", b.builderid.0, b.number)
}

/// What lists show of a build.
pub(super) fn build_summary(b: &BuildRow, n: &Names) -> Value {
    let end = b.complete_at.unwrap_or_else(now);
    json!({
        "buildid": b.buildid.0,
        "number": b.number,
        "builderid": b.builderid.0,
        "builder": n.builders.get(&b.builderid.0).cloned().unwrap_or_default(),
        "worker": b.workerid.and_then(|w| n.workers.get(&w.0).cloned()),
        "result": result_class(b.results, b.complete()),
        "complete": b.complete(),
        "state_string": b.state_string,
        "started": fmt_time(b.started_at),
        "started_at": b.started_at,
        "duration": fmt_duration(end - b.started_at),
        "url": build_url(b),
    })
}

/// A property or parameter value as text (strings unquoted, `null` empty).
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim_end().to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(fmt_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(fmt_duration(5), "5s");
        assert_eq!(fmt_duration(65), "1m 5s");
        assert_eq!(fmt_duration(3725), "1h 2m 5s");
    }
}
