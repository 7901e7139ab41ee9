//! `[www]`'s `change_hook_dialects` and `change_hook_auth`: which dialects are enabled, with
//! their options, and the HTTP Basic users of the hooks (every error names the key).

use buildbot_core::master::config::WwwConfig;
use serde_json::{Map, Value};

/// Options of the `github` dialect.
#[derive(Debug, Default)]
pub(super) struct GithubOpts {
    pub(super) secret: Option<String>,
    pub(super) strict: bool,
    pub(super) codebase: Option<String>,
    pub(super) skips: Vec<regex::Regex>,
    pub(super) pullrequest_ref: String,
    pub(super) whitelist: Vec<glob::Pattern>,
}

/// Options of the `gitlab` dialect.
#[derive(Debug, Default)]
pub(super) struct GitlabOpts {
    pub(super) secret: Option<String>,
}

/// The enabled dialects and the optional HTTP Basic users of the hooks.
#[derive(Debug, Default)]
pub(super) struct Dialects {
    pub(super) base: bool,
    pub(super) github: Option<GithubOpts>,
    pub(super) gitlab: Option<GitlabOpts>,
    /// `poller`: enabled, with the pollers it may poke (`allowed`; `None`: all).
    pub(super) poller: Option<Option<Vec<String>>>,
    /// `change_hook_auth`: `(user, password)` pairs; empty = no auth.
    pub(super) auth: Vec<(String, String)>,
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

/// Whether `[www.change_hook_dialects]` enables `dialect` (`base`, `github`, `gitlab`), read
/// cheaply (no options checked) for the request-body limit of its route.
pub(crate) fn dialect_enabled(www: &WwwConfig, dialect: &str) -> bool {
    matches!(dialect, "base" | "github" | "gitlab" | "poller")
        && www
            .extra
            .get("change_hook_dialects")
            .and_then(|t| t.get(dialect))
            .is_some_and(|v| matches!(v, Value::Bool(true) | Value::Object(_)))
}

impl Dialects {
    /// Reads `change_hook_dialects` and `change_hook_auth` from `[www]`.
    pub(super) fn parse(www: &WwwConfig) -> Result<Dialects, String> {
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
                    "poller" => {
                        only(name, o, &["allowed"])?;
                        d.poller = Some(str_list(name, o, "allowed")?);
                    }
                    other => {
                        return Err(format!(
                            "www.change_hook_dialects.{other}: unknown dialect (use base, github, gitlab or poller)"
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
