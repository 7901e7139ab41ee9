//! The one `Origin` check of the web server. It guards the REST API (`api/cors.rs`), the page
//! forms' POST routes (`pages/actions.rs`), the `/ws` handshake and the `/sse` routes
//! (`live/`), and decides what "this site" means for auth's check of requests carried by the
//! session cookie (`auth/mod.rs`).
//!
//! An origin (`scheme://host[:port]`) is allowed when it is
//!
//! * **this site**: its host and port are those of the request's `Host` header (the scheme
//!   is not compared, so a master behind a TLS-terminating proxy that keeps `Host` still
//!   recognizes its own pages);
//! * **`buildbotURL`'s origin** (scheme, host and port; a default port may be written or not);
//! * **matched by `www.allowed_origins`**: a list of case-insensitive `fnmatch` patterns
//!   (`*`, `?`), Buildbot's option, e.g.
//!
//!   ```toml
//!   [www]
//!   allowed_origins = ["https://dashboard.example.org", "https://*.ci.example.org"]
//!   ```
//!
//!   `["*"]` allows every origin (Buildbot's way to turn the check off).
//!
//! A request without `Origin` (curl, scripts, and browsers' own same-origin `GET`s) passes:
//! it is not a cross-site request a browser made on a user's behalf. (Auth asks more of a
//! state change carried by the session cookie: `Origin` or `Referer` must be present and
//! allowed. Session cookies are `SameSite=Lax` as well.)

use buildbot_core::util::log_text;
use serde_json::Value;

use crate::State;
use crate::state::Req;

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// No `Origin` header.
    Absent,
    /// An allowed origin (as sent).
    Allowed(String),
    /// A foreign origin (as sent).
    Refused(String),
}

/// Checks the request's `Origin` header (the last one, if repeated).
pub(crate) fn check(req: &Req) -> Origin {
    match req.header("Origin").map(|h| h.last().as_str().to_owned()) {
        None => Origin::Absent,
        Some(o) if is_allowed(req, &o) => Origin::Allowed(o),
        Some(o) => Origin::Refused(o),
    }
}

/// [`check`], logging a refusal of `what` (e.g. `"WebSocket handshake"`).
pub(crate) fn check_logged(req: &Req, what: &str) -> Origin {
    let found = check(req);
    if let Origin::Refused(o) = &found {
        log::warn!(
            "refused {what} {} from {}: Origin '{}' is not this site, buildbotURL or in www.allowed_origins",
            log_text(req.url().path()),
            peer(req),
            log_text(o)
        );
    }
    found
}

/// Whether the request may go on: no `Origin`, or an allowed one (a refusal is logged).
pub(crate) fn allowed_or_log(req: &Req, what: &str) -> bool {
    !matches!(check_logged(req, what), Origin::Refused(_))
}

/// The client's address for a log line.
pub(crate) fn peer(req: &Req) -> String {
    req.peer_addr().map_or_else(
        || "an unknown address".to_owned(),
        |p| log_text(p).to_string(),
    )
}

/// Is `origin` (`scheme://host[:port]`, as an `Origin` header carries it) allowed for this
/// request? See the module documentation.
pub(crate) fn is_allowed(req: &Req, origin: &str) -> bool {
    let lower = origin.trim().to_ascii_lowercase();
    let state: &State = req.state();
    let cfg = state.handle.config();
    if let Some(Value::Array(patterns)) = cfg.www.extra.get("allowed_origins")
        && patterns.iter().filter_map(Value::as_str).any(|p| {
            buildbot_core::util::fnmatch(p.to_ascii_lowercase().as_bytes(), lower.as_bytes())
        })
    {
        return true;
    }
    let Ok(url) = tide::http::Url::parse(&lower) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    if of_url(&cfg.buildbot_url).is_some_and(|b| b == url.origin().ascii_serialization()) {
        return true;
    }
    let this_site = req.header("Host").and_then(|h| {
        let host = h.last().as_str().trim();
        tide::http::Url::parse(&format!("{}://{host}/", url.scheme())).ok()
    });
    this_site.is_some_and(|s| {
        s.host_str() == url.host_str() && s.port_or_known_default() == url.port_or_known_default()
    })
}

/// The origin of a URL (`https://host[:port]`, lower-cased, default port left out), e.g. of
/// a `Referer`; `None` for what has no such origin.
pub(crate) fn of_url(u: &str) -> Option<String> {
    let url = tide::http::Url::parse(u.trim()).ok()?;
    let origin = url.origin();
    origin
        .is_tuple()
        .then(|| origin.ascii_serialization().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_urls() {
        assert_eq!(
            of_url("http://LocalHost:8010/x?y").as_deref(),
            Some("http://localhost:8010")
        );
        assert_eq!(
            of_url("https://ci.example.org:443/").as_deref(),
            Some("https://ci.example.org")
        );
        assert_eq!(of_url("null"), None);
        assert_eq!(of_url("file:///etc/passwd"), None);
    }
}
