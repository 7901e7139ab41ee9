//! Change hooks: GitHub (signed push, bad/no signature, ping), GitLab (token), base (form
//! and JSON); each change checked through `/api/v2/changes`.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::webenv::{WebEnv, basic};

const GH_SECRET: &str = "gh-s3cret";
const GL_TOKEN: &str = "gl-t0ken";

async fn env(extra: impl FnOnce(&mut serde_json::Map<String, Value>)) -> WebEnv {
    WebEnv::start(
        |w| {
            let mut m = serde_json::Map::new();
            m.insert(
                "change_hook_dialects".into(),
                json!({
                    "base": true,
                    "github": {"secret": GH_SECRET, "strict": true},
                    "gitlab": {"secret": GL_TOKEN},
                }),
            );
            extra(&mut m);
            w.extra.extend(m);
        },
        &[],
        false,
    )
    .await
}

fn github_push_body() -> Vec<u8> {
    json!({
        "ref": "refs/heads/gh-feature",
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "created": false, "deleted": false, "forced": false,
        "repository": {"name": "repo", "full_name": "octo/repo",
                       "html_url": "https://github.invalid/octo/repo"},
        "pusher": {"name": "octo", "email": "octo@example.com"},
        "head_commit": {"id": "1111111111111111111111111111111111111111", "message": "gh commit"},
        "commits": [{
            "id": "1111111111111111111111111111111111111111",
            "distinct": true,
            "message": "gh commit",
            "timestamp": "2023-11-14T22:13:20+00:00",
            "url": "https://github.invalid/octo/repo/commit/1111111111111111111111111111111111111111",
            "author": {"name": "Octo Cat", "email": "octo@example.com"},
            "committer": {"name": "Octo Cat", "email": "octo@example.com"},
            "added": ["new.txt"], "removed": [], "modified": ["README"]
        }]
    })
    .to_string()
    .into_bytes()
}

fn sign256(body: &[u8], secret: &str) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn sign1(body: &[u8], secret: &str) -> String {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha1={}", hex::encode(m.finalize().into_bytes()))
}

fn h(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

async fn changes(e: &WebEnv) -> Vec<Value> {
    let a = e.get("/api/v2/changes", &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["changes"].as_array().unwrap().clone()
}

/// The text fixture recorded from Python Buildbot, when readable.
fn fixture(name: &str) -> Option<String> {
    let p = format!("/work/shared/spec/fixtures/rest/{name}");
    match std::fs::read_to_string(&p) {
        Ok(t) => Some(t.trim_end().to_owned()),
        Err(_) => {
            eprintln!("SKIP: fixture {p} not readable");
            None
        }
    }
}

#[async_std::test]
async fn github_signed_push_creates_the_change() {
    let e = env(|_| {}).await;
    let body = github_push_body();
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[
                h("X-GitHub-Event", "push"),
                h("X-Hub-Signature-256", &sign256(&body, GH_SECRET)),
            ],
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, "1 change found");
    if let Some(f) = fixture("POST_change_hook_github__push.txt") {
        assert_eq!(a.body, f);
    }
    assert!(a.header("Content-Type").unwrap().starts_with("text/html"));
    let ch = changes(&e).await;
    assert_eq!(ch.len(), 1);
    let c = &ch[0];
    assert_eq!(c["author"], "Octo Cat <octo@example.com>");
    assert_eq!(c["committer"], "Octo Cat <octo@example.com>");
    assert_eq!(c["revision"], "1111111111111111111111111111111111111111");
    assert_eq!(c["branch"], "gh-feature");
    assert_eq!(c["files"], json!(["new.txt", "README"]));
    assert_eq!(c["comments"], "gh commit");
    assert_eq!(c["repository"], "https://github.invalid/octo/repo");
    assert_eq!(c["project"], "octo/repo");
    assert_eq!(c["category"], Value::Null);
    assert_eq!(
        c["revlink"],
        "https://github.invalid/octo/repo/commit/1111111111111111111111111111111111111111"
    );
    assert_eq!(c["when_timestamp"], 1700000000);
    assert_eq!(
        c["properties"],
        json!({"event": ["push", "Change"], "github_distinct": [true, "Change"]})
    );

    // Python Buildbot 4.3's sha1 `X-Hub-Signature` is accepted too.
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[
                h("X-GitHub-Event", "push"),
                h("X-Hub-Signature", &sign1(&body, GH_SECRET)),
            ],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
    assert_eq!(changes(&e).await.len(), 2);
}

#[async_std::test]
async fn github_bad_or_missing_signature_is_refused() {
    let e = env(|_| {}).await;
    let body = github_push_body();
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[
                h("X-GitHub-Event", "push"),
                h("X-Hub-Signature-256", &sign256(&body, "wrong secret")),
            ],
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (400, "Hash mismatch"));
    if let Some(f) = fixture("POST_change_hook_github__bad_signature.txt") {
        assert_eq!(a.body, f);
    }
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[h("X-GitHub-Event", "push")],
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body, "Request has no required signature");
    if let Some(f) = fixture("POST_change_hook_github__no_signature.txt") {
        assert_eq!(a.body, f);
    }
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[h("X-GitHub-Event", "push"), h("X-Hub-Signature", "md5=00")],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (400, "Unknown hash type: md5"));
    assert!(changes(&e).await.is_empty(), "nothing was stored");
}

#[async_std::test]
async fn github_ping_unknown_event_and_unknown_dialect() {
    let e = env(|_| {}).await;
    let body = br#"{"zen": "Keep it simple", "hook_id": 1}"#.to_vec();
    let sig = sign256(&body, GH_SECRET);
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[h("X-GitHub-Event", "ping"), h("X-Hub-Signature-256", &sig)],
            Some(("application/json", body.clone())),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "no change found"));
    if let Some(f) = fixture("POST_change_hook_github__ping.txt") {
        assert_eq!(a.body, f);
    }
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[
                h("X-GitHub-Event", "issues"),
                h("X-Hub-Signature-256", &sig),
            ],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (400, "Unknown event: issues"));
    let a = e
        .send("POST", "/change_hook/nosuchdialect", &[], None)
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        "The dialect specified, 'nosuchdialect', wasn't whitelisted in change_hook"
    );
    if let Some(f) = fixture("POST_change_hook_nosuchdialect.txt") {
        assert_eq!(a.body, f);
    }
}

#[async_std::test]
async fn github_pull_request_makes_one_change() {
    let e = env(|_| {}).await;
    let body = json!({
        "action": "opened",
        "number": 7,
        "pull_request": {
            "title": "Add a thing", "body": "please", "commits": 2,
            "created_at": "2023-11-14T22:13:20Z",
            "head": {"sha": "3333333333333333333333333333333333333333", "ref": "topic"},
            "base": {"ref": "main", "repo": {"full_name": "octo/repo"}},
            "_links": {"html": {"href": "https://github.invalid/octo/repo/pull/7"}}
        },
        "repository": {"full_name": "octo/repo", "html_url": "https://github.invalid/octo/repo"},
        "sender": {"login": "octocat"}
    })
    .to_string()
    .into_bytes();
    let a = e
        .send(
            "POST",
            "/change_hook/github",
            &[
                h("X-GitHub-Event", "pull_request"),
                h("X-Hub-Signature-256", &sign256(&body, GH_SECRET)),
            ],
            Some(("application/json", body)),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
    let c = &changes(&e).await[0];
    assert_eq!(c["branch"], "refs/pull/7/merge");
    assert_eq!(c["category"], "pull");
    assert_eq!(c["author"], "octocat");
    assert_eq!(c["revision"], "3333333333333333333333333333333333333333");
    assert_eq!(
        c["comments"],
        "GitHub Pull Request #7 (2 commits)\nAdd a thing\nplease"
    );
    assert_eq!(c["properties"]["basename"], json!(["main", "Change"]));
    assert_eq!(c["when_timestamp"], 1700000000);
}

fn gitlab_push_body() -> Vec<u8> {
    json!({
        "object_kind": "push",
        "ref": "refs/heads/gl-feature",
        "user_name": "Lab User",
        "repository": {"name": "glrepo", "url": "https://gitlab.invalid/grp/glrepo.git"},
        "commits": [{
            "id": "2222222222222222222222222222222222222222",
            "message": "gl commit",
            "timestamp": "2023-11-14T22:13:20+00:00",
            "url": "https://gitlab.invalid/grp/glrepo/-/commit/2222222222222222222222222222222222222222",
            "author": {"name": "Lab User", "email": "lab@example.com"},
            "added": ["a"], "modified": ["b"], "removed": []
        }]
    })
    .to_string()
    .into_bytes()
}

#[async_std::test]
async fn gitlab_token_good_and_bad() {
    let e = env(|_| {}).await;
    let a = e
        .send(
            "POST",
            "/change_hook/gitlab",
            &[h("X-Gitlab-Token", "nope")],
            Some(("application/json", gitlab_push_body())),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (400, "Invalid secret"));
    if let Some(f) = fixture("POST_change_hook_gitlab__bad_token.txt") {
        assert_eq!(a.body, f);
    }
    assert!(changes(&e).await.is_empty());
    let a = e
        .send(
            "POST",
            "/change_hook/gitlab?codebase=glcb",
            &[h("X-Gitlab-Token", GL_TOKEN)],
            Some(("application/json", gitlab_push_body())),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
    if let Some(f) = fixture("POST_change_hook_gitlab__push.txt") {
        assert_eq!(a.body, f);
    }
    let c = &changes(&e).await[0];
    assert_eq!(c["author"], "Lab User <lab@example.com>");
    assert_eq!(c["branch"], "gl-feature");
    assert_eq!(c["category"], "push");
    assert_eq!(c["codebase"], "glcb");
    assert_eq!(c["files"], json!(["a", "b"]));
    assert_eq!(c["project"], "glrepo");
    assert_eq!(c["repository"], "https://gitlab.invalid/grp/glrepo.git");
    assert_eq!(c["revision"], "2222222222222222222222222222222222222222");
    assert_eq!(c["when_timestamp"], 1700000000);
    assert_eq!(c["properties"], json!({"event": ["push", "Change"]}));
}

#[async_std::test]
async fn base_hook_form_and_json() {
    let e = env(|_| {}).await;
    let form = "author=carol+%3Ccarol%40example.com%3E&comments=hook+change&revision=def456\
                &branch=feature&repository=https%3A%2F%2Fexample.invalid%2Frepo.git&project=demo\
                &category=hooked&files=%5B%22x.py%22%2C+%22y.py%22%5D\
                &properties=%7B%22prop1%22%3A+%22v1%22%7D&when_timestamp=1700000100\
                &revlink=https%3A%2F%2Fexample.invalid%2Fcommit%2Fdef456";
    let a = e
        .send(
            "POST",
            "/change_hook/base",
            &[],
            Some((
                "application/x-www-form-urlencoded",
                form.as_bytes().to_vec(),
            )),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
    if let Some(f) = fixture("POST_change_hook_base.txt") {
        assert_eq!(a.body, f);
    }
    let c = &changes(&e).await[0];
    assert_eq!(c["author"], "carol <carol@example.com>");
    assert_eq!(c["comments"], "hook change");
    assert_eq!(c["revision"], "def456");
    assert_eq!(c["branch"], "feature");
    assert_eq!(c["repository"], "https://example.invalid/repo.git");
    assert_eq!(c["project"], "demo");
    assert_eq!(c["category"], "hooked");
    assert_eq!(c["files"], json!(["x.py", "y.py"]));
    assert_eq!(c["properties"], json!({"prop1": ["v1", "Change"]}));
    assert_eq!(c["when_timestamp"], 1700000100);
    assert_eq!(c["revlink"], "https://example.invalid/commit/def456");
    assert_eq!(c["committer"], Value::Null);

    let body = json!({
        "who": "dave <dave@example.com>", "comments": "json change", "revision": "abc",
        "branch": "main", "files": ["z.rs"], "properties": {"p": 1}, "when": 1700000200.5,
        "codebase": "cb"
    });
    let a = e
        .send(
            "POST",
            "/change_hook/base",
            &[],
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
    let all = changes(&e).await;
    let c = all.iter().find(|c| c["revision"] == "abc").unwrap();
    assert_eq!(c["author"], "dave <dave@example.com>");
    assert_eq!(c["files"], json!(["z.rs"]));
    assert_eq!(c["codebase"], "cb");
    assert_eq!(c["repository"], "");
    assert_eq!(c["when_timestamp"], 1700000200);
    assert_eq!(c["properties"], json!({"p": [1, "Change"]}));
}

#[async_std::test]
async fn change_hook_auth_needs_basic_credentials() {
    let e = env(|m| {
        m.insert("change_hook_auth".into(), json!(["memory:hook:hookpw"]));
    })
    .await;
    let form = b"author=a&comments=c".to_vec();
    let ct = "application/x-www-form-urlencoded";
    let a = e
        .send("POST", "/change_hook/base", &[], Some((ct, form.clone())))
        .await;
    assert_eq!(a.status, 401);
    let a = e
        .send(
            "POST",
            "/change_hook/base",
            &[basic("hook", "bad")],
            Some((ct, form.clone())),
        )
        .await;
    assert_eq!(a.status, 401);
    let a = e
        .send(
            "POST",
            "/change_hook/base",
            &[basic("hook", "hookpw")],
            Some((ct, form)),
        )
        .await;
    assert_eq!((a.status, a.body.as_str()), (200, "1 change found"));
}

#[test]
fn bad_hook_tables_are_named() {
    let check = |v: Value, extra: Option<Value>| {
        let mut w = buildbot_core::master::config::WwwConfig::default();
        w.extra.insert("change_hook_dialects".into(), v);
        if let Some(x) = extra {
            w.extra.insert("change_hook_auth".into(), x);
        }
        buildbot_web::check_config(&w, std::path::Path::new("/nonexistent")).unwrap_err()
    };
    assert_eq!(
        check(json!({"github": {"secrt": "x"}}), None),
        "www.change_hook_dialects.github.secrt: unknown option (allowed: secret, strict, codebase, skips, pullrequest_ref, github_property_whitelist)"
    );
    assert_eq!(
        check(json!({"github": {"strict": true}}), None),
        "www.change_hook_dialects.github.strict: Strict mode is requested while no secret is provided"
    );
    assert!(
        check(json!({"svn": true}), None)
            .starts_with("www.change_hook_dialects.svn: unknown dialect")
    );
    assert!(check(json!({"base": true}), Some(json!("x"))).starts_with("www.change_hook_auth:"));
}

/// Issue 14: `/change_hook/poller` asks the named pollers (all by default, only the
/// `allowed` ones) to poll now; unknown or not-allowed names are a 400.
#[test]
fn poller_hook_makes_pollers_poll_now() {
    use std::process::Command;
    crate::harness::within(120, async move {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = Command::new("git")
                .current_dir(repo.path())
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "A")
                .env("GIT_AUTHOR_EMAIL", "a@example.org")
                .env("GIT_COMMITTER_NAME", "A")
                .env("GIT_COMMITTER_EMAIL", "a@example.org")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        git(&["init", "-q", "-b", "main"]);
        std::fs::write(repo.path().join("a"), "1").unwrap();
        git(&["add", "a"]);
        git(&["commit", "-q", "-m", "one"]);
        let url = repo.path().display().to_string();
        let env = crate::harness::Env::start_toml(&format!(
            r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w1"
password = "pass1"
[www.change_hook_dialects]
poller = {{ allowed = ["{url}"] }}
[[change_source]]
type = "GitPoller"
repourl = "{url}"
branch = "main"
pollInterval = 3600
pollAtLaunch = true
[[change_source]]
type = "GitPoller"
name = "other"
repourl = "{url}"
workdir = "other-work"
pollInterval = 3600
"#
        ))
        .await;
        let m = env.master.clone();
        for _ in 0..200 {
            if m.change_source_status()
                .iter()
                .any(|s| s.name == url && s.last_poll.is_some())
            {
                break;
            }
            async_std::task::sleep(std::time::Duration::from_millis(50)).await;
        }
        std::fs::write(repo.path().join("a"), "2").unwrap();
        git(&["commit", "-q", "-am", "two"]);
        let post = |path: String| {
            let app = env.app.clone();
            async move {
                crate::harness::request(&app, tide::http::Method::Post, &path, &[], Some("")).await
            }
        };
        let (s, _, b) = post(format!("/change_hook/poller?poller={}", enc(&url))).await;
        assert_eq!((s, b.as_str()), (200, "no change found"));
        let mut found = 0;
        for _ in 0..200 {
            found = m
                .db()
                .list_changes(&buildbot_db::Query::new())
                .await
                .unwrap()
                .len();
            if found > 0 {
                break;
            }
            async_std::task::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(found, 1, "the poll made the change");
        let (s, _, b) = post("/change_hook/poller?poller=nosuch".to_owned()).await;
        assert_eq!(s, 400, "{b}");
        assert!(b.contains("Could not find pollers: nosuch"), "{b}");
        // a poller that is not allowed
        let (s, _, b) = post("/change_hook/poller?poller=other".to_owned()).await;
        assert_eq!(s, 400, "{b}");
        // all allowed pollers
        let (s, _, _) = post("/change_hook/poller".to_owned()).await;
        assert_eq!(s, 200);
    });
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
