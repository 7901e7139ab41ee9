//! The built-in step types.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use buildbot_db::{LogType, Results};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{
    DirectoryUploadConfig, FileDownloadConfig, FileUploadConfig, ShellCommandConfig, StepCommon,
    StepConfig, StepKind, StringDownloadConfig, WarningCountingConfig,
};
use crate::master::properties::{Renderable, python_str};
use crate::master::results::{StepEnding, shell_result_summary};
use crate::master::workers::{
    CommandArgs, Compression, DownloadSource, TransferOptions, WorkerManagerError,
};

use super::step::{BuildStep, CustomStep, StepContext, StepDone, StepError};

/// The step object for a configured step (`None`: a type this engine cannot run).
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
        StepKind::Trigger(c) => Arc::new(super::trigger::TriggerStep { cfg: c.clone() }),
        StepKind::Git(c) => Arc::new(super::source::GitStep {
            common,
            cfg: c.clone(),
        }),
    })
}

fn workdir(ctx: &StepContext, common: &StepCommon) -> Result<String, StepError> {
    match &common.workdir {
        Some(w) => ctx.render_string("workdir", w),
        None => Ok("build".to_owned()),
    }
}

fn map_worker_err(e: WorkerManagerError) -> StepError {
    match e {
        WorkerManagerError::NotConnected { .. } => StepError::LostConnection,
        e => StepError::Worker(e),
    }
}

enum ShellExtra {
    None,
    Warnings(Box<WarningCountingConfig>),
    SetProperty { property: Renderable, strip: bool },
}

struct Shell {
    common: StepCommon,
    shell: ShellCommandConfig,
    extra: ShellExtra,
}

fn env_value(v: Value) -> Value {
    match v {
        Value::String(_) | Value::Array(_) | Value::Null => v,
        other => Value::from(python_str(&other)),
    }
}

impl Shell {
    async fn go(&self, ctx: &mut StepContext) -> Result<StepDone, StepError> {
        let s = &self.shell;
        let command = ctx.render("command", &s.command)?;
        let mut env = serde_json::Map::new();
        for (k, r) in ctx.builder_env().iter().chain(s.env.iter()) {
            env.insert(k.clone(), env_value(ctx.render("env", r)?));
        }
        let mut args = CommandArgs::new()
            .with("workdir", workdir(ctx, &self.common)?)
            .with("command", to_rmpv(&command))
            .with("env", to_rmpv(&Value::Object(env)))
            .with("want_stdout", s.want_stdout)
            .with("want_stderr", s.want_stderr)
            .with(
                "logfiles",
                to_rmpv(&Value::Object(s.logfiles.clone().into_iter().collect())),
            )
            .with(
                "timeout",
                s.timeout.map_or(rmpv::Value::Nil, rmpv::Value::from),
            )
            .with(
                "maxTime",
                s.max_time.map_or(rmpv::Value::Nil, rmpv::Value::from),
            )
            .with(
                "max_lines",
                s.max_lines.map_or(rmpv::Value::Nil, rmpv::Value::from),
            )
            .with(
                "sigtermTime",
                s.sigterm_time.map_or(rmpv::Value::Nil, rmpv::Value::from),
            )
            .with("usePTY", s.use_pty.unwrap_or(false))
            .with("logEnviron", s.log_environ)
            .with("interruptSignal", s.interrupt_signal.as_str());
        if let Some(stdin) = &s.initial_stdin {
            args.set("initial_stdin", ctx.render_string("initialStdin", stdin)?);
        }
        // Warning counting and SetPropertyFromCommand read the output back.
        ctx.keep_output(!matches!(self.extra, ShellExtra::None));
        let res = ctx.run_command("shell", args).await?;
        let mut results = StepContext::command_results(&res, &s.decode_rc, false);
        let mut summary = None;
        match &self.extra {
            ShellExtra::None => {}
            ShellExtra::Warnings(w) => {
                let default = w.warning_pattern == "^.*warning[: ].*";
                let pat = w
                    .warning_pattern
                    .trim_start_matches('^')
                    .trim_start_matches(".*")
                    .trim_end_matches(".*");
                let mut warnings = Vec::new();
                for stream in ["stdout", "stderr"] {
                    for line in res.text(stream).lines() {
                        let hit = if default {
                            line.contains("warning:") || line.contains("warning ")
                        } else {
                            line.contains(pat)
                        };
                        if hit {
                            warnings.push(line.to_owned());
                        }
                    }
                }
                if !warnings.is_empty() {
                    let n = warnings.len();
                    ctx.add_complete_log(&format!("warnings ({n})"), &(warnings.join("\n") + "\n"))
                        .await?;
                    ctx.set_property(
                        "warnings-count",
                        Value::from(n),
                        "WarningCountingShellCommand",
                    );
                    if results == Results::Success {
                        results = Results::Warnings;
                    }
                    if w.max_warn_count.is_some_and(|m| n as u64 > m)
                        && results.worst(Results::Failure) == Results::Failure
                    {
                        results = Results::Failure;
                    }
                }
            }
            ShellExtra::SetProperty { property, strip } => {
                if results == Results::Success {
                    let name = ctx.render_string("property", property)?;
                    let mut out = res.text("stdout");
                    if *strip {
                        out = out.trim().to_owned();
                    }
                    ctx.set_property(
                        &name,
                        Value::from(out.clone()),
                        "SetPropertyFromCommand Step",
                    );
                    ctx.add_complete_log("property changes", &format!("{name}: {}", py_repr(&out)))
                        .await?;
                    summary = Some(format!("property '{name}' set"));
                }
            }
        }
        let summary = summary.unwrap_or_else(|| {
            shell_result_summary(
                &self.common.description,
                &command,
                results,
                StepEnding {
                    timed_out: ctx.timed_out,
                    max_lines_reached: ctx.max_lines_reached,
                },
            )
        });
        Ok(StepDone::with_summary(results, summary))
    }
}

fn py_repr(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(crate) fn to_rmpv(v: &Value) -> rmpv::Value {
    match v {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                rmpv::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                rmpv::Value::from(u)
            } else {
                rmpv::Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => rmpv::Value::from(s.as_str()),
        Value::Array(a) => rmpv::Value::Array(a.iter().map(to_rmpv).collect()),
        Value::Object(m) => rmpv::Value::Map(
            m.iter()
                .map(|(k, v)| (rmpv::Value::from(k.as_str()), to_rmpv(v)))
                .collect(),
        ),
    }
}

impl BuildStep for Shell {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}

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

struct FileUpload(StepCommon, FileUploadConfig);

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

struct DirectoryUpload(StepCommon, DirectoryUploadConfig);

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

struct FileDownload(StepCommon, FileDownloadConfig);

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

struct StringDownload(StepCommon, StringDownloadConfig);

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

struct FsStep {
    command: &'static str,
    dir: Renderable,
    stdio: bool,
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

struct MasterShell {
    command: Renderable,
    env: BTreeMap<String, Renderable>,
}

impl BuildStep for MasterShell {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(async move {
            let command = ctx.render("command", &self.command)?;
            let mut cmd = match &command {
                Value::String(s) => {
                    let mut c = async_std::process::Command::new("/bin/sh");
                    c.arg("-c").arg(s);
                    c
                }
                Value::Array(a) if !a.is_empty() => {
                    let words: Vec<String> = a.iter().map(python_str).collect();
                    let mut c = async_std::process::Command::new(&words[0]);
                    c.args(&words[1..]);
                    c
                }
                _ => {
                    return Err(StepError::Failed(
                        "MasterShellCommand: empty command".into(),
                    ));
                }
            };
            for (k, v) in &self.env {
                cmd.env(k, ctx.render_string("env", v)?);
            }
            cmd.current_dir(ctx.master_basedir());
            cmd.stdin(std::process::Stdio::null());
            let logid = ctx.add_log("stdio", LogType::Stdio).await?;
            let shown = match &command {
                Value::String(s) => s.clone(),
                other => python_str(other),
            };
            ctx.append_log(
                logid,
                &format!(
                    "hrunning '{shown}' in '{}'\n",
                    ctx.master_basedir().display()
                ),
            )
            .await?;
            let out = cmd
                .output()
                .await
                .map_err(|e| StepError::Failed(format!("cannot run {shown}: {e}")))?;
            let mut text = String::new();
            for (tag, bytes) in [('o', &out.stdout), ('e', &out.stderr)] {
                let s = String::from_utf8_lossy(bytes);
                for line in s.split_inclusive('\n') {
                    text.push(tag);
                    text.push_str(line);
                    if !line.ends_with('\n') {
                        text.push('\n');
                    }
                }
            }
            let rc = out.status.code().unwrap_or(-1);
            text.push_str(&format!("hexit status {rc}\n"));
            ctx.append_log(logid, &text).await?;
            let r = if ctx.stop_reason().is_some() {
                Results::Cancelled
            } else if rc == 0 {
                Results::Success
            } else {
                Results::Failure
            };
            Ok(StepDone::new(r))
        })
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
