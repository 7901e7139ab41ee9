//! `MasterShellCommand`: a command run on the master, its output in the step's `stdio`.

use std::collections::BTreeMap;

use buildbot_db::{LogType, Results};
use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::properties::{Renderable, python_str};

use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

pub(super) struct MasterShell {
    pub(super) command: Renderable,
    pub(super) env: BTreeMap<String, Renderable>,
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
