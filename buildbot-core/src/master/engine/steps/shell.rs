//! `ShellCommand` and the steps built on it: `Configure`, `Compile`, `Test` (warning
//! counting), `SetPropertyFromCommand`.

use buildbot_db::Results;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{ShellCommandConfig, StepCommon, WarningCountingConfig};
use crate::master::properties::{Renderable, python_str};
use crate::master::results::{StepEnding, shell_result_summary};
use crate::master::workers::CommandArgs;
use crate::protocol::json_to_msgpack;

use super::workdir;
use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

pub(super) enum ShellExtra {
    None,
    Warnings(Box<WarningCountingConfig>),
    SetProperty { property: Renderable, strip: bool },
}

pub(super) struct Shell {
    pub(super) common: StepCommon,
    pub(super) shell: ShellCommandConfig,
    pub(super) extra: ShellExtra,
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
            .with("command", json_to_msgpack(&command))
            .with("env", json_to_msgpack(&Value::Object(env)))
            .with("want_stdout", s.want_stdout)
            .with("want_stderr", s.want_stderr)
            .with(
                "logfiles",
                json_to_msgpack(&Value::Object(s.logfiles.clone().into_iter().collect())),
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
        if !s.lazylogfiles && !s.logfiles.is_empty() {
            // Buildbot opens stdio and every logfile when the command starts
            ctx.open_logs_now(s.logfiles.keys().map(String::as_str))
                .await?;
        }
        let res = ctx.run_command("shell", args).await?;
        let mut results = StepContext::command_results(&res, &s.decode_rc, false);
        let mut summary = None;
        match &self.extra {
            ShellExtra::None => {}
            ShellExtra::Warnings(w) => {
                // Python's `re.match`: from the start of the line (checked at load time)
                let re = regex::Regex::new(&format!("^(?:{})", w.warning_pattern))
                    .map_err(|e| StepError::Failed(format!("warningPattern: {e}")))?;
                let mut warnings = Vec::new();
                for stream in ["stdout", "stderr"] {
                    for line in res.text(stream).lines() {
                        if re.is_match(line) {
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

impl BuildStep for Shell {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}
