//! File transfers between master and worker: `FileUpload`, `DirectoryUpload`,
//! `FileDownload`, `StringDownload`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use buildbot_db::Results;
use futures::future::BoxFuture;

use crate::master::config::{
    DirectoryUploadConfig, FileDownloadConfig, FileUploadConfig, StepCommon, StringDownloadConfig,
};
use crate::master::properties::Renderable;
use crate::master::workers::{CommandArgs, Compression, DownloadSource, TransferOptions};

use super::{map_worker_err, workdir};
use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

fn master_path(ctx: &StepContext, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        ctx.master_basedir().join(p)
    }
}

fn transfer_results(res: &crate::master::workers::CommandResult) -> Results {
    StepContext::command_results(res, &BTreeMap::from([(0, Results::Success)]), true)
}

pub(super) struct FileUpload(pub(super) StepCommon, pub(super) FileUploadConfig);

impl BuildStep for FileUpload {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let c = &self.1;
            let src = ctx.render_string("workersrc", &c.workersrc)?;
            let dest = master_path(ctx, &ctx.render_string("masterdest", &c.masterdest)?);
            let args = CommandArgs::new()
                .with("workdir", workdir(ctx, &self.0)?)
                .with("workersrc", src.as_str())
                .with("keepstamp", c.keepstamp)
                .with("blocksize", c.blocksize);
            let mut opts = TransferOptions::new().blocksize(c.blocksize);
            if let Some(m) = c.maxsize {
                opts = opts.maxsize(m);
            }
            if let Some(m) = c.mode {
                opts = opts.mode(m);
            }
            let worker = ctx.worker().clone();
            let cmd = worker
                .upload_file(ctx.builder_name(), args, &dest, opts)
                .await
                .map_err(map_worker_err)?;
            let res = ctx.follow_command(cmd, true).await?;
            let results = transfer_results(&res);
            if results != Results::Success {
                let _ = std::fs::remove_file(&dest);
            } else if let Some(url) = &c.url {
                let url = ctx.render_string("url", url)?;
                let text = c.url_text.clone().unwrap_or_else(|| url.clone());
                ctx.add_url(&text, &url).await?;
            }
            Ok(StepDone::new(results))
        })
    }
}

pub(super) struct DirectoryUpload(pub(super) StepCommon, pub(super) DirectoryUploadConfig);

impl BuildStep for DirectoryUpload {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let c = &self.1;
            let src = ctx.render_string("workersrc", &c.workersrc)?;
            let dest = master_path(ctx, &ctx.render_string("masterdest", &c.masterdest)?);
            let args = CommandArgs::new()
                .with("workdir", workdir(ctx, &self.0)?)
                .with("workersrc", src.as_str())
                .with("blocksize", c.blocksize);
            let compress = match c.compress.as_deref() {
                Some("gz") => Compression::Gz,
                Some("bz2") => Compression::Bz2,
                _ => Compression::None,
            };
            let mut opts = TransferOptions::new()
                .blocksize(c.blocksize)
                .compress(compress);
            if let Some(m) = c.maxsize {
                opts = opts.maxsize(m);
            }
            let worker = ctx.worker().clone();
            let cmd = worker
                .upload_directory(ctx.builder_name(), args, &dest, opts)
                .await
                .map_err(map_worker_err)?;
            let res = ctx.follow_command(cmd, true).await?;
            let results = transfer_results(&res);
            if results == Results::Success
                && let Some(url) = &c.url
            {
                let url = ctx.render_string("url", url)?;
                let text = c.url_text.clone().unwrap_or_else(|| url.clone());
                ctx.add_url(&text, &url).await?;
            }
            Ok(StepDone::new(results))
        })
    }
}

async fn download(
    ctx: &mut StepContext,
    common: &StepCommon,
    dest: &Renderable,
    source: DownloadSource,
    mode: Option<u32>,
    maxsize: Option<u64>,
    blocksize: u64,
) -> Result<StepDone, StepError> {
    let dest = ctx.render_string("workerdest", dest)?;
    let args = CommandArgs::new()
        .with("workdir", workdir(ctx, common)?)
        .with("workerdest", dest.as_str());
    let mut opts = TransferOptions::new().blocksize(blocksize);
    if let Some(m) = maxsize {
        opts = opts.maxsize(m);
    }
    if let Some(m) = mode {
        opts = opts.mode(m);
    }
    let worker = ctx.worker().clone();
    let cmd = worker
        .download_file(ctx.builder_name(), args, source, opts)
        .await
        .map_err(map_worker_err)?;
    let res = ctx.follow_command(cmd, true).await?;
    Ok(StepDone::new(transfer_results(&res)))
}

pub(super) struct FileDownload(pub(super) StepCommon, pub(super) FileDownloadConfig);

impl BuildStep for FileDownload {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let c = &self.1;
            let src = master_path(ctx, &ctx.render_string("mastersrc", &c.mastersrc)?);
            if !src.is_file() {
                ctx.add_complete_log(
                    "stderr",
                    &format!("File '{}' not available at master", src.display()),
                )
                .await?;
                return Ok(StepDone::new(Results::Failure));
            }
            download(
                ctx,
                &self.0,
                &c.workerdest,
                DownloadSource::File(src),
                c.mode,
                c.maxsize,
                c.blocksize,
            )
            .await
        })
    }
}

pub(super) struct StringDownload(pub(super) StepCommon, pub(super) StringDownloadConfig);

impl BuildStep for StringDownload {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let c = &self.1;
            let s = ctx.render_string("s", &c.s)?;
            download(
                ctx,
                &self.0,
                &c.workerdest,
                DownloadSource::Bytes(s.into_bytes()),
                c.mode,
                c.maxsize,
                c.blocksize,
            )
            .await
        })
    }
}
