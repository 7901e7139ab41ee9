//! Live updates: Buildbot's `/ws` WebSocket protocol and an SSE stream over the event bus.

use crate::State;

/// Adds `/ws` and `/sse`.
pub(crate) fn routes(_app: &mut tide::Server<State>) {}
