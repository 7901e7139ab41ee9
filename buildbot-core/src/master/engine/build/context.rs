//! The step API: [`BuildStep`] (what a step does) and [`StepContext`] (what it may use:
//! remote commands with their output streamed into logs, properties, state strings, URLs).

use std::collections::BTreeMap;
use std::sync::Arc;

use buildbot_db::{Db, DbError, LogId, LogType, Results, StepId};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::EventBus;
use crate::master::config::{ComponentArgs, CustomComponent, Registry, StepKind};
use crate::master::properties::{Properties, RenderContext, RenderError, Renderable};
use crate::master::workers::{
    CommandArgs, CommandHandle, CommandOutcome, CommandResult, CommandUpdate, RemoteCommand,
    WorkerConnection, WorkerManagerError,
};

use crate::master::rest;
use crate::util::lock;

use super::Build;

/// Why a step could not run to a result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The worker connection was lost (the build is retried).
    #[error("lost connection to the worker")]
    LostConnection,
    /// A renderable argument could not be rendered.
    #[error("cannot render {what}: {source}")]
    Render {
        /// Which argument.
        what: String,
        /// Why.
        #[source]
        source: RenderError,
    },
    /// A remote command could not be started.
    #[error(transparent)]
    Worker(#[from] WorkerManagerError),
    /// A database write failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Anything else (the step ends EXCEPTION with this text in its `err.text` log).
    #[error("{0}")]
    Failed(String),
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepDone {
    /// The step's result.
    pub results: Results,
    /// The final `state_string` (`None`: Buildbot's generic result summary from the step's
    /// description).
    pub summary: Option<String>,
}

impl StepDone {
    /// A result with the generic summary.
    pub fn new(results: Results) -> Self {
        StepDone {
            results,
            summary: None,
        }
    }

    /// A result with an explicit summary.
    pub fn with_summary(results: Results, summary: impl Into<String>) -> Self {
        StepDone {
            results,
            summary: Some(summary.into()),
        }
    }
}

/// A step type. Implement it to add your own steps; register it for `master.cfg` with
/// [`register_custom_step`].
///
/// ```
/// use buildbot_core::master::{BuildStep, StepContext, StepDone, StepError};
/// use buildbot_db::Results;
/// use futures::future::BoxFuture;
///
/// struct Hello;
/// impl BuildStep for Hello {
///     fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
///         Box::pin(async move {
///             ctx.add_complete_log("greeting", "hello\n").await?;
///             Ok(StepDone::with_summary(Results::Success, "said hello"))
///         })
///     }
/// }
/// ```
pub trait BuildStep: Send + Sync {
    /// Runs the step. Returning an error ends the step with EXCEPTION (RETRY for
    /// [`StepError::LostConnection`]).
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>>;
}

/// The value a custom step's registry factory stores in [`CustomComponent`]: the step.
#[derive(Clone)]
pub struct CustomStep(pub Arc<dyn BuildStep>);

impl std::fmt::Debug for CustomStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomStep")
    }
}

/// Registers a step type `name` for `master.cfg`: `factory` reads the step's table (its own
/// keys; the common `BuildStep` keys are read by the loader) and returns the step, or
/// `None` after recording a problem in `args`.
pub fn register_custom_step(
    registry: &mut Registry,
    name: &str,
    factory: impl Fn(&mut ComponentArgs<'_>) -> Option<Arc<dyn BuildStep>> + Send + Sync + 'static,
) {
    let type_name = name.to_owned();
    registry.register_step(name, move |args| {
        let step = factory(args)?;
        Some(StepKind::Custom(CustomComponent::new(
            type_name.clone(),
            args.to_json(),
            CustomStep(step),
        )))
    });
}

/// One log of the running step.
#[derive(Clone, Debug)]
struct OpenLog {
    logid: LogId,
    name: String,
    slug: String,
    log_type: LogType,
    num_lines: i64,
    appends: u32,
}

/// What a running step can use.
pub struct StepContext {
    pub(crate) build: Arc<Build>,
    pub(crate) stepid: StepId,
    pub(crate) step_number: i64,
    pub(crate) step_name: String,
    logs: Vec<OpenLog>,
    pub(crate) urls: Vec<(String, String)>,
    pub(crate) timed_out: bool,
    pub(crate) max_lines_reached: bool,
    pub(crate) state_string: String,
    pub(crate) started_at: i64,
    /// Whether command output text is kept in [`CommandResult::updates`] (steps that parse
    /// the output need it; others would hold a whole log in memory for nothing).
    keep_output: bool,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext")
            .field("stepid", &self.stepid)
            .field("name", &self.step_name)
            .finish_non_exhaustive()
    }
}

impl StepContext {
    pub(crate) fn new(
        build: Arc<Build>,
        stepid: StepId,
        number: i64,
        name: String,
        started_at: i64,
    ) -> Self {
        StepContext {
            build,
            stepid,
            step_number: number,
            step_name: name,
            logs: Vec::new(),
            urls: Vec::new(),
            timed_out: false,
            max_lines_reached: false,
            state_string: "pending".into(),
            started_at,
            keep_output: false,
        }
    }

    /// Keeps the text of command output (stdout, stderr, header, logfiles) in the
    /// [`CommandResult::updates`] of the commands this step runs from now on, for steps that
    /// parse it. Off by default: the output always goes to the logs as it arrives, and a
    /// 50 MiB log need not also sit in memory until the command ends.
    pub fn keep_output(&mut self, keep: bool) {
        self.keep_output = keep;
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.build.db
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.build.events
    }

    /// The step id.
    pub fn stepid(&self) -> StepId {
        self.stepid
    }

    /// The step's (unique) name.
    pub fn step_name(&self) -> &str {
        &self.step_name
    }

    /// The builder's name.
    pub fn builder_name(&self) -> &str {
        &self.build.builder_name
    }

    /// The worker running the build.
    pub fn worker(&self) -> &WorkerConnection {
        &self.build.worker
    }

    /// The builder's `env` (rendered by shell steps together with their own).
    pub fn builder_env(&self) -> &BTreeMap<String, Renderable> {
        &self.build.env
    }

    /// The master's base directory (relative master paths are resolved against it).
    pub fn master_basedir(&self) -> &std::path::Path {
        &self.build.basedir
    }

    /// `Some(reason)` once the build was asked to stop.
    pub fn stop_reason(&self) -> Option<String> {
        self.build.stop_reason()
    }

    /// A copy of the build's properties.
    pub fn properties(&self) -> Properties {
        lock(&self.build.properties).clone()
    }

    /// One property value.
    pub fn property(&self, name: &str) -> Option<Value> {
        lock(&self.build.properties).get(name).cloned()
    }

    /// Sets a build property (written to the database after the step).
    pub fn set_property(&self, name: &str, value: Value, source: &str) {
        lock(&self.build.properties).set(name, value, source);
    }

    /// Renders an argument with the build's properties, source stamps and worker info.
    pub fn render(&self, what: &str, r: &Renderable) -> Result<Value, StepError> {
        if let Some(v) = r.as_constant() {
            return Ok(v.clone());
        }
        r.render(&self.render_ctx())
            .map_err(|source| StepError::Render {
                what: what.to_owned(),
                source,
            })
    }

    /// Renders an argument to a string.
    pub fn render_string(&self, what: &str, r: &Renderable) -> Result<String, StepError> {
        if let Some(Value::String(s)) = r.as_constant() {
            return Ok(s.clone());
        }
        r.render_string(&self.render_ctx())
            .map_err(|source| StepError::Render {
                what: what.to_owned(),
                source,
            })
    }

    fn render_ctx(&self) -> BuildRenderContext<'_> {
        BuildRenderContext {
            props: lock(&self.build.properties).clone(),
            build: &self.build,
        }
    }

    /// Sets the step's `state_string` (written and announced now).
    pub async fn set_state_string(&mut self, text: &str) -> Result<(), StepError> {
        if self.state_string == text {
            return Ok(());
        }
        self.state_string = text.to_owned();
        self.build
            .db
            .set_step_state_string(self.stepid, text)
            .await?;
        self.publish_step("updated", None, None);
        Ok(())
    }

    /// Adds a URL to the step.
    pub async fn add_url(&mut self, name: &str, url: &str) -> Result<(), StepError> {
        if self.build.db.add_step_url(self.stepid, name, url).await? {
            self.urls.push((name.to_owned(), url.to_owned()));
            self.publish_step("updated", None, None);
        }
        Ok(())
    }

    pub(crate) fn publish_step(
        &self,
        event: &str,
        complete: Option<(i64, Results)>,
        hidden: Option<bool>,
    ) {
        let s = &self.build;
        s.events.publish_step(s.buildid, self.stepid, event, || {
            rest::StepView {
                stepid: self.stepid,
                number: self.step_number,
                name: &self.step_name,
                buildid: s.buildid,
                started_at: Some(self.started_at),
                locks_acquired_at: Some(self.started_at),
                complete_at: complete.map(|c| c.0),
                state_string: &self.state_string,
                results: complete.map(|c| i64::from(c.1.code())),
                urls: &self.urls,
                hidden: hidden.unwrap_or(false),
            }
            .to_json()
        });
    }

    /// Adds a log (`t` text, `s` stdio, `h` HTML) to the step and returns its id.
    pub async fn add_log(&mut self, name: &str, log_type: LogType) -> Result<LogId, StepError> {
        let logid = self.build.db.add_log(self.stepid, name, log_type).await?;
        let mut slug = buildbot_db::force_identifier(name, 50);
        if self.logs.iter().any(|l| l.slug == slug)
            && let Some(row) = self.build.db.get_log(logid).await?
        {
            slug = row.slug;
        }
        let log = OpenLog {
            logid,
            name: name.to_owned(),
            slug,
            log_type,
            num_lines: 0,
            appends: 0,
        };
        self.publish_log(&log, "new", false);
        self.logs.push(log);
        Ok(logid)
    }

    fn publish_log(&self, log: &OpenLog, event: &str, complete: bool) {
        self.build
            .events
            .publish_log(log.logid, self.stepid, &log.slug, event, || {
                rest::LogView {
                    logid: log.logid,
                    name: &log.name,
                    slug: &log.slug,
                    stepid: self.stepid,
                    complete,
                    num_lines: log.num_lines,
                    log_type: log.log_type.code(),
                }
                .to_json()
            });
    }

    /// Appends text (whole lines; a final newline is added if missing) to a log of this
    /// step.
    pub async fn append_log(&mut self, logid: LogId, text: &str) -> Result<(), StepError> {
        if text.is_empty() {
            return Ok(());
        }
        let range = self.build.db.append_log(logid, text).await?;
        if let Some(i) = self.logs.iter().position(|l| l.logid == logid) {
            if let Some((_, last)) = range {
                self.logs[i].num_lines = last + 1;
            }
            self.logs[i].appends += 1;
            let log = self.logs[i].clone();
            self.publish_log(&log, "append", false);
        }
        Ok(())
    }

    /// Finishes a log (no more appends).
    pub async fn finish_log(&mut self, logid: LogId) -> Result<(), StepError> {
        if let Some(i) = self.logs.iter().position(|l| l.logid == logid) {
            let log = self.logs.remove(i);
            self.build.db.finish_log(logid).await?;
            self.publish_log(&log, "finished", true);
            // compaction merges chunks: a log written in one append has nothing to merge
            if log.appends > 1 {
                let db = self.build.db.clone();
                async_std::task::spawn(async move {
                    if let Err(e) = db.compress_log(logid).await {
                        log::warn!("compacting log {}: {e}", logid.0);
                    }
                });
            }
        }
        Ok(())
    }

    /// Adds a complete text log (`addCompleteLog`).
    pub async fn add_complete_log(&mut self, name: &str, text: &str) -> Result<(), StepError> {
        let logid = self.add_log(name, LogType::Text).await?;
        let mut t = text.to_owned();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        self.append_log(logid, &t).await?;
        self.finish_log(logid).await
    }

    pub(crate) async fn finish_all_logs(&mut self) -> Result<(), StepError> {
        let ids: Vec<LogId> = self.logs.iter().map(|l| l.logid).collect();
        for id in ids {
            self.finish_log(id).await?;
        }
        Ok(())
    }

    /// Opens the `stdio` log (unless open) and then a text log for each of `names` (the
    /// step's `logfiles` without `lazylogfiles`, as Buildbot opens them when the command
    /// starts, so that they exist even when nothing is written to them).
    pub async fn open_logs_now(
        &mut self,
        names: impl IntoIterator<Item = &str>,
    ) -> Result<(), StepError> {
        if self.stdio_log().is_none() {
            self.add_log("stdio", LogType::Stdio).await?;
        }
        for name in names {
            if !self.logs.iter().any(|l| l.name == name) {
                self.add_log(name, LogType::Text).await?;
            }
        }
        Ok(())
    }

    fn stdio_log(&self) -> Option<LogId> {
        self.logs
            .iter()
            .find(|l| l.name == "stdio")
            .map(|l| l.logid)
    }

    /// Starts a remote command (`shell`, `mkdir`, `rmdir`, `stat`, ...; step-side names
    /// and relative paths) for this build's builder and runs it to its end, streaming its
    /// output into the step's `stdio` log (created on first use). An interrupt of the build
    /// interrupts it. To read the output back from the result ([`CommandResult::text`]),
    /// call [`StepContext::keep_output`] first.
    pub async fn run_command(
        &mut self,
        command: &str,
        args: CommandArgs,
    ) -> Result<CommandResult, StepError> {
        let worker = self.build.worker.clone();
        let cmd = match worker
            .start_command(&self.build.builder_name, command, args)
            .await
        {
            Ok(c) => c,
            Err(WorkerManagerError::NotConnected { .. }) => return Err(StepError::LostConnection),
            Err(e) => return Err(e.into()),
        };
        self.follow_command(cmd, true).await
    }

    /// Follows a command started by the step itself (e.g. a transfer through
    /// [`WorkerConnection::upload_file`]): registers it for interrupts and streams its
    /// output into `stdio` when `stdio` is true.
    pub async fn follow_command(
        &mut self,
        mut cmd: RemoteCommand,
        stdio: bool,
    ) -> Result<CommandResult, StepError> {
        let handle = cmd.handle();
        self.build.set_command(Some(handle.clone()));
        if let Some(reason) = self.build.stop_reason() {
            let _ = handle.interrupt(&reason).await;
        }
        let logid = if stdio {
            match self.stdio_log() {
                Some(l) => Some(l),
                None => Some(self.add_log("stdio", LogType::Stdio).await?),
            }
        } else {
            None
        };
        let mut other_logs: BTreeMap<String, LogId> = BTreeMap::new();
        let mut updates = Vec::new();
        let mut buf = String::new();
        loop {
            let Some(first) = cmd.next_update().await else {
                break;
            };
            let mut batch = vec![first];
            while let Some(Some(u)) = cmd.next_update().now_or_never() {
                batch.push(u);
            }
            let mut named: Vec<(String, String)> = Vec::new();
            for u in batch {
                match &u {
                    CommandUpdate::Stdout(t) => push_lines(&mut buf, 'o', t),
                    CommandUpdate::Stderr(t) => push_lines(&mut buf, 'e', t),
                    CommandUpdate::Header(t) => push_lines(&mut buf, 'h', t),
                    CommandUpdate::Rc(rc) => push_lines(
                        &mut buf,
                        'h',
                        &format!("program finished with exit code {rc}\n"),
                    ),
                    CommandUpdate::FailureReason(r) => {
                        if r.contains("max_lines") {
                            self.max_lines_reached = true;
                        } else {
                            self.timed_out = true;
                        }
                    }
                    CommandUpdate::Log { name, text } => match named.last_mut() {
                        Some((n, t)) if n == name => t.push_str(text),
                        _ => named.push((name.clone(), text.clone())),
                    },
                    _ => {}
                }
                let is_text = matches!(
                    u,
                    CommandUpdate::Stdout(_)
                        | CommandUpdate::Stderr(_)
                        | CommandUpdate::Header(_)
                        | CommandUpdate::Log { .. }
                );
                if self.keep_output || !is_text {
                    updates.push(u);
                }
            }
            if let Some(logid) = logid
                && !buf.is_empty()
            {
                let text = std::mem::take(&mut buf);
                self.append_log(logid, &text).await?;
            }
            buf.clear();
            for (name, text) in named {
                let opened = self.logs.iter().find(|l| l.name == name).map(|l| l.logid);
                let id = match other_logs.get(&name).copied().or(opened) {
                    Some(id) => id,
                    None => {
                        let id = self.add_log(&name, LogType::Text).await?;
                        other_logs.insert(name.clone(), id);
                        id
                    }
                };
                self.append_log(id, &text).await?;
            }
        }
        let mut res = cmd.wait().await;
        self.build.set_command(None);
        let mut all = updates;
        all.append(&mut res.updates);
        res.updates = all;
        if res.outcome == CommandOutcome::ConnectionLost {
            return Err(StepError::LostConnection);
        }
        Ok(res)
    }

    /// The result Buildbot gives a finished command: CANCELLED when interrupted,
    /// EXCEPTION when it failed, else by `rc` (`decode`: rc → result, default FAILURE).
    pub fn command_results(
        res: &CommandResult,
        decode: &BTreeMap<i64, Results>,
        rc_optional: bool,
    ) -> Results {
        match &res.outcome {
            CommandOutcome::Interrupted { .. } => Results::Cancelled,
            CommandOutcome::Failed { .. } => Results::Exception,
            CommandOutcome::ConnectionLost => Results::Retry,
            _ => match res.rc {
                Some(rc) => decode.get(&rc).copied().unwrap_or(Results::Failure),
                None if rc_optional => Results::Success,
                None => Results::Failure,
            },
        }
    }

    /// A handle to the command currently running (to interrupt it).
    pub fn current_command(&self) -> Option<CommandHandle> {
        lock(&self.build.command).clone()
    }
}

fn push_lines(buf: &mut String, tag: char, text: &str) {
    for line in text.split_inclusive('\n') {
        buf.push(tag);
        buf.push_str(line);
    }
    if !buf.ends_with('\n') {
        buf.push('\n');
    }
}

/// Renders with the build's properties, source stamps and worker info.
pub(crate) struct BuildRenderContext<'a> {
    pub(crate) props: Properties,
    pub(crate) build: &'a Build,
}

impl RenderContext for BuildRenderContext<'_> {
    fn property(&self, name: &str) -> Option<Value> {
        self.props.get(name).cloned()
    }
    fn sourcestamp_attr(&self, codebase: &str, attr: &str) -> Option<Value> {
        self.build.sourcestamps.get(codebase)?.get(attr).cloned()
    }
    fn worker_info(&self, attr: &str) -> Option<Value> {
        let info = self.build.worker.info();
        match attr {
            "admin" => info.admin.clone().map(Value::from),
            "host" => info.host.clone().map(Value::from),
            "access_uri" => info.access_uri.clone().map(Value::from),
            "version" => info.version.clone().map(Value::from),
            "basedir" => Some(Value::from(info.basedir.clone())),
            "system" => info.system.clone().map(Value::from),
            "numcpus" => info.numcpus.map(Value::from),
            other => info.other.get(other).cloned().map(Value::from),
        }
    }
}
