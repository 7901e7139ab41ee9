//! Issue 13: a force carries exactly what was submitted — branch, revision, repository,
//! project (plain and codebase-prefixed) and priority — through JSON-RPC and through the
//! page form; a field the scheduler's parameter refuses gives Buildbot's JSON-RPC error
//! and creates nothing.

use serde_json::{Value, json};

use crate::harness::*;
use crate::pages::{page, post_form};

/// A force scheduler with two codebases (`""` and `lib`), a ticket field checked by a
/// regex, a required reason; a second one whose branch is fixed and revision removed.
const CONFIG: &str = r#"
[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["good"]
codebases = ["", "lib"]
reason = { default = "try it", required = true, maxsize = 40 }
username = { need_email = false }

[[schedulers.properties]]
type = "StringParameter"
name = "ticket"
regex = "[A-Z]+-[0-9]+$"
default = "BB-1"

[[schedulers]]
type = "ForceScheduler"
name = "release"
builderNames = ["good"]
priority = { default = 3 }
codebases = [{ codebase = "", branch = "release", revision = false }]

[[builders]]
name = "good"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["true"]

[[builders]]
name = "other"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
command = ["true"]
"#;

/// The source stamps of build `buildid`, by codebase, from `/api/v2/sourcestamps` (the
/// buildset's `sourcestamps` ids looked up one by one).
async fn stamps_of(env: &Env, buildid: i64) -> serde_json::Map<String, Value> {
    let b = env.ok(&format!("/api/v2/builds/{buildid}")).await;
    let brid = b["builds"][0]["buildrequestid"].as_i64().unwrap();
    let r = env.ok(&format!("/api/v2/buildrequests/{brid}")).await;
    let bsid = r["buildrequests"][0]["buildsetid"].as_i64().unwrap();
    let bs = env.ok(&format!("/api/v2/buildsets/{bsid}")).await;
    let mut out = serde_json::Map::new();
    for ss in bs["buildsets"][0]["sourcestamps"].as_array().unwrap() {
        let id = ss["ssid"].as_i64().unwrap();
        let one = env.ok(&format!("/api/v2/sourcestamps/{id}")).await;
        let s = one["sourcestamps"][0].clone();
        out.insert(s["codebase"].as_str().unwrap().to_owned(), s);
    }
    out
}

fn fields(ss: &Value) -> [&Value; 4] {
    [
        &ss["branch"],
        &ss["revision"],
        &ss["repository"],
        &ss["project"],
    ]
}

/// Number of buildsets (nothing may be created by a refused force).
async fn buildsets(env: &Env) -> usize {
    env.ok("/api/v2/buildsets").await["buildsets"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn force_over_json_rpc_carries_source_stamps_and_priority() {
    within(120, async move {
        let env = Env::start_toml(CONFIG).await;
        let (status, v) = env
            .rpc(
                "/api/v2/forceschedulers/force",
                "force",
                json!({
                    "builderNames": ["good"], "username": "tess", "reason": "a branch",
                    "branch": "dev", "revision": "abc123",
                    "repository": "https://git.invalid/app.git", "project": "app",
                    "lib_branch": "lib-dev", "lib_revision": "def456",
                    "lib_repository": "https://git.invalid/lib.git", "lib_project": "lib",
                    "priority": "7", "ticket": "OPS-42",
                }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        let brid = v["result"][1]["1"].as_i64().expect("request of builder 1");
        let req = env.ok(&format!("/api/v2/buildrequests/{brid}")).await;
        assert_eq!(req["buildrequests"][0]["priority"], 7, "{req}");
        let buildid = env.build_of(brid).await;
        let build = env.wait_build(buildid).await;
        assert_eq!(build["results"], 0, "{build}");

        let stamps = stamps_of(&env, buildid).await;
        assert_eq!(stamps.len(), 2, "{stamps:?}");
        assert_eq!(
            fields(&stamps[""]),
            [
                &json!("dev"),
                &json!("abc123"),
                &json!("https://git.invalid/app.git"),
                &json!("app")
            ]
        );
        assert_eq!(
            fields(&stamps["lib"]),
            [
                &json!("lib-dev"),
                &json!("def456"),
                &json!("https://git.invalid/lib.git"),
                &json!("lib")
            ]
        );
        // the build's properties: the default codebase's stamp, owner, reason, ticket
        let p = env
            .ok(&format!("/api/v2/builds/{buildid}?property=*"))
            .await;
        let props = &p["builds"][0]["properties"];
        for (k, want) in [
            ("branch", "dev"),
            ("revision", "abc123"),
            ("repository", "https://git.invalid/app.git"),
            ("project", "app"),
            ("codebase", ""),
            ("owner", "tess"),
            ("reason", "a branch"),
            ("ticket", "OPS-42"),
        ] {
            assert_eq!(props[k][0], want, "{k}: {props}");
        }
        assert_eq!(props["owner"][1], "Force Build Form");
        let bs = env.ok("/api/v2/buildsets").await;
        assert_eq!(
            bs["buildsets"][0]["reason"],
            "A build was forced by 'tess': a branch"
        );
    });
}

#[test]
fn force_over_the_page_form_carries_source_stamps_and_priority() {
    within(120, async move {
        let env = Env::start_toml(CONFIG).await;
        // the form shows every field the scheduler has, by its fullName
        let html = page(&env, "/builders/good").await;
        for field in [
            "username",
            "reason",
            "priority",
            "branch",
            "revision",
            "repository",
            "project",
            "lib_branch",
            "lib_revision",
            "lib_repository",
            "lib_project",
            "ticket",
        ] {
            assert!(
                html.contains(&format!("name=\"{field}\"")),
                "no field {field}: {html}"
            );
        }
        assert!(html.contains("Codebase: lib"), "{html}");
        // the release scheduler's branch is fixed (shown, not posted), its revision gone
        let release = html.split("value=\"release\"").nth(1).unwrap_or_default();
        assert!(!release.contains("name=\"revision\""), "{release}");

        let (s, loc, b) = post_form(
            &env,
            "/builders/good/force",
            &[
                ("scheduler", "force"),
                ("username", "Tess"),
                ("reason", "from the form"),
                ("priority", "5"),
                ("branch", "feature/x"),
                ("revision", "0123abcd"),
                ("repository", "https://git.invalid/app.git"),
                ("project", "app"),
                ("lib_branch", "stable"),
                ("ticket", "QA-7"),
            ],
        )
        .await;
        assert_eq!(s, 303, "{b}");
        assert!(loc.contains("/builds/"), "{loc}");
        let v = env.ok("/api/v2/buildrequests").await;
        let req = &v["buildrequests"][0];
        assert_eq!(req["priority"], 5, "{req}");
        let buildid = env.build_of(req["buildrequestid"].as_i64().unwrap()).await;
        env.wait_build(buildid).await;
        let stamps = stamps_of(&env, buildid).await;
        assert_eq!(
            fields(&stamps[""]),
            [
                &json!("feature/x"),
                &json!("0123abcd"),
                &json!("https://git.invalid/app.git"),
                &json!("app")
            ]
        );
        // what the form left empty is empty, as Buildbot stores it
        assert_eq!(
            fields(&stamps["lib"]),
            [&json!("stable"), &json!(""), &json!(""), &json!("")]
        );

        // the release scheduler: fixed branch, the priority field's default
        let (s, _, b) = post_form(
            &env,
            "/builders/good/force",
            &[
                ("scheduler", "release"),
                ("username", "Tess <t@example.invalid>"),
            ],
        )
        .await;
        assert_eq!(s, 303, "{b}");
        let v = env.ok("/api/v2/buildrequests?order=-buildrequestid").await;
        let req = &v["buildrequests"][0];
        assert_eq!(req["priority"], 3, "{req}");
        let buildid = env.build_of(req["buildrequestid"].as_i64().unwrap()).await;
        env.wait_build(buildid).await;
        let stamps = stamps_of(&env, buildid).await;
        assert_eq!(stamps[""]["branch"], "release", "{stamps:?}");
    });
}

#[test]
fn refused_force_fields_give_buildbots_error_and_create_nothing() {
    within(120, async move {
        let env = Env::start_toml(CONFIG).await;
        let force = |params: Value| {
            let env = &env;
            async move {
                env.rpc("/api/v2/forceschedulers/force", "force", params)
                    .await
            }
        };
        // several bad fields at once: each named, as Buildbot's CollectedValidationError
        let (s, v) = force(json!({"builderNames": ["good"], "priority": "high",
                                  "ticket": "nope", "reason": "  "}))
        .await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"]["code"], -32602, "{v}");
        let m = &v["error"]["message"];
        assert_eq!(
            m["priority"], "invalid literal for int() with base 10: 'high'",
            "{v}"
        );
        assert_eq!(
            m["ticket"], "ticket:'nope' does not match pattern '[A-Z]+-[0-9]+$'",
            "{v}"
        );
        assert_eq!(m["reason"], "'reason' needs to be specified", "{v}");

        for (params, field) in [
            (json!({"reason": "x".repeat(41)}), "reason"),
            (json!({"builderNames": 5}), "builderNames"),
            (json!({"builderNames": ["good", 3]}), "builderNames"),
            (json!({"builderid": "abc"}), "builderid"),
            (json!({"builderid": 1e308}), "builderid"),
            (json!({"brnach": "dev"}), "brnach"),
            (json!({"branch": {"name": "dev"}}), "branch"),
        ] {
            let (s, v) = force(params.clone()).await;
            assert_eq!(s, 400, "{params}: {v}");
            assert_eq!(v["error"]["code"], -32602, "{params}: {v}");
            assert!(v["error"]["message"][field].is_string(), "{params}: {v}");
        }
        // a builder the scheduler does not build: Buildbot's 500
        let (s, v) = force(json!({"builderNames": ["other"], "reason": "r"})).await;
        assert_eq!((s, &v["error"]["code"]), (500, &json!(-32603)), "{v}");
        let (s, v) = force(json!({"builderid": 2, "reason": "r"})).await;
        assert_eq!((s, &v["error"]["code"]), (500, &json!(-32603)), "{v}");
        // the page form refuses the same way, with the field named
        let (s, _, b) = post_form(
            &env,
            "/builders/good/force",
            &[
                ("scheduler", "force"),
                ("reason", "r"),
                ("ticket", "lower-1"),
            ],
        )
        .await;
        assert_eq!(s, 400, "{b}");
        assert!(b.contains("does not match pattern"), "{b}");
        assert_eq!(
            buildsets(&env).await,
            0,
            "a refused force created a buildset"
        );

        // by id: the builder the scheduler builds
        let (s, v) = force(json!({"builderid": 1, "ticket": "OK-1", "reason": "r"})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(buildsets(&env).await, 1);
    });
}
