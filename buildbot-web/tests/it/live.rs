//! Live updates over real sockets: `/ws` with a real WebSocket client, `/sse` with a raw TCP
//! client, against a real engine and an in-process worker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_std::io::BufReader;
use async_std::net::TcpStream;
use async_std::prelude::*;
use async_tungstenite::tungstenite::Message;
use buildbot_core::master::config::{BuilderConfig, SchedulerConfig, StepConfig};
use serde_json::{Value, json};

use crate::harness::*;

/// Forces `builder` through the `scheduler` force scheduler; returns the build request id.
pub async fn force(env: &Env, scheduler: &str, builder: &str) -> i64 {
    let (status, v) = env
        .rpc(
            &format!("/api/v2/forceschedulers/{scheduler}"),
            "force",
            json!({"builderNames": [builder], "username": "tester <t@example.com>",
                   "reason": "live", "priority": 0, "branch": "", "revision": "",
                   "repository": "", "project": ""}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v["result"][1]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_i64()
        .unwrap()
}

/// Adds builder `ticker` with force scheduler `tick`: ten steps, each printing one line
/// after 0.1 s, so the build makes ten separate log appends spread over time.
async fn add_ticker(env: &Env) {
    let mut cfg = (*env.master.config()).clone();
    let mut b = BuilderConfig::builder("ticker").workername(W1);
    for i in 1..=10 {
        let cmd = format!("sleep 0.1; echo tick {i}");
        b = b.step(StepConfig::shell_argv(&["sh", "-c", &cmd]));
    }
    cfg.builders.push(b.build().unwrap());
    cfg.schedulers
        .push(SchedulerConfig::force("tick", ["ticker"]));
    env.master
        .reconfig(cfg)
        .await
        .expect("reconfig adds ticker");
}

type Ws = async_tungstenite::WebSocketStream<TcpStream>;

async fn ws_connect(server: &buildbot_web::WebServer) -> Ws {
    let url = format!("ws://{}/ws", server.addr());
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let (ws, resp) = async_tungstenite::client_async(url, tcp)
        .await
        .expect("websocket handshake");
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

async fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text frame as JSON (bounded wait).
async fn ws_next(ws: &mut Ws, secs: u64) -> Option<Value> {
    loop {
        let m = async_std::future::timeout(Duration::from_secs(secs), ws.next())
            .await
            .ok()??
            .unwrap();
        if let Message::Text(t) = m {
            return Some(serde_json::from_str(t.as_str()).unwrap());
        }
    }
}

/// Sends a command and returns its reply (skipping event frames, which are returned too).
async fn ws_cmd(ws: &mut Ws, v: Value) -> (Value, Vec<Value>) {
    ws_send(ws, v).await;
    let mut events = Vec::new();
    loop {
        let f = ws_next(ws, 30).await.expect("a reply");
        if f.get("k").is_some() {
            events.push(f);
        } else {
            return (f, events);
        }
    }
}

/// One parsed SSE event: `(event name, data)`.
type SseEvent = (String, String);

/// Opens a raw SSE stream; returns the response head and a reader.
async fn sse_open(addr: std::net::SocketAddr, path: &str) -> (String, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    (head, r)
}

/// Reads the next SSE event (skipping keep-alive comments and chunk-size lines of the
/// chunked encoding, which never start with `event:`/`data:`).
async fn sse_next(r: &mut BufReader<TcpStream>, secs: u64) -> Option<SseEvent> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut ev, mut data) = (None, None);
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let mut line = String::new();
        let n = async_std::future::timeout(left, r.read_line(&mut line))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(e) = line.strip_prefix("event: ") {
            ev = Some(e.to_owned());
        } else if let Some(d) = line.strip_prefix("data: ") {
            data = Some(d.to_owned());
        }
        if let (Some(e), Some(d)) = (&ev, &data) {
            return Some((e.clone(), d.clone()));
        }
    }
}

async fn wait_subscribers(env: &Env, want: usize) {
    for _ in 0..300 {
        if env.master.events().subscriber_count() == want {
            return;
        }
        async_std::task::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "event bus has {} subscribers, expected {want}",
        env.master.events().subscriber_count()
    );
}

fn stats_ms(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

#[test]
fn log_appends_reach_ws_and_sse_quickly() {
    within(180, async move {
        let env = Env::start().await;
        add_ticker(&env).await;
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();

        // the master's own subscriptions (its schedulers follow changes)
        let base = env.master.events().subscriber_count();
        // reference: when the master published each append (in-process bus subscriber)
        let mut bus = env.master.events().subscribe_path("logs/*/append");
        let (btx, brx) = async_std::channel::unbounded();
        let bus_task = async_std::task::spawn(async move {
            while let Some(ev) = bus.next().await {
                let key = format!("{}#{}", ev.key, ev.message["num_lines"]);
                if btx.send((key, Instant::now())).await.is_err() {
                    break;
                }
            }
        });

        let mut ws = ws_connect(&server).await;
        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "startConsuming", "path": "logs/*/append", "_id": 1}),
        )
        .await;
        assert_eq!(r, json!({"msg": "OK", "code": 200, "_id": 1}));

        let (head, mut sse) = sse_open(server.addr(), "/sse/logs/*/append").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "{head}"
        );
        let (e, uuid) = sse_next(&mut sse, 10).await.unwrap();
        assert_eq!(e, "handshake");
        assert_eq!(uuid.len(), 36);
        // the SSE reader runs on its own task, timestamping what it reads
        let (stx, srx) = async_std::channel::unbounded();
        let sse_task = async_std::task::spawn(async move {
            while let Some((e, d)) = sse_next(&mut sse, 60).await {
                let v: Value = serde_json::from_str(&d).unwrap();
                if stx
                    .send((format!("{e}#{}", v["num_lines"]), Instant::now()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        wait_subscribers(&env, base + 3).await;

        let brid = force(&env, "tick", "ticker").await;
        let buildid = env.build_of(brid).await;
        let mut ws_seen: HashMap<String, Instant> = HashMap::new();
        let mut logids = Vec::new();
        loop {
            let done =
                env.ok(&format!("/api/v2/builds/{buildid}")).await["builds"][0]["complete"] == true;
            while let Some(f) = ws_next(&mut ws, 1).await {
                let now = Instant::now();
                let k = f["k"].as_str().unwrap().to_owned();
                assert!(k.starts_with("logs/") && k.ends_with("/append"), "{f}");
                logids.push(f["m"]["logid"].as_i64().unwrap());
                ws_seen.insert(format!("{k}#{}", f["m"]["num_lines"]), now);
            }
            if done {
                break;
            }
        }
        drop(ws);
        let bus_seen: HashMap<String, Instant> =
            std::iter::from_fn(|| brx.try_recv().ok()).collect();
        // give the SSE reader a moment for the last events, then stop it
        async_std::task::sleep(Duration::from_millis(300)).await;
        let sse_seen: HashMap<String, Instant> =
            std::iter::from_fn(|| srx.try_recv().ok()).collect();
        sse_task.cancel().await;
        bus_task.cancel().await;

        assert!(!bus_seen.is_empty(), "the master published no log appends");
        let mut ws_delays = Vec::new();
        let mut sse_delays = Vec::new();
        for (k, t0) in &bus_seen {
            let tw = ws_seen
                .get(k)
                .unwrap_or_else(|| panic!("{k} not seen on /ws"));
            ws_delays.push(tw.saturating_duration_since(*t0));
            let ts = sse_seen
                .get(k)
                .unwrap_or_else(|| panic!("{k} not seen on /sse"));
            sse_delays.push(ts.saturating_duration_since(*t0));
        }
        let (wmed, wmax) = stats_ms(ws_delays);
        let (smed, smax) = stats_ms(sse_delays);
        eprintln!(
            "MEASURED bus publish -> client, {} appends: /ws median {wmed:.2} ms max {wmax:.2} ms; /sse median {smed:.2} ms max {smax:.2} ms",
            bus_seen.len()
        );
        assert!(wmax < 2000.0 && smax < 2000.0, "live updates too slow");

        // what a client does on `append`: fetch the new lines over REST
        let mut text = String::new();
        logids.sort();
        logids.dedup();
        for id in logids {
            let v = env.ok(&format!("/api/v2/logs/{id}/contents")).await;
            for c in v["logchunks"].as_array().unwrap() {
                text.push_str(c["content"].as_str().unwrap());
            }
        }
        assert!(text.contains("tick 10"), "{text}");
        server.stop().await;
    });
}

#[test]
fn ws_commands_errors_and_stop_consuming() {
    within(180, async move {
        let env = Env::start().await;
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let mut ws = ws_connect(&server).await;

        let (r, _) = ws_cmd(&mut ws, json!({"cmd": "ping", "_id": "abc"})).await;
        assert_eq!(r, json!({"msg": "pong", "code": 200, "_id": "abc"}));
        // bad JSON and an unknown command get error frames; the connection lives on
        ws.send(Message::text("{this is not json")).await.unwrap();
        let r = ws_next(&mut ws, 10).await.unwrap();
        assert_eq!(r["code"], 400, "{r}");
        assert!(r["_id"].is_null());
        let (r, _) = ws_cmd(&mut ws, json!({"cmd": "frobnicate", "_id": 2})).await;
        assert_eq!(
            r,
            json!({"error": "no such command type 'frobnicate'", "code": 404, "_id": 2})
        );
        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "startConsuming", "path": 5, "_id": 3}),
        )
        .await;
        assert_eq!(
            r,
            json!({"error": "invalid path format '5'", "code": 400, "_id": 3})
        );

        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "startConsuming", "path": "builds/*/*", "_id": 4}),
        )
        .await;
        assert_eq!(r["code"], 200);
        let brid = force(&env, "force", "good").await;
        let buildid = env.build_of(brid).await;
        env.wait_build(buildid).await;
        let mut keys = Vec::new();
        while let Some(f) = ws_next(&mut ws, 2).await {
            keys.push(f["k"].as_str().unwrap().to_owned());
            if f["k"] == format!("builds/{buildid}/finished") {
                assert_eq!(f["m"]["results"], 0, "{f}");
                assert_eq!(f["m"]["buildid"], buildid);
                break;
            }
        }
        assert!(keys.contains(&format!("builds/{buildid}/new")), "{keys:?}");
        assert_eq!(keys.last().unwrap(), &format!("builds/{buildid}/finished"));
        assert!(keys.iter().all(|k| k.split('/').count() == 3), "{keys:?}");

        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "stopConsuming", "path": "builds/*/*", "_id": 5}),
        )
        .await;
        assert_eq!(r, json!({"msg": "OK", "code": 200, "_id": 5}));
        let brid = force(&env, "force", "good").await;
        let buildid2 = env.build_of(brid).await;
        env.wait_build(buildid2).await;
        // nothing but the pong arrives after stopConsuming
        let (r, events) = ws_cmd(&mut ws, json!({"cmd": "ping", "_id": 6})).await;
        assert_eq!(r["msg"], "pong");
        assert!(events.is_empty(), "events after stopConsuming: {events:?}");
        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "stopConsuming", "path": "builds/*/*", "_id": 7}),
        )
        .await;
        assert_eq!(
            r,
            json!({"error": "path was not consumed 'builds/*/*'", "code": 400, "_id": 7})
        );

        // closing the socket drops its subscriptions
        let (r, _) = ws_cmd(
            &mut ws,
            json!({"cmd": "startConsuming", "path": "changes/*/new", "_id": 8}),
        )
        .await;
        assert_eq!(r["code"], 200);
        let base = env.master.events().subscriber_count();
        assert!(base >= 1);
        ws.close(None).await.unwrap();
        drop(ws);
        wait_subscribers(&env, base - 1).await;

        // a plain GET is not an upgrade
        let (status, _, _) = http_get(server.addr(), "/ws");
        assert_eq!(status, 426);
        server.stop().await;
    });
}

#[test]
fn many_subscribers_and_clean_disconnects() {
    within(180, async move {
        let env = Env::start().await;
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let base = env.master.events().subscriber_count();
        let mut wss = Vec::new();
        for i in 0..20 {
            let mut ws = ws_connect(&server).await;
            let (r, _) = ws_cmd(
                &mut ws,
                json!({"cmd": "startConsuming", "path": "builds/*/*", "_id": i}),
            )
            .await;
            assert_eq!(r["code"], 200);
            wss.push(ws);
        }
        let mut sses = Vec::new();
        for _ in 0..10 {
            let (_, mut r) = sse_open(server.addr(), "/sse/builds/*/*").await;
            assert_eq!(sse_next(&mut r, 10).await.unwrap().0, "handshake");
            sses.push(r);
        }
        wait_subscribers(&env, base + 30).await;

        let brid = force(&env, "force", "good").await;
        let buildid = env.build_of(brid).await;
        let finished = format!("builds/{buildid}/finished");
        for ws in &mut wss {
            loop {
                let f = ws_next(ws, 30)
                    .await
                    .expect("finished event on every socket");
                if f["k"] == finished {
                    break;
                }
            }
        }
        for r in &mut sses {
            loop {
                let (e, d) = sse_next(r, 30)
                    .await
                    .expect("finished event on every stream");
                if e == finished {
                    let m: Value = serde_json::from_str(&d).unwrap();
                    assert_eq!(m["buildid"], buildid);
                    break;
                }
            }
        }

        // clients leave: WebSockets at once; SSE streams when the next write fails
        drop(wss);
        drop(sses);
        wait_subscribers(&env, base + 10).await;
        for _ in 0..3 {
            if env.master.events().subscriber_count() == base {
                break;
            }
            let brid = force(&env, "force", "good").await;
            let b = env.build_of(brid).await;
            env.wait_build(b).await;
        }
        wait_subscribers(&env, base).await;
        server.stop().await;
    });
}

#[test]
fn sse_buildbot_listen_add_remove() {
    within(180, async move {
        let env = Env::start().await;
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        let (head, mut r) = sse_open(server.addr(), "/sse/listen/").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (e, uuid) = sse_next(&mut r, 10).await.unwrap();
        assert_eq!(e, "handshake");

        let (s, _, body) = http_get(server.addr(), &format!("/sse/add/{uuid}/builds/*/*"));
        assert_eq!((s, &body[..]), (200, &b"ok"[..]));
        let (s, _, body) = http_get(server.addr(), "/sse/add/nope/builds/*/*");
        assert_eq!((s, &body[..]), (400, &b"unknown uuid"[..]));
        let (s, _, body) = http_get(server.addr(), "/sse/add");
        assert_eq!((s, &body[..]), (400, &b"need uuid"[..]));
        let (s, _, body) = http_get(server.addr(), &format!("/sse/remove/{uuid}/changes/*/new"));
        assert_eq!(
            (s, &body[..]),
            (404, &b"consumer is not listening to this event"[..])
        );

        let brid = force(&env, "force", "good").await;
        let buildid = env.build_of(brid).await;
        loop {
            let (e, d) = sse_next(&mut r, 30).await.expect("an event");
            assert_eq!(e, "event");
            let v: Value = serde_json::from_str(&d).unwrap();
            assert!(d.starts_with("{\"key\": [\"builds\", "), "{d}");
            if v["key"] == json!(["builds", buildid.to_string(), "finished"]) {
                assert_eq!(v["message"]["results"], 0);
                break;
            }
        }
        let (s, _, body) = http_get(server.addr(), &format!("/sse/remove/{uuid}/builds/*/*"));
        assert_eq!((s, &body[..]), (200, &b"ok"[..]));
        server.stop().await;
    });
}

/// Issue 13: the event bus carries the REST shapes (one owner): a buildset's `complete`
/// message and a worker's `state_updated` message are the entities the API answers with,
/// and a new buildset lists its source stamps as the API does.
#[test]
fn live_messages_are_the_rest_entities() {
    within(120, async move {
        let env = Env::start().await;
        let bus = env.master.events();
        let buildsets = bus.subscribe_path("buildsets/*/*");
        let workers = bus.subscribe_path("workers/*/*");
        let brid = force(&env, "force", "good").await;
        let buildid = env.build_of(brid).await;
        env.wait_build(buildid).await;
        let mut seen = HashMap::new();
        while seen.len() < 2 {
            let ev = async_std::future::timeout(Duration::from_secs(30), buildsets.recv())
                .await
                .expect("buildset events")
                .expect("subscribed");
            let parts = ev.key.parts().to_vec();
            seen.insert(parts[2].clone(), ((*ev.message).clone(), parts[1].clone()));
        }
        let (complete, bsid) = &seen["complete"];
        let rest = env.ok(&format!("/api/v2/buildsets/{bsid}")).await;
        assert_eq!(complete, &rest["buildsets"][0], "complete event vs REST");
        let (new, _) = &seen["new"];
        assert_eq!(new["sourcestamps"], rest["buildsets"][0]["sourcestamps"]);
        assert_eq!(new["scheduler"], "force");

        env.master.pause_worker(W1, Some("lunch")).await.unwrap();
        let ev = async_std::future::timeout(Duration::from_secs(30), workers.recv())
            .await
            .expect("worker event")
            .expect("subscribed");
        assert_eq!(ev.key.parts()[2], "state_updated");
        let rest = env.ok("/api/v2/workers/1").await;
        assert_eq!(
            *ev.message, rest["workers"][0],
            "state_updated event vs REST"
        );
        assert_eq!(ev.message["paused"], true);
        assert_eq!(ev.message["pause_reason"], "lunch");
    });
}
