//! Authentication and authorization: every control action as anonymous / a user without
//! the role / a user with it; login and logout; bad passwords; anonymous read off; CSRF;
//! htpasswd files with argon2 and bcrypt; the `users` table; config errors.

use serde_json::{Value, json};

use crate::webenv::{Answer, W1, WebEnv, basic};

fn h(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

fn users_auth() -> Value {
    json!({"type": "UserPasswordAuth", "users": {"admin": "adminpw", "dev": "devpw"}})
}

fn admins_authz() -> Value {
    json!({
        "allowRules": [
            {"type": "ForceBuildEndpointMatcher", "builder": "good", "role": "admins"},
            {"type": "StopBuildEndpointMatcher", "role": "admins"},
            {"type": "RebuildBuildEndpointMatcher", "role": "admins"},
            {"type": "WorkerEndpointMatcher", "role": "admins"},
            {"type": "AnyControlEndpointMatcher", "role": "admins"}
        ],
        "roleMatchers": [
            {"type": "RolesFromUsername", "roles": ["admins"], "usernames": ["admin"]}
        ]
    })
}

const DENIED: &str = "you need to have role 'admins'";

fn assert_denied(a: &Answer, what: &str) {
    assert_eq!(a.status, 403, "{what}: {}", a.body);
    assert_eq!(
        a.json(),
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32600, "message": DENIED}}),
        "{what}"
    );
}

/// A web server with the users of [`users_auth`] and the rules of [`admins_authz`].
async fn guarded(worker: bool) -> WebEnv {
    WebEnv::start(
        |w| {
            w.auth = Some(users_auth());
            w.authz = Some(admins_authz());
        },
        &[],
        worker,
    )
    .await
}

/// Forces `builder` through the JSON-RPC control endpoint with `headers`.
async fn force(e: &WebEnv, headers: &[(String, String)], builder: &str) -> Answer {
    e.rpc(
        "/api/v2/forceschedulers/force",
        "force",
        json!({"builderNames": [builder]}),
        headers,
    )
    .await
}

fn assert_ok(a: &Answer, what: &str) -> Value {
    assert_eq!(a.status, 200, "{what}: {}", a.body);
    a.json()["result"].clone()
}

#[async_std::test]
async fn control_actions_need_the_role() {
    let e = guarded(true).await;
    let anon: Vec<(String, String)> = Vec::new();
    let dev = vec![basic("dev", "devpw")];
    let admin = vec![basic("admin", "adminpw")];

    // reading stays open
    let a = e.get("/api/v2/builders", &anon).await;
    assert_eq!(a.status, 200);

    // force (the fixture's exact body for the refusal)
    let a = force(&e, &anon, "good").await;
    assert_denied(&a, "anonymous force");
    if let Ok(t) = std::fs::read_to_string(
        "/work/shared/spec/fixtures/rest/auth_rpc_force__anonymous_403.json",
    ) {
        assert_eq!(a.json(), serde_json::from_str::<Value>(&t).unwrap());
    }
    assert_denied(&force(&e, &dev, "good").await, "dev force");
    assert_ok(&force(&e, &admin, "good").await, "admin force");

    // a running build to stop, a pending request to cancel
    let r = assert_ok(&force(&e, &admin, "slow").await, "admin force slow");
    let brid = r[1]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_i64()
        .unwrap();
    let buildid = e
        .wait("the slow build", || async {
            let a = e.get("/api/v2/builds", &[]).await;
            a.json()["builds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["buildrequestid"] == brid)
                .and_then(|b| b["buildid"].as_i64())
        })
        .await;

    // its shell step runs (a stop during build setup may come too early to interrupt it)
    e.wait("the slow step to start", || async {
        let a = e.get(&format!("/api/v2/builds/{buildid}/steps"), &[]).await;
        let steps = a.json()["steps"].as_array().cloned().unwrap_or_default();
        steps
            .iter()
            .any(|s| s["name"] != "worker_preparation" && !s["started_at"].is_null())
            .then_some(())
    })
    .await;
    async_std::task::sleep(std::time::Duration::from_millis(300)).await;

    // forced once the first runs, so it stays pending (not collapsed into the first)
    let r2 = assert_ok(&force(&e, &admin, "slow").await, "admin force slow again");
    let brid2 = r2[1]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_i64()
        .unwrap();
    let cancel = format!("/api/v2/buildrequests/{brid2}");
    assert_denied(
        &e.rpc(&cancel, "cancel", json!({}), &anon).await,
        "anonymous cancel",
    );
    assert_denied(
        &e.rpc(&cancel, "cancel", json!({}), &dev).await,
        "dev cancel",
    );
    assert_ok(
        &e.rpc(&cancel, "cancel", json!({}), &admin).await,
        "admin cancel",
    );
    let br = e.get(&cancel, &[]).await.json();
    assert_eq!(br["buildrequests"][0]["complete"], true, "cancelled: {br}");

    let build = format!("/api/v2/builds/{buildid}");
    assert_denied(
        &e.rpc(&build, "stop", json!({}), &anon).await,
        "anonymous stop",
    );
    assert_denied(&e.rpc(&build, "stop", json!({}), &dev).await, "dev stop");
    assert_ok(
        &e.rpc(&build, "stop", json!({}), &admin).await,
        "admin stop",
    );
    e.wait("the stopped build to finish", || async {
        let a = e.get(&build, &[]).await;
        (a.json()["builds"][0]["complete"] == true).then_some(())
    })
    .await;

    assert_denied(
        &e.rpc(&build, "rebuild", json!({}), &anon).await,
        "anonymous rebuild",
    );
    assert_denied(
        &e.rpc(&build, "rebuild", json!({}), &dev).await,
        "dev rebuild",
    );
    let r = assert_ok(
        &e.rpc(&build, "rebuild", json!({}), &admin).await,
        "admin rebuild",
    );
    // the rebuild sleeps too: stop it so no `sleep` outlives the test
    let brid3 = r[1]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_i64()
        .unwrap();
    let rebuilt = e
        .wait("the rebuilt build", || async {
            let a = e.get("/api/v2/builds", &[]).await;
            a.json()["builds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["buildrequestid"] == brid3)
                .and_then(|b| b["buildid"].as_i64())
        })
        .await;
    let rebuilt = format!("/api/v2/builds/{rebuilt}");
    assert_ok(
        &e.rpc(&rebuilt, "stop", json!({}), &admin).await,
        "stop the rebuild",
    );

    let worker = "/api/v2/workers/1";
    for m in ["pause", "unpause", "stop"] {
        assert_denied(
            &e.rpc(worker, m, json!({}), &anon).await,
            &format!("anonymous {m}"),
        );
        assert_denied(
            &e.rpc(worker, m, json!({}), &dev).await,
            &format!("dev {m}"),
        );
    }
    assert_ok(
        &e.rpc(worker, "pause", json!({}), &admin).await,
        "admin pause",
    );
    let w = e.get("/api/v2/workers/1", &[]).await.json();
    assert_eq!(w["workers"][0]["name"], W1);
    assert_ok(
        &e.rpc(worker, "unpause", json!({}), &admin).await,
        "admin unpause",
    );
    assert_ok(
        &e.rpc(worker, "stop", json!({}), &admin).await,
        "admin worker stop",
    );
}

#[async_std::test]
async fn no_authz_means_everything_is_allowed() {
    let e = WebEnv::start(|w| w.auth = Some(users_auth()), &[], false).await;
    let a = e.rpc("/api/v2/workers/1", "pause", json!({}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

fn session_cookie(a: &Answer) -> String {
    let c = a.header("Set-Cookie").expect("a session cookie");
    assert!(c.starts_with("TWISTED_SESSION="), "{c}");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
    assert!(!c.contains("Secure"), "plain http: no Secure flag: {c}");
    c.split(';').next().unwrap().to_owned()
}

#[async_std::test]
async fn login_logout_cookie_flow_and_csrf() {
    let e = guarded(false).await;
    // no credentials, bad password: 401 with a Basic challenge
    let a = e.get("/auth/login", &[]).await;
    assert_eq!((a.status, a.body.as_str()), (401, "Unauthorized"));
    assert_eq!(
        a.header("WWW-Authenticate"),
        Some("basic realm=\"buildbot\"")
    );
    let a = e.get("/auth/login", &[basic("admin", "wrong")]).await;
    assert_eq!(a.status, 401);
    assert!(a.header("Set-Cookie").is_none());
    let form = |u: &str, p: &str| {
        Some((
            "application/x-www-form-urlencoded",
            format!("username={u}&password={p}").into_bytes(),
        ))
    };
    let a = e
        .send("POST", "/auth/login", &[], form("dev", "nope"))
        .await;
    assert_eq!(a.status, 401);
    // Basic on any API call with a wrong password is refused too
    let a = e.get("/api/v2/builders", &[basic("admin", "wrong")]).await;
    assert_eq!(a.status, 401);

    // login with a form
    let a = e
        .send(
            "POST",
            "/auth/login?redirect=/builders",
            &[],
            form("admin", "adminpw"),
        )
        .await;
    assert_eq!(a.status, 302, "{}", a.body);
    let base = e.master.config().buildbot_url.clone();
    assert_eq!(
        a.header("Location"),
        Some(format!("{base}#/builders").as_str())
    );
    let cookie = session_cookie(&a);
    // the site's own origin (the CORS check wants buildbotURL's)
    let origin = base.trim_end_matches('/').to_owned();
    let me = e.get("/auth/me", &[h("Cookie", &cookie)]).await.json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["roles"], json!(["admins"]));
    assert_eq!(
        e.get("/auth/me", &[]).await.json(),
        json!({"anonymous": true})
    );

    // CSRF: a control call made with the cookie needs this site as Origin/Referer
    let pause = |hs: Vec<(String, String)>| {
        let e = &e;
        async move { e.rpc("/api/v2/workers/1", "pause", json!({}), &hs).await }
    };
    let a = pause(vec![h("Cookie", &cookie)]).await;
    assert_eq!(a.status, 403, "no Origin: {}", a.body);
    assert!(a.body.contains("cross-site"), "{}", a.body);
    let a = pause(vec![
        h("Cookie", &cookie),
        h("Origin", "http://evil.example"),
    ])
    .await;
    assert_eq!(a.status, 403, "foreign Origin: {}", a.body);
    let a = pause(vec![
        h("Cookie", &cookie),
        h("Referer", "http://evil.example/x"),
    ])
    .await;
    assert_eq!(a.status, 403, "foreign Referer: {}", a.body);
    let a = pause(vec![h("Cookie", &cookie), h("Origin", &origin)]).await;
    assert_eq!(a.status, 200, "same Origin: {}", a.body);
    let a = pause(vec![
        h("Cookie", &cookie),
        h("Referer", "http://localhost/workers"),
    ])
    .await;
    assert_eq!(a.status, 200, "same Referer: {}", a.body);

    // Basic login answers like Buildbot's: 302 + cookie
    let a = e.get("/auth/login", &[basic("dev", "devpw")]).await;
    assert_eq!(a.status, 302);
    assert_eq!(a.header("Location"), Some(format!("{base}#/").as_str()));
    let dev_cookie = session_cookie(&a);
    let a = pause(vec![h("Cookie", &dev_cookie), h("Origin", &origin)]).await;
    assert_eq!(a.status, 403, "dev lacks the role");
    assert_eq!(a.json()["error"]["message"], DENIED);

    // logout ends the session
    let a = e.get("/auth/logout", &[h("Cookie", &cookie)]).await;
    assert_eq!(a.status, 302);
    assert!(a.header("Set-Cookie").unwrap().contains("Max-Age=0"));
    let me = e.get("/auth/me", &[h("Cookie", &cookie)]).await.json();
    assert_eq!(me, json!({"anonymous": true}));
    let a = pause(vec![h("Cookie", &cookie), h("Origin", &origin)]).await;
    assert_eq!(a.status, 403, "the old cookie is anonymous now");
}

#[async_std::test]
async fn anonymous_read_off() {
    let e = WebEnv::start(
        |w| {
            w.auth = Some(users_auth());
            w.authz = Some(json!({"anonymous_read": false}));
        },
        &[],
        false,
    )
    .await;
    let a = e.get("/api/v2/builders", &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("WWW-Authenticate"),
        Some("basic realm=\"buildbot\"")
    );
    let a = e.get("/", &[]).await;
    assert_eq!(a.status, 401);
    let a = e.get("/api/v2/builders", &[basic("dev", "devpw")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = e.rpc("/api/v2/workers/1", "pause", json!({}), &[]).await;
    assert_eq!(a.status, 401);
    // login itself stays reachable
    let a = e.get("/auth/login", &[basic("dev", "devpw")]).await;
    assert_eq!(a.status, 302);
    let cookie = session_cookie(&a);
    let a = e.get("/api/v2/builders", &[h("Cookie", &cookie)]).await;
    assert_eq!(a.status, 200);
}

#[async_std::test]
async fn any_endpoint_matcher_guards_reads() {
    let mut authz = admins_authz();
    authz["allowRules"] = json!([{"type": "AnyEndpointMatcher", "role": "admins"}]);
    let e = WebEnv::start(
        |w| {
            w.auth = Some(users_auth());
            w.authz = Some(authz);
        },
        &[],
        false,
    )
    .await;
    let a = e.get("/api/v2/builders", &[basic("dev", "devpw")]).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.json(), json!({"error": DENIED}));
    let a = e
        .get("/api/v2/builders", &[basic("admin", "adminpw")])
        .await;
    assert_eq!(a.status, 200);
}

#[async_std::test]
async fn htpasswd_with_argon2_and_bcrypt() {
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let argon = argon2::Argon2::default()
        .hash_password(b"argonpw", &salt)
        .unwrap()
        .to_string();
    assert!(argon.starts_with("$argon2id$"));
    let bc = bcrypt::hash("bcryptpw", 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let file = format!("# users\nann:{argon}\nbob:{bc}\ncat:plainpw\n");
    let e = WebEnv::start(
        |w| {
            w.auth = Some(json!({"type": "HTPasswdAuth", "file": "htpasswd"}));
            w.authz = Some(json!({"anonymous_read": false}));
        },
        &[("htpasswd", &file)],
        false,
    )
    .await;
    for (u, p) in [("ann", "argonpw"), ("bob", "bcryptpw"), ("cat", "plainpw")] {
        let a = e.get("/auth/login", &[basic(u, p)]).await;
        assert_eq!(a.status, 302, "{u}");
        let a = e.get("/auth/login", &[basic(u, "wrong")]).await;
        assert_eq!(a.status, 401, "{u} wrong password");
        let a = e.get("/api/v2/builders", &[basic(u, p)]).await;
        assert_eq!(a.status, 200, "{u} on the API");
    }
    let a = e.get("/auth/login", &[basic("nobody", "argonpw")]).await;
    assert_eq!(a.status, 401);
}

#[async_std::test]
async fn users_table_passwords_as_buildbot_user_stores_them() {
    use sha1::Digest;
    let e = WebEnv::start(|w| w.auth = Some(json!({"type": "UserDbAuth"})), &[], false).await;
    let db = e.master.db();
    let uid = db
        .find_user_by_attr("web", "git", "Web User <web@example.com>")
        .await
        .unwrap();
    let salt = "a1b2c3d4e5f60718";
    let mut hsh = sha1::Sha1::new();
    hsh.update(b"dbpw");
    hsh.update(salt.as_bytes());
    let stored = format!("{salt}{}", hex::encode(hsh.finalize()));
    db.update_user(uid, None, Some("webuser"), Some(&stored), None)
        .await
        .unwrap();
    let a = e.get("/auth/login", &[basic("webuser", "dbpw")]).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let a = e.get("/auth/login", &[basic("webuser", "dbpx")]).await;
    assert_eq!(a.status, 401);
}

#[async_std::test]
async fn no_auth_configured_login_is_not_implemented() {
    let e = WebEnv::start(|_| {}, &[], false).await;
    let a = e.get("/auth/login", &[]).await;
    assert_eq!(a.status, 501);
    assert_eq!(
        e.get("/auth/me", &[]).await.json(),
        json!({"anonymous": true})
    );
}

#[test]
fn bad_auth_tables_are_named() {
    let check = |auth: Option<Value>, authz: Option<Value>| {
        let mut w = buildbot_core::master::config::WwwConfig::default();
        w.auth = auth;
        w.authz = authz;
        buildbot_web::check_config(&w, std::path::Path::new("/nonexistent")).unwrap_err()
    };
    assert_eq!(
        check(Some(json!({"type": "UserPasswordAuth", "user": {}})), None),
        "www.auth.user: unknown key (allowed here: type, users, groups)"
    );
    assert!(
        check(Some(json!({"type": "LdapAuth"})), None)
            .starts_with("www.auth.type: unknown auth \"LdapAuth\"")
    );
    assert!(
        check(Some(json!({"type": "HTPasswdAuth", "file": "nope"})), None)
            .starts_with("www.auth.file: cannot read /nonexistent/nope")
    );
    assert!(
        check(
            None,
            Some(json!({"allowRules": [{"type": "ForceMatcher", "role": "x"}]}))
        )
        .starts_with("www.authz.allowRules[0].type: unknown endpoint matcher \"ForceMatcher\"")
    );
    assert_eq!(
        check(
            None,
            Some(json!({"allowRules": [{"type": "AnyEndpointMatcher"}]}))
        ),
        "www.authz.allowRules[0].role: missing (a string is required)"
    );
    assert_eq!(
        check(
            None,
            Some(
                json!({"allowRules": [{"type": "AnyEndpointMatcher", "role": "a", "builder": "b"}]})
            )
        ),
        "www.authz.allowRules[0].builder: unknown key (allowed here: type, role, defaultDeny)"
    );
    assert_eq!(
        check(None, Some(json!({"anonymousRead": false}))),
        "www.authz.anonymousRead: unknown key (allowed here: anonymous_read, allowRules, roleMatchers)"
    );
    assert!(
        check(
            None,
            Some(json!({"roleMatchers": [{"type": "RolesFromOwner", "role": "o"}]}))
        )
        .starts_with("www.authz.roleMatchers[0].type: unknown role matcher")
    );
}

#[test]
fn toml_master_cfg_shape() {
    use buildbot_core::master::config::{Registry, parse_config};
    let text = r#"
[www]
port = 8010

[www.auth]
type = "UserPasswordAuth"
users = { admin = "adminpw" }

[www.authz]
anonymous_read = false
[[www.authz.allowRules]]
type = "ForceBuildEndpointMatcher"
builder = "good"
role = "admins"
[[www.authz.allowRules]]
type = "AnyControlEndpointMatcher"
role = "admins"
[[www.authz.roleMatchers]]
type = "RolesFromUsername"
roles = ["admins"]
usernames = ["admin"]

[www.change_hook_dialects]
base = true
github = { secret = "s", strict = true }
gitlab = { secret = "t" }
"#;
    let loaded = parse_config(text, "master.cfg", &Registry::new()).unwrap();
    let dir = std::path::Path::new("/nonexistent");
    buildbot_web::check_config(&loaded.config.www, dir).unwrap();
    let bad = text.replace("AnyControlEndpointMatcher", "AnyControlMatcher");
    let loaded = parse_config(&bad, "master.cfg", &Registry::new()).unwrap();
    let e = buildbot_web::check_config(&loaded.config.www, dir).unwrap_err();
    assert!(
        e.starts_with(
            "www.authz.allowRules[1].type: unknown endpoint matcher \"AnyControlMatcher\""
        ),
        "{e}"
    );
}

/// `buildbot reconfig` replaces the rules: the same anonymous force is refused, allowed once
/// `[www.authz]` is gone, and refused again when it is back; a user's login is checked
/// against the new user list.
#[async_std::test]
async fn reconfig_replaces_auth_and_rules() {
    let e = guarded(true).await;
    let anon: Vec<(String, String)> = Vec::new();
    assert_denied(
        &force(&e, &anon, "good").await,
        "anonymous force before reconfig",
    );
    let a = force(&e, &[basic("admin", "adminpw")], "good").await;
    assert_ok(&a, "admin force before reconfig");

    let reconfig = |authz: Option<Value>, auth: Value| {
        let e = &e;
        async move {
            let mut cfg = (*e.master.config()).clone();
            cfg.www.authz = authz;
            cfg.www.auth = Some(auth);
            e.master.reconfig(cfg).await.expect("reconfig");
        }
    };
    reconfig(None, users_auth()).await;
    assert_ok(
        &force(&e, &anon, "good").await,
        "anonymous force without authz",
    );

    // back, with admin's password changed
    let new_users =
        json!({"type": "UserPasswordAuth", "users": {"admin": "newpw", "dev": "devpw"}});
    reconfig(Some(admins_authz()), new_users).await;
    assert_denied(
        &force(&e, &anon, "good").await,
        "anonymous force after reconfig",
    );
    let old = force(&e, &[basic("admin", "adminpw")], "good").await;
    assert_eq!(old.status, 401, "old password: {}", old.body);
    assert_ok(
        &force(&e, &[basic("admin", "newpw")], "good").await,
        "admin force with the new password",
    );
}
