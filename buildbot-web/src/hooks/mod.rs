//! Change hooks: `/change_hook/base`, `/change_hook/github`, `/change_hook/gitlab`.
//!
//! Enabled per dialect in `master.cfg`, as Buildbot's `change_hook_dialects`:
//!
//! ```toml
//! [www.change_hook_dialects]
//! base = true
//! github = { secret = "s3cret", strict = true }   # also codebase, skips, pullrequest_ref,
//! gitlab = { secret = "t0ken" }                   # github_property_whitelist
//! [www]
//! change_hook_auth = ["memory:hookuser:hookpw"]   # optional HTTP Basic (or "file:<path>")
//! ```
//!
//! Answers are Buildbot's: `200` `<N> change found` / `no change found`, `400` with the
//! reason (unknown dialect, bad signature or token, unknown event), `500`
//! `Error processing changes.` when storing fails.

mod base;
mod config;
mod github;
mod gitlab;
mod payload;

use tide::{Response, StatusCode};

use config::Dialects;
pub(crate) use config::{check_www, dialect_enabled};
use payload::{HookError, bad};

use crate::State;
use crate::state::Req;

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = Response::new(status);
    r.set_content_type("text/html");
    r.set_body(body.into());
    r
}

/// `POST|GET /change_hook[/<dialect>]`.
async fn change_hook(mut req: Req) -> tide::Result {
    let handle = req.state().handle.clone();
    let cfg = handle.config();
    let dialects = match Dialects::parse(&cfg.www) {
        Ok(d) => d,
        Err(e) => {
            log::error!("change hooks are misconfigured: {e}");
            return Ok(text(
                StatusCode::InternalServerError,
                "Error processing changes.",
            ));
        }
    };
    if !dialects.auth.is_empty() {
        let ok = crate::auth::basic_credentials(&req).is_some_and(|(u, p)| {
            dialects
                .auth
                .iter()
                .any(|(au, ap)| *au == u && crate::auth::password_matches(ap, &p))
        });
        if !ok {
            let mut r = text(StatusCode::Unauthorized, "Unauthorized");
            r.insert_header("WWW-Authenticate", "basic realm=\"buildbot\"");
            return Ok(r);
        }
    }
    let dialect = req.param("dialect").unwrap_or("base").to_owned();
    let dialect = if dialect.is_empty() {
        "base".to_owned()
    } else {
        dialect
    };
    let enabled = match dialect.as_str() {
        "base" => dialects.base,
        "github" => dialects.github.is_some(),
        "gitlab" => dialects.gitlab.is_some(),
        _ => false,
    };
    // refused before its body is read (the front end does not even offer it)
    let result = if !enabled {
        Err(bad(format!(
            "The dialect specified, '{dialect}', wasn't whitelisted in change_hook"
        )))
    } else {
        match req.body_bytes().await {
            Ok(body) => match (dialect.as_str(), &dialects.github, &dialects.gitlab) {
                ("github", Some(o), _) => github::github_changes(&req, &body, o),
                ("gitlab", _, Some(o)) => gitlab::gitlab_changes(&req, &body, o),
                _ => base::base_changes(&req, &body),
            },
            Err(e) => Err(bad(format!("cannot read the request body: {e}"))),
        }
    };
    let changes = match result {
        Ok(c) => c,
        Err(HookError(m)) => {
            log::warn!("change hook {dialect}: {m}");
            return Ok(text(StatusCode::BadRequest, m));
        }
    };
    for ch in &changes {
        if let Err(e) = handle.add_change(ch).await {
            log::error!("change hook {dialect}: cannot add a change: {e}");
            return Ok(text(
                StatusCode::InternalServerError,
                "Error processing changes.",
            ));
        }
    }
    log::info!("change hook {dialect}: {} change(s) added", changes.len());
    Ok(text(
        StatusCode::Ok,
        if changes.is_empty() {
            "no change found".to_owned()
        } else {
            format!("{} change found", changes.len())
        },
    ))
}

/// Adds the `/change_hook/...` routes.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.at("/change_hook").get(change_hook).post(change_hook);
    app.at("/change_hook/").get(change_hook).post(change_hook);
    app.at("/change_hook/:dialect")
        .get(change_hook)
        .post(change_hook);
}
