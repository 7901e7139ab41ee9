//! Authentication (user file, inline users, the `users` table; sessions) and authorization
//! of control actions (Buildbot's `Authz` with endpoint and role matchers).
//!
//! Configuration, in `master.cfg` (names are Buildbot's, see `config.rs`):
//!
//! ```toml
//! [www.auth]
//! type = "HTPasswdAuth"            # or "UserPasswordAuth" (users = {..}), "UserDbAuth"
//! file = "htpasswd"                # user:hash lines (argon2 or bcrypt), relative to basedir
//!
//! [www.authz]
//! anonymous_read = true            # false: every page and API GET needs a logged-in user
//! [[www.authz.allowRules]]
//! type = "ForceBuildEndpointMatcher"
//! builder = "release-*"
//! role = "admins"
//! [[www.authz.roleMatchers]]
//! type = "RolesFromUsername"
//! roles = ["admins"]
//! usernames = ["alice"]
//! ```
//!
//! Requests carry a user either through a session cookie (made by `/auth/login`) or HTTP
//! Basic credentials on each request. State-changing requests authenticated by the session
//! cookie must come from the same site: their `Origin` (or, lacking it, `Referer`) must be
//! one `crate::origin` allows (this site, `buildbotURL`'s origin, `www.allowed_origins`).

mod config;
mod password;
mod policy;
pub(crate) mod sessions;

use base64::Engine;
use serde_json::{Value, json};
use tide::{Response, StatusCode};

pub(crate) use config::EndpointKind;
pub(crate) use config::check_www;
use policy::unauthorized;
pub(crate) use policy::{Action, Denied, User};

use crate::State;
use crate::state::Req;

/// Name of the session cookie (Buildbot's).
const COOKIE: &str = "TWISTED_SESSION";

/// `Authorization: Basic` credentials of a request.
pub(crate) fn basic_credentials(req: &Req) -> Option<(String, String)> {
    let h = req
        .header("Authorization")?
        .last()
        .as_str()
        .trim()
        .to_owned();
    let (scheme, rest) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn cookie_value(req: &Req, name: &str) -> Option<String> {
    for h in req.header("Cookie")?.iter() {
        for part in h.as_str().split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k == name
            {
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// The logged-in user of a request (set by the middleware), if any.
pub(crate) fn current_user(req: &Req) -> Option<&User> {
    req.ext::<User>()
}

/// The user info Buildbot puts into the frontend config: `{"anonymous": true}` or
/// `{"username": .., "email": ..}`.
pub(crate) fn user_info(req: &Req) -> Value {
    match current_user(req) {
        Some(u) => json!({"username": u.username, "email": u.email}),
        None => json!({"anonymous": true}),
    }
}

/// Decides whether the request's user may do `action` on `target` (builder name for
/// force/stop/rebuild/cancel, worker name for worker actions, scheduler name for enable).
/// A denial is logged and returned as the HTTP answer to send (`403` with
/// `{"error": "you need to have role '<role>'"}`, or `401` when a login is needed).
#[allow(dead_code)] // for the pages' POST routes
pub(crate) async fn authorize(
    req: &Req,
    action: Action,
    target: Option<&str>,
) -> Result<(), Response> {
    let targets: Vec<String> = target.into_iter().map(str::to_owned).collect();
    check(req, action, &targets).map_err(|d| d.response())
}

fn check(req: &Req, action: Action, targets: &[String]) -> Result<(), Denied> {
    let st = &req.state().shared.auth;
    let user = current_user(req);
    let r = st.decide(user, action, action.endpoint(), targets);
    if let Err(d) = &r {
        log::warn!(
            "denied {} on {:?} for {}: {d}",
            action.method(),
            targets,
            user.map_or("anonymous", |u| u.username.as_str())
        );
    }
    r
}

/// Authorization of a JSON-RPC control call posted to `req`'s path (`/api/v2/...`): finds
/// the builder/worker/scheduler concerned and decides like [`authorize`].
pub(crate) async fn authorize_rpc(
    req: &Req,
    method: &str,
    params: &serde_json::Map<String, Value>,
) -> Result<(), Denied> {
    let st = &req.state().shared.auth;
    let policy = st.policy();
    if policy.authz.is_none() && policy.error.is_none() && policy.anonymous_read() {
        return Ok(());
    }
    let handle = &req.state().handle;
    let segs: Vec<&str> = req
        .url()
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let kind = segs.get(2).copied().unwrap_or_default();
    let key = segs.get(3).copied().unwrap_or_default();
    let db = handle.db();
    let builder_of = |id: Option<buildbot_db::BuilderId>| async move {
        match id {
            Some(b) => db.get_builder(b).await.ok().flatten().map(|b| b.name),
            None => None,
        }
    };
    let (action, targets) = match (kind, method) {
        ("forceschedulers", "force") => {
            let cfg = handle.config();
            let mut names: Vec<String> = match params.get("builderNames").and_then(Value::as_array)
            {
                Some(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                None => Vec::new(),
            };
            if names.is_empty()
                && let Some(bid) = params.get("builderid").and_then(Value::as_i64)
                && let Some(n) = builder_of(Some(buildbot_db::BuilderId(bid))).await
            {
                names.push(n);
            }
            if names.is_empty()
                && let Some(s) = cfg.schedulers.iter().find(|s| s.name == key)
            {
                names = s.builder_names.clone();
            }
            (Action::Force, names)
        }
        ("builds", "stop" | "rebuild") => {
            let bid = match key.parse::<i64>() {
                Ok(id) => db
                    .get_build(buildbot_db::BuildId(id))
                    .await
                    .ok()
                    .flatten()
                    .map(|b| b.builderid),
                Err(_) => None,
            };
            let a = if method == "stop" {
                Action::Stop
            } else {
                Action::Rebuild
            };
            (a, builder_of(bid).await.into_iter().collect())
        }
        ("buildrequests", "cancel" | "stop") => {
            let bid = match key.parse::<i64>() {
                Ok(id) => db
                    .get_buildrequest(buildbot_db::BuildRequestId(id))
                    .await
                    .ok()
                    .flatten()
                    .map(|r| r.builderid),
                Err(_) => None,
            };
            (Action::Cancel, builder_of(bid).await.into_iter().collect())
        }
        ("workers", m @ ("pause" | "unpause" | "stop" | "kill")) => {
            let name = match key.parse::<i64>() {
                Ok(id) => db
                    .get_worker(buildbot_db::WorkerId(id))
                    .await
                    .ok()
                    .flatten()
                    .map(|w| w.name),
                Err(_) => Some(key.to_owned()),
            };
            let a = match m {
                "pause" => Action::WorkerPause,
                "unpause" => Action::WorkerUnpause,
                "stop" => Action::WorkerStop,
                _ => Action::WorkerKill,
            };
            (a, name.into_iter().collect())
        }
        ("schedulers", "enable") => (Action::EnableScheduler, vec![key.to_owned()]),
        _ => {
            // Any other action: only the generic matchers apply.
            let user = current_user(req);
            let r = st.policy().decide(user, method, EndpointKind::Other, &[]);
            if let Err(d) = &r {
                log::warn!(
                    "denied {method} on {} for {}: {d}",
                    req.url().path(),
                    user.map_or("anonymous", |u| u.username.as_str())
                );
            }
            return r;
        }
    };
    check(req, action, &targets)
}

/// Same-site check for a state-changing request that relies on the session cookie: its
/// `Origin` (or, lacking it, `Referer`) must be present and allowed by `crate::origin`.
fn same_origin(req: &Req) -> bool {
    let claimed = req
        .header("Origin")
        .map(|h| h.last().as_str().to_owned())
        .filter(|o| o != "null")
        .or_else(|| req.header("Referer").map(|h| h.last().as_str().to_owned()));
    claimed
        .as_deref()
        .and_then(crate::origin::of_url)
        .is_some_and(|o| crate::origin::is_allowed(req, &o))
}

fn is_public_path(path: &str) -> bool {
    path == "/auth/login" || path == "/auth/logout" || path.starts_with("/change_hook")
}

/// The middleware: finds the user (session cookie or HTTP Basic), refuses cross-site
/// state changes made with the cookie, and refuses anonymous reads when they are off.
fn middleware<'a>(
    mut req: Req,
    next: tide::Next<'a, State>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = tide::Result> + Send + 'a>> {
    Box::pin(async move {
        let path = req.url().path().to_owned();
        if path.starts_with("/change_hook") {
            return Ok(next.run(req).await);
        }
        let state = req.state().clone();
        let st = &state.shared.auth;
        st.refresh(&state.handle);
        let mut user = None;
        if let Some((u, p)) = basic_credentials(&req) {
            match st.verify(&state.handle, &u, &p).await {
                Some(found) => user = Some(found),
                None if path != "/auth/login" => {
                    log::warn!("bad HTTP Basic credentials for {u:?} on {path}");
                    return Ok(unauthorized());
                }
                None => {}
            }
        } else if let Some(id) = cookie_value(&req, COOKIE)
            && let Some(mut found) = st.session_user(&id)
        {
            found.via_cookie = true;
            user = Some(found);
        }
        let method = req.method();
        let safe = matches!(
            method,
            tide::http::Method::Get | tide::http::Method::Head | tide::http::Method::Options
        );
        if !safe && user.as_ref().is_some_and(|u| u.via_cookie) && !same_origin(&req) {
            log::warn!(
                "refused cross-site {method} {} for {}: Origin/Referer is not this site",
                buildbot_core::util::log_text(&path),
                user.as_ref().map_or("", |u| u.username.as_str())
            );
            let mut r = Response::new(StatusCode::Forbidden);
            r.set_content_type("application/json");
            r.set_body(
                json!({"error": "cross-site request refused (Origin/Referer must be this site)"})
                    .to_string(),
            );
            return Ok(r);
        }
        if user.is_none() && !st.anonymous_read() && !is_public_path(&path) {
            return Ok(unauthorized());
        }
        if safe && (path.starts_with("/api/") || path == "/ws" || path.starts_with("/sse")) {
            let targets: Vec<String> = Vec::new();
            if let Err(d) = st.decide(user.as_ref(), Action::Get, EndpointKind::Other, &targets)
                && !matches!(d, Denied::BadConfig(_))
            {
                log::warn!(
                    "denied get {path} for {}: {d}",
                    user.as_ref().map_or("anonymous", |u| u.username.as_str())
                );
                return Ok(d.response());
            }
        }
        if let Some(u) = user {
            req.set_ext(u);
        }
        Ok(next.run(req).await)
    })
}

fn redirect_home(req: &Req) -> Response {
    let base = req.state().handle.config().buildbot_url.clone();
    let target = req
        .url()
        .query_pairs()
        .find(|(k, _)| k == "redirect")
        .map(|(_, v)| v.into_owned())
        .filter(|v| v.starts_with('/'))
        .unwrap_or_else(|| "/".to_owned());
    let mut r = Response::new(StatusCode::Found);
    r.insert_header("Location", format!("{base}#{target}"));
    r
}

fn set_cookie(req: &Req, r: &mut Response, value: &str, clear: bool) {
    let mut c = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    if req.state().shared.auth.policy().secure_cookie {
        c.push_str("; Secure");
    }
    if clear {
        c.push_str("; Max-Age=0");
    }
    r.insert_header("Set-Cookie", c);
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: Option<String>,
    password: Option<String>,
}

/// `GET|POST /auth/login`: HTTP Basic or a form with `username` and `password`.
async fn login(mut req: Req) -> tide::Result {
    let state = req.state().clone();
    let st = &state.shared.auth;
    let policy = st.policy();
    if policy.auth.is_none() && policy.error.is_none() {
        let mut r = Response::new(StatusCode::NotImplemented);
        r.set_body("Not Implemented: no authentication is configured ([www.auth])");
        return Ok(r);
    }
    let mut creds = basic_credentials(&req);
    if creds.is_none() && req.method() == tide::http::Method::Post {
        let is_form = req
            .content_type()
            .is_some_and(|m| m.essence() == "application/x-www-form-urlencoded");
        if is_form && let Ok(f) = req.body_form::<LoginForm>().await {
            creds = f.username.zip(f.password);
        }
    }
    let Some((u, p)) = creds else {
        return Ok(unauthorized());
    };
    match st.verify(&state.handle, &u, &p).await {
        Some(user) => {
            log::info!("web login of {u:?}");
            let id = st.new_session(user);
            let mut r = redirect_home(&req);
            set_cookie(&req, &mut r, &id, false);
            Ok(r)
        }
        None => {
            log::warn!("failed web login for {u:?}");
            Ok(unauthorized())
        }
    }
}

/// `GET|POST /auth/logout`: ends the session.
async fn logout(req: Req) -> tide::Result {
    if let Some(id) = cookie_value(&req, COOKIE) {
        req.state().shared.auth.end_session(&id);
    }
    let mut r = redirect_home(&req);
    set_cookie(&req, &mut r, "", true);
    Ok(r)
}

/// `GET /auth/me`: who the request is from, and their roles.
async fn me(req: Req) -> tide::Result {
    let mut v = user_info(&req);
    if let Some(u) = current_user(&req) {
        v["roles"] = json!(req.state().shared.auth.roles(u));
        v["groups"] = json!(u.groups);
    }
    let mut r = Response::new(StatusCode::Ok);
    r.set_content_type("application/json");
    r.set_body(v.to_string());
    Ok(r)
}

/// Adds the auth middleware and the login/logout routes.
pub(crate) fn install(app: &mut tide::Server<State>) {
    app.with(middleware);
    app.at("/auth/login").get(login).post(login);
    app.at("/auth/logout").get(logout).post(logout);
    app.at("/auth/me").get(me);
}

/// Whether `given` is the password `stored` (a hash or a plain password).
pub(crate) fn password_matches(stored: &str, given: &str) -> bool {
    password::verify_hash(stored, given)
}
