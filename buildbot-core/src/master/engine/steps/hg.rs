//! The `Mercurial` source step: `hg` on the worker through ordinary `shell`, `stat` and
//! `rmdir` remote commands, in the order Buildbot's `steps.Mercurial` sends them, and
//! `got_revision` from `hg parents`.
//!
//! Modes and methods as Buildbot's: `incremental` pulls (or clones) and updates, clobbering
//! first when an in-repo branch changes (`clobberOnBranchChange`); `full` with `clobber`
//! removes the directory and clones, with `fresh` (the default) or `clean` purges the
//! untracked (and, `fresh`, ignored) files, pulls and updates. `branchType = "dirname"`
//! appends the branch to `repourl`; `"inrepo"` updates to the named branch.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{MercurialConfig, StepCommon};
use crate::master::workers::{CommandArgs, CommandResult};

use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

use super::source::{self, SourceErr, SourceResult, did_fail, shell_args};

/// `hg parents --template {node}` prints this many hex digits.
const HG_HASH_LENGTH: usize = 40;

/// `steps.Mercurial`.
pub(crate) struct HgStep {
    pub(crate) common: StepCommon,
    pub(crate) cfg: MercurialConfig,
}

struct Run<'a> {
    ctx: &'a mut StepContext,
    cfg: &'a MercurialConfig,
    workdir: String,
    repourl: String,
    revision: Option<String>,
    /// The branch the build needs (`update_branch`).
    update_branch: Option<String>,
    /// `None` (incremental), or the `full` method.
    method: Option<String>,
    env: serde_json::Map<String, Value>,
    retry: Option<(u64, u64)>,
}

impl Run<'_> {
    fn inrepo(&self) -> bool {
        self.cfg.branch_type == "inrepo"
    }

    /// `_dovccmd`: `hg --verbose <command>` in the workdir; an rc outside `ok` fails the
    /// step when `abandon`.
    async fn hg(
        &mut self,
        command: &[&str],
        abandon: bool,
        ok: &[i64],
    ) -> SourceResult<CommandResult> {
        let mut full: Vec<Value> = vec![Value::from("hg"), Value::from("--verbose")];
        full.extend(command.iter().map(|s| Value::from(*s)));
        let args = shell_args(
            &self.workdir,
            full,
            &self.env,
            self.cfg.source.timeout,
            self.cfg.source.log_environ,
        );
        let res = self.ctx.run_command("shell", args).await?;
        let failed = did_fail(&res) && !res.rc.is_some_and(|rc| ok.contains(&rc));
        if abandon && failed {
            log::info!(
                "{}: source step failed while running hg {}",
                self.ctx.builder_name(),
                command.join(" ")
            );
            return Err(SourceErr::Failed);
        }
        Ok(res)
    }

    async fn hg_stdout(&mut self, command: &[&str], ok: &[i64]) -> SourceResult<String> {
        Ok(self.hg(command, true, ok).await?.text("stdout"))
    }

    /// `pathExists(workdir/.hg)`.
    async fn updatable(&mut self) -> SourceResult<bool> {
        let args = CommandArgs::new()
            .with("file", format!("{}/.hg", self.workdir))
            .with("logEnviron", self.cfg.source.log_environ);
        let res = self.ctx.run_command("stat", args).await?;
        Ok(!did_fail(&res))
    }

    /// `_clobber`: removes the workdir.
    async fn remove_workdir(&mut self) -> SourceResult<()> {
        let args = CommandArgs::new()
            .with("dir", self.workdir.as_str())
            .with("logEnviron", self.cfg.source.log_environ);
        self.ctx.run_command("rmdir", args).await?;
        Ok(())
    }

    /// `_clone`, retried after `retry[0]` seconds (the directory removed first) at most
    /// `retry[1]` times.
    async fn clone(&mut self) -> SourceResult<()> {
        loop {
            let last = self.retry.is_none_or(|(_, n)| n == 0);
            let url = self.repourl.clone();
            let res = self
                .hg(&["clone", "--noupdate", &url, "."], last, &[])
                .await?;
            if !did_fail(&res) || self.ctx.stop_reason().is_some() {
                return Ok(());
            }
            let Some((delay, n)) = self.retry else {
                return Ok(());
            };
            log::info!("checkout failed, trying {n} more times after {delay} seconds");
            self.retry = Some((delay, n - 1));
            async_std::task::sleep(Duration::from_secs(delay)).await;
            self.remove_workdir().await?;
        }
    }

    /// `--rev` of `pull` and `update`: the revision, else the in-repo branch.
    fn rev_args(&self) -> Vec<String> {
        match (&self.revision, self.inrepo()) {
            (Some(rev), _) => vec!["--rev".into(), rev.clone()],
            (None, true) => vec![
                "--rev".into(),
                self.update_branch.clone().unwrap_or_default(),
            ],
            (None, false) => Vec::new(),
        }
    }

    /// `_update`: `hg update --clean` to the revision, or the in-repo branch.
    async fn update(&mut self) -> SourceResult<()> {
        let mut cmd: Vec<String> = vec!["update".into(), "--clean".into()];
        cmd.extend(self.rev_args());
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.hg(&refs, true, &[]).await?;
        Ok(())
    }

    /// `getHgPullCommand`, run.
    async fn pull(&mut self) -> SourceResult<()> {
        let mut cmd: Vec<String> = vec!["pull".into(), self.repourl.clone()];
        cmd.extend(self.rev_args());
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.hg(&refs, true, &[]).await?;
        Ok(())
    }

    async fn clobber(&mut self) -> SourceResult<()> {
        self.remove_workdir().await?;
        self.clone().await?;
        self.update().await
    }

    /// `_getCurrentBranch`: `defaultBranch` for dirname branches, else `hg identify`.
    async fn current_branch(&mut self) -> SourceResult<Option<String>> {
        if !self.inrepo() {
            return Ok(self.cfg.default_branch.clone());
        }
        let out = self.hg_stdout(&["identify", "--branch"], &[]).await?;
        Ok(Some(out.trim().to_owned()))
    }

    /// `_checkBranchChange`: clobber on a branch change (`clobberOnBranchChange`), else
    /// remove the files `hg add`ed and update.
    async fn check_branch_change(&mut self) -> SourceResult<()> {
        let current = self.current_branch().await?;
        if current != self.update_branch && self.cfg.clobber_on_branch_change {
            log::info!(
                "working dir is on branch {current:?} and the build needs {:?}: clobbering",
                self.update_branch
            );
            return self.clobber().await;
        }
        let added = self.hg_stdout(&["locate", "set:added()"], &[1]).await?;
        let files: Vec<Value> = added
            .lines()
            .filter(|l| !l.is_empty())
            .map(|f| Value::from(format!("{}/{f}", self.workdir)))
            .collect();
        if !files.is_empty() {
            let args = CommandArgs::new()
                .with(
                    "dir",
                    crate::protocol::json_to_msgpack(&Value::Array(files)),
                )
                .with("logEnviron", self.cfg.source.log_environ);
            self.ctx.run_command("rmdir", args).await?;
        }
        self.update().await
    }

    /// `clean` (`purge`) or `fresh` (`purge --all`), then pull and update.
    async fn purge_pull_update(&mut self, all: bool) -> SourceResult<()> {
        let mut cmd = vec!["--config", "extensions.purge=", "purge"];
        if all {
            cmd.push("--all");
        }
        self.hg(&cmd, true, &[]).await?;
        self.pull().await?;
        self.check_branch_change().await
    }

    async fn mode_full(&mut self) -> SourceResult<()> {
        if self.method.as_deref() == Some("clobber") {
            return self.clobber().await;
        }
        if !self.updatable().await? {
            self.clone().await?;
            return self.update().await;
        }
        let all = self.method.as_deref() != Some("clean");
        self.purge_pull_update(all).await
    }

    async fn mode_incremental(&mut self) -> SourceResult<()> {
        if self.updatable().await? {
            self.pull().await?;
        } else {
            self.clone().await?;
        }
        self.check_branch_change().await
    }

    /// `run_vc`.
    async fn run_vc(&mut self) -> SourceResult<()> {
        let res = self.hg(&["--version"], false, &[]).await?;
        if did_fail(&res) {
            return Err(SourceErr::Step(StepError::Failed(
                "Mercurial is not installed on worker".into(),
            )));
        }
        if self.cfg.source.mode == "full" {
            self.mode_full().await?;
        } else {
            self.mode_incremental().await?;
        }
        let out = self
            .hg_stdout(&["parents", "--template", "{node}\\n"], &[])
            .await?;
        let rev = out.trim();
        if rev.len() != HG_HASH_LENGTH {
            return Err(SourceErr::Failed);
        }
        log::info!("got Mercurial revision {rev}");
        source::set_source_property(
            self.ctx,
            &self.cfg.source.codebase,
            "got_revision",
            rev,
            "Mercurial",
        );
        Ok(())
    }
}

impl HgStep {
    async fn go(&self, ctx: &mut StepContext) -> Result<StepDone, StepError> {
        let cfg = &self.cfg;
        let st = match source::start(ctx, &self.common, &cfg.source, cfg.default_branch.clone())
            .await?
        {
            Ok(st) => st,
            Err(done) => return Ok(done),
        };
        let mut repourl = st.repourl;
        let update_branch = if cfg.branch_type == "dirname" {
            repourl.push_str(st.branch.as_deref().unwrap_or(""));
            st.branch
        } else {
            Some(st.branch.unwrap_or_else(|| "default".into()))
        };
        let mut run = Run {
            ctx,
            cfg,
            workdir: st.workdir,
            repourl,
            revision: st.revision,
            update_branch,
            method: st.method,
            env: st.env,
            retry: cfg.source.retry,
        };
        let outcome = run.run_vc().await;
        source::finish(ctx, &st.desc, outcome)
    }
}

impl BuildStep for HgStep {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}
