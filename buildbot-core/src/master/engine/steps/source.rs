//! What the source steps (`Git`, `Mercurial`) share, as Buildbot's `Source` base class
//! does it: the `updating`/`update` description, the branch and revision taken from the
//! build's source stamp of the step's codebase, the rendered environment, the file-system
//! commands they send, and `got_revision` set per codebase.

use serde_json::Value;

use crate::master::config::{SourceArgs, StepCommon};
use crate::master::properties::{Renderable, python_str};
use crate::master::results::StepDescription;
use crate::master::workers::{CommandArgs, CommandOutcome, CommandResult};

use crate::master::engine::build::{StepContext, StepDone, StepError};

/// Why a source step stopped early.
pub(super) enum SourceErr {
    /// Buildbot's `BuildStepFailed`: the step ends FAILURE (CANCELLED when stopped).
    Failed,
    /// Anything else (lost connection, render error, database).
    Step(StepError),
}

impl From<StepError> for SourceErr {
    fn from(e: StepError) -> Self {
        SourceErr::Step(e)
    }
}

pub(super) type SourceResult<T> = Result<T, SourceErr>;

/// How a source step's run ends: its results (`Failed` while the build is being stopped
/// is CANCELLED) and Buildbot's summary, or the error that ends it in EXCEPTION.
pub(super) fn finish(
    ctx: &StepContext,
    desc: &StepDescription,
    outcome: SourceResult<()>,
) -> Result<StepDone, StepError> {
    use crate::master::results::{StepEnding, step_result_summary};
    let results = match outcome {
        Ok(()) => buildbot_db::Results::Success,
        Err(SourceErr::Failed) if ctx.stop_reason().is_some() => buildbot_db::Results::Cancelled,
        Err(SourceErr::Failed) => buildbot_db::Results::Failure,
        Err(SourceErr::Step(e)) => return Err(e),
    };
    let summary = step_result_summary(
        desc,
        results,
        StepEnding {
            timed_out: ctx.timed_out,
            max_lines_reached: ctx.max_lines_reached,
        },
    );
    Ok(StepDone::with_summary(results, summary))
}

/// Source steps describe themselves as `updating` / `update` (plus the codebase).
pub(super) fn description(common: &StepCommon, codebase: &str) -> StepDescription {
    let mut d = common.description.clone();
    if d.description.is_none() {
        d.description = Some(vec!["updating".into()]);
    }
    if d.description_done.is_none() {
        d.description_done = Some(vec!["update".into()]);
    }
    if d.description_suffix.is_none() && !codebase.is_empty() {
        d.description_suffix = Some(vec![codebase.to_owned()]);
    }
    d
}

/// Whether a finished command failed (`cmd.didFail()`).
pub(super) fn did_fail(res: &CommandResult) -> bool {
    !matches!(res.outcome, CommandOutcome::Completed) || res.rc != Some(0)
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(python_str(other)),
    }
}

/// The branch and revision to check out: the source stamp's of `codebase` (its branch,
/// else `default_branch`), or `default_branch` and no revision with `alwaysUseLatest`.
/// `Err(done)`: the build has no source stamp for the codebase (the step fails, with a
/// `log` saying so, as Buildbot's).
pub(super) async fn branch_and_revision(
    ctx: &mut StepContext,
    codebase: &str,
    always_use_latest: bool,
    default_branch: Option<String>,
) -> Result<Result<(Option<String>, Option<String>), StepDone>, StepError> {
    if always_use_latest {
        return Ok(Ok((default_branch, None)));
    }
    match ctx.build.sourcestamps.get(codebase).cloned() {
        Some(ss) => Ok(Ok((
            non_empty(ss.get("branch")).or(default_branch),
            non_empty(ss.get("revision")),
        ))),
        None => {
            let text = format!("No sourcestamp found in build for codebase '{codebase}'");
            ctx.add_complete_log("log", &text).await?;
            Ok(Err(StepDone::with_summary(
                buildbot_db::Results::Failure,
                format!("Codebase {codebase} not in build"),
            )))
        }
    }
}

/// What every source step works out before its first command (Buildbot's
/// `Source.startStep`).
pub(super) struct Start {
    /// The step's description (for the state strings and the summary).
    pub(super) desc: StepDescription,
    /// The branch to check out (the source stamp's, else the default).
    pub(super) branch: Option<String>,
    /// The revision to check out (`None`: the branch's head).
    pub(super) revision: Option<String>,
    /// The rendered `repourl`.
    pub(super) repourl: String,
    /// The step's workdir.
    pub(super) workdir: String,
    /// The rendered `env`.
    pub(super) env: serde_json::Map<String, Value>,
    /// `None` (incremental), or the `full` mode's method (default `fresh`).
    pub(super) method: Option<String>,
}

/// Sets the `updating` state, and works out the [`Start`] of a source step; `Err(done)`:
/// the build has no source stamp for the codebase (the step is over).
pub(super) async fn start(
    ctx: &mut StepContext,
    step: &StepCommon,
    c: &SourceArgs,
    default_branch: Option<String>,
) -> Result<Result<Start, StepDone>, StepError> {
    let desc = description(step, &c.codebase);
    ctx.set_state_string(&crate::master::results::step_current_summary(&desc))
        .await?;
    let (branch, revision) =
        match branch_and_revision(ctx, &c.codebase, c.always_use_latest, default_branch).await? {
            Ok(v) => v,
            Err(done) => return Ok(Err(done)),
        };
    let method = match (c.mode.as_str(), &c.method) {
        ("incremental", _) => None,
        (_, Some(m)) => Some(m.clone()),
        (_, None) => Some("fresh".to_owned()),
    };
    let start = Start {
        desc,
        branch,
        revision,
        repourl: ctx.render_string("repourl", &c.repourl)?,
        workdir: super::workdir(ctx, step)?,
        env: render_env(ctx, &c.env)?,
        method,
    };
    ctx.keep_output(true);
    Ok(Ok(start))
}

/// The step's `env`, rendered (values that are neither strings nor lists become strings).
pub(super) fn render_env(
    ctx: &StepContext,
    env: &std::collections::BTreeMap<String, Renderable>,
) -> Result<serde_json::Map<String, Value>, StepError> {
    let mut out = serde_json::Map::new();
    for (k, r) in env {
        let v = match ctx.render("env", r)? {
            v @ (Value::String(_) | Value::Array(_) | Value::Null) => v,
            other => Value::from(python_str(&other)),
        };
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// `updateSourceProperty`: the property itself, or by codebase when the step has one.
pub(super) fn set_source_property(
    ctx: &StepContext,
    codebase: &str,
    name: &str,
    value: &str,
    source: &str,
) {
    if codebase.is_empty() {
        ctx.set_property(name, Value::from(value), source);
    } else {
        let mut map = match ctx.property(name) {
            Some(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        map.insert(codebase.to_owned(), Value::from(value));
        ctx.set_property(name, Value::Object(map), source);
    }
}

/// A `shell` command's arguments as the source steps send them (no PTY, both streams).
pub(super) fn shell_args(
    workdir: &str,
    command: Vec<Value>,
    env: &serde_json::Map<String, Value>,
    timeout: u64,
    log_environ: bool,
) -> CommandArgs {
    use crate::protocol::json_to_msgpack;
    CommandArgs::new()
        .with("workdir", workdir)
        .with("command", json_to_msgpack(&Value::Array(command)))
        .with("env", json_to_msgpack(&Value::Object(env.clone())))
        .with("want_stdout", true)
        .with("want_stderr", true)
        .with("logfiles", rmpv::Value::Map(Vec::new()))
        .with("timeout", timeout)
        .with("maxTime", rmpv::Value::Nil)
        .with("max_lines", rmpv::Value::Nil)
        .with("sigtermTime", 1)
        .with("usePTY", false)
        .with("logEnviron", log_environ)
}
