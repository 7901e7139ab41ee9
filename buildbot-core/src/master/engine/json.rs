//! Entities as Buildbot's JSON (the REST shapes of `spec/rest-api.md`): event messages built
//! from what the engine already holds in memory (so that publishing needs no database read),
//! and the public [`change`] / [`sourcestamp`] shapes shared with the web server.

use buildbot_db::{
    BuildId, BuildRequestId, BuildRequestRow, BuilderId, BuildsetId, ChangeRow, LogId, LogType,
    MasterId, Results, SourceStampRow, StepId, WorkerId,
};
use serde_json::{Value, json};

pub(crate) struct StepJson<'a> {
    pub stepid: StepId,
    pub number: i64,
    pub name: &'a str,
    pub buildid: BuildId,
    pub started_at: Option<i64>,
    pub locks_acquired_at: Option<i64>,
    pub complete_at: Option<i64>,
    pub state_string: &'a str,
    pub results: Option<Results>,
    pub urls: &'a [(String, String)],
    pub hidden: bool,
}

pub(crate) fn step(s: &StepJson<'_>) -> Value {
    json!({
        "stepid": s.stepid.0,
        "number": s.number,
        "name": s.name,
        "buildid": s.buildid.0,
        "started_at": s.started_at,
        "locks_acquired_at": s.locks_acquired_at,
        "complete": s.complete_at.is_some(),
        "complete_at": s.complete_at,
        "state_string": s.state_string,
        "results": s.results.map(|r| r.code()),
        "urls": s.urls.iter().map(|(n, u)| json!({"name": n, "url": u})).collect::<Vec<_>>(),
        "hidden": s.hidden,
    })
}

pub(crate) fn log(
    logid: LogId,
    name: &str,
    slug: &str,
    stepid: StepId,
    complete: bool,
    num_lines: i64,
    t: LogType,
) -> Value {
    json!({
        "logid": logid.0,
        "name": name,
        "slug": slug,
        "stepid": stepid.0,
        "complete": complete,
        "num_lines": num_lines,
        "type": t.code(),
    })
}

pub(crate) struct BuildJson<'a> {
    pub buildid: BuildId,
    pub number: i64,
    pub builderid: BuilderId,
    pub buildrequestid: BuildRequestId,
    pub workerid: WorkerId,
    pub masterid: MasterId,
    pub started_at: i64,
    pub complete_at: Option<i64>,
    pub state_string: &'a str,
    pub results: Option<Results>,
}

pub(crate) fn build(b: &BuildJson<'_>) -> Value {
    json!({
        "buildid": b.buildid.0,
        "number": b.number,
        "builderid": b.builderid.0,
        "buildrequestid": b.buildrequestid.0,
        "workerid": b.workerid.0,
        "masterid": b.masterid.0,
        "started_at": b.started_at,
        "complete": b.complete_at.is_some(),
        "complete_at": b.complete_at,
        "locks_duration_s": 0,
        "state_string": b.state_string,
        "results": b.results.map(|r| r.code()),
        "properties": {},
    })
}

pub(crate) fn buildrequest(r: &BuildRequestRow) -> Value {
    json!({
        "buildrequestid": r.buildrequestid.0,
        "buildsetid": r.buildsetid.0,
        "builderid": r.builderid.0,
        "priority": r.priority,
        "claimed": r.claimed,
        "claimed_at": r.claimed_at,
        "claimed_by_masterid": r.claimed_by_masterid.map(|m| m.0),
        "complete": r.complete,
        "results": r.results,
        "submitted_at": r.submitted_at,
        "complete_at": r.complete_at,
        "waited_for": r.waited_for,
        "properties": null,
    })
}

pub(crate) fn buildrequest_new(
    brid: BuildRequestId,
    bsid: BuildsetId,
    builderid: BuilderId,
    priority: i64,
    submitted_at: i64,
    waited_for: bool,
) -> Value {
    json!({
        "buildrequestid": brid.0,
        "buildsetid": bsid.0,
        "builderid": builderid.0,
        "priority": priority,
        "claimed": false,
        "claimed_at": null,
        "claimed_by_masterid": null,
        "complete": false,
        "results": -1,
        "submitted_at": submitted_at,
        "complete_at": null,
        "waited_for": waited_for,
        "properties": null,
    })
}

pub(crate) fn buildset_new(
    bsid: BuildsetId,
    reason: &str,
    submitted_at: i64,
    scheduler: &str,
    rebuilt_buildid: Option<BuildId>,
    sourcestamps: Value,
) -> Value {
    json!({
        "bsid": bsid.0,
        "external_idstring": null,
        "reason": reason,
        "parent_buildid": null,
        "rebuilt_buildid": rebuilt_buildid.map(|b| b.0),
        "submitted_at": submitted_at,
        "complete": false,
        "complete_at": null,
        "results": null,
        "scheduler": scheduler,
        "sourcestamps": sourcestamps,
    })
}

pub(crate) fn master(masterid: MasterId, name: &str, active: bool) -> Value {
    json!({"masterid": masterid.0, "name": name, "active": active})
}

/// A source stamp as Buildbot's JSON.
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

/// A change as Buildbot's JSON (`ss`: its source stamp, when known).
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

/// The fields of a source stamp a build keeps (its `ssid`, `branch`, `revision`,
/// `repository`, `project`, `codebase`): what [`Interpolate`](crate::master::Interpolate)'s
/// `%(src:...)s` reads and what a `buildsets/*/new` event lists.
pub(crate) fn sourcestamp_map(ss: &SourceStampRow) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("ssid".into(), Value::from(ss.ssid.0));
    m.insert("branch".into(), Value::from(ss.branch.clone()));
    m.insert("revision".into(), Value::from(ss.revision.clone()));
    m.insert("repository".into(), Value::from(ss.repository.clone()));
    m.insert("project".into(), Value::from(ss.project.clone()));
    m.insert("codebase".into(), Value::from(ss.codebase.clone()));
    m
}
