//! Buildbot's REST (data API v2) entity shapes, written once: the web server answers with
//! them and the event bus carries them in live messages (`spec/rest-api.md` §5, §8).
//!
//! Entities the engine announces from memory (builds, steps, logs, build requests) have a
//! view struct that both a database row and the engine's in-memory state fill in, so the
//! shape itself exists once. Each entity also has its field list (what `field=` may name).

use buildbot_db::{
    BuildDataRow, BuildId, BuildRequestId, BuildRequestRow, BuildRow, BuilderId, BuilderRow,
    BuildsetId, BuildsetRow, ChangeRow, ChangeSourceRow, LogId, LogRow, MasterId, MasterRow,
    ProjectRow, SchedulerRow, SourceStampRow, StepId, StepRow, TestResultRow, TestResultSetRow,
    WorkerId, WorkerRow,
};
use serde_json::{Map, Value, json};

use crate::master::config::{
    ForceCodebase, ForceParameter, ForceParameterKind, ForceSchedulerConfig, SchedulerConfig,
    SchedulerKind,
};

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

/// Fields of a `builder`.
pub const BUILDER_FIELDS: &[&str] = &[
    "builderid",
    "description",
    "description_format",
    "description_html",
    "masterids",
    "name",
    "projectid",
    "tags",
];

/// A `builder`.
pub fn builder(b: &BuilderRow) -> Value {
    json!({
        "builderid": b.builderid.0,
        "description": b.description,
        "description_format": b.description_format,
        "description_html": b.description_html,
        "masterids": b.masterids.iter().map(|m| m.0).collect::<Vec<_>>(),
        "name": b.name,
        "projectid": b.projectid.map(|p| p.0),
        "tags": b.tags,
    })
}

/// The message of a builder starting or stopping on a master (`builders/<id>/started`,
/// `.../stopped`).
pub fn builder_on_master(builderid: BuilderId, masterid: MasterId, name: &str) -> Value {
    json!({"builderid": builderid.0, "masterid": masterid.0, "name": name})
}

/// Fields of a `worker`.
pub const WORKER_FIELDS: &[&str] = &[
    "configured_on",
    "connected_to",
    "graceful",
    "name",
    "pause_reason",
    "paused",
    "workerid",
    "workerinfo",
];

/// A `worker` (also the message of every `workers/<id>/...` event, as Buildbot sends it).
pub fn worker(w: &WorkerRow) -> Value {
    json!({
        "configured_on": w.configured_on.iter()
            .map(|(m, b)| json!({"builderid": b.0, "masterid": m.0}))
            .collect::<Vec<_>>(),
        "connected_to": w.connected_to.iter()
            .map(|m| json!({"masterid": m.0}))
            .collect::<Vec<_>>(),
        "graceful": w.graceful,
        "name": w.name,
        "pause_reason": w.pause_reason,
        "paused": w.paused,
        "workerid": w.workerid.0,
        "workerinfo": w.workerinfo,
    })
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

/// Fields of a `buildrequest`.
pub const BUILDREQUEST_FIELDS: &[&str] = &[
    "builderid",
    "buildrequestid",
    "buildsetid",
    "claimed",
    "claimed_at",
    "claimed_by_masterid",
    "complete",
    "complete_at",
    "priority",
    "properties",
    "results",
    "submitted_at",
    "waited_for",
];

/// A build request as the API shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BuildRequestView {
    /// `buildrequestid`.
    pub buildrequestid: BuildRequestId,
    /// `buildsetid`.
    pub buildsetid: BuildsetId,
    /// `builderid`.
    pub builderid: BuilderId,
    /// `priority`.
    pub priority: i64,
    /// `claimed`.
    pub claimed: bool,
    /// `claimed_at`.
    pub claimed_at: Option<i64>,
    /// `claimed_by_masterid`.
    pub claimed_by_masterid: Option<MasterId>,
    /// `complete`.
    pub complete: bool,
    /// `complete_at`.
    pub complete_at: Option<i64>,
    /// `results` (-1 while not complete).
    pub results: i64,
    /// `submitted_at`.
    pub submitted_at: i64,
    /// `waited_for`.
    pub waited_for: bool,
}

impl From<&BuildRequestRow> for BuildRequestView {
    fn from(r: &BuildRequestRow) -> Self {
        BuildRequestView {
            buildrequestid: r.buildrequestid,
            buildsetid: r.buildsetid,
            builderid: r.builderid,
            priority: r.priority,
            claimed: r.claimed,
            claimed_at: r.claimed_at,
            claimed_by_masterid: r.claimed_by_masterid,
            complete: r.complete,
            complete_at: r.complete_at,
            results: r.results,
            submitted_at: r.submitted_at,
            waited_for: r.waited_for,
        }
    }
}

impl BuildRequestView {
    /// A request just submitted: unclaimed, incomplete.
    pub fn submitted(
        buildrequestid: BuildRequestId,
        buildsetid: BuildsetId,
        builderid: BuilderId,
        priority: i64,
        submitted_at: i64,
        waited_for: bool,
    ) -> Self {
        BuildRequestView {
            buildrequestid,
            buildsetid,
            builderid,
            priority,
            claimed: false,
            claimed_at: None,
            claimed_by_masterid: None,
            complete: false,
            complete_at: None,
            results: -1,
            submitted_at,
            waited_for,
        }
    }

    /// The `buildrequest` entity (its `properties` null: asked for separately).
    pub fn to_json(&self) -> Value {
        json!({
            "builderid": self.builderid.0,
            "buildrequestid": self.buildrequestid.0,
            "buildsetid": self.buildsetid.0,
            "claimed": self.claimed,
            "claimed_at": self.claimed_at,
            "claimed_by_masterid": self.claimed_by_masterid.map(|m| m.0),
            "complete": self.complete,
            "complete_at": self.complete_at,
            "priority": self.priority,
            "properties": null,
            "results": self.results,
            "submitted_at": self.submitted_at,
            "waited_for": self.waited_for,
        })
    }
}

/// A `buildrequest` from its row.
pub fn buildrequest(r: &BuildRequestRow) -> Value {
    BuildRequestView::from(r).to_json()
}

/// Fields of a `buildset`.
pub const BUILDSET_FIELDS: &[&str] = &[
    "bsid",
    "complete",
    "complete_at",
    "external_idstring",
    "parent_buildid",
    "parent_relationship",
    "reason",
    "rebuilt_buildid",
    "results",
    "sourcestamps",
    "submitted_at",
];

/// A `buildset` with its source stamps (also the message of `buildsets/<id>/complete`).
pub fn buildset(b: &BuildsetRow, sourcestamps: &[SourceStampRow]) -> Value {
    json!({
        "bsid": b.bsid.0,
        "complete": b.complete,
        "complete_at": b.complete_at,
        "external_idstring": b.external_idstring,
        "parent_buildid": b.parent_buildid.map(|i| i.0),
        "parent_relationship": b.parent_relationship,
        "reason": b.reason,
        "rebuilt_buildid": b.rebuilt_buildid.map(|i| i.0),
        "results": b.results,
        "sourcestamps": sourcestamps.iter().map(sourcestamp).collect::<Vec<_>>(),
        "submitted_at": b.submitted_at,
    })
}

/// What a new buildset's message (`buildsets/<id>/new`) tells beyond its inputs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NewBuildsetView<'a> {
    /// `bsid`.
    pub bsid: BuildsetId,
    /// `external_idstring`.
    pub external_idstring: Option<&'a str>,
    /// `reason`.
    pub reason: &'a str,
    /// `parent_buildid`.
    pub parent_buildid: Option<BuildId>,
    /// `rebuilt_buildid`.
    pub rebuilt_buildid: Option<BuildId>,
    /// `submitted_at`.
    pub submitted_at: i64,
    /// `scheduler` (the submitter's name).
    pub scheduler: &'a str,
    /// Its source stamps.
    pub sourcestamps: &'a [SourceStampRow],
}

impl NewBuildsetView<'_> {
    /// The message Buildbot sends when a buildset is added (not an entity of its own: it
    /// names the scheduler and has no `parent_relationship`).
    pub fn to_json(&self) -> Value {
        json!({
            "bsid": self.bsid.0,
            "external_idstring": self.external_idstring,
            "reason": self.reason,
            "parent_buildid": self.parent_buildid.map(|b| b.0),
            "rebuilt_buildid": self.rebuilt_buildid.map(|b| b.0),
            "submitted_at": self.submitted_at,
            "complete": false,
            "complete_at": null,
            "results": null,
            "scheduler": self.scheduler,
            "sourcestamps": self.sourcestamps.iter().map(sourcestamp).collect::<Vec<_>>(),
        })
    }
}

/// Fields of a `master`.
pub const MASTER_FIELDS: &[&str] = &["active", "last_active", "masterid", "name"];

/// A `master`.
pub fn master(m: &MasterRow) -> Value {
    json!({
        "active": m.active,
        "last_active": m.last_active,
        "masterid": m.masterid.0,
        "name": m.name,
    })
}

/// The message of a master starting or stopping (`masters/<id>/started`, `.../stopped`).
pub fn master_state(masterid: MasterId, name: &str, active: bool) -> Value {
    json!({"masterid": masterid.0, "name": name, "active": active})
}

/// A source stamp.
pub fn sourcestamp(s: &SourceStampRow) -> Value {
    json!({
        "branch": s.branch,
        "codebase": s.codebase,
        "created_at": s.created_at,
        "patch": s.patch.as_ref().map(|(id, p)| json!({
            "patchid": id.0,
            "level": p.level,
            "subdir": p.subdir,
            "author": p.author,
            "comment": p.comment,
            "body": null,
        })),
        "project": s.project,
        "repository": s.repository,
        "revision": s.revision,
        "ssid": s.ssid.0,
    })
}

/// Fields of a `change`.
pub const CHANGE_FIELDS: &[&str] = &[
    "author",
    "branch",
    "category",
    "changeid",
    "codebase",
    "comments",
    "committer",
    "files",
    "parent_changeids",
    "project",
    "properties",
    "repository",
    "revision",
    "revlink",
    "sourcestamp",
    "when_timestamp",
];

/// A change (`ss`: its source stamp, when known).
pub fn change(c: &ChangeRow, ss: Option<&SourceStampRow>) -> Value {
    json!({
        "author": c.author,
        "branch": c.branch,
        "category": c.category,
        "changeid": c.changeid.0,
        "codebase": c.codebase,
        "comments": c.comments,
        "committer": c.committer,
        "files": c.files,
        "parent_changeids": c.parent_changeids.iter().map(|i| i.0).collect::<Vec<_>>(),
        "project": c.project,
        "properties": c.properties,
        "repository": c.repository,
        "revision": c.revision,
        "revlink": c.revlink,
        "sourcestamp": ss.map(sourcestamp),
        "when_timestamp": c.when_timestamp,
    })
}

/// A property bag as one object: `{"name": [value, source], ...}` (a build's
/// `properties`, the message of `builds/<id>/properties/update`).
pub fn properties<'p>(props: impl IntoIterator<Item = (&'p String, &'p (Value, String))>) -> Value {
    Value::Object(
        props
            .into_iter()
            .map(|(k, (v, s))| (k.clone(), json!([v, s])))
            .collect(),
    )
}

/// Fields of a `sourcestamp`.
pub const SOURCESTAMP_FIELDS: &[&str] = &[
    "branch",
    "codebase",
    "created_at",
    "patch",
    "project",
    "repository",
    "revision",
    "ssid",
];

/// Fields of a `_properties` list item.
pub const PROPERTY_LIST_FIELDS: &[&str] = &["name", "source", "value"];

/// One property as a `property_list` item (`value` is the JSON text of the value, as
/// Buildbot's list shows it).
pub fn property_list_item(name: &str, value: &Value, source: &Value) -> Value {
    json!({"name": name, "source": source, "value": value.to_string()})
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

/// Fields of a `project`.
pub const PROJECT_FIELDS: &[&str] = &[
    "active",
    "description",
    "description_format",
    "description_html",
    "name",
    "projectid",
    "slug",
];

/// A `project` (`active`: a builder of it runs on a master).
pub fn project(p: &ProjectRow, active: bool) -> Value {
    json!({
        "active": active,
        "description": p.description,
        "description_format": p.description_format,
        "description_html": p.description_html,
        "name": p.name,
        "projectid": p.projectid.0,
        "slug": p.slug,
    })
}

/// Fields of a `codebase`.
pub const CODEBASE_FIELDS: &[&str] = &["codebaseid", "name", "projectid", "slug"];

/// Fields of a `scheduler`.
pub const SCHEDULER_FIELDS: &[&str] = &["enabled", "master", "name", "schedulerid"];

/// A `scheduler` (`master`: the master running it, as a `master` entity).
pub fn scheduler(s: &SchedulerRow, master: Option<Value>) -> Value {
    json!({
        "enabled": s.enabled,
        "master": master,
        "name": s.name,
        "schedulerid": s.schedulerid.0,
    })
}

/// Fields of a `changesource`.
pub const CHANGESOURCE_FIELDS: &[&str] = &["changesourceid", "master", "name"];

/// A `changesource` (`master`: the master running it, as a `master` entity).
pub fn changesource(c: &ChangeSourceRow, master: Option<Value>) -> Value {
    json!({
        "changesourceid": c.changesourceid.0,
        "master": master,
        "name": c.name,
    })
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

/// Fields of a `forcescheduler`.
pub const FORCESCHEDULER_FIELDS: &[&str] = &[
    "all_fields",
    "builder_names",
    "button_name",
    "enabled",
    "label",
    "name",
];

/// The spec of one force-form parameter (`all_fields` items, rest-api.md §7.4): Buildbot's
/// `BaseParameter.getSpec()`.
pub fn force_parameter(p: &ForceParameter) -> Value {
    let mut m = spec_base(
        &p.name,
        Value::from(p.full_name.clone()),
        &p.label,
        p.kind.spec_type(),
        p.default.clone(),
    );
    m.insert("required".into(), json!(p.required));
    m.insert("multiple".into(), json!(p.multiple));
    m.insert("regex".into(), json!(p.regex));
    m.insert("hide".into(), json!(p.hide));
    m.insert("maxsize".into(), json!(p.maxsize));
    m.insert("tooltip".into(), json!(p.tooltip));
    match p.kind {
        ForceParameterKind::String | ForceParameterKind::Int => {
            m.insert("size".into(), json!(p.size));
        }
        ForceParameterKind::Text => {
            m.insert("size".into(), json!(p.size));
            m.insert("cols".into(), json!(p.cols));
            m.insert("rows".into(), json!(p.rows));
        }
        ForceParameterKind::UserName => {
            m.insert("size".into(), json!(p.size));
            m.insert("need_email".into(), json!(p.need_email));
        }
        ForceParameterKind::ChoiceString => {
            m.insert("choices".into(), json!(p.choices));
            m.insert("strict".into(), json!(p.strict));
        }
        _ => {}
    }
    Value::Object(m)
}

fn spec_base(
    name: &str,
    full_name: Value,
    label: &str,
    ty: &str,
    default: Value,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("fullName".into(), full_name);
    m.insert("label".into(), json!(label));
    m.insert("tablabel".into(), json!(label));
    m.insert("type".into(), json!(ty));
    m.insert("default".into(), default);
    m.insert("required".into(), json!(false));
    m.insert("multiple".into(), json!(false));
    m.insert("regex".into(), Value::Null);
    m.insert("hide".into(), json!(false));
    m.insert("maxsize".into(), Value::Null);
    m.insert("autopopulate".into(), Value::Null);
    m.insert("tooltip".into(), json!(""));
    m
}

/// A `NestedParameter` of `fields`: two columns from four visible fields on, as Buildbot
/// lays them out.
fn nest(name: &str, label: &str, fields: Vec<Value>, visible: usize) -> Value {
    let full_name = if name.is_empty() {
        Value::Null
    } else {
        Value::from(name)
    };
    let mut m = spec_base(name, full_name, label, "nested", json!(""));
    m.insert("layout".into(), json!("vertical"));
    m.insert("columns".into(), json!(if visible >= 4 { 2 } else { 1 }));
    m.insert("fields".into(), Value::Array(fields));
    Value::Object(m)
}

fn codebase_nest(cb: &ForceCodebase) -> Value {
    let fields: Vec<Value> = cb.fields.iter().map(|(_, p)| force_parameter(p)).collect();
    let visible = cb.fields.iter().filter(|(_, p)| !p.hide).count();
    nest(&cb.name, &cb.label, fields, visible)
}

/// `all_fields` of a force scheduler: the anonymous nest of `username`, `reason` and
/// `priority`, one nest per codebase, then the extra parameters.
pub fn force_all_fields(f: &ForceSchedulerConfig) -> Value {
    let first = [&f.username, &f.reason, &f.priority];
    let visible = first.iter().filter(|p| !p.hide).count();
    let mut all = vec![nest(
        "",
        "",
        first.iter().map(|p| force_parameter(p)).collect(),
        visible,
    )];
    all.extend(f.codebases.iter().map(codebase_nest));
    all.extend(f.properties.iter().map(force_parameter));
    Value::Array(all)
}

/// A `forcescheduler` entity (`None`: not a `ForceScheduler`).
pub fn forcescheduler(s: &SchedulerConfig, enabled: bool) -> Option<Value> {
    let SchedulerKind::Force(f) = &s.kind else {
        return None;
    };
    Some(json!({
        "all_fields": force_all_fields(f),
        "builder_names": s.builder_names,
        "button_name": f.button_name,
        "enabled": enabled,
        "label": f.label,
        "name": s.name,
    }))
}
