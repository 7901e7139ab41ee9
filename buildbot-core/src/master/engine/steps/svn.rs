//! The `SVN` source step: `svn` on the worker through ordinary `shell`, `stat`, `rmdir` and
//! `cpdir` remote commands, in the order Buildbot's `steps.SVN` sends them, and
//! `got_revision` from `svn info --xml`.
//!
//! `incremental` updates a working copy of the same URL (else removes the directory and
//! checks out); `full` with `clobber` checks out afresh, `clean`/`fresh` remove what
//! `svn status` lists as unversioned (`fresh`: also ignored files; `keep_on_purge` kept)
//! and update, `copy`/`export` keep a checkout in `source` and copy or export it. Every
//! command gets `--non-interactive --no-auth-cache`, the credentials (the password
//! obfuscated in the worker's log), `--depth` and `extra_args`.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::master::config::{StepCommon, SvnConfig};
use crate::master::workers::{CommandArgs, CommandResult};

use crate::master::engine::build::{BuildStep, StepContext, StepDone, StepError};

use super::source::{self, SourceErr, SourceResult, did_fail, shell_args};

/// `steps.SVN`.
pub(crate) struct SvnStep {
    pub(crate) common: StepCommon,
    pub(crate) cfg: SvnConfig,
}

struct Run<'a> {
    ctx: &'a mut StepContext,
    cfg: &'a SvnConfig,
    workdir: String,
    repourl: String,
    revision: Option<String>,
    /// `None` (incremental), or the `full` method.
    method: Option<String>,
    env: serde_json::Map<String, Value>,
    retry: Option<(u64, u64)>,
}

/// A URL as `svn info` prints it, for comparison (Buildbot's `svnUriCanonicalize`, for
/// what matters here: the scheme and host lower-cased, no trailing `/`).
fn canonical(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let mut out = format!("{}://{}", scheme.to_lowercase(), host.to_lowercase());
            if !path.is_empty() {
                out.push('/');
                out.push_str(path);
            }
            out
        }
        None => url.to_owned(),
    }
}

impl Run<'_> {
    /// `_dovccmd`: `svn <command> --non-interactive --no-auth-cache [credentials, depth,
    /// extra_args]` in the workdir.
    async fn svn(&mut self, command: &[&str], abandon: bool) -> SourceResult<CommandResult> {
        let mut full: Vec<Value> = vec![Value::from("svn")];
        full.extend(command.iter().map(|s| Value::from(*s)));
        full.extend(["--non-interactive", "--no-auth-cache"].map(Value::from));
        if let Some(u) = &self.cfg.username {
            full.extend([Value::from("--username"), Value::from(u.as_str())]);
        }
        if let Some(p) = &self.cfg.password {
            full.push(Value::from("--password"));
            full.push(serde_json::json!(["obfuscated", p, "XXXXXX"]));
        }
        if let Some(d) = &self.cfg.depth {
            full.extend([Value::from("--depth"), Value::from(d.as_str())]);
        }
        full.extend(self.cfg.extra_args.iter().map(|a| Value::from(a.as_str())));
        self.shell(&self.workdir.clone(), full, abandon).await
    }

    async fn shell(
        &mut self,
        workdir: &str,
        command: Vec<Value>,
        abandon: bool,
    ) -> SourceResult<CommandResult> {
        let args = shell_args(
            workdir,
            command,
            &self.env,
            self.cfg.source.timeout,
            self.cfg.source.log_environ,
        );
        let res = self.ctx.run_command("shell", args).await?;
        if abandon && did_fail(&res) {
            log::info!(
                "{}: source step failed while running an svn command",
                self.ctx.builder_name()
            );
            return Err(SourceErr::Failed);
        }
        Ok(res)
    }

    fn revision_args(&self) -> Vec<String> {
        self.revision
            .iter()
            .flat_map(|r| ["--revision".to_owned(), r.clone()])
            .collect()
    }

    async fn rmdir(&mut self, dir: Value) -> SourceResult<CommandResult> {
        let args = CommandArgs::new()
            .with("dir", crate::protocol::json_to_msgpack(&dir))
            .with("logEnviron", self.cfg.source.log_environ)
            .with("timeout", self.cfg.source.timeout);
        Ok(self.ctx.run_command("rmdir", args).await?)
    }

    /// `_sourcedirIsUpdatable`: a working copy (`.svn`) of this very URL.
    async fn updatable(&mut self) -> SourceResult<bool> {
        let args = CommandArgs::new()
            .with("file", format!("{}/.svn", self.workdir))
            .with("logEnviron", self.cfg.source.log_environ);
        if did_fail(&self.ctx.run_command("stat", args).await?) {
            return Ok(false);
        }
        let res = self.svn(&["info", "--xml"], false).await?;
        if res.text("stderr").contains("E155037:") {
            return Ok(false);
        }
        let xml = res.text("stdout");
        let doc = roxmltree::Document::parse(&xml).map_err(|_| SourceErr::Failed)?;
        let url = doc
            .descendants()
            .find(|n| n.has_tag_name("url"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        Ok(canonical(url) == canonical(&self.repourl))
    }

    /// `_checkout`, retried after `retry[0]` seconds (the directory removed first) at most
    /// `retry[1]` times.
    async fn checkout(&mut self) -> SourceResult<()> {
        loop {
            let last = self.retry.is_none_or(|(_, n)| n == 0);
            let url = self.repourl.clone();
            let mut cmd: Vec<String> = vec!["checkout".into(), url, ".".into()];
            cmd.extend(self.revision_args());
            let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
            let res = self.svn(&refs, last).await?;
            if !did_fail(&res) || self.ctx.stop_reason().is_some() {
                return Ok(());
            }
            let Some((delay, n)) = self.retry else {
                return Ok(());
            };
            log::info!("checkout failed, trying {n} more times after {delay} seconds");
            self.retry = Some((delay, n - 1));
            async_std::task::sleep(Duration::from_secs(delay)).await;
            let dir = Value::from(self.workdir.as_str());
            self.rmdir(dir).await?;
        }
    }

    async fn clobber(&mut self) -> SourceResult<()> {
        let dir = Value::from(self.workdir.as_str());
        self.rmdir(dir).await?;
        self.checkout().await
    }

    async fn update(&mut self) -> SourceResult<()> {
        let mut cmd: Vec<String> = vec!["update".into()];
        cmd.extend(self.revision_args());
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.svn(&refs, true).await?;
        Ok(())
    }

    /// `purge`: removes what `svn status` lists (unversioned; with `all`, ignored too),
    /// except externals, missing files and `keep_on_purge`.
    async fn purge(&mut self, all: bool) -> SourceResult<()> {
        let mut cmd = vec!["status", "--xml"];
        if all {
            cmd.push("--no-ignore");
        }
        let xml = self.svn(&cmd, true).await?.text("stdout");
        let doc = roxmltree::Document::parse(&xml).map_err(|_| SourceErr::Failed)?;
        let mut files = Vec::new();
        for entry in doc.descendants().filter(|n| n.has_tag_name("entry")) {
            let item = entry
                .children()
                .find(|n| n.has_tag_name("wc-status"))
                .and_then(|n| n.attribute("item"))
                .unwrap_or_default();
            let path = entry.attribute("path").unwrap_or_default();
            if item == "external"
                || item == "missing"
                || path.is_empty()
                || self.cfg.keep_on_purge.iter().any(|k| k == path)
            {
                continue;
            }
            files.push(Value::from(format!("{}/{path}", self.workdir)));
        }
        if !files.is_empty() && did_fail(&self.rmdir(Value::Array(files)).await?) {
            log::info!("failed removing files");
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    /// `copy`/`export`: an incremental checkout in `source` (`source/<codebase>`), then
    /// copied, or exported, to the workdir.
    async fn copy(&mut self, export: bool) -> SourceResult<()> {
        let dir = Value::from(self.workdir.as_str());
        self.rmdir(dir).await?;
        let checkout_dir = if self.cfg.source.codebase.is_empty() {
            "source".to_owned()
        } else {
            format!("source/{}", self.cfg.source.codebase)
        };
        let old = std::mem::replace(&mut self.workdir, checkout_dir.clone());
        let r = self.mode_incremental().await;
        self.workdir = old;
        r?;
        let res = if export {
            let mut cmd: Vec<Value> = vec![Value::from("svn"), Value::from("export")];
            cmd.extend(self.revision_args().into_iter().map(Value::from));
            if let Some(u) = &self.cfg.username {
                cmd.extend([Value::from("--username"), Value::from(u.as_str())]);
            }
            if let Some(p) = &self.cfg.password {
                cmd.push(Value::from("--password"));
                cmd.push(serde_json::json!(["obfuscated", p, "XXXXXX"]));
            }
            cmd.extend(self.cfg.extra_args.iter().map(|a| Value::from(a.as_str())));
            cmd.extend([
                Value::from(checkout_dir),
                Value::from(self.workdir.as_str()),
            ]);
            self.shell("", cmd, false).await?
        } else {
            let args = CommandArgs::new()
                .with("fromdir", checkout_dir.as_str())
                .with("todir", self.workdir.as_str())
                .with("logEnviron", self.cfg.source.log_environ);
            self.ctx.run_command("cpdir", args).await?
        };
        if did_fail(&res) {
            return Err(SourceErr::Failed);
        }
        Ok(())
    }

    async fn mode_incremental(&mut self) -> SourceResult<()> {
        if self.updatable().await? {
            self.update().await
        } else {
            self.clobber().await
        }
    }

    async fn mode_full(&mut self) -> SourceResult<()> {
        match self.method.as_deref() {
            Some("clobber") => return self.clobber().await,
            Some(m @ ("copy" | "export")) => return self.copy(m == "export").await,
            _ => {}
        }
        if !self.updatable().await? {
            return self.clobber().await;
        }
        let all = self.method.as_deref() != Some("clean");
        self.purge(all).await?;
        self.update().await
    }

    /// `parseGotRevision`.
    async fn got_revision(&mut self) -> SourceResult<()> {
        let dir = if self.method.as_deref() == Some("export") {
            "source".to_owned()
        } else {
            self.workdir.clone()
        };
        let cmd = vec![
            Value::from("svn"),
            Value::from("info"),
            Value::from("--xml"),
        ];
        let xml = self.shell(&dir, cmd, false).await?.text("stdout");
        let doc = roxmltree::Document::parse(&xml).map_err(|_| SourceErr::Failed)?;
        let last_changed = self
            .cfg
            .prefer_last_changed_rev
            .then(|| {
                doc.descendants()
                    .find(|n| n.has_tag_name("commit"))
                    .and_then(|n| n.attribute("revision"))
            })
            .flatten();
        let rev = last_changed.or_else(|| {
            doc.descendants()
                .find(|n| n.has_tag_name("entry"))
                .and_then(|n| n.attribute("revision"))
        });
        let Some(rev) = rev else {
            log::info!("SVN: unable to detect the revision in the output of svn info");
            return Err(SourceErr::Failed);
        };
        source::set_source_property(
            self.ctx,
            &self.cfg.source.codebase,
            "got_revision",
            rev,
            "SVN",
        );
        Ok(())
    }

    /// `run_vc`.
    async fn run_vc(&mut self) -> SourceResult<()> {
        let workdir = self.workdir.clone();
        let version = vec![Value::from("svn"), Value::from("--version")];
        if did_fail(&self.shell(&workdir, version, false).await?) {
            return Err(SourceErr::Step(StepError::Failed(
                "SVN is not installed on worker".into(),
            )));
        }
        if self.cfg.source.mode == "full" {
            self.mode_full().await?;
        } else {
            self.mode_incremental().await?;
        }
        self.got_revision().await
    }
}

impl SvnStep {
    async fn go(&self, ctx: &mut StepContext) -> Result<StepDone, StepError> {
        let cfg = &self.cfg;
        let st = match source::start(ctx, &self.common, &cfg.source, None).await? {
            Ok(st) => st,
            Err(done) => return Ok(done),
        };
        let mut run = Run {
            ctx,
            cfg,
            workdir: st.workdir,
            repourl: st.repourl,
            revision: st.revision,
            method: st.method,
            env: st.env,
            retry: cfg.source.retry,
        };
        let outcome = run.run_vc().await;
        source::finish(ctx, &st.desc, outcome)
    }
}

impl BuildStep for SvnStep {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<StepDone, StepError>> {
        Box::pin(self.go(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn urls_compare_as_svn_prints_them() {
        assert_eq!(
            canonical("SVN://Host.Example/repo/trunk/"),
            "svn://host.example/repo/trunk"
        );
        assert_eq!(canonical("file:///tmp/r/trunk"), "file:///tmp/r/trunk");
        assert_ne!(
            canonical("file:///tmp/r/trunk"),
            canonical("file:///tmp/r/branches/x")
        );
    }
}
