//! The rest of the REST surface: nested endpoints, properties, build data, source stamps,
//! schedulers, change sources, projects, test results, the root listing.

use std::collections::BTreeMap;

use buildbot_core::master::config::{ForceParameterKind, SchedulerKind};
use buildbot_db::{
    BuildId, BuildRow, BuilderId, BuildsetId, ChangeId, Filter, LogId, LogRow, MasterId, Op,
    Properties, Query, SourceStampId, StepId, StepRow, TestResultSetId, TestResultSetRow,
};
use serde_json::{Value, json};
use tide::{Response, StatusCode};

use super::{ApiError, Kind, Req, builder_id, error_response, not_found, pairs};
use crate::json::{self, project};
use crate::spec;

use super::mem::{self, py_int};

/// Wraps `async fn(&Req) -> Result<Value, ApiError>` as a tide endpoint.
macro_rules! ep {
    ($f:path) => {
        |req: Req| async move {
            Ok(match $f(&req).await {
                Ok(v) => render(&req, &v),
                Err(e) => error_response(e),
            })
        }
    };
}
pub(super) use ep;

fn invalid_path(req: &Req) -> ApiError {
    ApiError::Status(
        StatusCode::NotFound,
        format!(
            "Invalid path: {}",
            req.url().path().trim_start_matches("/api/v2/")
        ),
    )
}

/// An `n:` path parameter (Python `int()`); anything else is an invalid path.
pub(super) fn n_param(req: &Req, name: &str) -> Result<i64, ApiError> {
    req.param(name)
        .ok()
        .and_then(py_int)
        .ok_or_else(|| invalid_path(req))
}

fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-')
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Collection of `items` with the query applied in memory (`total` before paging).
pub(super) fn mem_collection(
    req: &Req,
    plural: &str,
    fields: &[&str],
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), fields, false, true)?;
    let (page, total) = mem::apply(items, &spec.query)?;
    let page: Vec<Value> = page
        .into_iter()
        .map(|v| project(v, spec.fields.as_deref()))
        .collect();
    Ok(json!({ plural: page, "meta": { "total": total } }))
}

/// Single entity (404 when `None`).
pub(super) fn mem_single(
    req: &Req,
    plural: &str,
    fields: &[&str],
    item: Option<Value>,
) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), fields, false, false)?;
    let item = item.ok_or_else(|| not_found(req))?;
    Ok(json!({ plural: [project(item, spec.fields.as_deref())], "meta": {} }))
}

// ---- resolving path parameters --------------------------------------------------------------

/// The build of `/builds/:buildid/…` or `/builders/:builder/builds/:number/…`.
pub(super) async fn resolve_build(req: &Req) -> Result<Option<BuildRow>, ApiError> {
    let db = req.state().handle.db();
    if req.param("buildid").is_ok() {
        let id = n_param(req, "buildid")?;
        return Ok(db.get_build(BuildId(id)).await?);
    }
    let number = n_param(req, "number")?;
    let Some(bid) = builder_id(req, "builder").await? else {
        return Ok(None);
    };
    Ok(db.get_build_by_number(bid, number).await?)
}

/// The step of `/steps/:stepid/…` or `<build>/steps/:step/…` (number or name).
pub(super) async fn resolve_step(req: &Req) -> Result<Option<StepRow>, ApiError> {
    let db = req.state().handle.db();
    if req.param("stepid").is_ok() {
        let id = n_param(req, "stepid")?;
        return Ok(db.get_step(StepId(id)).await?);
    }
    let Some(build) = resolve_build(req).await? else {
        return Ok(None);
    };
    let raw = req.param("step").unwrap_or_default();
    let q = Query::new().eq("buildid", build.buildid.0);
    let q = match py_int(raw) {
        Some(n) => q.eq("number", n),
        None if is_identifier(raw) => q.eq("name", raw),
        None => return Err(invalid_path(req)),
    };
    Ok(db.list_steps(&q).await?.into_iter().next())
}

/// The log of `/logs/:logid/…` or `<step>/logs/:slug/…`.
pub(super) async fn resolve_log(req: &Req) -> Result<LogRow, ApiError> {
    let db = req.state().handle.db();
    let log = if req.param("logid").is_ok() {
        db.get_log(LogId(n_param(req, "logid")?)).await?
    } else {
        let slug = req.param("slug").unwrap_or_default();
        if !is_identifier(slug) {
            return Err(invalid_path(req));
        }
        match resolve_step(req).await? {
            Some(s) => db.get_log_by_slug(s.stepid, slug).await?,
            None => None,
        }
    };
    log.ok_or_else(|| not_found(req))
}

// ---- root ---------------------------------------------------------------------------------

pub(super) async fn root(req: &Req) -> Result<Value, ApiError> {
    const LINKS: [&str; 14] = [
        "builders",
        "builds",
        "buildrequests",
        "codebases",
        "workers",
        "logchunks",
        "buildsets",
        "changes",
        "changesources",
        "masters",
        "sourcestamps",
        "schedulers",
        "forceschedulers",
        "projects",
    ];
    let items = LINKS.iter().map(|n| json!({ "name": n })).collect();
    mem_collection(req, "rootlinks", &["name"], items)
}

pub(super) async fn logchunks_root(req: &Req) -> Result<Value, ApiError> {
    Err(not_found(req))
}

// ---- steps and logs under builds ------------------------------------------------------------

pub(super) async fn build_steps(req: &Req) -> Result<Value, ApiError> {
    let build = resolve_build(req).await?;
    if build.is_none() && req.param("buildid").is_err() {
        return Err(not_found(req));
    }
    let id = build.map_or(-1, |b| b.buildid.0);
    super::collection_value(req, Kind::Steps, vec![("buildid", id.to_string())]).await
}

pub(super) async fn step_one(req: &Req) -> Result<Value, ApiError> {
    let s = resolve_step(req).await?.ok_or_else(|| not_found(req))?;
    super::single_value(req, Kind::Steps, vec![("stepid", s.stepid.0.to_string())]).await
}

pub(super) async fn step_logs(req: &Req) -> Result<Value, ApiError> {
    let id = resolve_step(req).await?.map_or(-1, |s| s.stepid.0);
    super::collection_value(req, Kind::Logs, vec![("stepid", id.to_string())]).await
}

pub(super) async fn log_one(req: &Req) -> Result<Value, ApiError> {
    let l = resolve_log(req).await?;
    super::single_value(req, Kind::Logs, vec![("logid", l.logid.0.to_string())]).await
}

// ---- builds nested ------------------------------------------------------------------------

async fn builds_where(req: &Req, field: &str, values: Vec<i64>) -> Result<Value, ApiError> {
    let values = if values.is_empty() { vec![-1] } else { values };
    let f = Filter {
        field: field.to_owned(),
        op: Op::In,
        values: values.iter().map(i64::to_string).collect(),
    };
    super::collection_value_with(req, Kind::Builds, vec![f]).await
}

pub(super) async fn worker_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    builds_where(req, "workerid", vec![id]).await
}

pub(super) async fn request_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    builds_where(req, "buildrequestid", vec![id]).await
}

/// Request ids of the buildsets `bsids`.
async fn requests_of(req: &Req, bsids: Vec<i64>) -> Result<Vec<i64>, ApiError> {
    if bsids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::new().filter("buildsetid", Op::In, bsids);
    Ok(req
        .state()
        .handle
        .db()
        .list_buildrequests(&q)
        .await?
        .iter()
        .map(|r| r.buildrequestid.0)
        .collect())
}

pub(super) async fn change_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let db = req.state().handle.db();
    let mut brids = Vec::new();
    if let Some(c) = db.get_change(ChangeId(id)).await? {
        let bsids: Vec<i64> = db
            .list_buildsets(&Query::new())
            .await?
            .iter()
            .filter(|b| b.sourcestamps.contains(&c.sourcestampid))
            .map(|b| b.bsid.0)
            .collect();
        brids = requests_of(req, bsids).await?;
    }
    builds_where(req, "buildrequestid", brids).await
}

pub(super) async fn triggered_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "buildid")?;
    let db = req.state().handle.db();
    let bsids: Vec<i64> = db
        .list_buildsets(&Query::new())
        .await?
        .iter()
        .filter(|b| b.parent_buildid == Some(BuildId(id)))
        .map(|b| b.bsid.0)
        .collect();
    let brids = requests_of(req, bsids).await?;
    builds_where(req, "buildrequestid", brids).await
}

/// Source stamp ids of the buildset of `build`.
async fn build_sourcestamps(req: &Req, build: &BuildRow) -> Result<Vec<SourceStampId>, ApiError> {
    let db = req.state().handle.db();
    let Some(br) = db.get_buildrequest(build.buildrequestid).await? else {
        return Ok(Vec::new());
    };
    Ok(db
        .get_buildset(br.buildsetid)
        .await?
        .map(|b| b.sourcestamps)
        .unwrap_or_default())
}

async fn changes_json(req: &Req, ssids: &[SourceStampId]) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let mut out = Vec::new();
    for ss in ssids {
        let row = db.get_sourcestamp(*ss).await?;
        for c in db.changes_for_sourcestamp(*ss).await? {
            out.push(json::change(&c, row.as_ref()));
        }
    }
    Ok(out)
}

pub(super) async fn build_changes(req: &Req) -> Result<Value, ApiError> {
    let items = match resolve_build(req).await? {
        Some(b) => {
            let ss = build_sourcestamps(req, &b).await?;
            changes_json(req, &ss).await?
        }
        None => Vec::new(),
    };
    mem_collection(req, "changes", json::CHANGE_FIELDS, items)
}

// ---- properties -----------------------------------------------------------------------------

fn props_object(p: &Properties) -> Value {
    let m: serde_json::Map<String, Value> = p
        .iter()
        .map(|(k, (v, s))| (k.clone(), json!([v, s])))
        .collect();
    Value::Object(m)
}

fn props_list(p: &Properties) -> Vec<Value> {
    p.iter()
        .map(|(k, (v, s))| json!({"name": k, "source": s, "value": v.to_string()}))
        .collect()
}

const PROPERTY_LIST_FIELDS: &[&str] = &["name", "source", "value"];

pub(super) async fn build_properties(req: &Req) -> Result<Value, ApiError> {
    let p = match resolve_build(req).await? {
        Some(b) => {
            req.state()
                .handle
                .db()
                .get_build_properties(b.buildid)
                .await?
        }
        None => Properties::new(),
    };
    spec::parse(&pairs(req), &[], false, false)?;
    Ok(json!({"properties": [props_object(&p)], "meta": {}}))
}

pub(super) async fn build_property_list(req: &Req) -> Result<Value, ApiError> {
    let p = match resolve_build(req).await? {
        Some(b) => {
            req.state()
                .handle
                .db()
                .get_build_properties(b.buildid)
                .await?
        }
        None => Properties::new(),
    };
    mem_collection(req, "_properties", PROPERTY_LIST_FIELDS, props_list(&p))
}

pub(super) async fn buildset_properties(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let p = req
        .state()
        .handle
        .db()
        .get_buildset_properties(BuildsetId(id))
        .await?;
    spec::parse(&pairs(req), &[], false, false)?;
    Ok(json!({"properties": [props_object(&p)], "meta": {}}))
}

pub(super) async fn buildset_properties_list(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let p = req
        .state()
        .handle
        .db()
        .get_buildset_properties(BuildsetId(id))
        .await?;
    mem_collection(req, "_properties", PROPERTY_LIST_FIELDS, props_list(&p))
}

/// Python 4.3.0 answers 500 here (missing DB method); we serve the intended list.
pub(super) async fn change_properties_list(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let c = req.state().handle.db().get_change(ChangeId(id)).await?;
    let items = match c {
        Some(c) => {
            let v = json::change(&c, None);
            v["properties"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, pv)| {
                            json!({"name": k, "source": pv[1], "value": pv[0].to_string()})
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    mem_collection(req, "_properties", PROPERTY_LIST_FIELDS, items)
}

/// Buildset properties filtered by `names` (`*` = all) for buildrequests' `property=`.
pub(super) fn filter_props(p: &Properties, names: &[String]) -> Value {
    let all = names.iter().any(|n| n == "*");
    let m: serde_json::Map<String, Value> = p
        .iter()
        .filter(|(k, _)| all || names.contains(k))
        .map(|(k, (v, s))| (k.clone(), json!([v, s])))
        .collect();
    Value::Object(m)
}

// ---- build data ---------------------------------------------------------------------------

const BUILD_DATA_FIELDS: &[&str] = &["buildid", "length", "name", "source", "value"];

fn build_data_json(d: &buildbot_db::BuildDataRow) -> Value {
    json!({"buildid": d.buildid.0, "length": d.length, "name": d.name, "source": d.source,
           "value": null})
}

pub(super) async fn build_data(req: &Req) -> Result<Value, ApiError> {
    let items = match resolve_build(req).await? {
        Some(b) => req
            .state()
            .handle
            .db()
            .list_build_data(b.buildid)
            .await?
            .iter()
            .map(build_data_json)
            .collect(),
        None => Vec::new(),
    };
    mem_collection(req, "build_data", BUILD_DATA_FIELDS, items)
}

async fn find_build_data(req: &Req) -> Result<Option<buildbot_db::BuildDataRow>, ApiError> {
    let name = req.param("name").unwrap_or_default();
    if !is_identifier(name) {
        return Err(invalid_path(req));
    }
    Ok(match resolve_build(req).await? {
        Some(b) => {
            req.state()
                .handle
                .db()
                .get_build_data(b.buildid, name)
                .await?
        }
        None => None,
    })
}

pub(super) async fn build_data_one(req: &Req) -> Result<Value, ApiError> {
    let d = find_build_data(req).await?;
    mem_single(
        req,
        "build_data",
        BUILD_DATA_FIELDS,
        d.as_ref().map(build_data_json),
    )
}

pub(super) async fn build_data_value(req: Req) -> tide::Result {
    Ok(match find_build_data(&req).await {
        Ok(Some(d)) => {
            let mut r = Response::new(StatusCode::Ok);
            r.set_body(d.value.unwrap_or_default());
            r.insert_header("Content-Type", "application/octet-stream; charset=utf-8");
            r.insert_header(
                "Content-Disposition",
                format!("attachment; filename={}", d.name),
            );
            r
        }
        Ok(None) => error_response(not_found(&req)),
        Err(e) => error_response(e),
    })
}

// ---- source stamps, buildsets -------------------------------------------------------------

const SOURCESTAMP_FIELDS: &[&str] = &[
    "branch",
    "codebase",
    "created_at",
    "patch",
    "project",
    "repository",
    "revision",
    "ssid",
];

pub(super) async fn sourcestamps(req: &Req) -> Result<Value, ApiError> {
    let items = req
        .state()
        .handle
        .db()
        .list_sourcestamps(None, None)
        .await?
        .iter()
        .map(json::sourcestamp)
        .collect();
    mem_collection(req, "sourcestamps", SOURCESTAMP_FIELDS, items)
}

pub(super) async fn sourcestamp_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let ss = req
        .state()
        .handle
        .db()
        .get_sourcestamp(SourceStampId(id))
        .await?;
    mem_single(
        req,
        "sourcestamps",
        SOURCESTAMP_FIELDS,
        ss.as_ref().map(json::sourcestamp),
    )
}

pub(super) async fn sourcestamp_changes(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let items = changes_json(req, &[SourceStampId(id)]).await?;
    mem_collection(req, "changes", json::CHANGE_FIELDS, items)
}

pub(super) async fn buildset_sourcestamps(req: &Req) -> Result<Value, ApiError> {
    let db = req.state().handle.db();
    let items = match py_int(req.param("id").unwrap_or_default()) {
        Some(id) => match db.get_buildset(BuildsetId(id)).await? {
            Some(bs) => db
                .get_sourcestamps(&bs.sourcestamps)
                .await?
                .iter()
                .map(json::sourcestamp)
                .collect(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    mem_collection(req, "sourcestamps", SOURCESTAMP_FIELDS, items)
}

// ---- masters, builders, workers nested ------------------------------------------------------

async fn masters_json(req: &Req) -> Result<BTreeMap<i64, Value>, ApiError> {
    Ok(req
        .state()
        .handle
        .db()
        .list_masters(&Query::new())
        .await?
        .iter()
        .map(|m| (m.masterid.0, json::master(m)))
        .collect())
}

async fn builder_masters_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let Some(bid) = builder_id(req, "builder").await? else {
        return Ok(Vec::new());
    };
    let Some(b) = db.get_builder(bid).await? else {
        return Ok(Vec::new());
    };
    let all = masters_json(req).await?;
    Ok(b.masterids
        .iter()
        .filter_map(|m| all.get(&m.0).cloned())
        .collect())
}

pub(super) async fn builder_masters(req: &Req) -> Result<Value, ApiError> {
    let items = builder_masters_list(req).await?;
    mem_collection(req, "masters", json::MASTER_FIELDS, items)
}

pub(super) async fn builder_master_one(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "masterid")?;
    let item = builder_masters_list(req)
        .await?
        .into_iter()
        .find(|m| m["masterid"] == mid);
    mem_single(req, "masters", json::MASTER_FIELDS, item)
}

pub(super) async fn master_builders(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "id")?;
    let items = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new(), Some(MasterId(mid)))
        .await?
        .iter()
        .map(json::builder)
        .collect();
    mem_collection(req, "builders", json::BUILDER_FIELDS, items)
}

pub(super) async fn master_builder_one(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "id")?;
    let bid = n_param(req, "builderid")?;
    let item = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new(), Some(MasterId(mid)))
        .await?
        .iter()
        .find(|b| b.builderid == BuilderId(bid))
        .map(json::builder);
    mem_single(req, "builders", json::BUILDER_FIELDS, item)
}

async fn workers_list(
    req: &Req,
    builder: Option<BuilderId>,
    master: Option<MasterId>,
) -> Result<Vec<Value>, ApiError> {
    Ok(req
        .state()
        .handle
        .db()
        .list_workers(&Query::new(), builder, master)
        .await?
        .iter()
        .map(|w| crate::json::worker_json!(w))
        .collect())
}

pub(super) async fn master_workers(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "id")?;
    let items = workers_list(req, None, Some(MasterId(mid))).await?;
    mem_collection(req, "workers", json::WORKER_FIELDS, items)
}

pub(super) async fn builder_workers(req: &Req) -> Result<Value, ApiError> {
    let items = match builder_id(req, "builder").await? {
        Some(b) => workers_list(req, Some(b), None).await?,
        None => Vec::new(),
    };
    mem_collection(req, "workers", json::WORKER_FIELDS, items)
}

pub(super) async fn builder_worker_one(req: &Req) -> Result<Value, ApiError> {
    let w = req.param("worker").unwrap_or_default();
    let items = match builder_id(req, "builder").await? {
        Some(b) => workers_list(req, Some(b), None).await?,
        None => Vec::new(),
    };
    let item = items.into_iter().find(|v| match py_int(w) {
        Some(id) => v["workerid"] == id,
        None => v["name"] == w,
    });
    mem_single(req, "workers", json::WORKER_FIELDS, item)
}

pub(super) async fn worker_builders(req: &Req) -> Result<Value, ApiError> {
    let wid = n_param(req, "id")?;
    let db = req.state().handle.db();
    let ids: Vec<i64> = match db.get_worker(buildbot_db::WorkerId(wid)).await? {
        Some(w) => w.configured_on.iter().map(|(_, b)| b.0).collect(),
        None => Vec::new(),
    };
    let items = db
        .list_builders(&Query::new(), None)
        .await?
        .iter()
        .filter(|b| ids.contains(&b.builderid.0))
        .map(json::builder)
        .collect();
    mem_collection(req, "builders", json::BUILDER_FIELDS, items)
}

pub(super) async fn builder_requests(req: &Req) -> Result<Value, ApiError> {
    let id = builder_id(req, "builder").await?.map_or(-1, |b| b.0);
    super::collection_value(
        req,
        Kind::BuildRequests,
        vec![("builderid", id.to_string())],
    )
    .await
}

// ---- schedulers, change sources -----------------------------------------------------------

const SCHEDULER_FIELDS: &[&str] = &["enabled", "master", "name", "schedulerid"];
const CHANGESOURCE_FIELDS: &[&str] = &["changesourceid", "master", "name"];

async fn schedulers_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let masters = masters_json(req).await?;
    Ok(req
        .state()
        .handle
        .db()
        .list_schedulers()
        .await?
        .iter()
        .map(|s| {
            json!({
                "enabled": s.enabled,
                "master": s.masterid.and_then(|m| masters.get(&m.0).cloned()),
                "name": s.name,
                "schedulerid": s.schedulerid.0,
            })
        })
        .collect())
}

async fn changesources_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let masters = masters_json(req).await?;
    Ok(req
        .state()
        .handle
        .db()
        .list_changesources()
        .await?
        .iter()
        .map(|s| {
            json!({
                "changesourceid": s.changesourceid.0,
                "master": s.masterid.and_then(|m| masters.get(&m.0).cloned()),
                "name": s.name,
            })
        })
        .collect())
}

fn owned_by(v: &Value, req: &Req) -> bool {
    match req.param("masterid").ok().and_then(py_int) {
        Some(m) => v["master"]["masterid"] == m,
        None => true,
    }
}

pub(super) async fn schedulers(req: &Req) -> Result<Value, ApiError> {
    let items = schedulers_list(req)
        .await?
        .into_iter()
        .filter(|v| owned_by(v, req))
        .collect();
    mem_collection(req, "schedulers", SCHEDULER_FIELDS, items)
}

pub(super) async fn scheduler_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let item = schedulers_list(req)
        .await?
        .into_iter()
        .find(|v| v["schedulerid"] == id && owned_by(v, req));
    mem_single(req, "schedulers", SCHEDULER_FIELDS, item)
}

pub(super) async fn changesources(req: &Req) -> Result<Value, ApiError> {
    let items = changesources_list(req)
        .await?
        .into_iter()
        .filter(|v| owned_by(v, req))
        .collect();
    mem_collection(req, "changesources", CHANGESOURCE_FIELDS, items)
}

pub(super) async fn changesource_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let item = changesources_list(req)
        .await?
        .into_iter()
        .find(|v| v["changesourceid"] == id && owned_by(v, req));
    mem_single(req, "changesources", CHANGESOURCE_FIELDS, item)
}

// ---- force schedulers -----------------------------------------------------------------------

fn param_spec(
    name: &str,
    label: &str,
    ty: &str,
    default: Value,
    extra: Value,
) -> serde_json::Map<String, Value> {
    let mut m = json!({
        "autopopulate": null, "default": default, "fullName": name, "hide": false,
        "label": label, "maxsize": null, "multiple": false, "name": name, "regex": null,
        "required": false, "tablabel": label, "tooltip": "", "type": ty,
    });
    if let (Some(o), Value::Object(e)) = (m.as_object_mut(), extra) {
        o.extend(e);
    }
    match m {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

fn nest(fields: Vec<Value>, columns: i64) -> Value {
    let mut m = param_spec("", "", "nested", json!(""), json!({}));
    m.insert("fullName".into(), Value::Null);
    m.insert("columns".into(), json!(columns));
    m.insert("layout".into(), json!("vertical"));
    m.insert("fields".into(), Value::Array(fields));
    Value::Object(m)
}

/// `all_fields` of a force scheduler (rest-api.md §7.4).
fn all_fields(reason: &str, params: &[buildbot_core::master::config::ForceParameter]) -> Value {
    let mut first = vec![
        Value::Object(param_spec(
            "username",
            "Your name:",
            "username",
            json!(""),
            json!({"need_email": true, "size": 30}),
        )),
        Value::Object(param_spec(
            "reason",
            "reason",
            "text",
            json!(reason),
            json!({"size": 20}),
        )),
        Value::Object(param_spec(
            "priority",
            "priority",
            "int",
            json!(0),
            json!({"size": 10}),
        )),
    ];
    for p in params {
        let (ty, extra) = match p.kind {
            ForceParameterKind::String => ("text", json!({"size": 10})),
            ForceParameterKind::Text => ("textarea", json!({"cols": 80, "rows": 20})),
            ForceParameterKind::Int => ("int", json!({"size": 10})),
            ForceParameterKind::Boolean => ("bool", json!({})),
            ForceParameterKind::ChoiceString => {
                ("list", json!({"choices": p.choices, "strict": p.strict}))
            }
            ForceParameterKind::Fixed => ("fixed", json!({})),
            _ => ("text", json!({"size": 10})),
        };
        let mut m = param_spec(&p.name, &p.label, ty, p.default.clone(), extra);
        m.insert("required".into(), json!(p.required));
        m.insert("multiple".into(), json!(p.multiple));
        first.push(Value::Object(m));
    }
    let ss: Vec<Value> = [
        ("branch", "Branch:"),
        ("project", "Project:"),
        ("repository", "Repository:"),
        ("revision", "Revision:"),
    ]
    .iter()
    .map(|(n, l)| Value::Object(param_spec(n, l, "text", json!(""), json!({"size": 10}))))
    .collect();
    json!([nest(first, 1), nest(ss, 2)])
}

fn forceschedulers_list(req: &Req) -> Vec<Value> {
    let cfg = req.state().handle.config();
    cfg.schedulers
        .iter()
        .filter_map(|s| match &s.kind {
            SchedulerKind::Force {
                button_name,
                label,
                reason,
                parameters,
            } => Some(json!({
                "all_fields": all_fields(reason, parameters),
                "builder_names": s.builder_names,
                "button_name": button_name,
                "enabled": true,
                "label": label,
                "name": s.name,
            })),
            _ => None,
        })
        .collect()
}

pub(super) async fn forceschedulers(req: &Req) -> Result<Value, ApiError> {
    let mut items = forceschedulers_list(req);
    if req.param("builder").is_ok() {
        let db = req.state().handle.db();
        let name = match builder_id(req, "builder").await? {
            Some(b) => db.get_builder(b).await?.map(|b| b.name),
            None => None,
        };
        items.retain(|v| {
            name.as_ref().is_some_and(|n| {
                v["builder_names"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(n)))
            })
        });
    }
    mem_collection(req, "forceschedulers", json::FORCESCHEDULER_FIELDS, items)
}

pub(super) async fn forcescheduler_one(req: &Req) -> Result<Value, ApiError> {
    let name = req.param("name").unwrap_or_default();
    let item = forceschedulers_list(req)
        .into_iter()
        .find(|v| v["name"] == name);
    mem_single(req, "forceschedulers", json::FORCESCHEDULER_FIELDS, item)
}

// ---- projects, codebases ------------------------------------------------------------------

const PROJECT_FIELDS: &[&str] = &[
    "active",
    "description",
    "description_format",
    "description_html",
    "name",
    "projectid",
    "slug",
];

async fn projects_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let builders = db.list_builders(&Query::new(), None).await?;
    Ok(db
        .list_projects()
        .await?
        .iter()
        .map(|p| {
            let active = builders
                .iter()
                .any(|b| b.projectid == Some(p.projectid) && !b.masterids.is_empty());
            json!({
                "active": active,
                "description": p.description,
                "description_format": p.description_format,
                "description_html": p.description_html,
                "name": p.name,
                "projectid": p.projectid.0,
                "slug": p.slug,
            })
        })
        .collect())
}

pub(super) async fn projects(req: &Req) -> Result<Value, ApiError> {
    let filtered = req
        .url()
        .query_pairs()
        .any(|(k, _)| k.starts_with("active"));
    let mut v = mem_collection(req, "projects", PROJECT_FIELDS, projects_list(req).await?)?;
    if !filtered && let Some(a) = v["projects"].as_array_mut() {
        for p in a {
            if let Some(o) = p.as_object_mut()
                && o.contains_key("active")
            {
                o.insert("active".into(), Value::Null);
            }
        }
    }
    Ok(v)
}

async fn find_project(req: &Req) -> Result<Option<Value>, ApiError> {
    let raw = req.param("project").unwrap_or_default();
    Ok(projects_list(req)
        .await?
        .into_iter()
        .find(|p| match py_int(raw) {
            Some(id) => p["projectid"] == id,
            None => p["name"] == raw,
        }))
}

pub(super) async fn project_one(req: &Req) -> Result<Value, ApiError> {
    let p = find_project(req).await?.map(|mut p| {
        p["active"] = Value::Null;
        p
    });
    mem_single(req, "projects", PROJECT_FIELDS, p)
}

pub(super) async fn project_builders(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "project")?;
    let items = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new(), None)
        .await?
        .iter()
        .filter(|b| b.projectid.map(|p| p.0) == Some(id))
        .map(json::builder)
        .collect();
    mem_collection(req, "builders", json::BUILDER_FIELDS, items)
}

const CODEBASE_FIELDS: &[&str] = &["codebaseid", "name", "projectid", "slug"];

pub(super) async fn codebases(req: &Req) -> Result<Value, ApiError> {
    mem_collection(req, "codebases", CODEBASE_FIELDS, Vec::new())
}

pub(super) async fn codebase_one(req: &Req) -> Result<Value, ApiError> {
    n_param(req, "id")?;
    mem_single(req, "codebases", CODEBASE_FIELDS, None)
}

// ---- test results -------------------------------------------------------------------------

const TRS_FIELDS: &[&str] = &[
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

const TR_FIELDS: &[&str] = &[
    "builderid",
    "duration_ns",
    "line",
    "test_code_path",
    "test_name",
    "test_result_setid",
    "test_resultid",
    "value",
];

fn trs_json(s: &TestResultSetRow) -> Value {
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

async fn sets_of_builds(req: &Req, q: &Query) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let mut out = Vec::new();
    for b in db.list_builds(q).await? {
        out.extend(
            db.list_test_result_sets(b.buildid)
                .await?
                .iter()
                .map(trs_json),
        );
    }
    Ok(out)
}

pub(super) async fn test_result_sets(req: &Req) -> Result<Value, ApiError> {
    let items = if req.param("buildid").is_ok() {
        let id = n_param(req, "buildid")?;
        sets_of_builds(req, &Query::new().eq("buildid", id)).await?
    } else if req.param("stepid").is_ok() {
        let id = n_param(req, "stepid")?;
        match req.state().handle.db().get_step(StepId(id)).await? {
            Some(s) => sets_of_builds(req, &Query::new().eq("buildid", s.buildid.0))
                .await?
                .into_iter()
                .filter(|v| v["stepid"] == id)
                .collect(),
            None => Vec::new(),
        }
    } else if req.param("builder").is_ok() {
        match builder_id(req, "builder").await? {
            Some(b) => sets_of_builds(req, &Query::new().eq("builderid", b.0)).await?,
            None => Vec::new(),
        }
    } else {
        sets_of_builds(req, &Query::new()).await?
    };
    mem_collection(req, "test_result_sets", TRS_FIELDS, items)
}

pub(super) async fn test_result_set_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let s = req
        .state()
        .handle
        .db()
        .get_test_result_set(TestResultSetId(id))
        .await?;
    mem_single(
        req,
        "test_result_sets",
        TRS_FIELDS,
        s.as_ref().map(trs_json),
    )
}

pub(super) async fn test_results(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let items = req
        .state()
        .handle
        .db()
        .list_test_results(TestResultSetId(id))
        .await?
        .iter()
        .map(|r| {
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
        })
        .collect();
    mem_collection(req, "test_results", TR_FIELDS, items)
}

// ---- application.spec -----------------------------------------------------------------------

/// The machine-readable description of every path (rest-api.md §7.3), as Buildbot 4.3 gives it.
const APPLICATION_SPEC: &str = include_str!("application_spec.json");

pub(super) async fn application_spec(req: &Req) -> Result<Value, ApiError> {
    let items: Vec<Value> = serde_json::from_str(APPLICATION_SPEC)
        .map_err(|e| ApiError::Status(StatusCode::InternalServerError, e.to_string()))?;
    mem_collection(
        req,
        "specs",
        &["path", "plural", "type", "type_spec"],
        items,
    )
}
