//! Routes of `/api/v2`.

use std::collections::BTreeMap;

use buildbot_core::master::config::SchedulerKind;
use buildbot_core::master::{ForceRequest, MasterError, MasterHandle};

use crate::State;
use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, DbError, LogId, LogType, Op, Query, StepId,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tide::{Request, Response, StatusCode};

use crate::json::{self, *};
use crate::spec::{self, BadRequest, Spec};

type Req = Request<State>;

/// An error answer.
enum ApiError {
    Status(StatusCode, String),
}

impl From<BadRequest> for ApiError {
    fn from(e: BadRequest) -> Self {
        ApiError::Status(StatusCode::BadRequest, e.0)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::UnknownField { field, .. } | DbError::BadFilterValue { field, .. } => {
                ApiError::Status(
                    StatusCode::BadRequest,
                    format!("invalid filter value for {field}"),
                )
            }
            e => ApiError::Status(StatusCode::InternalServerError, e.to_string()),
        }
    }
}

fn not_found(req: &Req) -> ApiError {
    ApiError::Status(
        StatusCode::NotFound,
        format!(
            "not found while getting from endpoint for {}",
            req.url().path().trim_start_matches("/api/v2")
        ),
    )
}

fn error_response(e: ApiError) -> Response {
    let ApiError::Status(status, msg) = e;
    let mut r = Response::new(status);
    r.set_content_type("text/plain; charset=utf-8");
    r.set_body(json!({ "error": msg }).to_string());
    r
}

fn pairs(req: &Req) -> Vec<(String, String)> {
    req.url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn render(req: &Req, v: &Value) -> Response {
    let compact = req
        .header("Accept")
        .is_some_and(|h| h.as_str().contains("application/json"));
    let mut r = Response::new(StatusCode::Ok);
    if compact {
        r.set_content_type("application/json; charset=utf-8");
        r.set_body(v.to_string());
    } else {
        r.set_content_type("text/plain; charset=utf-8");
        r.set_body(json::pretty(v));
    }
    r
}

fn param_i64(req: &Req, name: &str) -> Result<i64, ApiError> {
    req.param(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::Status(
                StatusCode::NotFound,
                format!(
                    "Invalid path: {}",
                    req.url().path().trim_start_matches("/api/v2/")
                ),
            )
        })
}

/// The resource types served.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Builds,
    Builders,
    Workers,
    BuildRequests,
    Buildsets,
    Steps,
    Logs,
    Masters,
    Changes,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::Builds => "builds",
            Kind::Builders => "builders",
            Kind::Workers => "workers",
            Kind::BuildRequests => "buildrequests",
            Kind::Buildsets => "buildsets",
            Kind::Steps => "steps",
            Kind::Logs => "logs",
            Kind::Masters => "masters",
            Kind::Changes => "changes",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Builds => BUILD_FIELDS,
            Kind::Builders => BUILDER_FIELDS,
            Kind::Workers => WORKER_FIELDS,
            Kind::BuildRequests => BUILDREQUEST_FIELDS,
            Kind::Buildsets => BUILDSET_FIELDS,
            Kind::Steps => STEP_FIELDS,
            Kind::Logs => LOG_FIELDS,
            Kind::Masters => MASTER_FIELDS,
            Kind::Changes => CHANGE_FIELDS,
        }
    }

    /// Collections whose paging runs in SQL (`meta.total` = page length, §3.5).
    fn sql_paged(self) -> bool {
        matches!(
            self,
            Kind::Builds | Kind::BuildRequests | Kind::Buildsets | Kind::Changes
        )
    }
}

async fn fetch(
    m: &MasterHandle,
    kind: Kind,
    q: &Query,
    properties: &[String],
) -> Result<Vec<Value>, ApiError> {
    let db = m.db();
    Ok(match kind {
        Kind::Builds => {
            let mut out = Vec::new();
            for b in db.list_builds(q).await? {
                let mut v = build(&b);
                if !properties.is_empty() {
                    let props = db.get_build_properties(b.buildid).await?;
                    let all = properties.iter().any(|p| p == "*");
                    let props: BTreeMap<_, _> = props
                        .into_iter()
                        .filter(|(k, _)| all || properties.contains(k))
                        .collect();
                    v["properties"] = json!(props);
                }
                out.push(v);
            }
            out
        }
        Kind::Builders => db
            .list_builders(q, None)
            .await?
            .iter()
            .map(builder)
            .collect(),
        Kind::Workers => db
            .list_workers(q, None, None)
            .await?
            .iter()
            .map(|w| worker_json!(w))
            .collect(),
        Kind::BuildRequests => db
            .list_buildrequests(q)
            .await?
            .iter()
            .map(buildrequest)
            .collect(),
        Kind::Buildsets => {
            let mut out = Vec::new();
            for b in db.list_buildsets(q).await? {
                let ss = db.get_sourcestamps(&b.sourcestamps).await?;
                out.push(buildset(&b, &ss));
            }
            out
        }
        Kind::Steps => db.list_steps(q).await?.iter().map(step).collect(),
        Kind::Logs => db.list_logs(q).await?.iter().map(log).collect(),
        Kind::Masters => db.list_masters(q).await?.iter().map(master).collect(),
        Kind::Changes => {
            let mut out = Vec::new();
            for c in db.list_changes(q).await? {
                let ss = db.get_sourcestamp(c.sourcestampid).await?;
                out.push(change(&c, ss.as_ref()));
            }
            out
        }
    })
}

/// A collection, with `base` filters from the path added to the query's.
async fn collection(req: Req, kind: Kind, base: Vec<(&str, String)>) -> tide::Result {
    Ok(match collection_value(&req, kind, base).await {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

async fn collection_value(
    req: &Req,
    kind: Kind,
    base: Vec<(&str, String)>,
) -> Result<Value, ApiError> {
    let with_props = matches!(kind, Kind::Builds | Kind::BuildRequests);
    let Spec {
        fields,
        mut query,
        properties,
    } = spec::parse(&pairs(req), kind.fields(), with_props, true)?;
    for (f, v) in base {
        query = query.filter(f, Op::Eq, [v]);
    }
    let (items, total) = if kind.sql_paged() {
        let mut items = fetch(&req.state().handle, kind, &query, &properties).await?;
        if kind == Kind::Changes {
            items.reverse();
        }
        let n = items.len();
        (items, n)
    } else {
        let (limit, offset) = (query.limit.take(), query.offset.take());
        let all = fetch(&req.state().handle, kind, &query, &properties).await?;
        let n = all.len();
        let items = all
            .into_iter()
            .skip(offset.unwrap_or(0) as usize)
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        (items, n)
    };
    let items: Vec<Value> = items
        .into_iter()
        .map(|v| project(v, fields.as_deref()))
        .collect();
    Ok(json!({ kind.plural(): items, "meta": { "total": total } }))
}

/// A single entity: the collection filtered by `key`, 404 when empty.
async fn single(req: Req, kind: Kind, key: Vec<(&str, String)>) -> tide::Result {
    Ok(match single_value(&req, kind, key).await {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

async fn single_value(req: &Req, kind: Kind, key: Vec<(&str, String)>) -> Result<Value, ApiError> {
    let with_props = matches!(kind, Kind::Builds | Kind::BuildRequests);
    let spec = spec::parse(&pairs(req), kind.fields(), with_props, false)?;
    let mut q = Query::new();
    for (f, v) in key {
        q = q.filter(f, Op::Eq, [v]);
    }
    let item = fetch(&req.state().handle, kind, &q, &spec.properties)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(req))?;
    Ok(json!({ kind.plural(): [project(item, spec.fields.as_deref())], "meta": {} }))
}

async fn builder_id(req: &Req, param: &str) -> Result<Option<BuilderId>, ApiError> {
    let raw = req.param(param).unwrap_or_default();
    if let Ok(id) = raw.trim().parse::<i64>() {
        return Ok(Some(BuilderId(id)));
    }
    let builders = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new().eq("name", raw), None)
        .await?;
    Ok(builders.first().map(|b| b.builderid))
}

/// A worker row addressed by id or name.
async fn find_worker(req: &Req) -> Result<Option<(i64, String)>, DbError> {
    let raw = req.param("id").unwrap_or_default();
    let db = req.state().handle.db();
    let w = match raw.trim().parse::<i64>() {
        Ok(id) => db.get_worker(buildbot_db::WorkerId(id)).await?,
        Err(_) => db.get_worker_by_name(raw).await?,
    };
    Ok(w.map(|w| (w.workerid.0, w.name)))
}

async fn worker_one(req: Req) -> tide::Result {
    match find_worker(&req).await {
        Ok(Some((id, _))) => single(req, Kind::Workers, vec![("workerid", id.to_string())]).await,
        Ok(None) => Ok(error_response(not_found(&req))),
        Err(e) => Ok(error_response(e.into())),
    }
}

async fn builder_one(req: Req) -> tide::Result {
    let id = match builder_id(&req, "builder").await {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_response(not_found(&req))),
        Err(e) => return Ok(error_response(e)),
    };
    single(req, Kind::Builders, vec![("builderid", id.0.to_string())]).await
}

async fn builder_builds(req: Req) -> tide::Result {
    match builder_id(&req, "builder").await {
        Ok(Some(id)) => collection(req, Kind::Builds, vec![("builderid", id.0.to_string())]).await,
        Ok(None) => collection(req, Kind::Builds, vec![("builderid", "-1".into())]).await,
        Err(e) => Ok(error_response(e)),
    }
}

async fn builder_build(req: Req) -> tide::Result {
    let id = match builder_id(&req, "builder").await {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_response(not_found(&req))),
        Err(e) => return Ok(error_response(e)),
    };
    let number = match param_i64(&req, "number") {
        Ok(n) => n,
        Err(e) => return Ok(error_response(e)),
    };
    single(
        req,
        Kind::Builds,
        vec![
            ("builderid", id.0.to_string()),
            ("number", number.to_string()),
        ],
    )
    .await
}

fn by_id(kind: Kind, field: &'static str) -> impl tide::Endpoint<State> {
    move |req: Req| async move {
        match param_i64(&req, "id") {
            Ok(id) => single(req, kind, vec![(field, id.to_string())]).await,
            Err(e) => Ok(error_response(e)),
        }
    }
}

fn nested(kind: Kind, field: &'static str) -> impl tide::Endpoint<State> {
    move |req: Req| async move {
        match param_i64(&req, "id") {
            Ok(id) => collection(req, kind, vec![(field, id.to_string())]).await,
            Err(e) => Ok(error_response(e)),
        }
    }
}

/// The log of `/logs/:id/…` or `/steps/:id/logs/:slug/…`.
async fn find_log(req: &Req) -> Result<buildbot_db::LogRow, ApiError> {
    let id = param_i64(req, "id")?;
    let db = req.state().handle.db();
    let log = match req.param("slug") {
        Ok(slug) => db.get_log_by_slug(StepId(id), slug).await?,
        Err(_) => db.get_log(LogId(id)).await?,
    };
    log.ok_or_else(|| not_found(req))
}

async fn log_by_slug(req: Req) -> tide::Result {
    let r = match find_log(&req).await {
        Ok(l) => single_value(&req, Kind::Logs, vec![("logid", l.logid.0.to_string())]).await,
        Err(e) => Err(e),
    };
    Ok(match r {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

async fn log_contents(req: Req) -> tide::Result {
    Ok(match log_contents_value(&req).await {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

async fn log_contents_value(req: &Req) -> Result<Value, ApiError> {
    const FIELDS: &[&str] = &["content", "firstline", "logid"];
    let spec = spec::parse(&pairs(req), FIELDS, false, false)?;
    let db = req.state().handle.db();
    let log = find_log(req).await?;
    let logid = log.logid;
    let first = spec.query.offset.map_or(0, |o| o as i64);
    let chunk = if log.num_lines == 0 && first == 0 {
        json!({"content": "", "firstline": 0, "logid": logid.0})
    } else {
        let last = match spec.query.limit {
            Some(l) => (first + l as i64 - 1).min(log.num_lines - 1),
            None => log.num_lines - 1,
        };
        if first >= log.num_lines || last < first {
            return Err(not_found(req));
        }
        let content = db.get_log_lines(logid, first, last).await?;
        json!({"content": content, "firstline": first, "logid": logid.0})
    };
    Ok(json!({"logchunks": [project(chunk, spec.fields.as_deref())], "meta": {}}))
}

async fn log_raw(req: Req) -> tide::Result {
    let r = async {
        let db = req.state().handle.db().clone();
        let log = find_log(&req).await?;
        let logid = log.logid;
        let mut header = String::new();
        let mut filename = Vec::new();
        if let Some(step) = db.get_step(log.stepid).await? {
            if let Some(b) = db.get_build(step.buildid).await? {
                let bname = db
                    .get_builder(b.builderid)
                    .await?
                    .map(|x| x.name)
                    .unwrap_or_default();
                let wname = match b.workerid {
                    Some(w) => db.get_worker(w).await?.map(|x| x.name).unwrap_or_default(),
                    None => String::new(),
                };
                header = format!(
                    "Builder: {bname}\nBuild number: {}\nWorker name: {wname}\n",
                    b.number
                );
                filename.push(format!("{bname}_build_{}", b.number));
            }
            filename.push(format!("step_{}", step.name));
        }
        filename.push(format!("log_{}", log.slug));
        let stdio = log.kind() == Some(LogType::Stdio);
        let (tx, rx) = async_std::channel::bounded::<Result<Vec<u8>, std::io::Error>>(4);
        async_std::task::spawn(async move {
            if stdio && tx.send(Ok(header.into_bytes())).await.is_err() {
                return;
            }
            let mut chunks = Box::pin(db.log_chunks(logid));
            while let Some(c) = chunks.next().await {
                let item = c
                    .map(|c| {
                        if stdio {
                            let mut out = String::with_capacity(c.text.len());
                            for line in c.text.split_inclusive('\n') {
                                let mut cs = line.chars();
                                cs.next();
                                out.push_str(cs.as_str());
                            }
                            out.into_bytes()
                        } else {
                            c.text.into_bytes()
                        }
                    })
                    .map_err(std::io::Error::other);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        let mime = if log.kind() == Some(LogType::Html) {
            "text/html; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        let reader = futures::TryStreamExt::into_async_read(rx);
        let mut r = Response::new(StatusCode::Ok);
        r.set_body(tide::Body::from_reader(reader, None));
        r.set_content_type(mime);
        r.insert_header(
            "Content-Disposition",
            format!("attachment; filename={}", filename.join("_")),
        );
        Ok::<_, ApiError>(r)
    }
    .await;
    Ok(r.unwrap_or_else(error_response))
}

async fn forceschedulers(req: Req) -> tide::Result {
    Ok(match forceschedulers_value(&req) {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

fn forceschedulers_value(req: &Req) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), FORCESCHEDULER_FIELDS, false, true)?;
    let cfg = req.state().handle.config();
    let mut all: Vec<Value> = cfg
        .schedulers
        .iter()
        .filter_map(|s| match &s.kind {
            SchedulerKind::Force {
                button_name, label, ..
            } => Some(json!({
                "all_fields": [],
                "builder_names": s.builder_names,
                "button_name": button_name,
                "enabled": true,
                "label": label,
                "name": s.name,
            })),
            _ => None,
        })
        .collect();
    for f in &spec.query.filters {
        all.retain(|v| {
            let got = match &v[f.field.as_str()] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (f.op == Op::Ne) != f.values.contains(&got)
        });
    }
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip(spec.query.offset.unwrap_or(0) as usize)
        .take(spec.query.limit.map_or(usize::MAX, |l| l as usize))
        .map(|v| project(v, spec.fields.as_deref()))
        .collect();
    Ok(json!({"forceschedulers": items, "meta": {"total": total}}))
}

async fn invalid_path(req: Req) -> tide::Result {
    let path = req
        .url()
        .path()
        .trim_start_matches("/api/v2")
        .trim_start_matches('/')
        .to_owned();
    Ok(error_response(ApiError::Status(
        StatusCode::NotFound,
        format!("Invalid path: {path}"),
    )))
}

// ---- JSON-RPC ------------------------------------------------------------------------------

struct RpcError {
    status: StatusCode,
    code: i64,
    message: Value,
}

fn rpc_err(status: StatusCode, code: i64, message: impl Into<Value>) -> RpcError {
    RpcError {
        status,
        code,
        message: message.into(),
    }
}

fn master_err(e: MasterError) -> RpcError {
    match e {
        MasterError::InvalidParameter { name, message } => {
            rpc_err(StatusCode::BadRequest, -32602, json!({ name: message }))
        }
        MasterError::NotFound { .. } => rpc_err(StatusCode::NotFound, -32603, e.to_string()),
        e => rpc_err(StatusCode::InternalServerError, -32603, e.to_string()),
    }
}

fn buildset_result(bsid: BuildsetId, brids: Vec<(BuilderId, BuildRequestId)>) -> Value {
    let map: serde_json::Map<String, Value> = brids
        .into_iter()
        .map(|(b, r)| (b.0.to_string(), json!(r.0)))
        .collect();
    json!([bsid.0, map])
}

/// Which control endpoint was posted to.
#[derive(Clone, Copy)]
enum Target {
    ForceScheduler,
    Build,
    BuildRequest,
    Worker,
}

fn rpc(target: Target) -> impl tide::Endpoint<State> {
    move |mut req: Req| async move {
        let body = req.body_bytes().await.unwrap_or_default();
        let ctype_ok = req
            .content_type()
            .is_some_and(|m| m.essence() == "application/json");
        let mut id = None;
        let r = async {
            if !ctype_ok {
                return Err(rpc_err(
                    StatusCode::BadRequest,
                    -32600,
                    "Invalid content-type (use application/json)",
                ));
            }
            let v: Value = serde_json::from_slice(&body).map_err(|e| {
                rpc_err(
                    StatusCode::BadRequest,
                    -32700,
                    format!("JSON parse error: {e}"),
                )
            })?;
            let bad = |m: &str| rpc_err(StatusCode::BadRequest, -32600, m.to_owned());
            let obj = match &v {
                Value::Array(_) => return Err(bad("JSONRPC batch requests are not supported")),
                Value::Object(o) => o,
                _ => return Err(bad("JSONRPC root object must be an object")),
            };
            for k in ["jsonrpc", "method", "id", "params"] {
                if !obj.contains_key(k) {
                    return Err(bad(&format!("missing key '{k}'")));
                }
            }
            id = Some(obj["id"].clone());
            if obj["jsonrpc"] != "2.0" {
                return Err(bad("only JSONRPC 2.0 is supported"));
            }
            let Some(method) = obj["method"].as_str() else {
                return Err(bad("'method' must be a string"));
            };
            let Some(params) = obj["params"].as_object() else {
                return Err(bad("'params' must be an object"));
            };
            dispatch(&req, target, method, params).await
        }
        .await;
        let mut resp;
        match r {
            Ok(result) => {
                resp = Response::new(StatusCode::Ok);
                resp.set_body(
                    json!({"id": id.unwrap_or(Value::Null), "jsonrpc": "2.0", "result": result})
                        .to_string(),
                );
            }
            Err(e) => {
                resp = Response::new(e.status);
                let mut body =
                    json!({"jsonrpc": "2.0", "error": {"code": e.code, "message": e.message}});
                if let Some(id) = id {
                    body["id"] = id;
                }
                resp.set_body(body.to_string());
            }
        }
        resp.set_content_type("application/json");
        Ok(resp)
    }
}

/// The fields every force form has (rest-api.md §7.2), not custom parameters: the source
/// stamp fields (also codebase-prefixed) and `priority` are not passed on as properties.
fn is_standard_force_field(k: &str) -> bool {
    const SS: [&str; 4] = ["branch", "revision", "repository", "project"];
    matches!(
        k,
        "builderNames" | "builderid" | "username" | "reason" | "owner" | "priority"
    ) || SS.contains(&k)
        || SS.iter().any(|f| k.ends_with(&format!("_{f}")))
}

fn reason(params: &serde_json::Map<String, Value>) -> String {
    params
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("no reason")
        .to_owned()
}

async fn dispatch(
    req: &Req,
    target: Target,
    method: &str,
    params: &serde_json::Map<String, Value>,
) -> Result<Value, RpcError> {
    let m = &req.state().handle;
    let unsupported = || {
        rpc_err(
            StatusCode::NotImplemented,
            -32601,
            format!("action: {method} is not supported"),
        )
    };
    let id = || {
        req.param("id")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                rpc_err(
                    StatusCode::NotFound,
                    -32600,
                    format!(
                        "Invalid path: {}",
                        req.url().path().trim_start_matches("/api/v2/")
                    ),
                )
            })
    };
    match (target, method) {
        (Target::ForceScheduler, "force") => {
            let name = req.param("name").unwrap_or_default().to_owned();
            let owner = params
                .get("username")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("anonymous");
            let why = params
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("force build");
            let mut fr = ForceRequest::new(owner, why);
            if let Some(names) = params.get("builderNames").and_then(Value::as_array) {
                fr = fr.builders(names.iter().filter_map(Value::as_str));
            } else if let Some(bid) = params.get("builderid").and_then(Value::as_i64) {
                let b = m
                    .db()
                    .get_builder(BuilderId(bid))
                    .await
                    .map_err(|e| rpc_err(StatusCode::InternalServerError, -32603, e.to_string()))?
                    .ok_or_else(|| {
                        rpc_err(
                            StatusCode::InternalServerError,
                            -32603,
                            format!("KeyError('no builder {bid}')"),
                        )
                    })?;
                fr = fr.builders([b.name]);
            }
            for (k, v) in params {
                if !is_standard_force_field(k) {
                    fr = fr.property(k.clone(), v.clone());
                }
            }
            let (bsid, brids) = m.force(&name, fr).await.map_err(master_err)?;
            Ok(buildset_result(bsid, brids))
        }
        (Target::ForceScheduler, _) => Ok(Value::Null),
        (Target::Build, "stop") => {
            m.stop_build(BuildId(id()?), &reason(params))
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::Build, "rebuild") => {
            let (bsid, brids) = m.rebuild(BuildId(id()?)).await.map_err(master_err)?;
            Ok(buildset_result(bsid, brids))
        }
        (Target::BuildRequest, "cancel") => {
            m.cancel_request(BuildRequestId(id()?), &reason(params))
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::Worker, "stop" | "pause" | "unpause" | "kill") => {
            let name = match find_worker(req).await {
                Ok(Some((_, name))) => name,
                Ok(None) => {
                    return Err(rpc_err(
                        StatusCode::InternalServerError,
                        -32603,
                        "worker not found",
                    ));
                }
                Err(e) => {
                    return Err(rpc_err(
                        StatusCode::InternalServerError,
                        -32603,
                        e.to_string(),
                    ));
                }
            };
            let why = params.get("reason").and_then(Value::as_str);
            match method {
                "pause" => m.pause_worker(&name, why).await,
                "unpause" => m.unpause_worker(&name).await,
                "stop" => m.graceful_stop_worker(&name).await,
                _ => m.kill_worker(&name).await,
            }
            .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::BuildRequest, _) => Err(rpc_err(
            StatusCode::InternalServerError,
            -32603,
            format!("ValueError('action: {method} is not supported')"),
        )),
        _ => Err(unsupported()),
    }
}

/// `HEAD`: answered like `GET` (same headers, incl. `Content-Length`), without a body.
fn head_as_get<'a>(
    mut req: Req,
    next: tide::Next<'a, State>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = tide::Result> + Send + 'a>> {
    Box::pin(async move {
        let head = req.method() == tide::http::Method::Head;
        if head {
            let r: &mut tide::http::Request = req.as_mut();
            r.set_method(tide::http::Method::Get);
        }
        let mut res = next.run(req).await;
        if head {
            let len = res.len();
            let _ = res.take_body();
            if let Some(len) = len {
                res.insert_header("Content-Length", len.to_string());
            }
        }
        Ok(res)
    })
}

/// Adds the `/api/v2` routes (and `HEAD` answered as `GET`) to `app`.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.with(head_as_get);
    let c = |k: Kind| move |req: Req| collection(req, k, Vec::new());
    app.at("/api/v2/builds").get(c(Kind::Builds));
    app.at("/api/v2/builds/:id")
        .get(by_id(Kind::Builds, "buildid"))
        .post(rpc(Target::Build));
    app.at("/api/v2/builds/:id/steps")
        .get(nested(Kind::Steps, "buildid"));
    app.at("/api/v2/builders").get(c(Kind::Builders));
    app.at("/api/v2/builders/:builder").get(builder_one);
    app.at("/api/v2/builders/:builder/builds")
        .get(builder_builds);
    app.at("/api/v2/builders/:builder/builds/:number")
        .get(builder_build);
    app.at("/api/v2/workers").get(c(Kind::Workers));
    app.at("/api/v2/workers/:id")
        .get(worker_one)
        .post(rpc(Target::Worker));
    app.at("/api/v2/buildrequests").get(c(Kind::BuildRequests));
    app.at("/api/v2/buildrequests/:id")
        .get(by_id(Kind::BuildRequests, "buildrequestid"))
        .post(rpc(Target::BuildRequest));
    app.at("/api/v2/buildsets").get(c(Kind::Buildsets));
    app.at("/api/v2/buildsets/:id")
        .get(by_id(Kind::Buildsets, "bsid"));
    app.at("/api/v2/steps/:id")
        .get(by_id(Kind::Steps, "stepid"));
    app.at("/api/v2/steps/:id/logs")
        .get(nested(Kind::Logs, "stepid"));
    app.at("/api/v2/logs/:id").get(by_id(Kind::Logs, "logid"));
    app.at("/api/v2/steps/:id/logs/:slug").get(log_by_slug);
    app.at("/api/v2/steps/:id/logs/:slug/contents")
        .get(log_contents);
    app.at("/api/v2/steps/:id/logs/:slug/raw").get(log_raw);
    app.at("/api/v2/logs/:id/contents").get(log_contents);
    app.at("/api/v2/logs/:id/raw").get(log_raw);
    app.at("/api/v2/masters").get(c(Kind::Masters));
    app.at("/api/v2/masters/:id")
        .get(by_id(Kind::Masters, "masterid"));
    app.at("/api/v2/changes").get(c(Kind::Changes));
    app.at("/api/v2/changes/:id")
        .get(by_id(Kind::Changes, "changeid"));
    app.at("/api/v2/forceschedulers").get(forceschedulers);
    app.at("/api/v2/forceschedulers/:name")
        .post(rpc(Target::ForceScheduler));
    app.at("/api/v2/*").get(invalid_path).post(invalid_path);
    app.at("/api/v2/").get(invalid_path).post(invalid_path);
}
