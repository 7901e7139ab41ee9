//! The guard in front of `/api/…`: the `Origin` check (`crate::origin`: this site,
//! `buildbotURL` or `www.allowed_origins`) and the CORS headers (rest-api.md §13), the method
//! check (§4), and `HEAD` answered like `GET`.

use serde_json::{Value, json};
use tide::{Response, StatusCode};

use crate::State;
use crate::json;
use crate::origin::Origin;
use crate::state::Req;

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
        let method = req.method();
        let mut cors = None;
        if is_api {
            match crate::origin::check_logged(&req, "API request") {
                Origin::Refused(_) => {
                    let body = if method == Method::Post {
                        json!({"error": {"message": "invalid origin"}})
                    } else {
                        json!({"error": "invalid origin"})
                    };
                    return Ok(plain_error(StatusCode::BadRequest, body));
                }
                Origin::Allowed(o) => cors = Some(o),
                Origin::Absent => {}
            }
            let allowed = matches!(method, Method::Get | Method::Head | Method::Post)
                || (method == Method::Options && cors.is_some());
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
