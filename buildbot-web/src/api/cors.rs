//! The guard in front of `/api/…`: the `Origin` check against `www.allowed_origins` and the
//! CORS headers (rest-api.md §13), the method check (§4), and `HEAD` answered like `GET`.

use serde_json::{Value, json};
use tide::{Response, StatusCode};

use crate::State;
use crate::json;
use crate::state::Req;

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
pub(super) fn api_guard<'a>(
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
