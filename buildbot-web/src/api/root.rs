//! The API's own resources: `/api` (the versions), the root listing of `/api/v2`,
//! `application.spec`, and the answers for unknown paths.

use serde_json::{Value, json};
use tide::{Response, StatusCode};

use super::query::mem_collection;
use super::respond::{ApiError, error_response};
use crate::json;
use crate::state::Req;

/// `/api`: the API versions.
pub(super) async fn versions(req: Req) -> tide::Result {
    let base = req.state().handle.config().buildbot_url.clone();
    let mut r = Response::new(StatusCode::Ok);
    r.insert_header("Content-Type", "application/json");
    r.set_body(json::py_line(
        &json!({"api_versions": {"v2": format!("{base}api/v2")}}),
    ));
    Ok(r)
}

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

/// The path asked for, below `/api/v2/`.
fn asked_path(req: &Req) -> &str {
    req.url()
        .path()
        .trim_start_matches("/api/v2")
        .trim_start_matches('/')
}

/// GET of an unknown path: `404` with Buildbot's `Invalid path` error.
pub(super) async fn unknown_path(req: Req) -> tide::Result {
    let path = asked_path(&req);
    Ok(error_response(ApiError::Status(
        StatusCode::NotFound,
        format!("Invalid path: {path}"),
    )))
}

/// POST to an unknown path: a JSON-RPC error (rest-api.md §7.1).
pub(super) async fn unknown_path_rpc(req: Req) -> tide::Result {
    let path = asked_path(&req);
    let mut r = Response::new(StatusCode::NotFound);
    r.insert_header("Content-Type", "application/json");
    r.set_body(
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": format!("Invalid path: {path}")}})
            .to_string(),
    );
    Ok(r)
}
