//! Periodic database cleanup, as Buildbot's `DBConnector` does it: once at start and then
//! every hour, the changes beyond `changeHorizon` (the newest N are kept) are deleted with
//! their files, properties, users and scheduler classifications.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::Inner;

/// Time between two cleanups (Buildbot's `CLEANUP_PERIOD`).
pub(super) const CLEANUP_PERIOD: Duration = Duration::from_secs(3600);

/// Cleans up at start and every [`CLEANUP_PERIOD`] until the master stops.
pub(super) async fn janitor_loop(inner: Arc<Inner>) {
    loop {
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        if let Some(horizon) = inner.config().change_horizon {
            match inner.db.prune_changes(horizon).await {
                Ok(0) => {}
                Ok(n) => log::info!("changeHorizon {horizon}: pruned {n} old change(s)"),
                Err(e) => log::error!("while pruning changes: {e}"),
            }
        }
        async_std::task::sleep(CLEANUP_PERIOD).await;
    }
}
