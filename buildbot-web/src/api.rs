//! Routes of `/api/v2`.

use std::collections::BTreeMap;

use buildbot_core::master::config::SchedulerKind;
use buildbot_core::master::{ForceRequest, MasterError, MasterHandle};

use crate::State;
use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, DbError, LogType, Op, Query, SchedulerId,
};
use futures::StreamExt;
use serde_json::{Value, json};
use tide::{Request, Response, StatusCode};

use crate::json::{self, *};
use crate::spec::{self, BadRequest, Spec};

mod mem;
mod more;

use more::ep;

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
    r.insert_header("Content-Type", "text/plain; charset=utf-8");
    r.set_body(json::py_line(&json!({ "error": msg })));
    r
}

fn pairs(req: &Req) -> Vec<(String, String)> {
    req.url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether the client asked for compact JSON (`Accept: application/json`) rather than
/// Buildbot's indented text.
fn wants_compact(req: &Req) -> bool {
    req.header("Accept")
        .is_some_and(|h| h.as_str().contains("application/json"))
}

/// The body of `v` as the client wants it: `(content type, text)`.
fn rendered(compact: bool, v: &Value) -> (&'static str, String) {
    if compact {
        ("application/json; charset=utf-8", v.to_string())
    } else {
        ("text/plain; charset=utf-8", json::pretty(v))
    }
}

fn render(req: &Req, v: &Value) -> Response {
    let (content_type, body) = rendered(wants_compact(req), v);
    crate::cache::response(content_type, body)
}

/// Answers from the response cache, or computes the value and keeps its rendering.
async fn cached<F>(req: &Req, compute: F) -> Response
where
    F: std::future::Future<Output = Result<Value, ApiError>>,
{
    let compact = wants_compact(req);
    let cache = &req.state().shared.responses;
    let current = req.state().handle.db().stats().write_generation();
    if let Some(r) = cache.lookup(req, compact, current) {
        return r;
    }
    // read before the query: a write during it makes the entry stale at once
    let generation = req.state().handle.db().stats().write_generation();
    match compute.await {
        Ok(v) => {
            let (content_type, body) = rendered(compact, &v);
            cache.store(req, compact, generation, content_type, body)
        }
        Err(e) => error_response(e),
    }
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
        Kind::BuildRequests => {
            let mut out = Vec::new();
            let mut cache: BTreeMap<i64, Value> = BTreeMap::new();
            for r in db.list_buildrequests(q).await? {
                let mut v = buildrequest(&r);
                if !properties.is_empty() {
                    let p = match cache.get(&r.buildsetid.0) {
                        Some(p) => p.clone(),
                        None => {
                            let props = db.get_buildset_properties(r.buildsetid).await?;
                            let p = more::filter_props(&props, properties);
                            cache.insert(r.buildsetid.0, p.clone());
                            p
                        }
                    };
                    v["properties"] = p;
                }
                out.push(v);
            }
            out
        }
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
    Ok(cached(&req, collection_value(&req, kind, base)).await)
}

async fn collection_value(
    req: &Req,
    kind: Kind,
    base: Vec<(&str, String)>,
) -> Result<Value, ApiError> {
    let base = base
        .into_iter()
        .map(|(f, v)| buildbot_db::Filter {
            field: f.to_owned(),
            op: Op::Eq,
            values: vec![v],
        })
        .collect();
    collection_value_with(req, kind, base).await
}

/// A collection with `base` filters from the path added to the query's.
async fn collection_value_with(
    req: &Req,
    kind: Kind,
    base: Vec<buildbot_db::Filter>,
) -> Result<Value, ApiError> {
    let with_props = matches!(kind, Kind::Builds | Kind::BuildRequests);
    let Spec {
        fields,
        mut query,
        properties,
    } = spec::parse(&pairs(req), kind.fields(), with_props, true)?;
    query.filters.extend(base);
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
    Ok(cached(&req, single_value(&req, kind, key)).await)
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

/// The log addressed by the path (`/logs/:logid/…` or a step's `logs/:slug/…`).
async fn find_log(req: &Req) -> Result<buildbot_db::LogRow, ApiError> {
    more::resolve_log(req).await
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
    log_raw_as(req, false).await
}

async fn log_raw_inline(req: Req) -> tide::Result {
    log_raw_as(req, true).await
}

async fn log_raw_as(req: Req, inline: bool) -> tide::Result {
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
        r.insert_header("Content-Type", mime);
        if !inline {
            r.insert_header(
                "Content-Disposition",
                format!("attachment; filename={}", filename.join("_")),
            );
        }
        Ok::<_, ApiError>(r)
    }
    .await;
    Ok(r.unwrap_or_else(error_response))
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

/// POST to an unknown path: a JSON-RPC error (rest-api.md §7.1).
async fn invalid_path_rpc(req: Req) -> tide::Result {
    let path = req
        .url()
        .path()
        .trim_start_matches("/api/v2")
        .trim_start_matches('/')
        .to_owned();
    let mut r = Response::new(StatusCode::NotFound);
    r.insert_header("Content-Type", "application/json");
    r.set_body(
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": format!("Invalid path: {path}")}})
            .to_string(),
    );
    Ok(r)
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
    Scheduler,
    /// A collection or other endpoint without actions (501).
    Other,
}

/// The build of a `stop`/`rebuild` target: `/builds/:id` or `/builders/:builder/builds/:number`.
async fn build_target(
    req: &Req,
    id: impl Fn() -> Result<i64, RpcError>,
) -> Result<BuildId, RpcError> {
    if req.param("id").is_ok() {
        return Ok(BuildId(id()?));
    }
    match more::resolve_build(req).await {
        Ok(Some(b)) => Ok(b.buildid),
        Ok(None) => Err(rpc_err(
            StatusCode::NotFound,
            -32603,
            "not found: no such build",
        )),
        Err(ApiError::Status(s, m)) => Err(rpc_err(s, -32600, m)),
    }
}

/// Largest JSON-RPC body accepted (`413` above).
const MAX_RPC_BODY: u64 = 1 << 20;

/// Reads at most [`MAX_RPC_BODY`] bytes of the body; `Err` = too large (or unreadable).
async fn read_body(req: &mut Req) -> Result<Vec<u8>, Response> {
    use futures::AsyncReadExt;
    let too_large = || {
        let mut r = Response::new(StatusCode::PayloadTooLarge);
        r.insert_header("Content-Type", "application/json");
        r.set_body(
            json!({"jsonrpc": "2.0", "error": {"code": -32600,
                "message": format!("request body larger than {MAX_RPC_BODY} bytes")}})
            .to_string(),
        );
        r.insert_header("Connection", "close");
        r
    };
    let declared = req
        .header("Content-Length")
        .and_then(|h| h.as_str().trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RPC_BODY) {
        return Err(too_large());
    }
    let body = req.take_body();
    let mut out = Vec::new();
    let mut limited = body.take(MAX_RPC_BODY + 1);
    if limited.read_to_end(&mut out).await.is_err() {
        let mut r = Response::new(StatusCode::BadRequest);
        r.set_body(json!({"error": "unreadable request body"}).to_string());
        return Err(r);
    }
    if out.len() as u64 > MAX_RPC_BODY {
        return Err(too_large());
    }
    Ok(out)
}

fn rpc(target: Target) -> impl tide::Endpoint<State> {
    move |mut req: Req| async move {
        let body = match read_body(&mut req).await {
            Ok(b) => b,
            Err(resp) => return Ok(resp),
        };
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
                resp.set_body(json::py_line(&body));
            }
        }
        resp.insert_header("Content-Type", "application/json");
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
    if let Err(d) = crate::auth::authorize_rpc(req, method, params).await {
        return Err(rpc_err(StatusCode::Forbidden, -32600, d.to_string()));
    }
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
            if let Some(p) = params.get("priority") {
                let ok = match p {
                    Value::Number(n) => n.is_i64(),
                    Value::String(t) => t.is_empty() || mem::py_int(t).is_some(),
                    Value::Null => true,
                    _ => false,
                };
                if !ok {
                    let shown = match p {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    return Err(rpc_err(
                        StatusCode::BadRequest,
                        -32602,
                        json!({"priority": format!("invalid literal for int() with base 10: '{shown}'")}),
                    ));
                }
            }
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
            // only the scheduler's own parameters become properties; unknown keys are
            // ignored, as Buildbot's force scheduler does
            let cfg = m.config();
            let known: Vec<String> = match cfg.scheduler(&name).map(|s| &s.kind) {
                Some(SchedulerKind::Force { parameters, .. }) => {
                    parameters.iter().map(|p| p.name.clone()).collect()
                }
                _ => Vec::new(),
            };
            for (k, v) in params {
                if !is_standard_force_field(k) && known.contains(k) {
                    fr = fr.property(k.clone(), v.clone());
                }
            }
            let (bsid, brids) = m.force(&name, fr).await.map_err(master_err)?;
            Ok(buildset_result(bsid, brids))
        }
        (Target::ForceScheduler, _) => Ok(Value::Null),
        (Target::Build, "stop") => {
            let bid = build_target(req, id).await?;
            m.stop_build(bid, &reason(params))
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::Build, "rebuild") => {
            let bid = build_target(req, id).await?;
            let (bsid, brids) = m.rebuild(bid).await.map_err(master_err)?;
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
        (Target::BuildRequest, "set_priority") => {
            let brid = BuildRequestId(id()?);
            let priority = match params.get("priority") {
                Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or_default(),
                Some(Value::String(s)) if mem::py_int(s).is_some() => {
                    mem::py_int(s).unwrap_or_default()
                }
                _ => {
                    return Err(rpc_err(
                        StatusCode::BadRequest,
                        -32602,
                        json!({"priority": "priority must be an integer"}),
                    ));
                }
            };
            m.set_request_priority(brid, priority)
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::Scheduler, "enable") => {
            let Some(enabled) = params.get("enabled").and_then(Value::as_bool) else {
                return Err(rpc_err(
                    StatusCode::InternalServerError,
                    -32603,
                    "KeyError('enabled')",
                ));
            };
            m.set_scheduler_enabled(SchedulerId(id()?), enabled)
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (Target::Scheduler, _) => Ok(Value::Null),
        (Target::BuildRequest, _) => Err(rpc_err(
            StatusCode::InternalServerError,
            -32603,
            format!("ValueError('action: {method} is not supported')"),
        )),
        _ => Err(unsupported()),
    }
}

/// The origins allowed to call the API (`www.allowed_origins`, default: the origin of
/// `buildbotURL`), lower-cased glob patterns.
fn allowed_origins(state: &State) -> Vec<String> {
    let cfg = state.handle.config();
    if let Some(v) = cfg.www.extra.get("allowed_origins")
        && let Some(a) = v.as_array()
    {
        return a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .collect();
    }
    let url = cfg.buildbot_url.to_ascii_lowercase();
    let origin = match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url[..i + 3 + j].to_owned(),
            None => url.clone(),
        },
        None => url.clone(),
    };
    vec![origin]
}

/// `fnmatch`-style match with `*` and `?`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn plain_error(status: StatusCode, body: Value) -> Response {
    let mut r = Response::new(status);
    r.insert_header("Content-Type", "text/plain; charset=utf-8");
    r.set_body(json::py_line(&body));
    r
}

/// For `/api/…`: `HEAD` answered like `GET` (same headers, incl. `Content-Length`, no body),
/// CORS (rest-api.md §13) and the method check (§4).
fn api_guard<'a>(
    mut req: Req,
    next: tide::Next<'a, State>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = tide::Result> + Send + 'a>> {
    use tide::http::Method;
    Box::pin(async move {
        let is_api = req.url().path().starts_with("/api");
        let origin = req.header("Origin").map(|h| h.as_str().to_owned());
        let method = req.method();
        let mut cors = None;
        if is_api {
            if let Some(o) = &origin {
                let lo = o.to_ascii_lowercase();
                if !allowed_origins(req.state())
                    .iter()
                    .any(|p| glob(p.as_bytes(), lo.as_bytes()))
                {
                    let body = if method == Method::Post {
                        json!({"error": {"message": "invalid origin"}})
                    } else {
                        json!({"error": "invalid origin"})
                    };
                    return Ok(plain_error(StatusCode::BadRequest, body));
                }
                cors = Some(o.clone());
            }
            let allowed = matches!(method, Method::Get | Method::Head | Method::Post)
                || (method == Method::Options && origin.is_some());
            if !allowed {
                return Ok(plain_error(
                    StatusCode::BadRequest,
                    json!({"error": "invalid HTTP method"}),
                ));
            }
        }
        let add_cors = |r: &mut Response| {
            if let Some(o) = &cors {
                r.insert_header("Access-Control-Allow-Origin", o.as_str());
                r.insert_header("Access-Control-Allow-Headers", "Content-Type");
                r.insert_header("Access-Control-Max-Age", "3600");
            }
        };
        if is_api && method == Method::Options {
            let mut r = Response::new(StatusCode::Ok);
            r.insert_header("Content-Type", "text/html");
            r.set_body("");
            add_cors(&mut r);
            return Ok(r);
        }
        let head = method == Method::Head;
        if head {
            let r: &mut tide::http::Request = req.as_mut();
            r.set_method(Method::Get);
        }
        let mut res = next.run(req).await;
        add_cors(&mut res);
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

/// The route of `/api/v2<path>`, with POST answered "action not supported" (501).
fn at<'a>(app: &'a mut tide::Server<State>, path: &str) -> tide::Route<'a, State> {
    let full = format!("/api/v2{path}");
    app.at(&full).post(rpc(Target::Other));
    app.at(&full)
}

/// Adds the `/api/v2` routes (and `HEAD` answered as `GET`) to `app`.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.with(api_guard);
    let c = |k: Kind| move |req: Req| collection(req, k, Vec::new());
    // the version directory, the root and the spec
    app.at("/api").get(|req: Req| async move {
        let base = req.state().handle.config().buildbot_url.clone();
        let mut r = Response::new(StatusCode::Ok);
        r.insert_header("Content-Type", "application/json");
        r.set_body(json::py_line(
            &json!({"api_versions": {"v2": format!("{base}api/v2")}}),
        ));
        Ok(r)
    });
    app.at("/api/v2").get(ep!(more::root));
    app.at("/api/latest").get(ep!(more::root));
    app.at("/api/v2/application.spec")
        .get(ep!(more::application_spec));
    // builds
    at(app, "/builds").get(c(Kind::Builds));
    app.at("/api/v2/builds/:id")
        .get(by_id(Kind::Builds, "buildid"))
        .post(rpc(Target::Build));
    app.at("/api/v2/builders/:builder/builds/:number")
        .get(builder_build)
        .post(rpc(Target::Build));
    for b in ["/builds/:buildid", "/builders/:builder/builds/:number"] {
        at(app, &format!("{b}/steps")).get(ep!(more::build_steps));
        at(app, &format!("{b}/properties")).get(ep!(more::build_properties));
        at(app, &format!("{b}/data")).get(ep!(more::build_data));
        at(app, &format!("{b}/data/:name")).get(ep!(more::build_data_one));
        at(app, &format!("{b}/data/:name/value")).get(more::build_data_value);
        at(app, &format!("{b}/steps/:step")).get(ep!(more::step_one));
        at(app, &format!("{b}/steps/:step/logs")).get(ep!(more::step_logs));
        at(app, &format!("{b}/steps/:step/logs/:slug")).get(ep!(more::log_one));
        at(app, &format!("{b}/steps/:step/logs/:slug/contents")).get(log_contents);
        at(app, &format!("{b}/steps/:step/logs/:slug/raw")).get(log_raw);
        at(app, &format!("{b}/steps/:step/logs/:slug/raw_inline")).get(log_raw_inline);
    }
    at(app, "/builds/:buildid/property_list").get(ep!(more::build_property_list));
    at(app, "/builds/:buildid/changes").get(ep!(more::build_changes));
    at(app, "/builds/:buildid/triggered_builds").get(ep!(more::triggered_builds));
    at(app, "/builds/:buildid/test_result_sets").get(ep!(more::test_result_sets));
    // builders
    at(app, "/builders").get(c(Kind::Builders));
    at(app, "/builders/:builder").get(builder_one);
    at(app, "/builders/:builder/builds").get(builder_builds);
    at(app, "/builders/:builder/buildrequests").get(ep!(more::builder_requests));
    at(app, "/builders/:builder/workers").get(ep!(more::builder_workers));
    app.at("/api/v2/builders/:builder/workers/:worker")
        .get(ep!(more::builder_worker_one))
        .post(rpc(Target::Worker));
    at(app, "/builders/:builder/masters").get(ep!(more::builder_masters));
    at(app, "/builders/:builder/masters/:masterid").get(ep!(more::builder_master_one));
    at(app, "/builders/:builder/forceschedulers").get(ep!(more::forceschedulers));
    at(app, "/builders/:builder/test_result_sets").get(ep!(more::test_result_sets));
    // workers
    at(app, "/workers").get(c(Kind::Workers));
    app.at("/api/v2/workers/:id")
        .get(worker_one)
        .post(rpc(Target::Worker));
    at(app, "/workers/:id/builds").get(ep!(more::worker_builds));
    at(app, "/workers/:id/builders").get(ep!(more::worker_builders));
    // build requests, buildsets
    at(app, "/buildrequests").get(c(Kind::BuildRequests));
    app.at("/api/v2/buildrequests/:id")
        .get(by_id(Kind::BuildRequests, "buildrequestid"))
        .post(rpc(Target::BuildRequest));
    at(app, "/buildrequests/:id/builds").get(ep!(more::request_builds));
    at(app, "/buildsets").get(c(Kind::Buildsets));
    at(app, "/buildsets/:id").get(by_id(Kind::Buildsets, "bsid"));
    at(app, "/buildsets/:id/properties").get(ep!(more::buildset_properties));
    at(app, "/buildsets/:id/properties_list").get(ep!(more::buildset_properties_list));
    at(app, "/buildsets/:id/sourcestamps").get(ep!(more::buildset_sourcestamps));
    // steps, logs
    at(app, "/steps/:id").get(by_id(Kind::Steps, "stepid"));
    at(app, "/steps/:stepid/logs").get(ep!(more::step_logs));
    at(app, "/steps/:stepid/logs/:slug").get(ep!(more::log_one));
    at(app, "/steps/:stepid/logs/:slug/contents").get(log_contents);
    at(app, "/steps/:stepid/logs/:slug/raw").get(log_raw);
    at(app, "/steps/:stepid/logs/:slug/raw_inline").get(log_raw_inline);
    at(app, "/steps/:stepid/test_result_sets").get(ep!(more::test_result_sets));
    at(app, "/logs/:logid").get(ep!(more::log_one));
    at(app, "/logs/:logid/contents").get(log_contents);
    at(app, "/logs/:logid/raw").get(log_raw);
    at(app, "/logs/:logid/raw_inline").get(log_raw_inline);
    at(app, "/logchunks").get(ep!(more::logchunks_root));
    // masters
    at(app, "/masters").get(c(Kind::Masters));
    at(app, "/masters/:id").get(by_id(Kind::Masters, "masterid"));
    at(app, "/masters/:id/builders").get(ep!(more::master_builders));
    at(app, "/masters/:id/builders/:builderid").get(ep!(more::master_builder_one));
    at(app, "/masters/:id/workers").get(ep!(more::master_workers));
    at(app, "/masters/:masterid/schedulers").get(ep!(more::schedulers));
    app.at("/api/v2/masters/:masterid/schedulers/:id")
        .get(ep!(more::scheduler_one))
        .post(rpc(Target::Scheduler));
    at(app, "/masters/:masterid/changesources").get(ep!(more::changesources));
    at(app, "/masters/:masterid/changesources/:id").get(ep!(more::changesource_one));
    // changes, source stamps
    at(app, "/changes").get(c(Kind::Changes));
    at(app, "/changes/:id").get(by_id(Kind::Changes, "changeid"));
    at(app, "/changes/:id/builds").get(ep!(more::change_builds));
    at(app, "/changes/:id/properties_list").get(ep!(more::change_properties_list));
    at(app, "/sourcestamps").get(ep!(more::sourcestamps));
    at(app, "/sourcestamps/:id").get(ep!(more::sourcestamp_one));
    at(app, "/sourcestamps/:id/changes").get(ep!(more::sourcestamp_changes));
    // schedulers, change sources, force schedulers
    at(app, "/schedulers").get(ep!(more::schedulers));
    app.at("/api/v2/schedulers/:id")
        .get(ep!(more::scheduler_one))
        .post(rpc(Target::Scheduler));
    at(app, "/changesources").get(ep!(more::changesources));
    at(app, "/changesources/:id").get(ep!(more::changesource_one));
    at(app, "/forceschedulers").get(ep!(more::forceschedulers));
    app.at("/api/v2/forceschedulers/:name")
        .get(ep!(more::forcescheduler_one))
        .post(rpc(Target::ForceScheduler));
    // projects, codebases, test results
    at(app, "/projects").get(ep!(more::projects));
    at(app, "/projects/:project").get(ep!(more::project_one));
    at(app, "/projects/:project/builders").get(ep!(more::project_builders));
    at(app, "/codebases").get(ep!(more::codebases));
    at(app, "/codebases/:id").get(ep!(more::codebase_one));
    at(app, "/test_result_sets").get(ep!(more::test_result_sets));
    at(app, "/test_result_sets/:id").get(ep!(more::test_result_set_one));
    at(app, "/test_result_sets/:id/results").get(ep!(more::test_results));
    app.at("/api/v2/*").get(invalid_path).post(invalid_path_rpc);
    app.at("/api/v2/").get(invalid_path).post(invalid_path_rpc);
}
