//! Each route's request-body limit, in one place: the HTTP front end (`http`) asks here
//! before it reads any body, answers `413` to a declared `Content-Length` above the limit
//! and cuts a `chunked` body off there. A route whose limit is `0` reads no body.
//!
//! | route | limit | configured |
//! |---|---|---|
//! | `POST /api/...` (JSON-RPC) | [`MAX_RPC_BODY`] | — |
//! | `POST /change_hook[/DIALECT]`, dialect enabled | [`DEFAULT_CHANGE_HOOK_BODY`] | `[www] change_hook_max_body` |
//! | `POST /change_hook[/DIALECT]`, dialect not enabled | 0 (answered `400` unread) | `[www.change_hook_dialects]` |
//! | `POST /builders/NAME/force`, `POST /workers/NAME/{pause,unpause,stop}` (page forms) | [`MAX_FORM_BODY`] | — |
//! | `POST /auth/login` | [`MAX_LOGIN_BODY`] | — |
//! | everything else (every `GET`, unknown routes) | 0 | — |

use serde_json::json;
use tide::http::{Method, Response, StatusCode};

use crate::State;

/// Largest JSON-RPC body (`POST /api/...`).
pub(crate) const MAX_RPC_BODY: u64 = 1 << 20;
/// Largest page form body (force, worker actions).
pub(crate) const MAX_FORM_BODY: u64 = 64 << 10;
/// Largest login form body.
pub(crate) const MAX_LOGIN_BODY: u64 = 16 << 10;
/// Default of `[www] change_hook_max_body`: the largest change hook payload. GitHub caps its
/// webhook payloads at 25 MB (larger pushes are not delivered); raise this to accept them.
pub(crate) const DEFAULT_CHANGE_HOOK_BODY: u64 = 10 << 20;

/// The most body bytes the route of `method path` reads (`0`: it reads none).
pub(crate) fn body_limit(state: &State, method: Method, path: &str) -> u64 {
    if method != Method::Post {
        return 0;
    }
    if path.starts_with("/api/") {
        return MAX_RPC_BODY;
    }
    if let Some(rest) = path.strip_prefix("/change_hook")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        let dialect = match rest.trim_start_matches('/') {
            "" => "base",
            d => d,
        };
        let cfg = state.handle.config();
        return if crate::hooks::dialect_enabled(&cfg.www, dialect) {
            cfg.www
                .limits
                .change_hook_max_body
                .unwrap_or(DEFAULT_CHANGE_HOOK_BODY)
        } else {
            0
        };
    }
    if path == "/auth/login" {
        return MAX_LOGIN_BODY;
    }
    let mut segs = path.strip_prefix('/').unwrap_or(path).split('/');
    match (segs.next(), segs.next(), segs.next(), segs.next()) {
        (Some("builders"), Some(_), Some("force"), None)
        | (Some("workers"), Some(_), Some("pause" | "unpause" | "stop"), None) => MAX_FORM_BODY,
        _ => 0,
    }
}

/// The `413` answer for a body to `path` above `limit`: a JSON-RPC error under `/api/`,
/// a line of text elsewhere.
pub(crate) fn too_large(path: &str, limit: u64) -> Response {
    let message = format!("request body larger than {limit} bytes");
    let mut r = Response::new(StatusCode::PayloadTooLarge);
    if path.starts_with("/api/") {
        r.insert_header("Content-Type", "application/json");
        r.set_body(
            json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": message}}).to_string(),
        );
    } else {
        r.insert_header("Content-Type", "text/plain; charset=utf-8");
        r.set_body(message + "\n");
    }
    r.insert_header("Connection", "close");
    r
}
