//! Builder strategies: Buildbot's `nextWorker`, `nextBuild` and `canStartBuild` builder
//! arguments as Rust closures. `master.cfg` names them (`nextWorker = "my-choice"`); the
//! embedder declares the name for the loader with
//! [`Registry::register_strategy`](crate::master::config::Registry::register_strategy) and
//! gives the code to the engine with [`MasterOptions::strategy`](super::MasterOptions::strategy).
//!
//! ```
//! use buildbot_core::master::{BuilderStrategy, MasterOptions};
//!
//! let opts = MasterOptions::new("/tmp/master").strategy(
//!     "last-worker",
//!     BuilderStrategy::next_worker(|_builder, workers| workers.len().checked_sub(1)),
//! );
//! # let _ = opts;
//! ```

use std::sync::Arc;

use buildbot_db::BuildRequestRow;

type NextWorkerFn = dyn Fn(&str, &[String]) -> Option<usize> + Send + Sync;
type NextBuildFn = dyn Fn(&str, &[BuildRequestRow]) -> Option<usize> + Send + Sync;
type CanStartFn = dyn Fn(&str, &str, &BuildRequestRow) -> bool + Send + Sync;

/// The code behind a strategy name.
#[derive(Clone)]
#[non_exhaustive]
pub enum BuilderStrategy {
    /// `nextWorker(builder, available workers) -> index` (`None`: start nothing now).
    NextWorker(Arc<NextWorkerFn>),
    /// `nextBuild(builder, pending requests, oldest first) -> index` (`None`: start nothing
    /// now).
    NextBuild(Arc<NextBuildFn>),
    /// `canStartBuild(builder, worker, request) -> bool`: `false` leaves the request pending
    /// for another worker or a later try.
    CanStartBuild(Arc<CanStartFn>),
}

impl std::fmt::Debug for BuilderStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BuilderStrategy::NextWorker(_) => "NextWorker",
            BuilderStrategy::NextBuild(_) => "NextBuild",
            BuilderStrategy::CanStartBuild(_) => "CanStartBuild",
        })
    }
}

impl BuilderStrategy {
    /// A `nextWorker` strategy.
    pub fn next_worker(
        f: impl Fn(&str, &[String]) -> Option<usize> + Send + Sync + 'static,
    ) -> Self {
        BuilderStrategy::NextWorker(Arc::new(f))
    }

    /// A `nextBuild` strategy.
    pub fn next_build(
        f: impl Fn(&str, &[BuildRequestRow]) -> Option<usize> + Send + Sync + 'static,
    ) -> Self {
        BuilderStrategy::NextBuild(Arc::new(f))
    }

    /// A `canStartBuild` strategy.
    pub fn can_start_build(
        f: impl Fn(&str, &str, &BuildRequestRow) -> bool + Send + Sync + 'static,
    ) -> Self {
        BuilderStrategy::CanStartBuild(Arc::new(f))
    }
}
