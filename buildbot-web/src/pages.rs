//! Server-rendered pages (tera) and static files from `BASEDIR/public_html/`.

use buildbot_core::master::MasterHandle;

use crate::State;

/// Loaded templates.
#[derive(Debug, Default)]
pub(crate) struct Pages {}

impl Pages {
    pub(crate) fn new(_handle: &MasterHandle) -> Self {
        Pages::default()
    }
}

/// Adds the page routes.
pub(crate) fn routes(_app: &mut tide::Server<State>) {}
