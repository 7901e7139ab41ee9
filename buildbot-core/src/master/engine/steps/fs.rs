//! `MakeDirectory` and `RemoveDirectory`: one file-system command on the worker.

use std::collections::BTreeMap;

use buildbot_db::Results;
use futures::future::BoxFuture;

use crate::master::properties::Renderable;
use crate::master::workers::CommandArgs;

use super::map_worker_err;
use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

pub(super) struct FsStep {
    pub(super) command: &'static str,
    pub(super) dir: Renderable,
    pub(super) stdio: bool,
}

impl BuildStep for FsStep {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let dir = ctx.render_string("dir", &self.dir)?;
            let args = CommandArgs::new()
                .with("dir", dir.as_str())
                .with("logEnviron", true);
            let worker = ctx.worker().clone();
            let cmd = worker
                .start_command(ctx.builder_name(), self.command, args)
                .await
                .map_err(map_worker_err)?;
            let res = ctx.follow_command(cmd, self.stdio).await?;
            let r =
                StepContext::command_results(&res, &BTreeMap::from([(0, Results::Success)]), false);
            Ok(StepDone::new(r))
        })
    }
}
