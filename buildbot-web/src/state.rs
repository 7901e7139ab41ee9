//! The state every request handler sees: the master and the web server's own parts.
//!
//! Each part is defined in a module that does not use [`State`] itself (`auth/sessions.rs`,
//! `metrics/counters.rs`, `pages/templates.rs`, `cache.rs`, `live/limits.rs`), so the modules that handle
//! requests depend on this one and it depends on none of them.

use std::sync::Arc;

use buildbot_core::master::MasterHandle;

/// A request to this server.
pub(crate) type Req = tide::Request<State>;

/// Shared state of the web application (cheap to clone).
#[derive(Clone, Debug)]
pub struct State {
    /// The running master.
    pub(crate) handle: MasterHandle,
    /// The web server's own state, one part per module.
    pub(crate) shared: Arc<Shared>,
}

/// The web server's own state, one field per module that needs one.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The auth policy, sessions and remembered credentials (`auth/sessions.rs`).
    pub(crate) auth: crate::auth::sessions::AuthState,
    /// Counters and histograms (`metrics/counters.rs`).
    pub(crate) metrics: crate::metrics::counters::Metrics,
    /// Templates (`pages/templates.rs`).
    pub(crate) pages: crate::pages::templates::Pages,
    /// Rendered REST answers while the database is unchanged (`cache.rs`).
    pub(crate) responses: crate::cache::ResponseCache,
    /// Live clients and subscriptions, counted against their limits (`live/limits.rs`).
    pub(crate) live: Arc<crate::live::limits::LiveCounters>,
}

impl State {
    /// State for serving `handle`.
    pub fn new(handle: MasterHandle) -> Self {
        let shared = Shared {
            auth: crate::auth::sessions::AuthState::new(&handle),
            metrics: Default::default(),
            pages: crate::pages::templates::Pages::new(&handle),
            responses: Default::default(),
            live: Default::default(),
        };
        State {
            handle,
            shared: Arc::new(shared),
        }
    }

    /// The master this server serves.
    pub fn handle(&self) -> &MasterHandle {
        &self.handle
    }
}
