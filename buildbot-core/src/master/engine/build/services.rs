//! What a running build may ask of the master that runs it. The master hands a
//! [`BuildServices`] to each build when it makes it; builds and steps never reach the
//! master itself.

use std::sync::Arc;

use buildbot_db::{BuildId, BuildRequestId, BuilderId, BuildsetId, NewBuildset};
use futures::future::BoxFuture;

use crate::master::MasterError;
use crate::master::config::MasterConfig;

use super::LockTable;

/// A buildset's id and its `(builder, request)` pairs.
pub(crate) type Submitted = (BuildsetId, Vec<(BuilderId, BuildRequestId)>);

/// The master's side of what a build may do beyond itself (the `Trigger` step): submit
/// buildsets, and stop what it submitted.
pub(crate) trait MasterControl: Send + Sync {
    /// Submits a buildset for `scheduler`, as the master's own schedulers do.
    fn submit_buildset(
        &self,
        bs: NewBuildset,
        scheduler: String,
    ) -> BoxFuture<'static, Result<Submitted, MasterError>>;
    /// Cancels a pending request.
    fn cancel_request(
        &self,
        brid: BuildRequestId,
        reason: String,
    ) -> BoxFuture<'static, Result<(), MasterError>>;
    /// Stops a running build.
    fn stop_build(
        &self,
        buildid: BuildId,
        reason: String,
    ) -> BoxFuture<'static, Result<(), MasterError>>;
}

/// Everything a build gets from the master, fixed when the build is made.
#[derive(Clone)]
pub(crate) struct BuildServices {
    /// The configuration as it was when the build started (locks, triggerable schedulers,
    /// `buildbotURL`).
    pub config: Arc<MasterConfig>,
    /// The master's locks.
    pub locks: Arc<LockTable>,
    /// Buildset submission and control.
    pub control: Arc<dyn MasterControl>,
}
