//! Answers of the page routes: a rendered page, the error page, a redirect; and the
//! plumbing that lets a handler return its error page with `?`.

use crate::state::Req;
use buildbot_db::DbError;
use serde_json::{Value, json};
use tide::{Response, StatusCode};

/// A page, or the error page to send instead.
pub(super) type PageResult = Result<Response, Response>;

/// A database error as a 500 page.
pub(super) trait OrPage<T> {
    fn or_page(self, req: &Req) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, DbError> {
    fn or_page(self, req: &Req) -> Result<T, Response> {
        self.map_err(|e| {
            log::error!("web page {}: {e}", req.url().path());
            error_page(req, StatusCode::InternalServerError, &e.to_string())
        })
    }
}

/// The answer of a handler's result.
pub(super) fn done(r: PageResult) -> tide::Result {
    Ok(r.unwrap_or_else(|e| e))
}

/// An HTML response.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(status);
    r.set_body(body);
    r.insert_header("Content-Type", "text/html; charset=utf-8");
    r
}

/// Renders page `name`; a rendering failure answers 500 with the message.
pub(super) fn page(req: &Req, name: &str, ctx: Value) -> Response {
    page_status(req, StatusCode::Ok, name, ctx)
}

fn page_status(req: &Req, status: StatusCode, name: &str, ctx: Value) -> Response {
    let state = req.state();
    match state.shared.pages.render(&state.handle.config(), name, ctx) {
        Ok(s) => html(status, s),
        Err(e) => {
            log::error!("rendering page {name}: {e}");
            let mut r = Response::new(StatusCode::InternalServerError);
            r.set_body(format!("error rendering page {name}: {e}\n"));
            r.insert_header("Content-Type", "text/plain; charset=utf-8");
            r
        }
    }
}

/// The error page with `status` and `message`.
pub(super) fn error_page(req: &Req, status: StatusCode, message: &str) -> Response {
    page_status(
        req,
        status,
        "error.html",
        json!({
            "page": "error",
            "status": status as u16,
            "reason": status.canonical_reason(),
            "message": message,
        }),
    )
}

/// A 404 page for `what`.
pub(super) fn not_found(req: &Req, what: &str) -> Response {
    error_page(req, StatusCode::NotFound, &format!("{what} not found"))
}

/// A `303 See Other` to `location`.
pub(super) fn redirect(location: &str) -> Response {
    let mut r = Response::new(StatusCode::SeeOther);
    r.insert_header("Location", location);
    r
}
