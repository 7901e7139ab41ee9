//! The `base` dialect: one change from the query, a form or a JSON object (Buildbot's
//! `change_hook/base` fields).

use std::collections::BTreeMap;

use buildbot_db::NewChange;
use serde_json::Value;

use super::payload::{HookError, bad, form_pairs};
use crate::state::Req;

/// The change of a `base` hook request.
pub(super) fn base_changes(req: &Req, body: &[u8]) -> Result<Vec<NewChange>, HookError> {
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
