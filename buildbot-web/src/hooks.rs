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

use std::collections::BTreeMap;

use buildbot_core::master::config::WwwConfig;
use buildbot_db::NewChange;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use tide::{Request, Response, StatusCode};

use crate::State;

type Req = Request<State>;

/// Options of the `github` dialect.
#[derive(Debug, Default)]
struct GithubOpts {
    secret: Option<String>,
    strict: bool,
    codebase: Option<String>,
    skips: Vec<regex::Regex>,
    pullrequest_ref: String,
    whitelist: Vec<glob::Pattern>,
}

/// Options of the `gitlab` dialect.
#[derive(Debug, Default)]
struct GitlabOpts {
    secret: Option<String>,
}

/// The enabled dialects and the optional HTTP Basic users of the hooks.
#[derive(Debug, Default)]
struct Dialects {
    base: bool,
    github: Option<GithubOpts>,
    gitlab: Option<GitlabOpts>,
    /// `change_hook_auth`: `(user, password)` pairs; empty = no auth.
    auth: Vec<(String, String)>,
}

fn opts_table<'a>(name: &str, v: &'a Value) -> Result<Option<&'a Map<String, Value>>, String> {
    match v {
        Value::Bool(false) | Value::Null => Ok(None),
        Value::Bool(true) => Ok(Some(empty_map())),
        Value::Object(o) => Ok(Some(o)),
        _ => Err(format!(
            "www.change_hook_dialects.{name}: must be true or a table of options"
        )),
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn opt_str(name: &str, o: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match o.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!(
            "www.change_hook_dialects.{name}.{k}: must be a string"
        )),
    }
}

fn str_list(name: &str, o: &Map<String, Value>, k: &str) -> Result<Option<Vec<String>>, String> {
    let bad = || format!("www.change_hook_dialects.{name}.{k}: must be a list of strings");
    match o.get(k) {
        None => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

fn only(name: &str, o: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "www.change_hook_dialects.{name}.{k}: unknown option (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

impl Dialects {
    /// Reads `change_hook_dialects` and `change_hook_auth` from `[www]`.
    fn parse(www: &WwwConfig) -> Result<Dialects, String> {
        let mut d = Dialects::default();
        if let Some(v) = www.extra.get("change_hook_dialects") {
            let Some(t) = v.as_object() else {
                return Err("www.change_hook_dialects: must be a table".to_owned());
            };
            for (name, v) in t {
                let Some(o) = opts_table(name, v)? else {
                    continue;
                };
                match name.as_str() {
                    "base" => {
                        only(name, o, &[])?;
                        d.base = true;
                    }
                    "github" => {
                        only(
                            name,
                            o,
                            &[
                                "secret",
                                "strict",
                                "codebase",
                                "skips",
                                "pullrequest_ref",
                                "github_property_whitelist",
                            ],
                        )?;
                        let strict = match o.get("strict") {
                            None => false,
                            Some(Value::Bool(b)) => *b,
                            Some(_) => {
                                return Err(
                                    "www.change_hook_dialects.github.strict: must be true or false"
                                        .to_owned(),
                                );
                            }
                        };
                        let secret = opt_str(name, o, "secret")?;
                        if strict && secret.is_none() {
                            return Err("www.change_hook_dialects.github.strict: Strict mode is requested while no secret is provided".to_owned());
                        }
                        let skips = str_list(name, o, "skips")?.unwrap_or_else(|| {
                            vec![
                                r"\[ *skip *ci *\]".to_owned(),
                                r"\[ *ci *skip *\]".to_owned(),
                            ]
                        });
                        let skips = skips
                            .iter()
                            .map(|s| {
                                regex::Regex::new(s).map_err(|e| {
                                    format!("www.change_hook_dialects.github.skips: bad regex {s:?}: {e}")
                                })
                            })
                            .collect::<Result<_, _>>()?;
                        let whitelist = str_list(name, o, "github_property_whitelist")?
                            .unwrap_or_default()
                            .iter()
                            .map(|s| {
                                glob::Pattern::new(s).map_err(|e| format!("www.change_hook_dialects.github.github_property_whitelist: bad pattern {s:?}: {e}"))
                            })
                            .collect::<Result<_, _>>()?;
                        d.github = Some(GithubOpts {
                            secret,
                            strict,
                            codebase: opt_str(name, o, "codebase")?,
                            skips,
                            pullrequest_ref: opt_str(name, o, "pullrequest_ref")?
                                .unwrap_or_else(|| "merge".to_owned()),
                            whitelist,
                        });
                    }
                    "gitlab" => {
                        only(name, o, &["secret"])?;
                        d.gitlab = Some(GitlabOpts {
                            secret: opt_str(name, o, "secret")?,
                        });
                    }
                    other => {
                        return Err(format!(
                            "www.change_hook_dialects.{other}: unknown dialect (use base, github or gitlab)"
                        ));
                    }
                }
            }
        }
        if let Some(v) = www.extra.get("change_hook_auth") {
            let bad = || {
                "www.change_hook_auth: must be a list of \"memory:<user>:<password>\" or \"file:<path>\" strings".to_owned()
            };
            let Some(list) = v.as_array() else {
                return Err(bad());
            };
            for item in list {
                let s = item.as_str().ok_or_else(bad)?;
                if let Some(rest) = s.strip_prefix("memory:") {
                    let parts: Vec<&str> = rest.split(':').collect();
                    if !parts.len().is_multiple_of(2) || parts.is_empty() {
                        return Err(format!(
                            "www.change_hook_auth: {s:?}: expected memory:<user>:<password>[:<user>:<password>...]"
                        ));
                    }
                    for p in parts.chunks(2) {
                        d.auth.push((p[0].to_owned(), p[1].to_owned()));
                    }
                } else if let Some(path) = s.strip_prefix("file:") {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("www.change_hook_auth: cannot read {path}: {e}"))?;
                    for (i, line) in text.lines().enumerate() {
                        if line.trim().is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let (u, p) = line.split_once(':').ok_or_else(|| {
                            format!(
                                "www.change_hook_auth: {path}:{}: expected user:password",
                                i + 1
                            )
                        })?;
                        d.auth.push((u.to_owned(), p.to_owned()));
                    }
                } else {
                    return Err(format!("www.change_hook_auth: {s:?}: {}", bad()));
                }
            }
        }
        Ok(d)
    }
}

/// Checks `[www]`'s `change_hook_dialects` and `change_hook_auth`; the message names the
/// key at fault.
pub(crate) fn check_www(www: &WwwConfig) -> Result<(), String> {
    Dialects::parse(www).map(|_| ())
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = Response::new(status);
    r.set_content_type("text/html");
    r.set_body(body.into());
    r
}

/// A `ValueError` of a handler: `400` with the message.
struct HookError(String);

fn bad(m: impl Into<String>) -> HookError {
    HookError(m.into())
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
    let body = req.body_bytes().await.unwrap_or_default();
    let not_listed = || {
        Err(bad(format!(
            "The dialect specified, '{dialect}', wasn't whitelisted in change_hook"
        )))
    };
    let result = match (dialect.as_str(), &dialects.github, &dialects.gitlab) {
        ("base", _, _) if dialects.base => base_changes(&req, &body),
        ("github", Some(o), _) => github_changes(&req, &body, o),
        ("gitlab", _, Some(o)) => gitlab_changes(&req, &body, o),
        _ => not_listed(),
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

// ---- base ---------------------------------------------------------------------------------

fn base_changes(req: &Req, body: &[u8]) -> Result<Vec<NewChange>, HookError> {
    let mut args: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in req.url().query_pairs() {
        args.entry(k.into_owned())
            .or_insert(Value::String(v.into_owned()));
    }
    let is_json = req
        .content_type()
        .is_some_and(|m| m.essence() == "application/json");
    if is_json {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("Error loading JSON: {e}")))?;
        let Value::Object(o) = v else {
            return Err(bad("Error loading JSON: the body must be an object"));
        };
        args.extend(o);
    } else {
        for (k, v) in form_pairs(body) {
            args.entry(k).or_insert(Value::String(v));
        }
    }
    let s = |k: &str| -> Option<String> {
        match args.get(k)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    };
    let files: Vec<String> = match args.get("files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(t)) if t.is_empty() => Vec::new(),
        Some(Value::String(t)) => serde_json::from_str(t)
            .map_err(|e| bad(format!("files: not a JSON list of strings: {e}")))?,
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| bad(format!("files: not a list of strings: {e}")))?,
    };
    let properties: BTreeMap<String, Value> = match args.get("properties") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::String(t)) if t.is_empty() => BTreeMap::new(),
        Some(Value::String(t)) => serde_json::from_str(t)
            .map_err(|e| bad(format!("properties: not a JSON object: {e}")))?,
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| bad(format!("properties: not an object: {e}")))?,
    };
    let when = match s("when_timestamp").or_else(|| s("when")) {
        None => None,
        Some(w) => Some(
            w.trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("could not convert string to float: '{w}'")))?
                as i64,
        ),
    };
    let mut ch = NewChange::new(
        &s("author")
            .filter(|a| !a.is_empty())
            .or_else(|| s("who"))
            .unwrap_or_default(),
        &s("comments").unwrap_or_default(),
    );
    ch.committer = s("committer");
    ch.files = files;
    ch.revision = s("revision");
    ch.when_timestamp = when;
    ch.branch = s("branch");
    ch.category = s("category");
    ch.revlink = s("revlink");
    ch.properties = properties;
    ch.repository = s("repository").unwrap_or_default();
    ch.project = s("project").unwrap_or_default();
    ch.codebase = s("codebase").unwrap_or_default();
    Ok(vec![ch])
}

/// The fields of a form-encoded body.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let Ok(mut u) = tide::http::Url::parse("http://form.invalid/") else {
        return Vec::new();
    };
    u.set_query(Some(&String::from_utf8_lossy(body)));
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

// ---- shared helpers for the VCS dialects --------------------------------------------------

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or(&Value::Null);
    }
    cur
}

fn gs(v: &Value, path: &[&str]) -> String {
    match get(v, path) {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn opt_gs(v: &Value, path: &[&str]) -> Option<String> {
    match get(v, path) {
        Value::Null => None,
        _ => Some(gs(v, path)),
    }
}

fn when(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

fn person(v: &Value) -> String {
    format!("{} <{}>", gs(v, &["name"]), gs(v, &["email"]))
}

fn files(commit: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["added", "modified", "removed"] {
        if let Some(a) = commit.get(kind).and_then(Value::as_array) {
            out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    out
}

/// `refs/heads/x` → `("heads", "x")`.
fn split_ref(r: &str) -> Option<(&str, &str)> {
    let rest = r.strip_prefix("refs/")?;
    let (kind, name) = rest.split_once('/')?;
    (matches!(kind, "heads" | "tags") && !name.is_empty()).then_some((kind, name))
}

fn header(req: &Req, name: &str) -> Option<String> {
    req.header(name).map(|h| h.last().as_str().to_owned())
}

// ---- github -------------------------------------------------------------------------------

fn check_github_signature(req: &Req, body: &[u8], o: &GithubOpts) -> Result<(), HookError> {
    let Some(secret) = &o.secret else {
        return Ok(());
    };
    let sig = header(req, "X-Hub-Signature-256").or_else(|| header(req, "X-Hub-Signature"));
    let Some(sig) = sig else {
        if o.strict {
            return Err(bad("Request has no required signature"));
        }
        return Ok(());
    };
    let (kind, hexdigest) = sig.split_once('=').unwrap_or((sig.as_str(), ""));
    let want = hex::decode(hexdigest.trim()).unwrap_or_default();
    let ok = match kind {
        "sha256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| bad("Hash mismatch"))?;
            m.update(body);
            m.verify_slice(&want).is_ok()
        }
        "sha1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
                .map_err(|_| bad("Hash mismatch"))?;
            m.update(body);
            m.verify_slice(&want).is_ok()
        }
        other => return Err(bad(format!("Unknown hash type: {other}"))),
    };
    if ok {
        Ok(())
    } else {
        Err(bad("Hash mismatch"))
    }
}

/// Flattens `v` into `github.<path>` properties kept by the whitelist.
fn whitelisted(v: &Value, o: &GithubOpts) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    walk(&format!("{prefix}.{k}"), x, out);
                }
            }
            _ => out.push((prefix.to_owned(), v.clone())),
        }
    }
    if o.whitelist.is_empty() {
        return BTreeMap::new();
    }
    let mut all = Vec::new();
    walk("github", v, &mut all);
    all.into_iter()
        .filter(|(k, _)| o.whitelist.iter().any(|p| p.matches(k)))
        .collect()
}

fn github_changes(req: &Req, body: &[u8], o: &GithubOpts) -> Result<Vec<NewChange>, HookError> {
    let event = header(req, "X-GitHub-Event").unwrap_or_default();
    check_github_signature(req, body, o)?;
    let essence = req.content_type().map(|m| m.essence().to_owned());
    let payload: Value = match essence.as_deref() {
        Some("application/json") => {
            serde_json::from_slice(body).map_err(|e| bad(format!("Error loading JSON: {e}")))?
        }
        Some("application/x-www-form-urlencoded") => {
            let p = form_pairs(body)
                .into_iter()
                .find(|(k, _)| k == "payload")
                .map(|(_, v)| v)
                .ok_or_else(|| bad("missing form field 'payload'"))?;
            serde_json::from_str(&p).map_err(|e| bad(format!("Error loading JSON: {e}")))?
        }
        other => {
            return Err(bad(format!(
                "Unknown content type: {}",
                other.unwrap_or("None")
            )));
        }
    };
    match event.as_str() {
        "ping" | "workflow_run" => Ok(Vec::new()),
        "push" => Ok(github_push(&payload, o)),
        "pull_request" => Ok(github_pull_request(&payload, o)),
        other => Err(bad(format!("Unknown event: {other}"))),
    }
}

fn skipped(msg: &str, o: &GithubOpts) -> bool {
    o.skips.iter().any(|r| r.is_match(msg))
}

fn github_push(p: &Value, o: &GithubOpts) -> Vec<NewChange> {
    let r = gs(p, &["ref"]);
    let Some((kind, branch)) = split_ref(&r) else {
        log::info!("github hook: ignoring ref {r:?}");
        return Vec::new();
    };
    if get(p, &["deleted"]).as_bool() == Some(true) {
        return Vec::new();
    }
    if skipped(&gs(p, &["head_commit", "message"]), o) {
        log::info!("github hook: skipping push of {r:?} (skip pattern in the head commit)");
        return Vec::new();
    }
    let commits: Vec<Value> = if get(p, &["created"]).as_bool() == Some(true) {
        vec![get(p, &["head_commit"]).clone()]
    } else {
        get(p, &["commits"]).as_array().cloned().unwrap_or_default()
    };
    let extra = whitelisted(p, o);
    commits
        .iter()
        .filter(|c| c.is_object())
        .map(|c| {
            let mut ch = NewChange::new(&person(get(c, &["author"])), &gs(c, &["message"]));
            ch.committer = Some(person(get(c, &["committer"])));
            ch.files = files(c);
            ch.revision = opt_gs(c, &["id"]);
            ch.when_timestamp = when(get(c, &["timestamp"]));
            ch.branch = Some(branch.to_owned());
            ch.category = (kind == "tags").then(|| "tag".to_owned());
            ch.revlink = opt_gs(c, &["url"]);
            ch.repository = gs(p, &["repository", "html_url"]);
            ch.project = gs(p, &["repository", "full_name"]);
            ch.codebase = o.codebase.clone().unwrap_or_default();
            ch.src = Some("git".to_owned());
            ch.properties.insert(
                "github_distinct".to_owned(),
                get(c, &["distinct"])
                    .as_bool()
                    .map_or(Value::Bool(true), Value::Bool),
            );
            ch.properties
                .insert("event".to_owned(), Value::from("push"));
            ch.properties.extend(extra.clone());
            ch
        })
        .collect()
}

/// `pull_request`: Buildbot asks GitHub's API for the head commit message and the file
/// list; without outbound calls the PR title/body are used and the file list is empty.
fn github_pull_request(p: &Value, o: &GithubOpts) -> Vec<NewChange> {
    let action = gs(p, &["action"]);
    if !matches!(action.as_str(), "opened" | "reopened" | "synchronize") {
        log::info!("github hook: ignoring pull request action {action:?}");
        return Vec::new();
    }
    let pr = get(p, &["pull_request"]);
    let number = gs(p, &["number"]);
    let title = gs(pr, &["title"]);
    let body = gs(pr, &["body"]);
    if skipped(&title, o) || skipped(&body, o) {
        return Vec::new();
    }
    let commits = get(pr, &["commits"]).as_i64().unwrap_or(0);
    let revlink = gs(pr, &["_links", "html", "href"]);
    let mut ch = NewChange::new(
        &gs(p, &["sender", "login"]),
        &format!(
            "GitHub Pull Request #{number} ({commits} commit{})\n{title}\n{body}",
            if commits > 1 { "s" } else { "" }
        ),
    );
    ch.revision = opt_gs(pr, &["head", "sha"]);
    ch.when_timestamp = when(get(pr, &["created_at"]));
    ch.branch = Some(format!("refs/pull/{number}/{}", o.pullrequest_ref));
    ch.revlink = Some(revlink.clone());
    ch.repository = gs(p, &["repository", "html_url"]);
    ch.project = gs(pr, &["base", "repo", "full_name"]);
    ch.category = Some("pull".to_owned());
    ch.codebase = o.codebase.clone().unwrap_or_default();
    ch.src = Some("git".to_owned());
    ch.properties = whitelisted(pr, o);
    ch.properties
        .insert("pullrequesturl".to_owned(), Value::from(revlink));
    ch.properties
        .insert("event".to_owned(), Value::from("pull_request"));
    ch.properties
        .insert("basename".to_owned(), Value::from(gs(pr, &["base", "ref"])));
    vec![ch]
}

// ---- gitlab -------------------------------------------------------------------------------

fn gitlab_changes(req: &Req, body: &[u8], o: &GitlabOpts) -> Result<Vec<NewChange>, HookError> {
    if let Some(secret) = &o.secret {
        let got = header(req, "X-Gitlab-Token").unwrap_or_default();
        if !crate::auth::password_matches(secret, &got) {
            return Err(bad("Invalid secret"));
        }
    }
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("Error loading JSON: {e}")))?;
    let event = payload
        .get("object_kind")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| header(req, "X-Gitlab-Event"))
        .unwrap_or_default();
    let codebase = req
        .url()
        .query_pairs()
        .find(|(k, _)| k == "codebase")
        .map(|(_, v)| v.into_owned());
    Ok(match event.as_str() {
        "push" | "tag_push" | "Push Hook" => gitlab_push(&payload, &event, codebase),
        "merge_request" => gitlab_merge_request(&payload, &event, codebase),
        _ => Vec::new(),
    })
}

fn gitlab_push(p: &Value, event: &str, codebase: Option<String>) -> Vec<NewChange> {
    let r = gs(p, &["ref"]);
    let Some((_, branch)) = split_ref(&r) else {
        return Vec::new();
    };
    if get(p, &["deleted"]).as_bool() == Some(true) {
        return Vec::new();
    }
    let commits = get(p, &["commits"]).as_array().cloned().unwrap_or_default();
    commits
        .iter()
        .filter(|c| get(c, &["distinct"]).as_bool() != Some(false))
        .map(|c| {
            let mut ch = NewChange::new(&person(get(c, &["author"])), &gs(c, &["message"]));
            ch.files = files(c);
            ch.revision = opt_gs(c, &["id"]);
            ch.when_timestamp = when(get(c, &["timestamp"]));
            ch.branch = Some(branch.to_owned());
            ch.revlink = opt_gs(c, &["url"]);
            ch.repository = gs(p, &["repository", "url"]);
            ch.project = gs(p, &["repository", "name"]);
            ch.category = Some(event.to_owned());
            ch.codebase = codebase.clone().unwrap_or_default();
            ch.src = Some("git".to_owned());
            ch.properties
                .insert("event".to_owned(), Value::from(event.to_owned()));
            ch
        })
        .collect()
}

fn gitlab_merge_request(p: &Value, event: &str, codebase: Option<String>) -> Vec<NewChange> {
    let a = get(p, &["object_attributes"]);
    let state = gs(a, &["state"]);
    if matches!(state.as_str(), "closed" | "merged" | "approved") {
        return Vec::new();
    }
    let action = gs(a, &["action"]);
    let oldrev = a.get("oldrev").is_some();
    if !(matches!(action.as_str(), "open" | "reopen") || (action == "update" && oldrev)) {
        return Vec::new();
    }
    let commit = get(a, &["last_commit"]);
    let mut ch = NewChange::new(
        &person(get(commit, &["author"])),
        &format!(
            "MR#{}: {}\n\n{}",
            gs(a, &["iid"]),
            gs(a, &["title"]),
            gs(a, &["description"])
        ),
    );
    ch.revision = opt_gs(commit, &["id"]);
    ch.when_timestamp = when(get(commit, &["timestamp"]));
    ch.branch = opt_gs(a, &["target_branch"]);
    ch.repository = gs(a, &["target", "git_http_url"]);
    ch.project = gs(a, &["target", "name"]);
    ch.category = Some(event.to_owned());
    ch.revlink = opt_gs(a, &["url"]);
    ch.codebase = codebase.unwrap_or_default();
    ch.src = Some("git".to_owned());
    for (k, path) in [
        ("source_branch", &["source_branch"][..]),
        ("source_project_id", &["source_project_id"][..]),
        ("source_repository", &["source", "git_http_url"][..]),
        ("source_git_ssh_url", &["source", "git_ssh_url"][..]),
        ("target_branch", &["target_branch"][..]),
        ("target_project_id", &["target_project_id"][..]),
        ("target_repository", &["target", "git_http_url"][..]),
        ("target_git_ssh_url", &["target", "git_ssh_url"][..]),
    ] {
        ch.properties.insert(k.to_owned(), get(a, path).clone());
    }
    ch.properties
        .insert("event".to_owned(), Value::from(event.to_owned()));
    vec![ch]
}

/// Adds the `/change_hook/...` routes.
pub(crate) fn routes(app: &mut tide::Server<State>) {
    app.at("/change_hook").get(change_hook).post(change_hook);
    app.at("/change_hook/").get(change_hook).post(change_hook);
    app.at("/change_hook/:dialect")
        .get(change_hook)
        .post(change_hook);
}
