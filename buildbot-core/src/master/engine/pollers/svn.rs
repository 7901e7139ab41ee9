//! `SVNPoller`, as Buildbot 4.3's: `svn info --xml` gives the repository root (so that the
//! paths `svn log` reports can be made relative to `repourl`), `svn log --xml --verbose
//! --limit=histmax` the latest revisions; every revision after the one seen last becomes
//! one change per branch it touched (`split_file` tells branch from file), oldest first.
//! The first poll only records the newest revision. Buildbot keeps that revision in memory
//! (and in `cachepath`); here it also lives in the poller's state (`last_change`), so a
//! restarted master neither loses nor repeats changes.

use buildbot_db::NewChange;
use serde_json::Value;

use crate::master::config::{SvnPollerConfig, SvnSplit};
use crate::util::log_text;

use super::run::{Output, run_command};
use super::{PollContext, PollError};

/// Buildbot's class of a `SVNPoller` (its state object is named after it).
pub(super) const CLASS: &str = "buildbot.changes.svnpoller.SVNPoller";

/// Where a changed path belongs: its branch (`None`: trunk), its path in the branch, and
/// the project when the layout names one.
struct Where {
    branch: Option<String>,
    path: String,
    project: Option<String>,
}

/// Buildbot's `split_file_branches`: `trunk/...` and `branches/NAME/...`.
fn split_branches(path: &str) -> Option<(Option<String>, String)> {
    let pieces: Vec<&str> = path.split('/').collect();
    if pieces.len() > 1 && pieces[0] == "trunk" {
        Some((None, pieces[1..].join("/")))
    } else if pieces.len() > 2 && pieces[0] == "branches" {
        Some((Some(pieces[..2].join("/")), pieces[2..].join("/")))
    } else {
        None
    }
}

fn split(kind: SvnSplit, path: &str) -> Option<Where> {
    match kind {
        SvnSplit::AlwaysTrunk => Some(Where {
            branch: None,
            path: path.to_owned(),
            project: None,
        }),
        SvnSplit::Branches => split_branches(path).map(|(branch, path)| Where {
            branch,
            path,
            project: None,
        }),
        SvnSplit::ProjectsBranches => {
            let (project, rest) = path.split_once('/')?;
            split_branches(rest).map(|(branch, path)| Where {
                branch,
                path,
                project: Some(project.to_owned()),
            })
        }
    }
}

/// What one revision did to one branch: its files (directories without their `/`), how
/// many of them are directories, the first path's action, the project the layout names.
struct Touched {
    branch: Option<String>,
    files: Vec<String>,
    dirs: usize,
    action: String,
    project: Option<String>,
}

/// One `<logentry>`.
struct Entry {
    revision: u64,
    author: String,
    msg: String,
    /// `(kind, action, path)`.
    paths: Vec<(String, String, String)>,
}

fn parse_log(xml: &str) -> Result<Vec<Entry>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("svn log --xml: {e}"))?;
    let text = |n: roxmltree::Node<'_, '_>, tag: &str| {
        n.children()
            .find(|c| c.has_tag_name(tag))
            .map(|c| c.text().unwrap_or_default().to_owned())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    let mut out = Vec::new();
    for e in doc.descendants().filter(|n| n.has_tag_name("logentry")) {
        let revision = e
            .attribute("revision")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| "svn log --xml: a logentry without a revision".to_owned())?;
        let paths = e
            .descendants()
            .filter(|n| n.has_tag_name("path"))
            .map(|p| {
                (
                    p.attribute("kind").unwrap_or_default().to_owned(),
                    p.attribute("action").unwrap_or_default().to_owned(),
                    p.text().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.push(Entry {
            revision,
            author: text(e, "author"),
            msg: text(e, "msg"),
            paths,
        });
    }
    Ok(out)
}

/// The `svn` command line: `svnuser`, `svnpasswd`, `extra_args`, `--non-interactive`.
struct Svn<'a> {
    cfg: &'a SvnPollerConfig,
}

impl Svn<'_> {
    async fn run(&self, sub: &[&str]) -> Result<String, PollError> {
        let mut args: Vec<String> = sub.iter().map(|s| (*s).to_owned()).collect();
        args.push("--non-interactive".into());
        if let Some(u) = &self.cfg.svnuser {
            args.push(format!("--username={u}"));
        }
        if let Some(p) = &self.cfg.svnpasswd {
            args.push(format!("--password={p}"));
        }
        args.extend(self.cfg.extra_args.iter().cloned());
        args.push(self.cfg.repourl.clone());
        let hide = |s: String| match &self.cfg.svnpasswd {
            Some(p) if !p.is_empty() => s.replace(p.as_str(), "***"),
            _ => s,
        };
        let Output {
            code,
            stdout,
            stderr,
        } = run_command(&self.cfg.svnbin, &args, None, &[])
            .await
            .map_err(|e| PollError::Command(hide(e)))?;
        if code != Some(0) {
            return Err(PollError::Command(hide(format!(
                "svn {} failed with exit code {}: {}",
                sub.join(" "),
                code.map_or("(signal)".to_owned(), |c| c.to_string()),
                String::from_utf8_lossy(&stderr).trim()
            ))));
        }
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }

    /// `repourl` relative to the repository root (Buildbot's `get_prefix`).
    async fn prefix(&self) -> Result<String, PollError> {
        let xml = self.run(&["info", "--xml"]).await?;
        let doc = roxmltree::Document::parse(&xml)
            .map_err(|e| PollError::Command(format!("svn info --xml: {e}")))?;
        let Some(root) = doc
            .descendants()
            .find(|n| n.has_tag_name("root"))
            .and_then(|n| n.text())
        else {
            return Ok(String::new());
        };
        let url = &self.cfg.repourl;
        let Some(rest) = url.strip_prefix(root) else {
            return Err(PollError::Command(format!(
                "svn info gives the root {root}, which is not a prefix of repourl {url}"
            )));
        };
        Ok(rest.trim_start_matches('/').to_owned())
    }
}

/// The last revision seen: the state's, else `cachepath`'s.
async fn last_change(ctx: &PollContext, cfg: &SvnPollerConfig) -> Result<Option<u64>, PollError> {
    if let Some(v) = ctx.get_state("last_change").await?.and_then(|v| v.as_u64()) {
        return Ok(Some(v));
    }
    Ok(cfg.cachepath.as_ref().and_then(|p| {
        let path = ctx.basedir().ok()?.join(p);
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }))
}

async fn remember(ctx: &PollContext, cfg: &SvnPollerConfig, rev: u64) -> Result<(), PollError> {
    ctx.set_state("last_change", &Value::from(rev)).await?;
    if let Some(p) = &cfg.cachepath {
        let path = ctx.basedir()?.join(p);
        if let Err(e) = std::fs::write(&path, rev.to_string()) {
            log::warn!(
                "SVNPoller {}: cannot write cachepath {}: {e}",
                log_text(&cfg.repourl),
                path.display()
            );
        }
    }
    Ok(())
}

/// One poll; the number of changes added.
pub(super) async fn poll(ctx: &PollContext, cfg: &SvnPollerConfig) -> Result<usize, PollError> {
    let svn = Svn { cfg };
    let prefix = svn.prefix().await?;
    let limit = format!("--limit={}", cfg.histmax);
    let xml = svn.run(&["log", "--xml", "--verbose", &limit]).await?;
    let entries = parse_log(&xml).map_err(PollError::Command)?;
    let Some(newest) = entries.first().map(|e| e.revision) else {
        return Ok(0);
    };
    let Some(last) = last_change(ctx, cfg).await? else {
        // the first poll starts at the newest revision: no build at every start
        remember(ctx, cfg, newest).await?;
        return Ok(0);
    };
    if last == newest {
        return Ok(0);
    }
    let mut new: Vec<&Entry> = entries.iter().take_while(|e| e.revision != last).collect();
    new.reverse();
    let mut added = 0;
    for e in new {
        // the changed paths, by branch, in the order svn lists them
        let mut branches: Vec<Touched> = Vec::new();
        for (kind, action, path) in &e.paths {
            let mut path = path.trim_start_matches('/').to_owned();
            if kind == "dir" && !path.ends_with('/') {
                path.push('/');
            }
            let Some(rel) = path.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let rel = rel.trim_start_matches('/');
            let Some(w) = split(cfg.split_file, rel) else {
                continue;
            };
            let i = match branches.iter().position(|b| b.branch == w.branch) {
                Some(i) => i,
                None => {
                    branches.push(Touched {
                        branch: w.branch.clone(),
                        files: Vec::new(),
                        dirs: 0,
                        action: action.clone(),
                        project: w.project.clone(),
                    });
                    branches.len() - 1
                }
            };
            let b = &mut branches[i];
            if w.path.is_empty() || w.path.ends_with('/') {
                b.files.push(w.path.trim_end_matches('/').to_owned());
                b.dirs += 1;
            } else {
                b.files.push(w.path);
            }
        }
        for Touched {
            branch,
            files,
            dirs,
            action,
            project,
        } in branches
        {
            if action == "D" && dirs == 1 && files.len() == 1 && files[0].is_empty() {
                log::info!(
                    "SVNPoller {}: ignoring the deletion of branch {}",
                    log_text(&cfg.repourl),
                    log_text(branch.as_deref().unwrap_or("trunk"))
                );
                continue;
            }
            let mut ch = NewChange::new(&e.author, &e.msg);
            ch.revision = Some(e.revision.to_string());
            ch.revlink = Some(if cfg.revlinktmpl.is_empty() {
                String::new()
            } else {
                cfg.revlinktmpl.replacen("%s", &e.revision.to_string(), 1)
            });
            ch.files = files;
            ch.branch = branch;
            ch.category = cfg.category.clone();
            ch.repository = cfg.repourl.clone();
            ch.project = project.unwrap_or_else(|| cfg.project.clone());
            ch.src = Some("svn".into());
            ctx.add_change(&ch).await?;
            added += 1;
        }
        remember(ctx, cfg, e.revision).await?;
    }
    remember(ctx, cfg, newest).await?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_file_layouts() {
        let w = split(SvnSplit::Branches, "branches/1.5.x/src/a.c").unwrap();
        assert_eq!(
            (w.branch.as_deref(), w.path.as_str()),
            (Some("branches/1.5.x"), "src/a.c")
        );
        let w = split(SvnSplit::Branches, "trunk/src/").unwrap();
        assert_eq!((w.branch, w.path.as_str()), (None, "src/"));
        assert!(split(SvnSplit::Branches, "tags/v1/a.c").is_none());
        let w = split(SvnSplit::ProjectsBranches, "proj/trunk/a.c").unwrap();
        assert_eq!(
            (w.project.as_deref(), w.path.as_str()),
            (Some("proj"), "a.c")
        );
        let w = split(SvnSplit::AlwaysTrunk, "anything/at/all").unwrap();
        assert_eq!((w.branch, w.path.as_str()), (None, "anything/at/all"));
    }

    #[test]
    fn log_xml_is_read() {
        let xml = r#"<?xml version="1.0"?><log>
<logentry revision="3"><author>bob</author><date>2026-01-01T00:00:00Z</date>
<paths><path kind="file" action="M">/trunk/a.txt</path><path kind="dir" action="A">/branches/x</path></paths>
<msg>two &amp; more</msg></logentry>
<logentry revision="2"><paths><path kind="file" action="A">/trunk/a.txt</path></paths><msg></msg></logentry>
</log>"#;
        let e = parse_log(xml).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].revision, e[0].author.as_str(), e[0].msg.as_str()),
            (3, "bob", "two & more")
        );
        assert_eq!(
            e[0].paths[1],
            ("dir".into(), "A".into(), "/branches/x".into())
        );
        assert_eq!(e[1].author, "unknown");
    }
}
