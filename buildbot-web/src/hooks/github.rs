//! The `github` dialect: `push` and `pull_request` events (`ping` and `workflow_run` are
//! accepted without changes), HMAC signatures, skip patterns, whitelisted properties.

use std::collections::BTreeMap;

use buildbot_db::NewChange;
use hmac::{Hmac, Mac};
use serde_json::Value;

use super::config::GithubOpts;
use super::payload::{
    HookError, bad, files, form_pairs, get, gs, header, opt_gs, person, split_ref, when,
};
use crate::state::Req;

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

/// The changes of a GitHub event (after its signature is checked).
pub(super) fn github_changes(
    req: &Req,
    body: &[u8],
    o: &GithubOpts,
) -> Result<Vec<NewChange>, HookError> {
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
