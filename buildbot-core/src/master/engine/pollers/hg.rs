//! `HgPoller`, as Buildbot 4.3's: `hg pull` the watched branches and bookmarks into a
//! local repository (`workdir`), then for each one whose head moved, every changeset
//! between the head seen last and the new one becomes a change, oldest first. The first
//! poll only records the heads (`lastRev`: branch → local revision number, in the state
//! object Buildbot names `HgPoller`).

use std::collections::BTreeMap;

use buildbot_db::NewChange;
use serde_json::Value;

use crate::master::config::HgPollerConfig;
use crate::util::log_text;

use super::run::{Output, run_command};
use super::{PollContext, PollError};

/// Buildbot's class name of a `HgPoller`'s state object (`db_class_name`).
pub(super) const CLASS: &str = "HgPoller";

struct Hg<'a> {
    cfg: &'a HgPollerConfig,
    workdir: std::path::PathBuf,
}

impl Hg<'_> {
    fn text(&self, bytes: &[u8]) -> String {
        if self.cfg.encoding == "latin-1" {
            bytes.iter().map(|&b| b as char).collect()
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        }
    }

    /// `hg args` in the workdir (or not): stdout, or the command and its stderr.
    async fn run(&self, args: &[&str], in_workdir: bool) -> Result<String, PollError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let cwd = in_workdir.then_some(self.workdir.as_path());
        let Output {
            code,
            stdout,
            stderr,
        } = run_command(
            &self.cfg.hgbin,
            &args,
            cwd,
            &[("HGPLAIN".into(), "1".into())],
        )
        .await
        .map_err(PollError::Command)?;
        if code != Some(0) {
            return Err(PollError::Command(format!(
                "hg {} failed with exit code {}: {}",
                args.join(" "),
                code.map_or("(signal)".to_owned(), |c| c.to_string()),
                String::from_utf8_lossy(&stderr).trim()
            )));
        }
        Ok(self.text(&stdout))
    }

    /// The single head of `branch` (a local revision number); `None` with none or several
    /// (Buildbot waits for the situation to settle).
    async fn head(&self, branch: &str) -> Option<String> {
        match self
            .run(&["heads", branch, "--template={rev}\n"], true)
            .await
        {
            Ok(out) => {
                let heads: Vec<&str> = out.split_whitespace().collect();
                match heads.as_slice() {
                    [one] => Some((*one).to_owned()),
                    [] => None,
                    _ => {
                        log::warn!(
                            "HgPoller {}: several heads in branch {}; staying at the previous revision",
                            log_text(&self.cfg.repourl),
                            log_text(branch)
                        );
                        None
                    }
                }
            }
            Err(e) => {
                log::warn!(
                    "HgPoller {}: could not find branch {}: {e}",
                    log_text(&self.cfg.repourl),
                    log_text(branch)
                );
                None
            }
        }
    }

    /// `(rev, node)` of a revset, in hg's order.
    async fn nodes(&self, revset: &str) -> Result<Vec<(String, String)>, PollError> {
        let out = self
            .run(&["log", "-r", revset, "--template={rev}:{node}\n"], true)
            .await?;
        Ok(out
            .split_whitespace()
            .filter_map(|l| l.split_once(':'))
            .map(|(r, n)| (r.to_owned(), n.to_owned()))
            .collect())
    }
}

/// One poll; the number of changes added.
pub(super) async fn poll(ctx: &PollContext, cfg: &HgPollerConfig) -> Result<usize, PollError> {
    let workdir = ctx.basedir()?.join(&cfg.workdir);
    let hg = Hg {
        cfg,
        workdir: workdir.clone(),
    };
    if !workdir.join(".hg").exists() {
        let w = workdir.to_string_lossy().into_owned();
        hg.run(&["init", &w], false).await?;
    }
    let mut pull = vec!["pull".to_owned()];
    for b in &cfg.branches {
        pull.extend(["-b".to_owned(), b.clone()]);
    }
    for b in &cfg.bookmarks {
        pull.extend(["-B".to_owned(), b.clone()]);
    }
    pull.push(cfg.repourl.clone());
    let pull: Vec<&str> = pull.iter().map(String::as_str).collect();
    hg.run(&pull, true).await?;

    let mut last: BTreeMap<String, String> = match ctx.get_state("lastRev").await? {
        Some(Value::Object(m)) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut added = 0;
    for branch in cfg.branches.iter().chain(&cfg.bookmarks) {
        let Some(new_rev) = hg.head(branch).await else {
            continue;
        };
        let prev = last.get(branch).cloned();
        if prev.as_deref() == Some(new_rev.as_str()) {
            continue;
        }
        let Some(prev) = prev else {
            // first time monitoring: start at the top
            last.insert(branch.clone(), new_rev);
            ctx.set_state("lastRev", &serde_json::to_value(&last).unwrap_or_default())
                .await?;
            continue;
        };
        let mut nodes = hg.nodes(&format!("{prev}::{new_rev}")).await?;
        if nodes.is_empty() {
            // the head moved elsewhere (strip, force push): the new head alone
            nodes = hg.nodes(&new_rev).await?;
        } else {
            nodes.remove(0);
        }
        for (_, node) in nodes {
            let out = hg
                .run(
                    &[
                        "log",
                        "-r",
                        &node,
                        "--template={date|hgdate}\n{author}\n{files % '{file}:'}\n{desc|strip}",
                    ],
                    true,
                )
                .await?;
            let mut parts = out.splitn(4, '\n');
            let date = parts.next().unwrap_or_default();
            let author = parts.next().unwrap_or_default().trim();
            let files: Vec<String> = parts
                .next()
                .unwrap_or_default()
                .split(':')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect();
            let comments = parts.next().unwrap_or_default().trim();
            let when = if cfg.usetimestamps {
                let t = date.split_whitespace().next().unwrap_or_default();
                Some(t.parse::<f64>().map_err(|_| {
                    PollError::Command(format!("hg gave '{date}' as the date of {node}"))
                })? as i64)
            } else {
                None
            };
            let mut ch = NewChange::new(author, comments);
            ch.revision = Some(node.clone());
            ch.revlink = Some(String::new());
            ch.files = files;
            ch.when_timestamp = when;
            ch.branch = Some(branch.clone());
            ch.category = cfg.category.clone();
            ch.project = cfg.project.clone();
            ch.repository = cfg.repourl.clone();
            ch.src = Some("hg".into());
            ctx.add_change(&ch).await?;
            added += 1;
            // written after each change, as Buildbot does: a revision is never missed
            last.insert(branch.clone(), new_rev.clone());
            ctx.set_state("lastRev", &serde_json::to_value(&last).unwrap_or_default())
                .await?;
        }
    }
    Ok(added)
}
