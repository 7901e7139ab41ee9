//! `/metrics`: the Prometheus text format, and that the numbers move with real work.

use std::collections::HashMap;

use crate::harness::*;
use crate::live::force;

fn is_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the exposition, checking the line grammar; returns `sample -> value`, where a
/// sample is written `name{labels}` exactly as in the text.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "empty line in exposition");
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kw = parts.next().unwrap();
            let name = parts.next().expect("metric name after HELP/TYPE");
            assert!(is_name(name), "bad metric name in {line:?}");
            let arg = parts.next().expect("text after HELP/TYPE name");
            if kw == "TYPE" {
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg),
                    "{line:?}"
                );
                assert!(
                    types.insert(name.to_owned(), arg.to_owned()).is_none(),
                    "TYPE twice: {line:?}"
                );
            } else {
                assert_eq!(kw, "HELP", "{line:?}");
            }
            continue;
        }
        let (sample, value) = line.rsplit_once(' ').expect("sample has a value");
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match sample.split_once('{') {
            Some((n, l)) => (n, Some(l.strip_suffix('}').expect("closing brace"))),
            None => (sample, None),
        };
        assert!(is_name(name), "bad sample name in {line:?}");
        if let Some(l) = labels {
            for pair in l.split(',') {
                let (k, v) = pair.split_once('=').expect("label=value");
                assert!(is_name(k), "{line:?}");
                assert!(
                    v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                    "{line:?}"
                );
            }
        }
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "sample before its TYPE: {line:?}"
        );
        assert!(
            samples.insert(sample.to_owned(), v).is_none(),
            "duplicate {sample}"
        );
    }
    samples
}

async fn scrape(env: &Env) -> HashMap<String, f64> {
    let (status, ct, body) = env.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    let m = parse(&body);
    // histogram consistency
    for h in [
        "buildbot_db_statement_duration_seconds",
        "buildbot_http_request_duration_seconds",
    ] {
        let inf = m[&format!("{h}_bucket{{le=\"+Inf\"}}")];
        assert_eq!(inf, m[&format!("{h}_count")], "{h}");
        let mut prev = 0.0;
        for line in body
            .lines()
            .filter(|l| l.starts_with(&format!("{h}_bucket")))
        {
            let v: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
            assert!(v >= prev, "buckets must be cumulative: {line}");
            prev = v;
        }
    }
    m
}

#[test]
fn metrics_format_and_counts_move_with_a_build() {
    within(180, async move {
        let env = Env::start().await;
        let (_, ct, _) = env.get_text("/metrics").await;
        assert!(
            ct.starts_with("text/plain") && ct.contains("version=0.0.4"),
            "{ct}"
        );
        let before = scrape(&env).await;
        assert_eq!(before["buildbot_workers_connected"], 1.0);
        assert_eq!(before["buildbot_workers_configured"], 1.0);
        assert_eq!(before["buildbot_builds{result=\"success\"}"], 0.0);
        assert!(before["buildbot_db_statement_duration_seconds_count"] > 0.0);
        assert!(before["process_resident_memory_bytes"] > 0.0);

        // `slow` runs; with the worker paused, a request for `good` waits in the queue
        let slow = force(&env, "force", "slow").await;
        let slow = env.build_of(slow).await;
        env.master
            .pause_worker(W1, Some("metrics test"))
            .await
            .unwrap();
        let good = force(&env, "force", "good").await;
        let m = scrape(&env).await;
        assert_eq!(m["buildbot_buildrequests_pending"], 1.0);
        assert_eq!(m["buildbot_builds_running"], 1.0);
        assert_eq!(m["buildbot_builds{result=\"unfinished\"}"], 1.0);
        env.master
            .stop_build(buildbot_db::BuildId(slow), "metrics test")
            .await
            .unwrap();
        env.wait_build(slow).await;
        env.master.unpause_worker(W1).await.unwrap();
        let good = env.build_of(good).await;
        env.wait_build(good).await;

        let after = scrape(&env).await;
        assert_eq!(after["buildbot_builds{result=\"success\"}"], 1.0);
        assert_eq!(after["buildbot_builds{result=\"cancelled\"}"], 1.0);
        assert_eq!(after["buildbot_buildrequests_pending"], 0.0);
        // "line 1".."line 3" and "err" at least
        assert!(
            after["buildbot_log_bytes_total"] >= before["buildbot_log_bytes_total"] + 25.0,
            "{} -> {}",
            before["buildbot_log_bytes_total"],
            after["buildbot_log_bytes_total"]
        );
        assert!(
            after["buildbot_db_statement_duration_seconds_count"]
                > before["buildbot_db_statement_duration_seconds_count"]
        );
        assert!(after["buildbot_http_requests_total{method=\"GET\",code=\"200\"}"] >= 3.0);
        eprintln!(
            "MEASURED db statements: {} in {:.3} s",
            after["buildbot_db_statement_duration_seconds_count"],
            after["buildbot_db_statement_duration_seconds_sum"]
        );
    });
}

#[test]
fn a_404_counts_as_a_404() {
    within(120, async move {
        let env = Env::start().await;
        let key = "buildbot_http_requests_total{method=\"GET\",code=\"404\"}";
        let n0 = scrape(&env).await.get(key).copied().unwrap_or(0.0);
        let (status, _, _) = env.get_text("/no/such/page/at/all").await;
        assert_eq!(status, 404);
        let m1 = scrape(&env).await;
        let n1 = *m1
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing: {m1:?}"));
        assert_eq!(n1, n0 + 1.0);
        // over a real socket too (a served app has its own counters)
        let server = buildbot_web::serve(env.master.clone(), "127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(http_get(server.addr(), "/nowhere").0, 404);
        assert_eq!(http_get(server.addr(), "/nowhere/either").0, 404);
        let (status, head, body) = http_get(server.addr(), "/metrics");
        assert_eq!(status, 200);
        assert!(head.contains("version=0.0.4"), "{head}");
        let m = parse(std::str::from_utf8(&body).unwrap());
        assert_eq!(m[key], 2.0, "{m:?}");
        server.stop().await;
    });
}
