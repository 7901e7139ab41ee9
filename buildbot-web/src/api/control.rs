//! The JSON-RPC control API (rest-api.md §7): a POST to an entity's path runs an action —
//! `force` on a force scheduler, `stop`/`rebuild` a build, `cancel`/`set_priority` a build
//! request, `pause`/`unpause`/`stop`/`kill` a worker, `enable` a scheduler — after
//! `auth::authorize_rpc` allowed it. Force semantics (fields, checks, defaults) are
//! `buildbot_core`'s: this module maps JSON-RPC to them and errors back.

use buildbot_core::master::MasterError;
use buildbot_db::{BuildId, BuildRequestId, BuilderId, BuildsetId, SchedulerId};
use serde_json::{Value, json};
use tide::{Response, StatusCode};

use super::builds::resolve_build;
use super::mem;
use super::query::param_i64;
use super::respond::ApiError;
use super::workers::find_worker;
use crate::State;
use crate::auth::EndpointKind;
use crate::json;
use crate::state::Req;

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
        MasterError::InvalidForceFields(errors) => {
            rpc_err(StatusCode::BadRequest, -32602, json!(errors))
        }
        MasterError::NotFound { .. } => rpc_err(StatusCode::NotFound, -32603, e.to_string()),
        e => rpc_err(StatusCode::InternalServerError, -32603, e.to_string()),
    }
}

impl From<ApiError> for RpcError {
    fn from(e: ApiError) -> Self {
        let ApiError::Status(status, message) = e;
        rpc_err(status, -32600, message)
    }
}

fn buildset_result(bsid: BuildsetId, brids: Vec<(BuilderId, BuildRequestId)>) -> Value {
    let map: serde_json::Map<String, Value> = brids
        .into_iter()
        .map(|(b, r)| (b.0.to_string(), json!(r.0)))
        .collect();
    json!([bsid.0, map])
}

/// The build of a `stop`/`rebuild` target: `/builds/:id` or `/builders/:builder/builds/:number`.
async fn build_target(
    req: &Req,
    id: impl Fn() -> Result<i64, RpcError>,
) -> Result<BuildId, RpcError> {
    if req.param("id").is_ok() {
        return Ok(BuildId(id()?));
    }
    match resolve_build(req).await {
        Ok(Some(b)) => Ok(b.buildid),
        Ok(None) => Err(rpc_err(
            StatusCode::NotFound,
            -32603,
            "not found: no such build",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Reads the body. The HTTP front end refuses a body above
/// [`MAX_RPC_BODY`](crate::body_limits::MAX_RPC_BODY) before it is read; this bound only
/// matters when the application is served some other way (e.g. in-process).
async fn read_body(req: &mut Req) -> Result<Vec<u8>, Response> {
    use crate::body_limits::MAX_RPC_BODY;
    use futures::AsyncReadExt;
    let path = req.url().path().to_owned();
    let declared = req
        .header("Content-Length")
        .and_then(|h| h.as_str().trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RPC_BODY) {
        return Err(crate::body_limits::too_large(&path, MAX_RPC_BODY).into());
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
        return Err(crate::body_limits::too_large(&path, MAX_RPC_BODY).into());
    }
    Ok(out)
}

pub(super) fn rpc(target: EndpointKind) -> impl tide::Endpoint<State> {
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

/// A parameter that must be a string when given (`Ok(None)`: absent or null); another
/// type is Buildbot's invalid-params error, before anything changes.
fn opt_str<'p>(
    params: &'p serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<&'p str>, RpcError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(rpc_err(
            StatusCode::BadRequest,
            -32602,
            json!({ key: format!("must be a string, not {}", buildbot_core::util::log_preview(&crate::json::py_line(other))) }),
        )),
    }
}

/// The `reason` of a stop or cancel (`no reason` when absent, as Buildbot says).
fn reason(params: &serde_json::Map<String, Value>) -> Result<String, RpcError> {
    Ok(opt_str(params, "reason")?.unwrap_or("no reason").to_owned())
}

async fn dispatch(
    req: &Req,
    target: EndpointKind,
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
    let id = || param_i64(req, "id").map_err(RpcError::from);
    match (target, method) {
        (EndpointKind::ForceScheduler, "force") => {
            let name = req.param("name").unwrap_or_default();
            // the session's user is the owner; anonymous: the `username` field
            let owner = crate::auth::current_user(req).map(|u| u.email.as_str());
            let fr = m.force_request(name, owner, params).map_err(master_err)?;
            let (bsid, brids) = m.force(name, fr).await.map_err(master_err)?;
            Ok(buildset_result(bsid, brids))
        }
        (EndpointKind::ForceScheduler, _) => Ok(Value::Null),
        (EndpointKind::Build, "stop") => {
            let bid = build_target(req, id).await?;
            m.stop_build(bid, &reason(params)?)
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (EndpointKind::Build, "rebuild") => {
            let bid = build_target(req, id).await?;
            let (bsid, brids) = m.rebuild(bid).await.map_err(master_err)?;
            Ok(buildset_result(bsid, brids))
        }
        (EndpointKind::BuildRequest, "cancel") => {
            m.cancel_request(BuildRequestId(id()?), &reason(params)?)
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (EndpointKind::Worker, "stop" | "pause" | "unpause" | "kill") => {
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
            let why = opt_str(params, "reason")?;
            match method {
                "pause" => m.pause_worker(&name, why).await,
                "unpause" => m.unpause_worker(&name).await,
                "stop" => m.graceful_stop_worker(&name).await,
                _ => m.kill_worker(&name).await,
            }
            .map_err(master_err)?;
            Ok(Value::Null)
        }
        (EndpointKind::BuildRequest, "set_priority") => {
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
        (EndpointKind::Scheduler, "enable") => {
            let enabled = match params.get("enabled") {
                Some(Value::Bool(b)) => *b,
                // Buildbot 4.3 answers a missing `enabled` with its KeyError
                None => {
                    return Err(rpc_err(
                        StatusCode::InternalServerError,
                        -32603,
                        "KeyError('enabled')",
                    ));
                }
                Some(other) => {
                    return Err(rpc_err(
                        StatusCode::BadRequest,
                        -32602,
                        json!({"enabled": format!("must be true or false, not {}", buildbot_core::util::log_preview(&crate::json::py_line(other)))}),
                    ));
                }
            };
            m.set_scheduler_enabled(SchedulerId(id()?), enabled)
                .await
                .map_err(master_err)?;
            Ok(Value::Null)
        }
        (EndpointKind::Scheduler, _) => Ok(Value::Null),
        (EndpointKind::BuildRequest, _) => Err(rpc_err(
            StatusCode::InternalServerError,
            -32603,
            format!("ValueError('action: {method} is not supported')"),
        )),
        _ => Err(unsupported()),
    }
}
