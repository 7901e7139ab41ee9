//! `GET /metrics` in Prometheus' text exposition format (version 0.0.4), and the middleware
//! that counts every HTTP request by method and status.
//!
//! Exposed families (all `gauge` unless noted):
//!
//! | name | what |
//! |---|---|
//! | `buildbot_builds{result}` | builds in the database by result (`success` … `cancelled`, `unfinished`) |
//! | `buildbot_builds_running` | builds running on this master |
//! | `buildbot_buildrequests_pending` | build requests neither claimed nor complete (the queue) |
//! | `buildbot_workers_connected`, `buildbot_workers_configured` | workers |
//! | `buildbot_log_bytes_total` (counter) | log text stored since the master started |
//! | `buildbot_db_statement_duration_seconds` (histogram) | every SQL statement's latency |
//! | `buildbot_db_statement_errors_total` (counter) | SQL statements that failed |
//! | `buildbot_http_requests_total{method,code}` (counter) | HTTP requests answered |
//! | `buildbot_http_request_duration_seconds` (histogram) | time to the response head |
//! | `buildbot_event_subscribers`, `buildbot_websocket_connections`, `buildbot_sse_streams` | live-update consumers |
//! | `buildbot_live_subscriptions` | paths consumed by `/ws` and `/sse` clients (limited by `www.live_max_subscriptions`) |
//! | `process_resident_memory_bytes`, `process_open_fds` | this process (Linux `/proc`) |
//!
//! The database figures are read when scraped (two aggregate queries); if the database
//! cannot answer, those families are left out and the failure is logged.

pub(crate) mod counters;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use buildbot_db::Results;
use tide::http::StatusCode;
use tide::{Request, Response};

use crate::State;

/// `Content-Type` of the exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counts every request (installed first, so it sees the final status of all of them,
/// including 404s of unknown paths).
struct CountRequests;

#[tide::utils::async_trait]
impl tide::Middleware<State> for CountRequests {
    async fn handle(&self, req: Request<State>, next: tide::Next<'_, State>) -> tide::Result {
        let method = req.method();
        let state = req.state().clone();
        let start = Instant::now();
        let res = next.run(req).await;
        state
            .shared
            .metrics
            .record(method, res.status(), start.elapsed());
        Ok(res)
    }
}

/// Adds the request-counting middleware and the `/metrics` route.
pub(crate) fn install(app: &mut tide::Server<State>) {
    app.with(CountRequests);
    app.at("/metrics").get(|req: Request<State>| async move {
        let body = render(req.state()).await;
        let mut res = Response::new(StatusCode::Ok);
        res.set_body(body);
        res.insert_header("Content-Type", CONTENT_TYPE);
        Ok(res)
    });
}

/// Writes `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family of one unlabelled sample.
fn sample(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A histogram family: cumulative buckets, `_sum` and `_count`.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    buckets: &[(f64, u64)],
    count: u64,
    sum: f64,
) {
    family(out, name, "histogram", help);
    for (le, n) in buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// Label value escaping of the text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// The whole exposition.
async fn render(state: &State) -> String {
    let handle = &state.handle;
    let db = handle.db();
    let mut out = String::with_capacity(4096);

    match db.count_builds_by_result().await {
        Ok(rows) => {
            family(
                &mut out,
                "buildbot_builds",
                "gauge",
                "Builds in the database by result.",
            );
            let mut by: BTreeMap<&str, u64> = Results::ALL.iter().map(|r| (r.name(), 0)).collect();
            by.insert("unfinished", 0);
            for (code, n) in rows {
                let name = match code {
                    None => "unfinished",
                    Some(c) => Results::from_code(c).map_or("unknown", Results::name),
                };
                *by.entry(name).or_insert(0) += n;
            }
            for (name, n) in by {
                let _ = writeln!(out, "buildbot_builds{{result=\"{}\"}} {n}", label(name));
            }
        }
        Err(e) => log::warn!("/metrics: counting builds: {e}"),
    }

    sample(
        &mut out,
        "buildbot_builds_running",
        "gauge",
        "Builds running on this master.",
        handle.running_builds().len(),
    );

    match db.count_pending_buildrequests().await {
        Ok(n) => {
            sample(
                &mut out,
                "buildbot_buildrequests_pending",
                "gauge",
                "Build requests neither claimed nor complete.",
                n,
            );
        }
        Err(e) => log::warn!("/metrics: counting pending build requests: {e}"),
    }

    sample(
        &mut out,
        "buildbot_workers_connected",
        "gauge",
        "Workers attached to this master.",
        handle.connected_workers().len(),
    );
    sample(
        &mut out,
        "buildbot_workers_configured",
        "gauge",
        "Workers in the configuration.",
        handle.config().workers.len(),
    );

    let stats = db.stats();
    sample(
        &mut out,
        "buildbot_log_bytes_total",
        "counter",
        "Bytes of log text stored since the master started.",
        stats.log_bytes(),
    );

    let lat = stats.latency();
    histogram(
        &mut out,
        "buildbot_db_statement_duration_seconds",
        "Latency of SQL statements.",
        &lat.buckets,
        lat.count,
        lat.sum_seconds,
    );
    sample(
        &mut out,
        "buildbot_db_statement_errors_total",
        "counter",
        "SQL statements that returned an error.",
        lat.failed,
    );

    family(
        &mut out,
        "buildbot_http_requests_total",
        "counter",
        "HTTP requests answered, by method and status code.",
    );
    for ((method, code), n) in state.shared.metrics.requests() {
        let _ = writeln!(
            out,
            "buildbot_http_requests_total{{method=\"{}\",code=\"{code}\"}} {n}",
            label(&method)
        );
    }
    let (buckets, count, sum) = state.shared.metrics.latency();
    histogram(
        &mut out,
        "buildbot_http_request_duration_seconds",
        "Time from request to response head.",
        &buckets,
        count,
        sum,
    );

    sample(
        &mut out,
        "buildbot_event_subscribers",
        "gauge",
        "Subscribers of the master's event bus.",
        handle.events().subscriber_count(),
    );
    sample(
        &mut out,
        "buildbot_websocket_connections",
        "gauge",
        "Open /ws connections.",
        crate::live::WS_CONNECTIONS.load(Ordering::Relaxed),
    );
    sample(
        &mut out,
        "buildbot_sse_streams",
        "gauge",
        "Open /sse streams.",
        crate::live::SSE_STREAMS.load(Ordering::Relaxed),
    );
    sample(
        &mut out,
        "buildbot_live_subscriptions",
        "gauge",
        "Paths consumed by /ws and /sse clients (limit: www.live_max_subscriptions).",
        state.shared.live.subscriptions(),
    );

    if let Some(rss) = rss_bytes() {
        sample(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            rss,
        );
    }
    if let Some(n) = open_fds() {
        sample(
            &mut out,
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            n,
        );
    }
    out
}
