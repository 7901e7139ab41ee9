//! Builders, workers, masters, schedulers, change sources, projects and codebases.

use buildbot_db::{
    BuilderId, BuilderRow, ChangeSourceRow, MasterId, MasterRow, ProjectRow, SchedulerRow,
    WorkerRow,
};
use serde_json::{Value, json};

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
