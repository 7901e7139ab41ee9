//! Who may do what: the logged-in [`User`], the control [`Action`]s authorization decides
//! about, and the [`Policy`] read from `[www.auth]`/`[www.authz]` that decides (Buildbot's
//! `Authz`: the first matching rule decides, role matchers give users their roles).

use buildbot_core::master::config::MasterConfig;
use serde_json::json;
use tide::{Response, StatusCode};

use super::config::{AuthConfig, AuthzConfig, EndpointKind, RoleMatcher, Rule};

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
    pub(super) via_cookie: bool,
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
    pub(super) fn method(self) -> &'static str {
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

    /// The kind of endpoint the action is taken on.
    pub(super) fn endpoint(self) -> EndpointKind {
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

/// What `[www.auth]` and `[www.authz]` say.
#[derive(Debug, Default)]
pub(super) struct Policy {
    pub(super) auth: Option<AuthConfig>,
    pub(super) authz: Option<AuthzConfig>,
    /// A configuration error: logins and control actions are refused.
    pub(super) error: Option<String>,
    pub(super) secure_cookie: bool,
}

impl Policy {
    /// Reads the policy of `cfg` (a user file relative to `basedir`); a configuration error
    /// is kept in `error`, and refuses logins and control actions.
    pub(super) fn load(cfg: &MasterConfig, basedir: &std::path::Path) -> Self {
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

    /// Whether anonymous users may read.
    pub(super) fn anonymous_read(&self) -> bool {
        self.error.is_none() && self.authz.as_ref().is_none_or(|a| a.anonymous_read)
    }

    /// The user's roles from every role matcher.
    pub(super) fn roles(&self, user: &User) -> Vec<String> {
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
    pub(super) fn decide(
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

/// `401` with a Basic challenge.
pub(super) fn unauthorized() -> Response {
    let mut r = Response::new(StatusCode::Unauthorized);
    r.insert_header("WWW-Authenticate", "basic realm=\"buildbot\"");
    r.set_content_type("text/html");
    r.set_body("Unauthorized");
    r
}

/// A rule's role test.
impl Rule {
    fn role_matches(&self, role: &str) -> bool {
        glob::Pattern::new(&self.role).is_ok_and(|p| p.matches(role))
    }
}

/// A role matcher's roles for a user.
impl RoleMatcher {
    fn roles(&self, u: &User) -> Vec<String> {
        match self {
            RoleMatcher::Username { roles, usernames } => {
                if usernames.contains(&u.username) {
                    roles.clone()
                } else {
                    Vec::new()
                }
            }
            RoleMatcher::Groups { prefix } => u
                .groups
                .iter()
                .filter_map(|g| g.strip_prefix(prefix.as_str()))
                .map(str::to_owned)
                .collect(),
            RoleMatcher::Emails(m) => m
                .iter()
                .filter(|(_, emails)| emails.contains(&u.email))
                .map(|(r, _)| r.clone())
                .collect(),
            RoleMatcher::Domain(m) => {
                let dom = u.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
                m.iter()
                    .filter(|(_, ds)| !dom.is_empty() && ds.iter().any(|d| d == dom))
                    .map(|(r, _)| r.clone())
                    .collect()
            }
        }
    }
}
