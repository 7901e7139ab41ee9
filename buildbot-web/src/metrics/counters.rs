//! The web server's own counters ([`Metrics`]): HTTP requests by method and status, and a
//! latency histogram, updated by the middleware and read by `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tide::http::{Method, StatusCode};

/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A fixed-bucket histogram updated with relaxed atomics.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; HTTP_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = HTTP_BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(HTTP_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// `(cumulative buckets, count, sum seconds)`.
    pub(super) fn snapshot(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let mut cum = 0;
        let mut out = Vec::with_capacity(HTTP_BUCKETS.len());
        for (i, le) in HTTP_BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            out.push((*le, cum));
        }
        cum += self.buckets[HTTP_BUCKETS.len()].load(Ordering::Relaxed);
        (
            out,
            cum,
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        )
    }
}

/// Counters kept by the web server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// `(method, status) -> count`; a handful of entries, so a mutex is cheap.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Histogram,
}

impl Metrics {
    /// Counts one answered request.
    pub(super) fn record(&self, method: Method, status: StatusCode, elapsed: Duration) {
        *lock(&self.requests)
            .entry((method.to_string(), status as u16))
            .or_insert(0) += 1;
        self.latency.observe(elapsed);
    }

    /// `((method, status), count)` of every request answered so far.
    pub(super) fn requests(&self) -> Vec<((String, u16), u64)> {
        lock(&self.requests)
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    /// The latency histogram (see [`Histogram::snapshot`]).
    pub(super) fn latency(&self) -> (Vec<(f64, u64)>, u64, f64) {
        self.latency.snapshot()
    }
}
