//! `[www.auth]` and `[www.authz]`: parsing and checking (every error names the key).
//!
//! ```toml
//! [www.auth]
//! type = "UserPasswordAuth"                 # Buildbot's util.UserPasswordAuth({...})
//! users = { admin = "adminpw", dev = "devpw" }
//! groups = { admin = ["ops"] }              # optional, for RolesFromGroups
//! # type = "HTPasswdAuth", file = "htpasswd"  (user:hash lines; argon2, bcrypt, {SHA})
//! # type = "UserDbAuth"                       (the users table, as `buildbot user` sets it)
//! # type = "NoAuth"                           (the default)
//!
//! [www.authz]
//! anonymous_read = true
//! [[www.authz.allowRules]]
//! type = "ForceBuildEndpointMatcher"        # or AnyEndpointMatcher, AnyControlEndpointMatcher,
//! builder = "good"                          # StopBuildEndpointMatcher, RebuildBuildEndpointMatcher,
//! role = "admins"                           # EnableSchedulerEndpointMatcher,
//! defaultDeny = true                        # WorkerEndpointMatcher (worker = .., action = ..)
//! [[www.authz.roleMatchers]]
//! type = "RolesFromUsername"                # or RolesFromGroups (groupPrefix),
//! roles = ["admins"]                        # RolesFromEmails / RolesFromDomain (role = [..])
//! usernames = ["admin"]
//! ```

use std::collections::HashMap;
use std::path::Path;

use buildbot_core::master::config::WwwConfig;
use serde_json::{Map, Value};

/// Where users and passwords come from.
#[derive(Debug)]
pub(crate) enum UserSource {
    /// `UserPasswordAuth`: name → plain password.
    Inline(HashMap<String, String>),
    /// `HTPasswdAuth`: name → hash (or plain password) from the file.
    File(HashMap<String, String>),
    /// `UserDbAuth`: the `users` table (`bb_username`, `bb_password`).
    Db,
}

/// A parsed `[www.auth]`.
#[derive(Debug)]
pub(crate) struct AuthConfig {
    pub(crate) users: UserSource,
    /// user → groups.
    pub(crate) groups: HashMap<String, Vec<String>>,
}

/// Which kind of endpoint a request addresses (for the endpoint matchers, and for the
/// JSON-RPC control actions a POST there may run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndpointKind {
    /// A force scheduler: `force`.
    ForceScheduler,
    /// A build: `stop`, `rebuild`.
    Build,
    /// A build request: `cancel`, `set_priority`.
    BuildRequest,
    /// A worker: `pause`, `unpause`, `stop`, `kill`.
    Worker,
    /// A scheduler: `enable`.
    Scheduler,
    /// Anything else (a collection, ...): no actions (a POST answers 501).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatcherKind {
    Any,
    AnyControl,
    ForceBuild,
    StopBuild,
    RebuildBuild,
    EnableScheduler,
    Worker,
}

const MATCHERS: [(&str, MatcherKind); 7] = [
    ("AnyEndpointMatcher", MatcherKind::Any),
    ("AnyControlEndpointMatcher", MatcherKind::AnyControl),
    ("ForceBuildEndpointMatcher", MatcherKind::ForceBuild),
    ("StopBuildEndpointMatcher", MatcherKind::StopBuild),
    ("RebuildBuildEndpointMatcher", MatcherKind::RebuildBuild),
    (
        "EnableSchedulerEndpointMatcher",
        MatcherKind::EnableScheduler,
    ),
    ("WorkerEndpointMatcher", MatcherKind::Worker),
];

/// One of `allowRules`.
#[derive(Debug)]
pub(crate) struct Rule {
    kind: MatcherKind,
    pub(crate) role: String,
    builder: Option<glob::Pattern>,
    worker: Option<glob::Pattern>,
    action: Option<String>,
    pub(crate) default_deny: bool,
}

fn any_matches(p: &Option<glob::Pattern>, targets: &[String]) -> bool {
    match p {
        None => true,
        Some(p) => targets.iter().any(|t| p.matches(t)),
    }
}

impl Rule {
    /// Whether this rule's endpoint matcher matches `method` on `ep` concerning `targets`.
    pub(crate) fn matches(&self, method: &str, ep: EndpointKind, targets: &[String]) -> bool {
        use EndpointKind as E;
        match self.kind {
            MatcherKind::Any => true,
            MatcherKind::AnyControl => !method.eq_ignore_ascii_case("get"),
            MatcherKind::ForceBuild => {
                ep == E::ForceScheduler && method == "force" && any_matches(&self.builder, targets)
            }
            MatcherKind::StopBuild => {
                ((ep == E::Build && method == "stop")
                    || (ep == E::BuildRequest && matches!(method, "stop" | "cancel")))
                    && any_matches(&self.builder, targets)
            }
            MatcherKind::RebuildBuild => {
                ep == E::Build && method == "rebuild" && any_matches(&self.builder, targets)
            }
            MatcherKind::EnableScheduler => ep == E::Scheduler && method == "enable",
            MatcherKind::Worker => {
                ep == E::Worker
                    && self.action.as_deref().is_none_or(|a| a == method)
                    && any_matches(&self.worker, targets)
            }
        }
    }
}

/// One of `roleMatchers`.
#[derive(Debug)]
pub(crate) enum RoleMatcher {
    Username {
        roles: Vec<String>,
        usernames: Vec<String>,
    },
    Groups {
        prefix: String,
    },
    Emails(Vec<(String, Vec<String>)>),
    Domain(Vec<(String, Vec<String>)>),
}

/// A parsed `[www.authz]`.
#[derive(Debug)]
pub(crate) struct AuthzConfig {
    pub(crate) anonymous_read: bool,
    pub(crate) allow_rules: Vec<Rule>,
    pub(crate) role_matchers: Vec<RoleMatcher>,
}

// ---- small typed readers over a JSON table ----------------------------------------------

struct Table<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Table<'a> {
    fn new(path: impl Into<String>, v: &'a Value) -> Result<Self, String> {
        let path = path.into();
        match v.as_object() {
            Some(map) => Ok(Table { path, map }),
            None => Err(format!("{path}: must be a table")),
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<(), String> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(format!(
                    "{}.{k}: unknown key (allowed here: {})",
                    self.path,
                    allowed.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn str(&self, k: &str) -> Result<Option<String>, String> {
        match self.map.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}.{k}: must be a string", self.path)),
        }
    }

    fn req_str(&self, k: &str) -> Result<String, String> {
        self.str(k)?
            .ok_or_else(|| format!("{}.{k}: missing (a string is required)", self.path))
    }

    fn bool(&self, k: &str, default: bool) -> Result<bool, String> {
        match self.map.get(k) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("{}.{k}: must be true or false", self.path)),
        }
    }

    fn list(&self, k: &str) -> Result<Vec<String>, String> {
        match self.map.get(k) {
            None => Ok(Vec::new()),
            Some(v) => str_list(&format!("{}.{k}", self.path), v),
        }
    }
}

fn str_list(path: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{path}: must be a list of strings"))
            })
            .collect(),
        _ => Err(format!("{path}: must be a list of strings")),
    }
}

fn pattern(path: &str, s: Option<String>) -> Result<Option<glob::Pattern>, String> {
    s.map(|s| glob::Pattern::new(&s).map_err(|e| format!("{path}: bad pattern {s:?}: {e}")))
        .transpose()
}

fn groups(t: &Table<'_>) -> Result<HashMap<String, Vec<String>>, String> {
    let mut out = HashMap::new();
    if let Some(v) = t.map.get("groups") {
        let g = Table::new(format!("{}.groups", t.path), v)?;
        for (user, list) in g.map {
            out.insert(user.clone(), str_list(&format!("{}.{user}", g.path), list)?);
        }
    }
    Ok(out)
}

impl AuthConfig {
    /// Parses `[www.auth]` (`None` or `NoAuth` → no authentication); reads the user file.
    pub(crate) fn load(v: Option<&Value>, basedir: &Path) -> Result<Option<AuthConfig>, String> {
        let Some(v) = v else { return Ok(None) };
        let t = Table::new("www.auth", v)?;
        let kind = t.req_str("type")?;
        let users = match kind.as_str() {
            "NoAuth" => {
                t.only(&["type"])?;
                return Ok(None);
            }
            "UserPasswordAuth" => {
                t.only(&["type", "users", "groups"])?;
                let mut m = HashMap::new();
                match t.map.get("users") {
                    Some(Value::Object(o)) => {
                        for (u, p) in o {
                            let p = p.as_str().ok_or_else(|| {
                                format!("www.auth.users.{u}: the password must be a string")
                            })?;
                            m.insert(u.clone(), p.to_owned());
                        }
                    }
                    Some(Value::Array(a)) => {
                        for (i, pair) in a.iter().enumerate() {
                            let l = str_list(&format!("www.auth.users[{i}]"), pair)?;
                            let [u, p] = <[String; 2]>::try_from(l).map_err(|_| {
                                format!("www.auth.users[{i}]: must be [\"user\", \"password\"]")
                            })?;
                            m.insert(u, p);
                        }
                    }
                    Some(_) => {
                        return Err(
                            "www.auth.users: must be a table of user = \"password\"".to_owned()
                        );
                    }
                    None => return Err("www.auth.users: missing (UserPasswordAuth needs users = { name = \"password\" })".to_owned()),
                }
                UserSource::Inline(m)
            }
            "HTPasswdAuth" => {
                t.only(&["type", "file", "passwdFile", "groups"])?;
                let file = match t.str("file")? {
                    Some(f) => f,
                    None => t.req_str("passwdFile").map_err(|_| {
                        "www.auth.file: missing (HTPasswdAuth needs file = \"<path>\")".to_owned()
                    })?,
                };
                let path = basedir.join(&file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("www.auth.file: cannot read {}: {e}", path.display()))?;
                UserSource::File(super::password::parse_htpasswd(
                    &text,
                    &path.display().to_string(),
                )?)
            }
            "UserDbAuth" => {
                t.only(&["type", "groups"])?;
                UserSource::Db
            }
            other => {
                return Err(format!(
                    "www.auth.type: unknown auth {other:?} (use NoAuth, UserPasswordAuth, HTPasswdAuth or UserDbAuth)"
                ));
            }
        };
        Ok(Some(AuthConfig {
            users,
            groups: groups(&t)?,
        }))
    }
}

impl AuthzConfig {
    /// Parses `[www.authz]` (`None` → everything allowed to anyone).
    pub(crate) fn load(v: Option<&Value>) -> Result<Option<AuthzConfig>, String> {
        let Some(v) = v else { return Ok(None) };
        let t = Table::new("www.authz", v)?;
        t.only(&["anonymous_read", "allowRules", "roleMatchers"])?;
        let anonymous_read = t.bool("anonymous_read", true)?;
        let mut allow_rules = Vec::new();
        let list = |k: &str| -> Result<Vec<Value>, String> {
            match t.map.get(k) {
                None => Ok(Vec::new()),
                Some(Value::Array(a)) => Ok(a.clone()),
                Some(_) => Err(format!(
                    "www.authz.{k}: must be a list of tables ([[www.authz.{k}]])"
                )),
            }
        };
        for (i, r) in list("allowRules")?.iter().enumerate() {
            let p = format!("www.authz.allowRules[{i}]");
            let r = Table::new(p.clone(), r)?;
            let ty = r.req_str("type")?;
            let kind = MATCHERS
                .iter()
                .find(|(n, _)| *n == ty)
                .map(|(_, k)| *k)
                .ok_or_else(|| {
                    let names: Vec<&str> = MATCHERS.iter().map(|(n, _)| *n).collect();
                    format!(
                        "{p}.type: unknown endpoint matcher {ty:?} (use one of {})",
                        names.join(", ")
                    )
                })?;
            let mut keys = vec!["type", "role", "defaultDeny"];
            match kind {
                MatcherKind::ForceBuild | MatcherKind::StopBuild | MatcherKind::RebuildBuild => {
                    keys.push("builder")
                }
                MatcherKind::Worker => keys.extend(["worker", "action"]),
                _ => {}
            }
            r.only(&keys)?;
            let action = r.str("action")?;
            if let Some(a) = &action
                && !matches!(a.as_str(), "pause" | "unpause" | "stop" | "kill")
            {
                return Err(format!(
                    "{p}.action: {a:?} is not a worker action (pause, unpause, stop, kill)"
                ));
            }
            allow_rules.push(Rule {
                kind,
                role: r.req_str("role")?,
                builder: pattern(&format!("{p}.builder"), r.str("builder")?)?,
                worker: pattern(&format!("{p}.worker"), r.str("worker")?)?,
                action,
                default_deny: r.bool("defaultDeny", true)?,
            });
        }
        let mut role_matchers = Vec::new();
        for (i, m) in list("roleMatchers")?.iter().enumerate() {
            let p = format!("www.authz.roleMatchers[{i}]");
            let m = Table::new(p.clone(), m)?;
            let ty = m.req_str("type")?;
            let by_role = |m: &Table<'_>| -> Result<Vec<(String, Vec<String>)>, String> {
                m.map
                    .iter()
                    .filter(|(k, _)| k.as_str() != "type")
                    .map(|(k, v)| Ok((k.clone(), str_list(&format!("{p}.{k}"), v)?)))
                    .collect()
            };
            role_matchers.push(match ty.as_str() {
                "RolesFromUsername" => {
                    m.only(&["type", "roles", "usernames"])?;
                    RoleMatcher::Username {
                        roles: m.list("roles")?,
                        usernames: m.list("usernames")?,
                    }
                }
                "RolesFromGroups" => {
                    m.only(&["type", "groupPrefix"])?;
                    RoleMatcher::Groups {
                        prefix: m.str("groupPrefix")?.unwrap_or_default(),
                    }
                }
                "RolesFromEmails" => RoleMatcher::Emails(by_role(&m)?),
                "RolesFromDomain" => RoleMatcher::Domain(by_role(&m)?),
                other => {
                    return Err(format!(
                        "{p}.type: unknown role matcher {other:?} (use RolesFromUsername, RolesFromGroups, RolesFromEmails or RolesFromDomain)"
                    ));
                }
            });
        }
        Ok(Some(AuthzConfig {
            anonymous_read,
            allow_rules,
            role_matchers,
        }))
    }
}

/// Checks `[www]`'s `auth` and `authz` (the user file is read relative to `basedir`); the
/// message names the key at fault.
pub(crate) fn check_www(www: &WwwConfig, basedir: &Path) -> Result<(), String> {
    AuthConfig::load(www.auth.as_ref(), basedir)?;
    AuthzConfig::load(www.authz.as_ref()).map(|_| ())
}
