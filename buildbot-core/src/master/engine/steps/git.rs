//! The `Git` source step: checks out a repository on the worker with ordinary `shell`,
//! `stat`, `listdir` and `rmdir` remote commands, in the order Buildbot's `steps.Git` sends
//! them, and sets `got_revision`.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{GitConfig, StepCommon};
use crate::master::workers::{CommandArgs, CommandResult, DownloadSource, TransferOptions};

use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

use super::source::{self, SourceErr, SourceResult, did_fail, shell_args};

/// `git rev-parse HEAD` prints this many hex digits.
const GIT_HASH_LENGTH: usize = 40;

/// `steps.Git`.
pub(crate) struct GitStep {
    pub(crate) common: StepCommon,
    pub(crate) cfg: GitConfig,
}

/// One run of the step: the rendered arguments and the state that changes as it goes.
struct Run<'a> {
    ctx: &'a mut StepContext,
    cfg: &'a GitConfig,
    workdir: String,
    repourl: String,
    branch: String,
    revision: Option<String>,
    /// `None` (incremental), or the `full` method.
    method: Option<String>,
    env: serde_json::Map<String, Value>,
    retry: Option<(u64, u64)>,
    /// `sshPrivateKey`, rendered.
    ssh_key: Option<String>,
}

impl Run<'_> {
    /// `_dovccmd`: `git [-c k=v]... <command>` in the workdir; fails the step when
    /// `abandon` and the command failed.
    async fn git(&mut self, command: &[&str], abandon: bool) -> SourceResult<CommandResult> {
        let mut full: Vec<Value> = vec![Value::from("git")];
        for (k, v) in &self.cfg.config {
            full.push(Value::from("-c"));
            full.push(Value::from(format!("{k}={v}")));
        }
        full.extend(command.iter().map(|s| Value::from(*s)));
        let args = shell_args(
            &self.workdir,
            full,
            &self.env,
            self.cfg.source.timeout,
            self.cfg.source.log_environ,
        );
        let res = self.ctx.run_command("shell", args).await?;
        if abandon && did_fail(&res) {
            log::info!(
                "{}: source step failed while running git {}",
                self.ctx.builder_name(),
                command.join(" ")
            );
            return Err(SourceErr::Failed);
        }
        Ok(res)
    }

    async fn git_rc(&mut self, command: &[&str], abandon: bool) -> SourceResult<i64> {
        let res = self.git(command, abandon).await?;
        Ok(if did_fail(&res) {
            res.rc.unwrap_or(-1).max(1)
        } else {
            0
        })
    }

    async fn git_stdout(&mut self, command: &[&str]) -> SourceResult<String> {
        let res = self.git(command, true).await?;
        Ok(res.text("stdout"))
    }

    /// A file-system command (`stat`, `listdir`, `rmdir`) with its output in `stdio`.
    async fn fs(&mut self, command: &str, args: CommandArgs) -> SourceResult<CommandResult> {
        Ok(self.ctx.run_command(command, args).await?)
    }

    /// `pathExists`.
    async fn path_exists(&mut self, path: &str) -> SourceResult<bool> {
        let args = CommandArgs::new()
            .with("file", path)
            .with("logEnviron", self.cfg.source.log_environ);
        let res = self.fs("stat", args).await?;
        Ok(!did_fail(&res))
    }

    /// `runRmdir` of the workdir (`_doClobber`).
    async fn clobber_dir(&mut self) -> SourceResult<()> {
        let args = CommandArgs::new()
            .with("dir", self.workdir.as_str())
            .with("logEnviron", self.cfg.source.log_environ)
            .with("timeout", self.cfg.source.timeout);
        let res = self.fs("rmdir", args).await?;
        if did_fail(&res) {
            return Err(SourceErr::Step(StepError::Failed(
                "Failed to delete directory".into(),
            )));
        }
        Ok(())
    }

    /// `_sourcedirIsUpdatable`: `update`, `clobber` or `clone`.
    async fn updatable(&mut self) -> SourceResult<&'static str> {
        let args = CommandArgs::new().with("dir", self.workdir.as_str());
        let res = self.fs("listdir", args).await?;
        Ok(match &res.files {
            None => "clone",
            Some(f) if f.iter().any(|n| n == ".git") => "update",
            Some(f) if !f.is_empty() => "clobber",
            Some(_) => "clone",
        })
    }

    fn shallow_arg(&self) -> Option<String> {
        self.cfg.shallow.map(|d| d.to_string())
    }

    /// `_fetch`.
    async fn fetch(&mut self, abandon: bool) -> SourceResult<i64> {
        let mut required = true;
        if !self.cfg.tags
            && let Some(rev) = self.revision.clone()
            && self.git_rc(&["cat-file", "-e", &rev], false).await? == 0
        {
            required = false;
        }
        if required {
            let mut cmd: Vec<String> = vec!["fetch".into(), "-f".into()];
            if let Some(d) = self.shallow_arg() {
                cmd.extend(["--depth".into(), d]);
            }
            if self.cfg.tags {
                cmd.push("--tags".into());
            }
            if self.cfg.progress {
                cmd.push("--progress".into());
            }
            cmd.push(self.repourl.clone());
            cmd.push(self.branch.clone());
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let rc = self.git_rc(&refs, abandon).await?;
            if rc != 0 {
                return Ok(rc);
            }
        }
        let rev = self.revision.clone().unwrap_or_else(|| "FETCH_HEAD".into());
        let rc = self.git_rc(&["checkout", "-f", &rev], abandon).await?;
        if rc == 0 && self.branch != "HEAD" {
            let branch = self.branch.clone();
            self.git_rc(&["checkout", "-B", &branch], false).await?;
        }
        Ok(rc)
    }

    /// `_fetchOrFallback`.
    async fn fetch_or_fallback(&mut self) -> SourceResult<()> {
        let abandon = !self.cfg.retry_fetch && !self.cfg.clobber_on_failure;
        if self.fetch(abandon).await? == 0 {
            return Ok(());
        }
        if self.cfg.retry_fetch {
            self.fetch(true).await?;
        } else if self.cfg.clobber_on_failure {
            self.clobber().await?;
        } else {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    /// `_clone`, with `retry`.
    async fn clone_repo(&mut self) -> SourceResult<i64> {
        loop {
            let mut cmd: Vec<String> = vec!["clone".into()];
            let mut switch_to_branch = self.branch != "HEAD";
            if self.branch != "HEAD" {
                if self.branch.starts_with("refs/") {
                    cmd.push("--no-checkout".into());
                } else {
                    switch_to_branch = false;
                    cmd.extend(["--branch".into(), self.branch.clone()]);
                }
            }
            if let Some(d) = self.shallow_arg() {
                cmd.extend(["--depth".into(), d]);
            }
            if let Some(r) = &self.cfg.reference {
                cmd.extend(["--reference".into(), r.clone()]);
            }
            if let Some(o) = &self.cfg.origin {
                cmd.extend(["--origin".into(), o.clone()]);
            }
            cmd.push(self.repourl.clone());
            cmd.push(".".into());
            if self.cfg.progress {
                cmd.push("--progress".into());
            }
            let abandon = self.retry.is_none_or(|r| r.1 == 0) && self.cfg.shallow.is_some();
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let mut rc = self.git_rc(&refs, abandon).await?;
            if switch_to_branch {
                rc = self.fetch(true).await?;
            }
            let done = rc == 0 || self.ctx.stop_reason().is_some();
            match self.retry {
                Some((delay, repeats)) if !done && repeats > 0 => {
                    log::info!(
                        "checkout failed, trying {repeats} more times after {delay} seconds"
                    );
                    self.retry = Some((delay, repeats - 1));
                    async_std::task::sleep(Duration::from_secs(delay)).await;
                    self.clobber_dir().await?;
                }
                _ => return Ok(rc),
            }
        }
    }

    /// `_fullClone`.
    async fn full_clone(&mut self) -> SourceResult<i64> {
        let rc = self.clone_repo().await?;
        if rc != 0 {
            return Ok(rc);
        }
        let shallow = self.cfg.shallow.is_some();
        let mut rc = 0;
        if let Some(rev) = self.revision.clone() {
            rc = self.git_rc(&["checkout", "-f", &rev], shallow).await?;
        }
        if self.cfg.submodules {
            let mut cmd: Vec<String> = ["submodule", "update", "--init", "--recursive"]
                .map(String::from)
                .to_vec();
            if let Some(d) = self.shallow_arg() {
                cmd.extend(["--depth".into(), d]);
            }
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            rc = self.git_rc(&refs, shallow).await?;
        }
        Ok(rc)
    }

    /// `_fullCloneOrFallback`.
    async fn full_clone_or_fallback(&mut self) -> SourceResult<()> {
        if self.full_clone().await? != 0 {
            if !self.cfg.clobber_on_failure {
                return Err(SourceErr::Failed);
            }
            self.clobber().await?;
        }
        Ok(())
    }

    /// `clobber`: remove the directory and clone.
    async fn clobber(&mut self) -> SourceResult<()> {
        self.clobber_dir().await?;
        if self.full_clone().await? != 0 {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    async fn sync_submodule(&mut self) -> SourceResult<i64> {
        if !self.cfg.submodules {
            return Ok(0);
        }
        self.git_rc(&["submodule", "sync"], true).await
    }

    async fn update_submodule(&mut self) -> SourceResult<i64> {
        if !self.cfg.submodules {
            return Ok(0);
        }
        self.git_rc(
            &[
                "submodule",
                "update",
                "--init",
                "--recursive",
                "--force",
                "--checkout",
            ],
            true,
        )
        .await
    }

    async fn clean_submodule(&mut self) -> SourceResult<i64> {
        if !self.cfg.submodules {
            return Ok(0);
        }
        let sub = if self.method.as_deref() == Some("fresh") {
            "git clean -f -f -d -x"
        } else {
            "git clean -f -f -d"
        };
        self.git_rc(&["submodule", "foreach", "--recursive", sub], true)
            .await
    }

    async fn mode_incremental(&mut self) -> SourceResult<()> {
        match self.updatable().await? {
            "clobber" => return self.clobber().await,
            "clone" => return self.full_clone_or_fallback().await,
            _ => {}
        }
        self.fetch_or_fallback().await?;
        self.sync_submodule().await?;
        self.update_submodule().await?;
        Ok(())
    }

    async fn clean(&mut self) -> SourceResult<()> {
        let clean = ["clean", "-f", "-f", "-d"];
        if self.git_rc(&clean, true).await? != 0 {
            return Err(SourceErr::Failed);
        }
        self.fetch_or_fallback().await?;
        for rc in [
            self.sync_submodule().await?,
            self.update_submodule().await?,
            self.clean_submodule().await?,
        ] {
            if rc != 0 {
                return Err(SourceErr::Failed);
            }
        }
        if self.cfg.submodules && self.git_rc(&clean, true).await? != 0 {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    async fn fresh(&mut self) -> SourceResult<()> {
        let clean = ["clean", "-f", "-f", "-d", "-x"];
        if self.git_rc(&clean, false).await? == 0 {
            self.fetch_or_fallback().await?;
        } else {
            self.clobber_dir().await?;
            self.full_clone_or_fallback().await?;
        }
        self.sync_submodule().await?;
        self.update_submodule().await?;
        self.clean_submodule().await?;
        if self.cfg.submodules {
            self.git_rc(&clean, true).await?;
        }
        Ok(())
    }

    /// `copy`: keep the repository in `source`, copy it to the workdir.
    async fn copy(&mut self) -> SourceResult<()> {
        let args = CommandArgs::new()
            .with("dir", self.workdir.as_str())
            .with("logEnviron", self.cfg.source.log_environ)
            .with("timeout", self.cfg.source.timeout);
        self.fs("rmdir", args).await?;
        let old = std::mem::replace(&mut self.workdir, "source".into());
        let r = self.mode_incremental().await;
        self.workdir = old;
        r?;
        let args = CommandArgs::new()
            .with("fromdir", "source")
            .with("todir", self.workdir.as_str())
            .with("logEnviron", self.cfg.source.log_environ)
            .with("timeout", self.cfg.source.timeout);
        let res = self.fs("cpdir", args).await?;
        if did_fail(&res) {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    async fn mode_full(&mut self) -> SourceResult<()> {
        match self.method.as_deref() {
            Some("clobber") => return self.clobber().await,
            Some("copy") => return self.copy().await,
            _ => {}
        }
        match self.updatable().await? {
            "clobber" => self.clobber().await,
            "clone" => self.full_clone_or_fallback().await,
            _ if self.method.as_deref() == Some("clean") => self.clean().await,
            _ => self.fresh().await,
        }
    }

    /// `updateSourceProperty`: by codebase when the step has one.
    fn set_source_property(&self, name: &str, value: &str) {
        source::set_source_property(self.ctx, &self.cfg.source.codebase, name, value, "Git");
    }

    /// A file written on the worker by a download (mode 0400), in `dir` of the builder.
    async fn put_file(&mut self, dir: &str, name: &str, text: &str) -> SourceResult<()> {
        let args = CommandArgs::new()
            .with("workdir", dir)
            .with("workerdest", name);
        let opts = TransferOptions::new().blocksize(16384).mode(0o400);
        let worker = self.ctx.worker().clone();
        let cmd = worker
            .download_file(
                self.ctx.builder_name(),
                args,
                DownloadSource::Bytes(text.as_bytes().to_vec()),
                opts,
            )
            .await
            .map_err(|e| SourceErr::Step(super::map_worker_err(e)))?;
        if did_fail(&self.ctx.follow_command(cmd, false).await?) {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    /// `_downloadSshPrivateKeyIfNeeded`: the key (and known hosts) in `.<workdir>.buildbot`
    /// beside the workdir, and `GIT_SSH_COMMAND` naming them. The directory, if any.
    async fn ssh_setup(&mut self) -> SourceResult<Option<String>> {
        let Some(key) = self.ssh_key.clone() else {
            return Ok(None);
        };
        let data = format!(".{}.buildbot", self.workdir);
        let base = self
            .ctx
            .property("builddir")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.put_file(&data, "ssh-key", &key).await?;
        let mut ssh = format!("ssh -o 'BatchMode=yes' -i '{base}/{data}/ssh-key'");
        if let Some(hosts) = self.cfg.ssh_known_hosts.clone() {
            self.put_file(&data, "ssh-known-hosts", &hosts).await?;
            ssh.push_str(&format!(
                " -o 'UserKnownHostsFile={base}/{data}/ssh-known-hosts'"
            ));
        }
        self.env.insert("GIT_SSH_COMMAND".into(), Value::from(ssh));
        Ok(Some(data))
    }

    /// `run_vc`, with the ssh files removed afterwards whatever happened.
    async fn run_vc(&mut self) -> SourceResult<()> {
        let data = self.ssh_setup().await?;
        let r = self.run_vc_inner().await;
        if let Some(dir) = data {
            let args = CommandArgs::new()
                .with("dir", dir.as_str())
                .with("logEnviron", self.cfg.source.log_environ);
            self.fs("rmdir", args).await?;
        }
        r
    }

    async fn run_vc_inner(&mut self) -> SourceResult<()> {
        let version = self.git_stdout(&["--version"]).await?;
        if !version.contains("git") {
            return Err(SourceErr::Step(StepError::Failed(
                "git is not installed on worker".into(),
            )));
        }
        let patched = format!("{}/.buildbot-patched", self.workdir);
        if self.path_exists(&patched).await? {
            self.git_rc(&["clean", "-f", "-f", "-d", "-x"], true)
                .await?;
        }
        if self.cfg.source.mode == "full" {
            self.mode_full().await?;
        } else {
            self.mode_incremental().await?;
        }
        // parseGotRevision
        let out = self.git_stdout(&["rev-parse", "HEAD"]).await?;
        let rev = out.trim();
        if rev.len() != GIT_HASH_LENGTH {
            return Err(SourceErr::Failed);
        }
        log::info!("got Git revision {rev}");
        self.set_source_property("got_revision", rev);
        if self.cfg.get_description {
            let res = self.git(&["describe", "HEAD"], false).await?;
            if !did_fail(&res) {
                let desc = res.text("stdout");
                self.set_source_property("commit-description", desc.trim());
            }
        }
        Ok(())
    }
}

impl GitStep {
    async fn go(&self, ctx: &mut StepContext) -> Result<StepDone, StepError> {
        let cfg = &self.cfg;
        let default_branch = ctx.render_string("branch", &cfg.branch)?;
        let st = match source::start(ctx, &self.common, &cfg.source, Some(default_branch)).await? {
            Ok(st) => st,
            Err(done) => return Ok(done),
        };
        let ssh_key = match &cfg.ssh_private_key {
            Some(k) => Some(ctx.render_string("sshPrivateKey", k)?),
            None => None,
        };
        let branch = st.branch.filter(|b| !b.is_empty());
        let mut run = Run {
            ctx,
            cfg,
            workdir: st.workdir,
            repourl: st.repourl,
            branch: branch.unwrap_or_else(|| "HEAD".into()),
            revision: st.revision,
            method: st.method,
            env: st.env,
            retry: cfg.source.retry,
            ssh_key,
        };
        let outcome = run.run_vc().await;
        source::finish(ctx, &st.desc, outcome)
    }
}

impl BuildStep for GitStep {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}
