//! End-to-end REST tests.

use serde_json::{Value, json};

use crate::harness::*;

#[test]
fn force_build_and_inspect_over_rest() {
    within(120, async move {
        let env = Env::start().await;
        let (status, v) = env
            .rpc(
                "/api/v2/forceschedulers/force",
                "force",
                json!({"builderNames": ["good"], "username": "tester <t@example.com>",
                       "reason": "spec good", "priority": 0, "branch": "", "revision": "",
                       "repository": "", "project": ""}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["id"], 1);
        assert_eq!(v["jsonrpc"], "2.0");
        let bsid = v["result"][0].as_i64().unwrap();
        let map = v["result"][1].as_object().unwrap();
        assert_eq!(map.len(), 1);
        let brid = map.values().next().unwrap().as_i64().unwrap();

        let buildid = env.build_of(brid).await;
        // poll the way the benchmark harness does
        let mut done = false;
        for _ in 0..600 {
            let v = env
                .ok("/api/v2/builds?complete=true&field=buildid&field=complete")
                .await;
            if v["builds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["buildid"] == buildid)
            {
                assert_eq!(v["builds"][0].as_object().unwrap().len(), 2);
                done = true;
                break;
            }
            async_std::task::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(done, "build never completed");
        let build = env.wait_build(buildid).await;
        assert_eq!(build["results"], 0);
        assert_eq!(build["buildrequestid"], brid);
        same_shape("api_v2_builds_1.json", "builds", &build);

        // builders by id and by name, nested builds
        let builders = env.ok("/api/v2/builders").await;
        assert_eq!(builders["meta"]["total"], 2);
        same_shape(
            "api_v2_builders_1.json",
            "builders",
            &builders["builders"][0],
        );
        let bid = build["builderid"].as_i64().unwrap();
        let by_name = env.ok("/api/v2/builders/good").await;
        assert_eq!(by_name["builders"][0]["builderid"], bid);
        assert_eq!(by_name["meta"], json!({}));
        let nb = env.ok(&format!("/api/v2/builders/{bid}/builds")).await;
        assert_eq!(nb["builds"][0]["buildid"], buildid);
        let num = build["number"].as_i64().unwrap();
        let one = env.ok(&format!("/api/v2/builders/good/builds/{num}")).await;
        assert_eq!(one["builds"][0]["buildid"], buildid);

        // property=*
        let p = env
            .ok(&format!("/api/v2/builds/{buildid}?property=*"))
            .await;
        assert_eq!(
            p["builds"][0]["properties"]["owner"][0],
            "tester <t@example.com>"
        );

        let workers = env.ok("/api/v2/workers").await;
        assert_eq!(workers["workers"][0]["name"], W1);
        same_shape("api_v2_workers.json", "workers", &workers["workers"][0]);

        // worker by name, pause / unpause
        let w = env.ok("/api/v2/workers/w1").await;
        assert_eq!(w["workers"][0]["name"], W1);
        let (s, v) = env
            .rpc(
                "/api/v2/workers/w1",
                "pause",
                json!({"reason": "maintenance"}),
            )
            .await;
        assert_eq!((s, &v["result"]), (200, &Value::Null), "{v}");
        let w = env.ok("/api/v2/workers/w1").await;
        assert_eq!(w["workers"][0]["paused"], true);
        assert_eq!(w["workers"][0]["pause_reason"], "maintenance");
        let (s, _) = env.rpc("/api/v2/workers/w1", "unpause", json!({})).await;
        assert_eq!(s, 200);
        assert_eq!(
            env.ok("/api/v2/workers/w1").await["workers"][0]["paused"],
            false
        );

        let brs = env.ok("/api/v2/buildrequests").await;
        assert_eq!(brs["buildrequests"][0]["complete"], true);
        same_shape(
            "api_v2_buildrequests_1.json",
            "buildrequests",
            &brs["buildrequests"][0],
        );
        let bss = env.ok(&format!("/api/v2/buildsets/{bsid}")).await;
        assert_eq!(
            bss["buildsets"][0]["reason"],
            "A build was forced by 'tester <t@example.com>': spec good"
        );
        same_shape("api_v2_buildsets_1.json", "buildsets", &bss["buildsets"][0]);
        let masters = env.ok("/api/v2/masters").await;
        same_shape("api_v2_masters.json", "masters", &masters["masters"][0]);
        let fs = env.ok("/api/v2/forceschedulers").await;
        assert_eq!(fs["forceschedulers"][0]["name"], "force");
        assert_eq!(env.ok("/api/v2/changes").await["meta"]["total"], 0);

        // steps, logs, contents
        let steps = env.ok(&format!("/api/v2/builds/{buildid}/steps")).await;
        let steps = steps["steps"].as_array().unwrap().clone();
        let shell = steps
            .iter()
            .find(|s| s["name"] != "worker_preparation")
            .unwrap();
        same_shape("api_v2_builds_1_steps.json", "steps", shell);
        let stepid = shell["stepid"].as_i64().unwrap();
        let logs = env.ok(&format!("/api/v2/steps/{stepid}/logs")).await;
        let log = logs["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["slug"] == "stdio")
            .unwrap()
            .clone();
        same_shape(
            "api_v2_builders_1_builds_1_steps_hello_logs_stdio.json",
            "logs",
            &log,
        );
        let logid = log["logid"].as_i64().unwrap();
        assert_eq!(
            env.ok(&format!("/api/v2/logs/{logid}")).await["logs"][0],
            log
        );
        let c = env.ok(&format!("/api/v2/logs/{logid}/contents")).await;
        same_shape(
            "api_v2_builders_1_builds_1_steps_hello_logs_stdio_contents.json",
            "logchunks",
            &c["logchunks"][0],
        );
        let content = c["logchunks"][0]["content"].as_str().unwrap();
        assert!(content.contains("oline 2\n"), "{content}");
        assert!(content.contains("eerr\n"), "{content}");
        let lines: Vec<&str> = content.lines().collect();
        let i = lines.iter().position(|l| *l == "oline 1").unwrap();
        let part = env
            .ok(&format!("/api/v2/logs/{logid}/contents?offset={i}&limit=2"))
            .await;
        assert_eq!(part["logchunks"][0]["firstline"], i as i64);
        // stdout/stderr interleave as they arrive: compare with the full contents
        let want = format!("{}\n{}\n", lines[i], lines[i + 1]);
        assert_eq!(part["logchunks"][0]["content"], want.as_str());
        let by_slug = env
            .ok(&format!("/api/v2/steps/{stepid}/logs/stdio/contents"))
            .await;
        assert_eq!(by_slug, c);
        let by_slug = env.ok(&format!("/api/v2/steps/{stepid}/logs/stdio")).await;
        assert_eq!(by_slug["logs"][0], log);
        let (s, _) = env.get(&format!("/api/v2/steps/{stepid}/logs/nope")).await;
        assert_eq!(s, 404);
        let (s, _) = env
            .get(&format!("/api/v2/logs/{logid}/contents?offset=100000"))
            .await;
        assert_eq!(s, 404);

        // the same server on a real socket: JSON and the streamed raw log
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let addr = server.addr();
        let (s, head, body) =
            async_std::task::spawn_blocking(move || http_get(addr, "/api/v2/builders?limit=1"))
                .await;
        assert_eq!(s, 200, "{head}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["builders"].as_array().unwrap().len(), 1);
        assert_eq!(v["meta"]["total"], 2);
        let path = format!("/api/v2/logs/{logid}/raw");
        let (s, head, body) = async_std::task::spawn_blocking(move || http_get(addr, &path)).await;
        assert_eq!(s, 200, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-disposition: attachment; filename=good_build_"),
            "{head}"
        );
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with("Builder: good\nBuild number: "), "{body}");
        // the header, then every line without its stream prefix
        let (_, rest) = body.split_once("Worker name: w1\n").unwrap();
        let want: String = lines.iter().map(|l| format!("{}\n", &l[1..])).collect();
        assert_eq!(rest, want);
        assert!(
            rest.contains("line 1\n") && rest.contains("err\n"),
            "{body}"
        );
        server.stop().await;
    });
}

#[test]
fn stop_cancel_and_rebuild() {
    within(120, async move {
        let env = Env::start().await;
        let (_, v) = env
            .rpc(
                "/api/v2/forceschedulers/force",
                "force",
                json!({"builderNames": ["slow"]}),
            )
            .await;
        let brid = v["result"][1]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_i64()
            .unwrap();
        let buildid = env.build_of(brid).await;
        let (s, v) = env
            .rpc(
                &format!("/api/v2/builds/{buildid}"),
                "stop",
                json!({"reason": "enough"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v, json!({"id": 1, "jsonrpc": "2.0", "result": null}));
        let b = env.wait_build(buildid).await;
        assert_eq!(b["results"], 6, "{b}");

        // rebuild: a new buildset for the same builder
        let (s, v) = env
            .rpc(&format!("/api/v2/builds/{buildid}"), "rebuild", json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        let bsid = v["result"][0].as_i64().unwrap();
        let (bid, brid2) = v["result"][1].as_object().unwrap().iter().next().unwrap();
        assert_eq!(bid, &b["builderid"].to_string());
        let bs = env.ok(&format!("/api/v2/buildsets/{bsid}")).await;
        assert_eq!(bs["buildsets"][0]["rebuilt_buildid"], buildid);

        // cancel the rebuilt request once it is building (its build gets stopped)
        env.build_of(brid2.as_i64().unwrap()).await;
        let (s, v) = env
            .rpc(
                &format!("/api/v2/buildrequests/{brid2}"),
                "cancel",
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let mut cancelled = false;
        for _ in 0..300 {
            let r = env.ok(&format!("/api/v2/buildrequests/{brid2}")).await;
            if r["buildrequests"][0]["complete"] == true {
                assert_eq!(r["buildrequests"][0]["results"], 6);
                cancelled = true;
                break;
            }
            async_std::task::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(cancelled);

        // unknown action
        let (s, v) = env.rpc("/api/v2/builds/1", "frobnicate", json!({})).await;
        assert_eq!(s, 501);
        assert_eq!(v["error"]["code"], -32601);
        assert_eq!(v["error"]["message"], "action: frobnicate is not supported");
    });
}

#[test]
fn errors_as_buildbot_gives_them() {
    within(120, async move {
        let env = Env::start().await;
        let (s, v) = env.get("/api/v2/builds/999").await;
        assert_eq!(s, 404);
        assert!(v["error"].as_str().unwrap().starts_with("not found"));
        let (s, _) = env.get("/api/v2/builders/nosuch").await;
        assert_eq!(s, 404);
        let (s, _) = env.get("/api/v2/logs/999/contents").await;
        assert_eq!(s, 404);
        let (s, v) = env.get("/api/v2/nothing").await;
        assert_eq!(s, 404);
        assert_eq!(v["error"], "Invalid path: nothing");
        let (s, v) = env.get("/api/v2/builds?frob=1").await;
        assert_eq!(s, 400);
        assert_eq!(v["error"], "unrecognized query parameter 'frob'");
        let (s, v) = env.get("/api/v2/builds?field=nope").await;
        assert_eq!(s, 400);
        assert_eq!(v["error"], "no such field 'nope'");
        let (s, v) = env.get("/api/v2/builds?builderid=abc").await;
        assert_eq!(s, 400);
        assert_eq!(v["error"], "invalid filter value for builderid");
        let (s, v) = env.get("/api/v2/builds?limit=x").await;
        assert_eq!(s, 400);
        assert_eq!(v["error"], "invalid limit");
        let (s, v) = env.get("/api/v2/builds/1?builderid=1").await;
        assert_eq!(s, 400);
        assert_eq!(v["error"], "this is not a collection");
        // unknown operator: ignored
        let (s, _) = env.get("/api/v2/builds?builderid__frob=1").await;
        assert_eq!(s, 200);
        // empty nested collection of a missing parent
        let v = env.ok("/api/v2/builders/999/builds").await;
        assert_eq!(v, json!({"builds": [], "meta": {"total": 0}}));
        // without `Accept: application/json`: Python's indented format
        let (s, ct, body) = env.get_text("/api/v2/builders/999/builds").await;
        assert_eq!(s, 200);
        assert!(ct.starts_with("text/plain"), "{ct}");
        assert_eq!(
            body,
            "{\n  \"builds\": [], \n  \"meta\": {\n    \"total\": 0\n  }\n}"
        );
        let (s, _) = env.get("/api/v2/logs/999/raw").await;
        assert_eq!(s, 404);
        // HEAD: the GET headers, no body
        let url = tide::http::Url::parse("http://localhost/api/v2/builders").unwrap();
        let req = tide::http::Request::new(tide::http::Method::Head, url);
        let mut res: tide::http::Response = env.app.respond(req).await.unwrap();
        assert_eq!(res.status() as u16, 200);
        let len: usize = res["Content-Length"].as_str().parse().unwrap();
        assert!(len > 10, "{len}");
        assert_eq!(res.body_string().await.unwrap(), "");
        // force with an unknown builder
        let (s, v) = env
            .rpc(
                "/api/v2/forceschedulers/force",
                "force",
                json!({"builderNames": ["zz"]}),
            )
            .await;
        assert_eq!(s, 500, "{v}");
        assert_eq!(v["error"]["code"], -32603);
    });
}

/// Answers come from the response cache only while nothing was written: a request made
/// right after a write (no waiting) sees it; `Cache-Control: no-cache` answers the same.
#[test]
fn cached_answers_follow_every_write() {
    within(120, async move {
        let env = Env::start().await;
        let path = "/api/v2/buildrequests?field=buildrequestid&order=buildrequestid";
        let ids = |v: &Value| -> Vec<i64> {
            v["buildrequests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["buildrequestid"].as_i64().unwrap())
                .collect()
        };
        let mut expected: Vec<i64> = ids(&env.ok(path).await);
        for round in 0..3 {
            // twice unchanged: the second answer is the cached one, and equal
            assert_eq!(ids(&env.ok(path).await), expected, "round {round}");
            assert_eq!(ids(&env.ok(path).await), expected, "round {round}");
            let (status, v) = env
                .rpc(
                    "/api/v2/forceschedulers/force",
                    "force",
                    json!({"builderNames": ["good"], "reason": format!("cache {round}")}),
                )
                .await;
            assert_eq!(status, 200, "{v}");
            let brid = v["result"][1].as_object().unwrap().values().next().unwrap();
            expected.push(brid.as_i64().unwrap());
            // at once, without waiting for any expiry
            assert_eq!(ids(&env.ok(path).await), expected, "round {round}");
            let (s, _, body) = request(
                &env.app,
                tide::http::Method::Get,
                path,
                &[
                    ("Accept", "application/json"),
                    ("Cache-Control", "no-cache"),
                ],
                None,
            )
            .await;
            assert_eq!(s, 200);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(ids(&v), expected, "round {round}, no-cache");
        }
    });
}

/// Issue 19: wrong-typed JSON-RPC parameters get Buildbot's invalid-params error and change
/// nothing.
#[test]
fn wrong_typed_rpc_params_change_nothing() {
    within(120, async move {
        let env = Env::start().await;
        let (s, v) = env
            .rpc(
                "/api/v2/forceschedulers/force",
                "force",
                json!({"builderNames": ["slow"], "username": "t <t@example.com>"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let brid = v["result"][1]["2"].as_i64().unwrap();
        let buildid = env.build_of(brid).await;
        let invalid = |v: &Value| v["error"]["code"] == -32602 && v["error"]["message"].is_object();

        // stop with a non-string reason: refused, the build keeps running
        let (s, v) = env
            .rpc(
                &format!("/api/v2/builds/{buildid}"),
                "stop",
                json!({"reason": 5}),
            )
            .await;
        assert_eq!(s, 400, "{v}");
        assert!(invalid(&v), "{v}");
        assert_eq!(v["error"]["message"]["reason"], "must be a string, not 5");
        // pause with a list as reason: refused, not paused
        let (s, v) = env
            .rpc("/api/v2/workers/1", "pause", json!({"reason": ["x"]}))
            .await;
        assert_eq!(s, 400, "{v}");
        assert!(invalid(&v), "{v}");
        assert_eq!(
            env.ok("/api/v2/workers/1").await["workers"][0]["paused"],
            false
        );
        // enable with "yes": refused, still enabled
        let sched = env.ok("/api/v2/schedulers").await["schedulers"][0].clone();
        let sid = sched["schedulerid"].as_i64().unwrap();
        let (s, v) = env
            .rpc(
                &format!("/api/v2/schedulers/{sid}"),
                "enable",
                json!({"enabled": "yes"}),
            )
            .await;
        assert_eq!(s, 400, "{v}");
        assert!(invalid(&v), "{v}");
        let after = env.ok(&format!("/api/v2/schedulers/{sid}")).await;
        assert_eq!(after["schedulers"][0]["enabled"], sched["enabled"]);
        // the build is still running; a well-typed stop ends it
        let b = env.ok(&format!("/api/v2/builds/{buildid}")).await;
        assert_eq!(b["builds"][0]["complete"], false, "{b}");
        let (s, v) = env
            .rpc(
                &format!("/api/v2/builds/{buildid}"),
                "stop",
                json!({"reason": "enough"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let done = env.wait_build(buildid).await;
        assert_eq!(done["results"], 6, "{done}");
    });
}

/// Issue 19 item 10: unknown fields and operators are treated alike by the collections
/// filtered in SQL (builds) and in memory (builders, workers, masters, forceschedulers): a
/// plain unknown field is a 400, the `__` forms with an unknown field or operator are
/// ignored as Buildbot documents (rest-api.md §3.1).
#[test]
fn unknown_filter_fields_are_treated_alike_everywhere() {
    within(120, async move {
        let env = Env::start().await;
        for coll in [
            "builds",
            "builders",
            "workers",
            "masters",
            "forceschedulers",
            "changes",
        ] {
            let (s, v) = env.get(&format!("/api/v2/{coll}?nosuchfield=1")).await;
            assert_eq!(s, 400, "{coll}: {v}");
            for q in [
                "nosuchfield__gt=1",
                "name__nosuchop=1",
                "nosuchfield__eq=1&nosuchfield__eq=2",
            ] {
                let (s, v) = env.get(&format!("/api/v2/{coll}?{q}")).await;
                assert_eq!(s, 200, "{coll}?{q}: {v}");
                assert!(v["meta"]["total"].is_number(), "{coll}?{q}: {v}");
            }
            // an operator that exists but does not take several values: ignored too
            let (s, v) = env
                .get(&format!("/api/v2/{coll}?name__lt=a&name__lt=b"))
                .await;
            assert_eq!(s, 200, "{coll}: {v}");
        }
    });
}
