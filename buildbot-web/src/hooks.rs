//! Change hooks: `/change_hook/base`, `/change_hook/github`, `/change_hook/gitlab`.

use crate::State;

/// Adds the `/change_hook/...` routes.
pub(crate) fn routes(_app: &mut tide::Server<State>) {}
