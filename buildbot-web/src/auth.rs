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
//! cookie must come from the same site: their `Origin` (or, lacking it, `Referer`) must name
//! the host the request was sent to or the host of `buildbotURL`.

mod config;
mod password;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use buildbot_core::master::MasterHandle;
use buildbot_core::master::config::MasterConfig;
use serde_json::{Value, json};
use tide::{Request, Response, StatusCode};

pub(crate) use config::check_www;
use config::{AuthConfig, AuthzConfig, EndpointKind, Rule, UserSource};

use crate::State;

type Req = Request<State>;

/// Name of the session cookie (Buildbot's).
const COOKIE: &str = "TWISTED_SESSION";
/// How long a session lives without use.
const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a verified Basic credential is remembered (hash checks are slow on purpose).
const BASIC_CACHE_TTL: Duration = Duration::from_secs(300);

/// A logged-in user, attached to the request by the middleware.
#[derive(Clone, Debug)]
pub(crate) struct User {
    /// Login name.
    pub(crate) username: String,
    /// E-mail (the login name when unknown, as Buildbot's default user info).
    pub(crate) email: String,
    /// Groups from the auth configuration.
    pub(crate) groups: Vec<String>,
    /// Whether the user came with the session cookie (CSRF-checked) or HTTP Basic.
    via_cookie: bool,
}

/// A control action that authorization decides about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // some variants are only used by the pages' routes
pub(crate) enum Action {
    /// Reading (`GET`).
    Get,
    /// `force` on a force scheduler; target = builder name(s).
    Force,
    /// `stop` a build; target = builder name.
    Stop,
    /// `rebuild` a build; target = builder name.
    Rebuild,
    /// `cancel` a build request; target = builder name.
    Cancel,
    /// Pause a worker; target = worker name.
    WorkerPause,
    /// Unpause a worker; target = worker name.
    WorkerUnpause,
    /// Gracefully stop (shut down) a worker; target = worker name.
    WorkerStop,
    /// Kill a worker's connection; target = worker name.
    WorkerKill,
    /// Enable/disable a scheduler; target = scheduler name.
    EnableScheduler,
}

impl Action {
    /// The JSON-RPC method name Buildbot uses for this action.
    fn method(self) -> &'static str {
        match self {
            Action::Get => "get",
            Action::Force => "force",
            Action::Stop | Action::WorkerStop => "stop",
            Action::Rebuild => "rebuild",
            Action::Cancel => "cancel",
            Action::WorkerPause => "pause",
            Action::WorkerUnpause => "unpause",
            Action::WorkerKill => "kill",
            Action::EnableScheduler => "enable",
        }
    }

    fn endpoint(self) -> EndpointKind {
        match self {
            Action::Get => EndpointKind::Other,
            Action::Force => EndpointKind::ForceScheduler,
            Action::Stop | Action::Rebuild => EndpointKind::Build,
            Action::Cancel => EndpointKind::BuildRequest,
            Action::WorkerPause
            | Action::WorkerUnpause
            | Action::WorkerStop
            | Action::WorkerKill => EndpointKind::Worker,
            Action::EnableScheduler => EndpointKind::Scheduler,
        }
    }
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// A rule needs a role the user lacks: `you need to have role '<role>'`.
    Role(String),
    /// Anonymous access is off and nobody is logged in.
    LoginRequired,
    /// The auth configuration is broken: everything but reading is refused.
    BadConfig(String),
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denied::Role(r) => write!(f, "you need to have role '{r}'"),
            Denied::LoginRequired => f.write_str("you need to be logged in"),
            Denied::BadConfig(m) => write!(f, "authorization is misconfigured: {m}"),
        }
    }
}

impl Denied {
    /// The HTTP answer: `403` with `{"error": "<message>"}` (`401` with a Basic challenge
    /// when a login would help).
    pub(crate) fn response(&self) -> Response {
        let mut r = Response::new(StatusCode::Forbidden);
        if *self == Denied::LoginRequired {
            r = unauthorized();
        }
        r.set_content_type("application/json");
        r.set_body(json!({ "error": self.to_string() }).to_string());
        r
    }
}

#[derive(Debug)]
struct Session {
    user: User,
    expires: Instant,
}

/// Sessions and users.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    /// The policy of the configuration it was read from (`buildbot reconfig` replaces it).
    policy: Mutex<(Option<Arc<MasterConfig>>, Arc<Policy>)>,
    sessions: Mutex<HashMap<String, Session>>,
    basic_cache: Mutex<HashMap<[u8; 32], (User, Instant)>>,
}

/// What `[www.auth]` and `[www.authz]` say.
#[derive(Debug, Default)]
struct Policy {
    auth: Option<AuthConfig>,
    authz: Option<AuthzConfig>,
    /// A configuration error: logins and control actions are refused.
    error: Option<String>,
    secure_cookie: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Policy {
    fn load(cfg: &MasterConfig, basedir: &std::path::Path) -> Self {
        let mut p = Policy {
            secure_cookie: cfg.buildbot_url.starts_with("https:"),
            ..Default::default()
        };
        match AuthConfig::load(cfg.www.auth.as_ref(), basedir) {
            Ok(a) => p.auth = a,
            Err(e) => p.error = Some(e),
        }
        match AuthzConfig::load(cfg.www.authz.as_ref()) {
            Ok(a) => p.authz = a,
            Err(e) => p.error = Some(p.error.take().unwrap_or(e)),
        }
        if let Some(e) = &p.error {
            log::error!("web authentication disabled, control actions refused: {e}");
        }
        p
    }
}

impl AuthState {
    pub(crate) fn new(handle: &MasterHandle) -> Self {
        let st = AuthState::default();
        st.refresh(handle);
        st
    }

    /// Re-reads the policy when the master's configuration was replaced (reconfig); the
    /// sessions stay, remembered Basic credentials are checked again.
    pub(crate) fn refresh(&self, handle: &MasterHandle) {
        let cfg = handle.config();
        let mut cur = lock(&self.policy);
        if cur.0.as_ref().is_some_and(|c| Arc::ptr_eq(c, &cfg)) {
            return;
        }
        let changed = cur
            .0
            .as_ref()
            .is_none_or(|c| c.www != cfg.www || c.buildbot_url != cfg.buildbot_url);
        if changed {
            cur.1 = Arc::new(Policy::load(&cfg, handle.basedir()));
            lock(&self.basic_cache).clear();
        }
        cur.0 = Some(cfg);
    }

    /// The policy in force.
    fn p(&self) -> Arc<Policy> {
        lock(&self.policy).1.clone()
    }

    fn anonymous_read(&self) -> bool {
        self.p().anonymous_read()
    }

    fn new_session(&self, user: User) -> String {
        let bytes: [u8; 32] = rand::random();
        let id = hex::encode(bytes);
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        s.retain(|_, v| v.expires > now);
        s.insert(
            id.clone(),
            Session {
                user,
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    fn session_user(&self, id: &str) -> Option<User> {
        let mut s = lock(&self.sessions);
        let now = Instant::now();
        let sess = s.get_mut(id)?;
        if sess.expires <= now {
            s.remove(id);
            return None;
        }
        sess.expires = now + SESSION_TTL;
        Some(sess.user.clone())
    }

    /// Checks `username`/`password` against the configured users.
    async fn verify(&self, handle: &MasterHandle, username: &str, password: &str) -> Option<User> {
        let policy = self.p();
        let auth = policy.auth.as_ref()?;
        if policy.error.is_some() {
            return None;
        }
        let key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(username.as_bytes());
            h.update([0u8]);
            h.update(password.as_bytes());
            let out: [u8; 32] = h.finalize().into();
            out
        };
        if let Some((u, t)) = lock(&self.basic_cache).get(&key)
            && *t > Instant::now()
        {
            return Some(u.clone());
        }
        let ok = match &auth.users {
            UserSource::Inline(m) => m
                .get(username)
                .is_some_and(|p| password::constant_eq(p.as_bytes(), password.as_bytes())),
            UserSource::File(m) => m
                .get(username)
                .is_some_and(|h| password::verify_hash(h, password)),
            UserSource::Db => match handle.db().get_user_by_username(username).await {
                Ok(Some(u)) => u
                    .bb_password
                    .as_deref()
                    .is_some_and(|h| password::verify_buildbot_sha1(h, password)),
                Ok(None) => false,
                Err(e) => {
                    log::error!("cannot read user {username:?} for a web login: {e}");
                    false
                }
            },
        };
        if !ok {
            return None;
        }
        let user = User {
            username: username.to_owned(),
            email: username.to_owned(),
            groups: auth.groups.get(username).cloned().unwrap_or_default(),
            via_cookie: false,
        };
        let mut c = lock(&self.basic_cache);
        let now = Instant::now();
        c.retain(|_, (_, t)| *t > now);
        c.insert(key, (user.clone(), now + BASIC_CACHE_TTL));
        Some(user)
    }

    /// The user's roles from every role matcher.
    fn roles(&self, user: &User) -> Vec<String> {
        self.p().roles(user)
    }

    /// Decides an action on an endpoint (see [`Policy::decide`]).
    fn decide(
        &self,
        user: Option<&User>,
        action: Action,
        endpoint: EndpointKind,
        targets: &[String],
    ) -> Result<(), Denied> {
        self.p().decide(user, action.method(), endpoint, targets)
    }
}

impl Policy {
    fn anonymous_read(&self) -> bool {
        self.error.is_none() && self.authz.as_ref().is_none_or(|a| a.anonymous_read)
    }

    /// The user's roles from every role matcher.
    fn roles(&self, user: &User) -> Vec<String> {
        let mut roles = Vec::new();
        if let Some(a) = &self.authz {
            for m in &a.role_matchers {
                for r in m.roles(user) {
                    if !roles.contains(&r) {
                        roles.push(r);
                    }
                }
            }
        }
        roles
    }

    /// Buildbot's algorithm: the first rule matching the request decides; no rule → allow.
    fn decide(
        &self,
        user: Option<&User>,
        method: &str,
        endpoint: EndpointKind,
        targets: &[String],
    ) -> Result<(), Denied> {
        if let Some(e) = &self.error {
            return Err(Denied::BadConfig(e.clone()));
        }
        if user.is_none() && !self.anonymous_read() {
            return Err(Denied::LoginRequired);
        }
        let Some(authz) = &self.authz else {
            return Ok(());
        };
        let roles = user.map(|u| self.roles(u)).unwrap_or_default();
        for rule in &authz.allow_rules {
            if !rule.matches(method, endpoint, targets) {
                continue;
            }
            if roles.iter().any(|r| rule.role_matches(r)) {
                return Ok(());
            }
            if rule.default_deny {
                return Err(Denied::Role(rule.role.clone()));
            }
        }
        Ok(())
    }
}

fn unauthorized() -> Response {
    let mut r = Response::new(StatusCode::Unauthorized);
    r.insert_header("WWW-Authenticate", "basic realm=\"buildbot\"");
    r.set_content_type("text/html");
    r.set_body("Unauthorized");
    r
}

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
    let policy = st.p();
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
            let r = st.p().decide(user, method, EndpointKind::Other, &[]);
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

/// Host (with port) named by an `Origin`/`Referer` URL.
fn url_host(u: &str) -> Option<String> {
    let url = tide::http::Url::parse(u).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

/// Same-site check for a state-changing request that relies on the session cookie.
fn same_origin(req: &Req) -> bool {
    let claimed = req
        .header("Origin")
        .map(|h| h.last().as_str().to_owned())
        .filter(|o| o != "null")
        .or_else(|| req.header("Referer").map(|h| h.last().as_str().to_owned()));
    let Some(claimed) = claimed.as_deref().and_then(url_host) else {
        return false;
    };
    let scheme = req.url().scheme().to_owned();
    let mut allowed = Vec::new();
    if let Some(h) = req.header("Host") {
        allowed.push(url_host(&format!("{scheme}://{}/", h.last().as_str())));
    }
    allowed.push(url_host(req.url().as_str()));
    allowed.push(url_host(&req.state().handle.config().buildbot_url));
    allowed.into_iter().flatten().any(|h| h == claimed)
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
                "refused cross-site {method} {path} for {}: Origin/Referer is not this site",
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
    if req.state().shared.auth.p().secure_cookie {
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
    let policy = st.p();
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
        lock(&req.state().shared.auth.sessions).remove(&id);
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

/// A rule's role test.
impl Rule {
    fn role_matches(&self, role: &str) -> bool {
        glob::Pattern::new(&self.role).is_ok_and(|p| p.matches(role))
    }
}
