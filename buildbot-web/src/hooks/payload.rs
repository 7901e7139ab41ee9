//! What the dialects share: the `400` error of a handler ([`HookError`]), form bodies, and
//! reading JSON payloads of VCS webhooks (paths, people, times, refs, file lists).

use serde_json::Value;

use crate::state::Req;

/// A `ValueError` of a handler: `400` with the message.
pub(super) struct HookError(pub(super) String);

/// A [`HookError`] with message `m`.
pub(super) fn bad(m: impl Into<String>) -> HookError {
    HookError(m.into())
}

/// The fields of a form-encoded body.
pub(super) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let Ok(mut u) = tide::http::Url::parse("http://form.invalid/") else {
        return Vec::new();
    };
    u.set_query(Some(&String::from_utf8_lossy(body)));
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value at `path` (`null` where it is missing).
pub(super) fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or(&Value::Null);
    }
    cur
}

/// The text at `path` (`""` for `null`, other values as JSON).
pub(super) fn gs(v: &Value, path: &[&str]) -> String {
    match get(v, path) {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The text at `path`, `None` for `null`.
pub(super) fn opt_gs(v: &Value, path: &[&str]) -> Option<String> {
    match get(v, path) {
        Value::Null => None,
        _ => Some(gs(v, path)),
    }
}

/// An RFC 3339 time as epoch seconds.
pub(super) fn when(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

/// `Name <email>` of an author or committer object.
pub(super) fn person(v: &Value) -> String {
    format!("{} <{}>", gs(v, &["name"]), gs(v, &["email"]))
}

/// The added, modified and removed files of a commit.
pub(super) fn files(commit: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for kind in ["added", "modified", "removed"] {
        if let Some(a) = commit.get(kind).and_then(Value::as_array) {
            out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    out
}

/// `refs/heads/x` → `("heads", "x")`.
pub(super) fn split_ref(r: &str) -> Option<(&str, &str)> {
    let rest = r.strip_prefix("refs/")?;
    let (kind, name) = rest.split_once('/')?;
    (matches!(kind, "heads" | "tags") && !name.is_empty()).then_some((kind, name))
}

/// The last value of header `name`.
pub(super) fn header(req: &Req, name: &str) -> Option<String> {
    req.header(name).map(|h| h.last().as_str().to_owned())
}
