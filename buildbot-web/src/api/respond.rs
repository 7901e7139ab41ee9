//! The answers of the REST routes: [`ApiError`] and its text body, JSON rendered as the
//! client wants it (Buildbot's indented text, or compact with `Accept: application/json`),
//! answers kept in the response cache, and the [`ep!`] wrapper of value-returning handlers.

use buildbot_db::DbError;
use serde_json::{Value, json};
use tide::{Response, StatusCode};

use crate::json;
use crate::spec::BadRequest;
use crate::state::Req;

/// An error answer.
pub(super) enum ApiError {
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

pub(super) fn not_found(req: &Req) -> ApiError {
    ApiError::Status(
        StatusCode::NotFound,
        format!(
            "not found while getting from endpoint for {}",
            req.url().path().trim_start_matches("/api/v2")
        ),
    )
}

pub(super) fn error_response(e: ApiError) -> Response {
    let ApiError::Status(status, msg) = e;
    let mut r = Response::new(status);
    r.insert_header("Content-Type", "text/plain; charset=utf-8");
    r.set_body(json::py_line(&json!({ "error": msg })));
    r
}

pub(super) fn invalid_path(req: &Req) -> ApiError {
    ApiError::Status(
        StatusCode::NotFound,
        format!(
            "Invalid path: {}",
            req.url().path().trim_start_matches("/api/v2/")
        ),
    )
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

pub(super) fn render(req: &Req, v: &Value) -> Response {
    let (content_type, body) = rendered(wants_compact(req), v);
    crate::cache::response(content_type, body)
}

/// Answers from the response cache, or computes the value and keeps its rendering.
pub(super) async fn cached<F>(req: &Req, compute: F) -> Response
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

/// Wraps `async fn(&Req) -> Result<Value, ApiError>` as a tide endpoint.
macro_rules! ep {
    ($f:path) => {
        |req: $crate::state::Req| async move {
            Ok(match $f(&req).await {
                Ok(v) => $crate::api::respond::render(&req, &v),
                Err(e) => $crate::api::respond::error_response(e),
            })
        }
    };
}
pub(super) use ep;
