//! Change hooks: `/change_hook/base`, `/change_hook/github`, `/change_hook/gitlab`, and
//! `/change_hook/poller` (`?poller=NAME`, repeatable: those polling change sources poll now;
//! all of them without the argument; only the `allowed` ones).
//!
//! Enabled per dialect in `master.cfg`, as Buildbot's `change_hook_dialects`:
//!
//! ```toml
//! [www.change_hook_dialects]
//! base = true
//! github = { secret = "s3cret", strict = true }   # also codebase, skips, pullrequest_ref,
//! gitlab = { secret = "t0ken" }                   # github_property_whitelist
//! poller = { allowed = ["https://example.org/r.git"] }   # or true: every poller
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
        "poller" => dialects.poller.is_some(),
        _ => false,
    };
    if enabled && dialect == "poller" {
        return Ok(poll_now(
            &req,
            &handle,
            dialects.poller.flatten().as_deref(),
        ));
    }
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

/// The `poller` dialect (Buildbot's `PollingHandler`): asks the pollers named by `poller=`
/// (all without one, only the `allowed`) to poll now. It adds no change itself: the pollers
/// do, when they have polled.
fn poll_now(
    req: &Req,
    handle: &buildbot_core::master::MasterHandle,
    allowed: Option<&[String]>,
) -> Response {
    let asked: Vec<String> = req
        .url()
        .query_pairs()
        .filter(|(k, _)| k == "poller")
        .map(|(_, v)| v.into_owned())
        .collect();
    let known: Vec<String> = handle
        .change_source_status()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| allowed.is_none_or(|a| a.contains(n)))
        .collect();
    let names: Vec<String> = if asked.is_empty() {
        known.clone()
    } else {
        asked.clone()
    };
    let missing: Vec<&String> = names.iter().filter(|n| !known.contains(n)).collect();
    if !missing.is_empty() {
        let m = format!(
            "Could not find pollers: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        log::warn!("change hook poller: {}", buildbot_core::util::log_text(&m));
        return text(StatusCode::BadRequest, m);
    }
    if !names.is_empty()
        && let Err(unknown) = handle.poll_now(&names)
    {
        return text(
            StatusCode::BadRequest,
            format!("Could not find pollers: {}", unknown.join(",")),
        );
    }
    log::info!(
        "change hook poller: asked {} poller(s) to poll",
        names.len()
    );
    text(StatusCode::Ok, "no change found")
}
