//! Cheap runtime statistics of a [`Db`] for monitoring: a latency histogram of every SQL
//! statement (fed by sea-orm's metric callback), the number of log bytes appended, and a
//! few aggregate counts (builds by result, pending build requests).
//!
//! Recording is lock-free (relaxed atomics in fixed buckets), so it costs a few nanoseconds
//! per statement.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter, QuerySelect};

use crate::entities::{buildrequests, builds};
use crate::error::Ctx;
use crate::{Db, DbError};

/// Upper bounds (seconds) of the statement latency buckets, ascending; a last implicit
/// bucket (`+Inf`) takes the rest.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Counters of one database handle (shared by its clones).
#[derive(Debug, Default)]
pub struct DbStats {
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    failed: AtomicU64,
    log_bytes: AtomicU64,
    /// Statements other than `SELECT` (and commits) so far: see [`DbStats::write_generation`].
    writes: AtomicU64,
}

/// A point-in-time copy of the statement latency histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySnapshot {
    /// `(upper bound in seconds, cumulative count)` for each of [`LATENCY_BUCKETS`].
    pub buckets: Vec<(f64, u64)>,
    /// Number of statements (the `+Inf` bucket).
    pub count: u64,
    /// Total time spent, in seconds.
    pub sum_seconds: f64,
    /// Statements that returned an error.
    pub failed: u64,
}

impl DbStats {
    /// Records one statement execution.
    pub(crate) fn observe(&self, elapsed: Duration, failed: bool) {
        let secs = elapsed.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one statement: its latency, and a write unless it is a `SELECT`.
    pub(crate) fn record(&self, sql: &str, elapsed: Duration, failed: bool) {
        self.observe(elapsed, failed);
        if !is_select(sql) {
            self.count_write();
        }
        // every statement with its latency (`RUST_LOG=buildbot_db::sql=trace`)
        log::trace!(target: "buildbot_db::sql", "{elapsed:?} {sql}");
    }

    /// Counts one statement that may have changed data (or a commit).
    pub(crate) fn count_write(&self) {
        self.writes.fetch_add(1, Ordering::Release);
    }

    /// A number that grows whenever this handle (or a clone) may have changed data: a
    /// statement other than `SELECT` ran or a transaction committed. Read it *before* a
    /// query: a result read under generation `g` is current as long as the generation is
    /// still `g` (writes by other processes sharing the database are not seen).
    pub fn write_generation(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Counts bytes of log text appended.
    pub(crate) fn add_log_bytes(&self, n: usize) {
        self.log_bytes
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Bytes of log text appended through this handle (and its clones) since it connected.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// The statement latency histogram so far.
    pub fn latency(&self) -> LatencySnapshot {
        let mut cum = 0u64;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cum += self.buckets[i].load(Ordering::Relaxed);
            buckets.push((*le, cum));
        }
        cum += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        LatencySnapshot {
            buckets,
            count: cum,
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// Whether a statement only reads (`SELECT …`); anything else may write.
pub(crate) fn is_select(sql: &str) -> bool {
    sql.trim_start()
        .as_bytes()
        .get(..6)
        .is_some_and(|k| k.eq_ignore_ascii_case(b"SELECT"))
}

impl Db {
    /// Installs the statement-latency callback on the connection (done once at connect).
    pub(crate) fn with_stats(mut self) -> Db {
        let stats = self.stats.clone();
        self.conn.set_metric_callback(move |info| {
            stats.record(&info.statement.sql, info.elapsed, info.failed);
        });
        self
    }

    /// Runtime statistics of this handle: statement latencies, log bytes appended.
    pub fn stats(&self) -> &DbStats {
        &self.stats
    }

    /// Number of builds per `results` value (`None`: not finished yet), one aggregate query.
    pub async fn count_builds_by_result(&self) -> Result<Vec<(Option<i64>, u64)>, DbError> {
        let rows: Vec<(Option<i64>, i64)> = builds::Entity::find()
            .select_only()
            .column(builds::Column::Results)
            .expr(Expr::col(builds::Column::Id).count())
            .group_by(builds::Column::Results)
            .into_tuple()
            .all(&self.x())
            .await
            .ctx("counting builds by result")?;
        Ok(rows
            .into_iter()
            .map(|(r, n)| (r, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Number of pending build requests (incomplete and unclaimed): the queue length.
    pub async fn count_pending_buildrequests(&self) -> Result<u64, DbError> {
        let n: Option<i64> = buildrequests::Entity::find()
            .select_only()
            .expr(Expr::col(buildrequests::Column::Id).count())
            .filter(Expr::col(buildrequests::Column::Complete).eq(0))
            .filter(
                Expr::cust(
                    "EXISTS (SELECT 1 FROM buildrequest_claims \
                     WHERE buildrequest_claims.brid = buildrequests.id)",
                )
                .not(),
            )
            .into_tuple()
            .one(&self.x())
            .await
            .ctx("counting pending build requests")?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let s = DbStats::default();
        s.observe(Duration::from_micros(50), false);
        s.observe(Duration::from_millis(3), false);
        s.observe(Duration::from_secs(9), true);
        s.add_log_bytes(10);
        let l = s.latency();
        assert_eq!(l.count, 3);
        assert_eq!(l.failed, 1);
        assert_eq!(l.buckets[0], (0.0001, 1));
        assert_eq!(l.buckets.last().copied(), Some((5.0, 2)));
        assert!((l.sum_seconds - 9.00305).abs() < 1e-6);
        assert_eq!(s.log_bytes(), 10);
    }
}
