//! Builds, steps, logs (and their chunks), build data and test results.

use buildbot_db::{
    BuildDataRow, BuildId, BuildRequestId, BuildRow, BuilderId, LogId, LogRow, MasterId, StepId,
    StepRow, TestResultRow, TestResultSetRow, WorkerId,
};
use serde_json::{Value, json};

/// Fields of a `build`.
pub const BUILD_FIELDS: &[&str] = &[
    "builderid",
    "buildid",
    "buildrequestid",
    "complete",
    "complete_at",
    "locks_duration_s",
    "masterid",
    "number",
    "properties",
    "results",
    "started_at",
    "state_string",
    "workerid",
];

/// A build as the API shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuildView<'a> {
    /// `buildid`.
    pub buildid: BuildId,
    /// `number`.
    pub number: i64,
    /// `builderid`.
    pub builderid: BuilderId,
    /// `buildrequestid`.
    pub buildrequestid: BuildRequestId,
    /// `workerid`.
    pub workerid: Option<WorkerId>,
    /// `masterid`.
    pub masterid: MasterId,
    /// `started_at`.
    pub started_at: i64,
    /// `complete_at` (`complete` is whether it is set).
    pub complete_at: Option<i64>,
    /// `locks_duration_s`.
    pub locks_duration_s: i64,
    /// `state_string`.
    pub state_string: &'a str,
    /// `results`.
    pub results: Option<i64>,
}

impl<'a> From<&'a BuildRow> for BuildView<'a> {
    fn from(b: &'a BuildRow) -> Self {
        BuildView {
            buildid: b.buildid,
            number: b.number,
            builderid: b.builderid,
            buildrequestid: b.buildrequestid,
            workerid: b.workerid,
            masterid: b.masterid,
            started_at: b.started_at,
            complete_at: b.complete_at,
            locks_duration_s: b.locks_duration_s,
            state_string: &b.state_string,
            results: b.results,
        }
    }
}

impl BuildView<'_> {
    /// The `build` entity (its `properties` empty: they are asked for separately).
    pub fn to_json(&self) -> Value {
        json!({
            "builderid": self.builderid.0,
            "buildid": self.buildid.0,
            "buildrequestid": self.buildrequestid.0,
            "complete": self.complete_at.is_some(),
            "complete_at": self.complete_at,
            "locks_duration_s": self.locks_duration_s,
            "masterid": self.masterid.0,
            "number": self.number,
            "properties": {},
            "results": self.results,
            "started_at": self.started_at,
            "state_string": self.state_string,
            "workerid": self.workerid.map(|w| w.0),
        })
    }
}

/// A `build` from its row.
pub fn build(b: &BuildRow) -> Value {
    BuildView::from(b).to_json()
}

/// Fields of a `step`.
pub const STEP_FIELDS: &[&str] = &[
    "buildid",
    "complete",
    "complete_at",
    "hidden",
    "locks_acquired_at",
    "name",
    "number",
    "results",
    "started_at",
    "state_string",
    "stepid",
    "urls",
];

/// A step as the API shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StepView<'a> {
    /// `stepid`.
    pub stepid: StepId,
    /// `number`.
    pub number: i64,
    /// `name`.
    pub name: &'a str,
    /// `buildid`.
    pub buildid: BuildId,
    /// `started_at`.
    pub started_at: Option<i64>,
    /// `locks_acquired_at`.
    pub locks_acquired_at: Option<i64>,
    /// `complete_at` (`complete` is whether it is set).
    pub complete_at: Option<i64>,
    /// `state_string`.
    pub state_string: &'a str,
    /// `results`.
    pub results: Option<i64>,
    /// `urls` as `(name, url)`.
    pub urls: &'a [(String, String)],
    /// `hidden`.
    pub hidden: bool,
}

impl<'a> From<&'a StepRow> for StepView<'a> {
    fn from(s: &'a StepRow) -> Self {
        StepView {
            stepid: s.stepid,
            number: s.number,
            name: &s.name,
            buildid: s.buildid,
            started_at: s.started_at,
            locks_acquired_at: s.locks_acquired_at,
            complete_at: s.complete_at,
            state_string: &s.state_string,
            results: s.results,
            urls: &s.urls,
            hidden: s.hidden,
        }
    }
}

impl StepView<'_> {
    /// The `step` entity.
    pub fn to_json(&self) -> Value {
        json!({
            "buildid": self.buildid.0,
            "complete": self.complete_at.is_some(),
            "complete_at": self.complete_at,
            "hidden": self.hidden,
            "locks_acquired_at": self.locks_acquired_at,
            "name": self.name,
            "number": self.number,
            "results": self.results,
            "started_at": self.started_at,
            "state_string": self.state_string,
            "stepid": self.stepid.0,
            "urls": self.urls.iter()
                .map(|(n, u)| json!({"name": n, "url": u}))
                .collect::<Vec<_>>(),
        })
    }
}

/// A `step` from its row.
pub fn step(s: &StepRow) -> Value {
    StepView::from(s).to_json()
}

/// Fields of a `log`.
pub const LOG_FIELDS: &[&str] = &[
    "complete",
    "logid",
    "name",
    "num_lines",
    "slug",
    "stepid",
    "type",
];

/// A log as the API shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogView<'a> {
    /// `logid`.
    pub logid: LogId,
    /// `name`.
    pub name: &'a str,
    /// `slug`.
    pub slug: &'a str,
    /// `stepid`.
    pub stepid: StepId,
    /// `complete`.
    pub complete: bool,
    /// `num_lines`.
    pub num_lines: i64,
    /// `type` (`s`, `t`, `h`, `d`).
    pub log_type: &'a str,
}

impl<'a> From<&'a LogRow> for LogView<'a> {
    fn from(l: &'a LogRow) -> Self {
        LogView {
            logid: l.logid,
            name: &l.name,
            slug: &l.slug,
            stepid: l.stepid,
            complete: l.complete,
            num_lines: l.num_lines,
            log_type: &l.log_type,
        }
    }
}

impl LogView<'_> {
    /// The `log` entity.
    pub fn to_json(&self) -> Value {
        json!({
            "complete": self.complete,
            "logid": self.logid.0,
            "name": self.name,
            "num_lines": self.num_lines,
            "slug": self.slug,
            "stepid": self.stepid.0,
            "type": self.log_type,
        })
    }
}

/// A `log` from its row.
pub fn log(l: &LogRow) -> Value {
    LogView::from(l).to_json()
}

/// Fields of a `build_data`.
pub const BUILD_DATA_FIELDS: &[&str] = &["buildid", "length", "name", "source", "value"];

/// A `build_data` (its `value` null: the value is its own endpoint).
pub fn build_data(d: &BuildDataRow) -> Value {
    json!({"buildid": d.buildid.0, "length": d.length, "name": d.name, "source": d.source,
           "value": null})
}

/// Fields of a `logchunk`.
pub const LOGCHUNK_FIELDS: &[&str] = &["content", "firstline", "logid"];

/// A `logchunk`: lines `firstline`... of a log.
pub fn logchunk(logid: LogId, firstline: i64, content: &str) -> Value {
    json!({"content": content, "firstline": firstline, "logid": logid.0})
}

/// Fields of a `test_result_set`.
pub const TEST_RESULT_SET_FIELDS: &[&str] = &[
    "builderid",
    "buildid",
    "category",
    "complete",
    "description",
    "stepid",
    "test_result_setid",
    "tests_failed",
    "tests_passed",
    "value_unit",
];

/// A `test_result_set`.
pub fn test_result_set(s: &TestResultSetRow) -> Value {
    json!({
        "builderid": s.builderid.0,
        "buildid": s.buildid.0,
        "category": s.category,
        "complete": s.complete,
        "description": s.description,
        "stepid": s.stepid.0,
        "test_result_setid": s.test_result_setid.0,
        "tests_failed": s.tests_failed,
        "tests_passed": s.tests_passed,
        "value_unit": s.value_unit,
    })
}

/// Fields of a `test_result`.
pub const TEST_RESULT_FIELDS: &[&str] = &[
    "builderid",
    "duration_ns",
    "line",
    "test_code_path",
    "test_name",
    "test_result_setid",
    "test_resultid",
    "value",
];

/// A `test_result`.
pub fn test_result(r: &TestResultRow) -> Value {
    json!({
        "builderid": r.builderid.0,
        "duration_ns": r.duration_ns,
        "line": r.line,
        "test_code_path": r.test_code_path,
        "test_name": r.test_name,
        "test_result_setid": r.test_result_setid.0,
        "test_resultid": r.test_resultid,
        "value": r.value,
    })
}
