//! Server-rendered pages against a real engine and our in-process worker.

use std::time::Duration;

use buildbot_db::NewChange;
use tide::http::Method;

use crate::harness::*;

/// Builders `good` (3 lines + stderr), `slow` (sleeps), `lines` (prints 5 lines slowly),
/// `many` (3000 lines); a force scheduler with one parameter of each kind.
pub const CONFIG: &str = r#"
title = "Pages <Test> & CI"
titleURL = "https://example.invalid/"

[protocols.msgpack]
port = 0

[[workers]]
name = "w1"
password = "pass1"

[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["good", "slow", "lines", "many"]
reason = "because I can"
buttonName = "Build it now"
label = "Force a build"

[[schedulers.properties]]
type = "StringParameter"
name = "greeting"
label = "Greeting text"
default = "hello"

[[schedulers.properties]]
type = "ChoiceStringParameter"
name = "flavour"
label = "Flavour"
choices = ["vanilla", "chocolate"]

[[schedulers.properties]]
type = "BooleanParameter"
name = "fast"
label = "Go fast"

[[schedulers.properties]]
type = "IntParameter"
name = "jobs"
label = "Parallel jobs"
default = 2

[[builders]]
name = "good"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "hello-step"
command = ["sh", "-c", "for i in 1 2 3; do echo line $i; done; echo err >&2"]

[[builders]]
name = "slow"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "nap"
command = ["sleep", "60"]

[[builders]]
name = "lines"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "trickle"
command = ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 1; done"]

[[builders]]
name = "many"
workernames = ["w1"]
[[builders.steps]]
type = "ShellCommand"
name = "count"
command = ["seq", "1", "3000"]
"#;

pub async fn start() -> Env {
    Env::start_toml(CONFIG).await
}

/// GET in-process: `(status, content type, body)`.
pub async fn get(env: &Env, path: &str) -> (u16, String, String) {
    let (s, h, b) = request(&env.app, Method::Get, path, &[], None).await;
    let ct = h
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (s, ct, b)
}

/// A page that must answer 200 as HTML; its body.
pub async fn page(env: &Env, path: &str) -> String {
    let (s, ct, b) = get(env, path).await;
    assert_eq!(s, 200, "{path}: {b}");
    assert_eq!(ct, "text/html; charset=utf-8", "{path}");
    b
}

/// POSTs an urlencoded form: `(status, Location, body)`.
pub async fn post_form(env: &Env, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (s, h, b) = request(
        &env.app,
        Method::Post,
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&body),
    )
    .await;
    let loc = h
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (s, loc, b)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Forces `builder` through the page form; returns the build page path redirected to.
async fn force_via_form(env: &Env, builder: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![
        ("scheduler", "force"),
        ("username", "Tess <t@example.invalid>"),
        ("reason", "page test"),
    ];
    form.extend_from_slice(extra);
    let (s, loc, b) = post_form(env, &format!("/builders/{builder}/force"), &form).await;
    assert_eq!(s, 303, "{b}");
    loc
}

/// Polls the build page at `path` until it shows a finished build.
async fn wait_page_done(env: &Env, path: &str) -> String {
    for _ in 0..600 {
        let b = page(env, path).await;
        if !b.contains("data-running") {
            return b;
        }
        async_std::task::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never finished");
}

#[test]
fn every_page_after_a_build() {
    within(180, async move {
        let env = start().await;
        let loc = force_via_form(&env, "good", &[("greeting", "hi <b>there</b>")]).await;
        assert!(loc.starts_with("/builders/"), "{loc}");
        assert!(loc.contains("/builds/1"), "{loc}");
        let build = wait_page_done(&env, &loc).await;
        for want in [
            "good",
            "hello-step",
            "success",
            "line 3",
            "err",
            "Tess &lt;t@example.invalid&gt;",
            "hi &lt;b&gt;there&lt;/b&gt;",
            "Force Build Form",
            "Rusty &lt;r@example.invalid&gt;",
            "/api/v2/logs/",
        ] {
            assert!(build.contains(want), "build page lacks {want}: {build}");
        }
        assert!(!build.contains("<b>there"), "unescaped property");
        // the title is escaped on every page
        let home = page(&env, "/").await;
        assert!(home.contains("Pages &lt;Test&gt; &amp; CI"), "{home}");
        assert!(!home.contains("<Test>"));
        assert!(home.contains("#1") && home.contains("success"), "{home}");
        let builders = page(&env, "/builders").await;
        for b in ["good", "slow", "lines", "many"] {
            assert!(builders.contains(b), "{b}: {builders}");
        }
        // builder page by name and by id, with the force form's parameters
        let by_name = page(&env, "/builders/good").await;
        let id = loc.split('/').nth(2).unwrap().to_owned();
        let by_id = page(&env, &format!("/builders/{id}")).await;
        for p in [&by_name, &by_id] {
            for want in [
                "Force a build",
                "Build it now",
                "because I can",
                "name=\"greeting\"",
                "value=\"hello\"",
                "Greeting text",
                "name=\"flavour\"",
                "<option value=\"chocolate\"",
                "type=\"checkbox\" name=\"fast\"",
                "type=\"number\" step=\"1\" name=\"jobs\" value=\"2\"",
                "name=\"username\"",
                "name=\"reason\"",
                "#1",
            ] {
                assert!(p.contains(want), "builder page lacks {want}: {p}");
            }
        }
        // the log page shows the lines and links the raw download
        let logid = build
            .split("/logs/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        let log = page(&env, &format!("/logs/{logid}")).await;
        assert!(log.contains("<span class=\"o\">line 1\n</span>"), "{log}");
        assert!(log.contains("<span class=\"e\">err\n</span>"), "{log}");
        assert!(log.contains(&format!("/api/v2/logs/{logid}/raw")));
        for (path, want) in [
            ("/grid", "#1"),
            ("/waterfall", "#1"),
            ("/workers", "Rusty &lt;r@example.invalid&gt;"),
            ("/workers", "test host"),
            ("/workers/w1", "test host"),
            ("/workers/w1", "Graceful shutdown"),
            ("/workers/w1", "/workers/w1/pause"),
            ("/pending", "No pending build requests"),
            ("/masters", "this master"),
            ("/about", env!("CARGO_PKG_VERSION")),
            ("/about", "ForceScheduler"),
            ("/changes", "No changes yet"),
        ] {
            let b = page(&env, path).await;
            assert!(b.contains(want), "{path} lacks {want}: {b}");
        }
        // a change with markup is escaped
        let mut ch = NewChange::new("Mallory <script>alert(1)</script>", "fix <i>it</i>");
        ch.files = vec!["src/a.rs".into()];
        env.master.add_change(&ch).await.unwrap();
        let changes = page(&env, "/changes").await;
        assert!(changes.contains("Mallory &lt;script&gt;"), "{changes}");
        assert!(!changes.contains("<script>alert"), "{changes}");
        assert!(changes.contains("src/a.rs"));
        // /builds/<id> redirects to the nested page
        let (s, h, _) = request(&env.app, Method::Get, "/builds/1", &[], None).await;
        assert_eq!(s, 303);
        assert!(h.iter().any(|(k, v)| k == "location" && v == &loc), "{h:?}");
    });
}

#[test]
fn force_form_sets_parameters_and_rejects_bad_values() {
    within(180, async move {
        let env = start().await;
        let loc = force_via_form(
            &env,
            "good",
            &[
                ("greeting", "howdy"),
                ("flavour", "chocolate"),
                ("fast", "true"),
                ("jobs", "7"),
            ],
        )
        .await;
        let build = wait_page_done(&env, &loc).await;
        assert!(build.contains("howdy"), "{build}");
        assert!(build.contains("chocolate"));
        assert!(build.contains("<td><code>true</code></td>"), "{build}");
        assert!(build.contains("<td><code>7</code></td>"), "{build}");
        let v = env.ok("/api/v2/builds/1?property=*").await;
        let props = &v["builds"][0]["properties"];
        assert_eq!(props["jobs"][0], 7, "{props}");
        assert_eq!(props["fast"][0], true);
        assert_eq!(props["flavour"][0], "chocolate");
        assert_eq!(props["owner"][0], "Tess <t@example.invalid>");
        assert_eq!(v["builds"][0]["results"], 0);

        // a bad int and a bad choice: 400 pages naming the parameter, no build
        let (s, _, b) = post_form(
            &env,
            "/builders/good/force",
            &[("scheduler", "force"), ("jobs", "many")],
        )
        .await;
        assert_eq!(s, 400, "{b}");
        assert!(
            b.contains("jobs") && b.contains("invalid literal for int() with base 10"),
            "{b}"
        );
        let (s, _, b) = post_form(
            &env,
            "/builders/good/force",
            &[("scheduler", "force"), ("flavour", "<mint>")],
        )
        .await;
        assert_eq!(s, 400, "{b}");
        assert!(b.contains("&lt;mint&gt;"), "{b}");
        let (s, _, _) = post_form(&env, "/builders/good/force", &[("scheduler", "nope")]).await;
        assert_eq!(s, 400);
        let (s, _, _) = post_form(&env, "/builders/nope/force", &[("scheduler", "force")]).await;
        assert_eq!(s, 404);
        let v = env.ok("/api/v2/builds").await;
        assert_eq!(v["builds"].as_array().unwrap().len(), 1);

        // a busy worker: the second build waits, the form lands on the builder page and the
        // request is listed as pending
        let slow = force_via_form(&env, "slow", &[]).await;
        assert!(slow.contains("/builds/"), "{slow}");
        let (s, loc, _) = post_form(&env, "/builders/slow/force", &[("scheduler", "force")]).await;
        assert_eq!(s, 303);
        let _ = loc;
        let pending = page(&env, "/pending").await;
        assert!(pending.contains("slow"), "{pending}");
        assert!(pending.contains("A build was forced by"), "{pending}");
    });
}

#[test]
fn worker_pause_unpause_and_graceful_shutdown_from_the_page() {
    within(120, async move {
        let env = start().await;
        let (s, loc, _) = post_form(&env, "/workers/w1/pause", &[("reason", "disk full")]).await;
        assert_eq!((s, loc.as_str()), (303, "/workers/w1"));
        let p = page(&env, "/workers/w1").await;
        assert!(p.contains("paused") && p.contains("disk full"), "{p}");
        assert!(p.contains("/workers/w1/unpause"), "{p}");
        let (s, _, _) = post_form(&env, "/workers/w1/unpause", &[]).await;
        assert_eq!(s, 303);
        let p = page(&env, "/workers/w1").await;
        assert!(!p.contains("badge warnings\">paused"), "{p}");
        let (s, _, _) = post_form(&env, "/workers/nope/pause", &[]).await;
        assert_eq!(s, 404);
        let (s, loc, _) = post_form(&env, "/workers/1/stop", &[]).await;
        assert_eq!((s, loc.as_str()), (303, "/workers/w1"));
        let mut gone = false;
        for _ in 0..300 {
            if !env.master.connected_workers().iter().any(|w| w == W1) {
                gone = true;
                break;
            }
            async_std::task::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "worker still connected after a graceful shutdown");
        let p = page(&env, "/workers/w1").await;
        assert!(p.contains("offline"), "{p}");
    });
}

#[test]
fn big_log_page_shows_only_the_tail() {
    within(180, async move {
        let env = start().await;
        let loc = force_via_form(&env, "many", &[]).await;
        let build = wait_page_done(&env, &loc).await;
        let logid = build
            .split("href=\"/logs/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        let log = page(&env, &format!("/logs/{logid}")).await;
        assert!(log.contains("showing the last 1000"), "{log}");
        assert!(log.contains(">3000\n</span>"));
        assert!(log.contains(">2100\n</span>"));
        assert!(!log.contains(">1500\n</span>") && !log.contains(">1\n</span>"));
        let pre = log.split("<pre").nth(1).unwrap();
        assert_eq!(pre.matches("<span class=").count(), 1000);
        assert!(log.contains("?tail=5000"));
        let more = page(&env, &format!("/logs/{logid}?tail=5000")).await;
        assert!(more.contains(">1\n</span>") && more.contains(">3000\n</span>"));
        // the build page shows the last lines of the last step's log
        assert!(build.contains(">3000\n</span>") && !build.contains(">2900\n</span>"));
    });
}

#[test]
fn template_overrides_from_basedir() {
    within(120, async move {
        let env = start().await;
        let tdir = env.master.basedir().join("templates");
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::write(tdir.join("about.html"), "<p>OVR {{ site_title }}</p>").unwrap();
        let b = page(&env, "/about").await;
        assert_eq!(b, "<p>OVR Pages &lt;Test&gt; &amp; CI</p>");
        // an override of the layout applies to every page
        std::fs::write(
            tdir.join("layout.html"),
            "<main class=\"mine\">{% block content %}{% endblock content %}</main>",
        )
        .unwrap();
        let b = page(&env, "/builders").await;
        assert!(b.starts_with("<main class=\"mine\">"), "{b}");
        std::fs::remove_file(tdir.join("layout.html")).unwrap();
        // a broken override: the built-in page, with the problem shown
        std::fs::write(tdir.join("about.html"), "{% if %}broken").unwrap();
        let b = page(&env, "/about").await;
        assert!(b.contains("About this Buildbot"), "{b}");
        assert!(
            b.contains("class=\"alert\"") && b.contains("does not parse"),
            "{b}"
        );
        // an override failing at render time (unknown variable)
        std::fs::write(tdir.join("about.html"), "{{ no_such_thing.x }}").unwrap();
        let b = page(&env, "/about").await;
        assert!(
            b.contains("About this Buildbot") && b.contains("failed"),
            "{b}"
        );
        std::fs::remove_file(tdir.join("about.html")).unwrap();
        let b = page(&env, "/about").await;
        assert!(b.contains("About this Buildbot") && !b.contains("class=\"alert\""));
    });
}

#[test]
fn static_and_public_html_files_and_traversal() {
    within(120, async move {
        let env = start().await;
        let (s, ct, b) = get(&env, "/static/buildbot.css").await;
        assert_eq!((s, ct.as_str()), (200, "text/css; charset=utf-8"));
        assert!(b.contains(".success"));
        let (s, ct, b) = get(&env, "/static/buildbot.js").await;
        assert_eq!((s, ct.as_str()), (200, "text/javascript; charset=utf-8"));
        assert!(b.contains("/api/v2/logs/"));
        assert_eq!(get(&env, "/static/nope.css").await.0, 404);
        let pub_dir = env.master.basedir().join("public_html");
        std::fs::create_dir_all(pub_dir.join("reports")).unwrap();
        std::fs::write(pub_dir.join("x.txt"), "hi\n").unwrap();
        std::fs::write(pub_dir.join("robots.txt"), "User-agent: *\n").unwrap();
        std::fs::write(pub_dir.join("reports/index.html"), "<p>report</p>").unwrap();
        std::fs::write(env.master.basedir().join("secret.txt"), "secret").unwrap();
        let (s, ct, b) = get(&env, "/x.txt").await;
        assert_eq!(
            (s, ct.as_str(), b.as_str()),
            (200, "text/plain; charset=utf-8", "hi\n")
        );
        assert_eq!(get(&env, "/robots.txt").await.0, 200);
        let (s, ct, b) = get(&env, "/reports/").await;
        assert_eq!(
            (s, ct.as_str(), b.as_str()),
            (200, "text/html; charset=utf-8", "<p>report</p>")
        );
        // edits show up without a restart
        std::fs::write(pub_dir.join("x.txt"), "changed\n").unwrap();
        assert_eq!(get(&env, "/x.txt").await.2, "changed\n");
        // traversal is refused
        for p in [
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/reports/..%2f..%2fsecret.txt",
            "/static/..%2f..%2fCargo.toml",
            "/x.txt%00",
            "/..%5csecret.txt",
        ] {
            let (s, _, b) = get(&env, p).await;
            assert!(s == 400 || s == 404, "{p}: {s}");
            assert!(!b.contains("secret"), "{p}: {b}");
        }
        assert_eq!(get(&env, "/..%2fsecret.txt").await.0, 400);
        // a symlink leading outside is not followed
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(env.master.basedir(), pub_dir.join("up")).unwrap();
            let (s, _, b) = get(&env, "/up/secret.txt").await;
            assert_eq!(s, 404, "{b}");
        }
        // over a real socket, with a raw request target
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let addr = server.addr();
        let out = async_std::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut res = Vec::new();
            for target in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"] {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                write!(
                    s,
                    "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut raw = Vec::new();
                let _ = s.read_to_end(&mut raw);
                res.push((target, String::from_utf8_lossy(&raw).into_owned()));
            }
            res
        })
        .await;
        for (target, raw) in out {
            assert!(
                raw.starts_with("HTTP/1.1 404") || raw.starts_with("HTTP/1.1 400"),
                "{target}: {raw}"
            );
            assert!(!raw.contains("\r\n\r\nsecret"), "{target}: {raw}");
        }
        server.stop().await;
    });
}

#[test]
fn unknown_things_answer_a_404_page() {
    within(120, async move {
        let env = start().await;
        for p in [
            "/builders/nope",
            "/builders/999",
            "/builders/good/builds/999",
            "/builders/good/builds/x",
            "/builds/999",
            "/logs/999",
            "/logs/x",
            "/workers/nope",
            "/no/such/page",
        ] {
            let (s, ct, b) = get(&env, p).await;
            assert_eq!(s, 404, "{p}: {b}");
            assert_eq!(ct, "text/html; charset=utf-8", "{p}");
            assert!(
                b.contains("404 Not Found") && b.contains("not found"),
                "{p}: {b}"
            );
        }
    });
}

/// Issue 14: the changes page shows how each poller is doing, a failing poll with git's
/// reason.
#[test]
fn changes_page_shows_a_failing_poller() {
    within(120, async move {
        let missing = tempfile::tempdir().unwrap().path().join("no-such-repo");
        let env = Env::start_toml(&format!(
            "{CONFIG}\n[[change_source]]\ntype = \"GitPoller\"\nname = \"watcher\"\n\
             repourl = \"{}\"\npollAtLaunch = true\npollInterval = 3600\n",
            missing.display()
        ))
        .await;
        let mut body = String::new();
        for _ in 0..200 {
            body = page(&env, "/changes").await;
            if body.contains("failing") {
                break;
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            body.contains("watcher") && body.contains("GitPoller"),
            "{body}"
        );
        assert!(body.contains("failing"), "{body}");
        assert!(body.contains("git ls-remote"), "{body}");
        assert!(env.master.poll_now(&["watcher".to_owned()]).is_ok());
    });
}
