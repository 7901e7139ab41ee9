//! The built-in step types, one file per family, and [`make_step`]: the step object for a
//! configured step.
//!
//! * `shell` — `ShellCommand`, `Configure`, `Compile`, `Test`, `SetPropertyFromCommand`;
//! * `transfer` — `FileUpload`, `DirectoryUpload`, `FileDownload`, `StringDownload`;
//! * `fs` — `MakeDirectory`, `RemoveDirectory`;
//! * `master_shell` — `MasterShellCommand` (runs on the master);
//! * `git`, `hg`, `svn` — `Git`, `Mercurial`, `SVN` (sequences of ordinary remote commands), with what
//!   source steps share in `source`;
//! * `trigger` — `Trigger`;
//! * `SetProperty` and custom steps registered with
//!   [`register_custom_step`](super::build::register_custom_step) are made here.

mod fs;
mod git;
mod hg;
mod master_shell;
mod shell;
mod source;
mod svn;
mod transfer;
mod trigger;

use std::sync::Arc;

use buildbot_db::Results;
use futures::future::BoxFuture;

use crate::master::config::{StepCommon, StepConfig, StepKind};
use crate::master::properties::Renderable;
use crate::master::workers::WorkerManagerError;

use super::build::{BuildStep, CustomStep, StepContext, StepDone, StepError};

use fs::FsStep;
use master_shell::MasterShell;
use shell::{Shell, ShellExtra};
use transfer::{DirectoryUpload, FileDownload, FileUpload, StringDownload};

pub(crate) fn make_step(sc: &StepConfig) -> Option<Arc<dyn BuildStep>> {
    let common = sc.common.clone();
    Some(match &sc.kind {
        StepKind::ShellCommand(s) | StepKind::Configure(s) => Arc::new(Shell {
            common,
            shell: s.clone(),
            extra: ShellExtra::None,
        }),
        StepKind::Compile(w) | StepKind::Test(w) => Arc::new(Shell {
            common,
            shell: w.shell.clone(),
            extra: ShellExtra::Warnings(Box::new(w.clone())),
        }),
        StepKind::SetPropertyFromCommand {
            shell,
            property,
            strip,
        } => Arc::new(Shell {
            common,
            shell: shell.clone(),
            extra: ShellExtra::SetProperty {
                property: property.clone(),
                strip: *strip,
            },
        }),
        StepKind::FileUpload(c) => Arc::new(FileUpload(common, c.clone())),
        StepKind::DirectoryUpload(c) => Arc::new(DirectoryUpload(common, c.clone())),
        StepKind::FileDownload(c) => Arc::new(FileDownload(common, c.clone())),
        StepKind::StringDownload(c) => Arc::new(StringDownload(common, c.clone())),
        StepKind::MakeDirectory { dir } => Arc::new(FsStep {
            command: "mkdir",
            dir: dir.clone(),
            stdio: false,
        }),
        StepKind::RemoveDirectory { dir } => Arc::new(FsStep {
            command: "rmdir",
            dir: dir.clone(),
            stdio: true,
        }),
        StepKind::MasterShellCommand { command, env } => Arc::new(MasterShell {
            command: command.clone(),
            env: env.clone(),
        }),
        StepKind::SetProperty { property, value } => Arc::new(SetProperty {
            property: property.clone(),
            value: value.clone(),
        }),
        StepKind::Custom(c) => c.downcast::<CustomStep>()?.0.clone(),
        StepKind::Trigger(c) => Arc::new(trigger::TriggerStep { cfg: c.clone() }),
        StepKind::Git(c) => Arc::new(git::GitStep {
            common,
            cfg: c.clone(),
        }),
        StepKind::Mercurial(c) => Arc::new(hg::HgStep {
            common,
            cfg: c.clone(),
        }),
        StepKind::Svn(c) => Arc::new(svn::SvnStep {
            common,
            cfg: c.clone(),
        }),
    })
}

pub(super) fn workdir(ctx: &StepContext, common: &StepCommon) -> Result<String, StepError> {
    match &common.workdir {
        Some(w) => ctx.render_string("workdir", w),
        None => Ok("build".to_owned()),
    }
}

pub(super) fn map_worker_err(e: WorkerManagerError) -> StepError {
    match e {
        WorkerManagerError::NotConnected { .. } => StepError::LostConnection,
        e => StepError::Worker(e),
    }
}

struct SetProperty {
    property: Renderable,
    value: Renderable,
}

impl BuildStep for SetProperty {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let name = ctx.render_string("property", &self.property)?;
            let value = ctx.render("value", &self.value)?;
            ctx.set_property(&name, value, "SetProperty Step");
            Ok(StepDone::with_summary(Results::Success, "Set"))
        })
    }
}
