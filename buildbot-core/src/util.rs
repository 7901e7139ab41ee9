//! Two small helpers every part of the crate uses.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, going on with the data when a panicking thread poisoned it (every lock here
/// guards plain bookkeeping that stays consistent between statements).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seconds since the Unix epoch (0 if the clock is before it), as Buildbot stores times.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
