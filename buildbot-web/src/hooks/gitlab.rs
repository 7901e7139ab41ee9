//! The `gitlab` dialect: push, tag push and merge request events, checked against the
//! secret token.

use buildbot_db::NewChange;
use serde_json::Value;

use super::config::GitlabOpts;
use super::payload::{HookError, bad, files, get, gs, header, opt_gs, person, split_ref, when};
use crate::state::Req;

/// The changes of a GitLab event (after its token is checked).
pub(super) fn gitlab_changes(
    req: &Req,
    body: &[u8],
    o: &GitlabOpts,
) -> Result<Vec<NewChange>, HookError> {
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
