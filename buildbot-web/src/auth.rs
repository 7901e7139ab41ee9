//! Authentication (user file, sessions) and authorization of control actions.

use buildbot_core::master::MasterHandle;

use crate::State;

/// Sessions and users.
#[derive(Debug, Default)]
pub(crate) struct AuthState {}

impl AuthState {
    pub(crate) fn new(_handle: &MasterHandle) -> Self {
        AuthState::default()
    }
}

/// Adds the auth middleware and the login/logout routes.
pub(crate) fn install(_app: &mut tide::Server<State>) {}
