//! `GitPoller`, as Buildbot 4.3's: `git ls-remote` lists the watched refs, `git fetch`
//! brings them into a bare repository of the poller's own (`workdir`), and each commit new
//! since the last poll becomes one change (oldest first), with its author, committer,
//! comments, files and commit time. The first poll only records each branch's head; the
//! heads seen last are the state's `lastRev` (branch → revision), as Buildbot keeps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildbot_db::NewChange;
use serde_json::Value;

use crate::master::config::{GitBranches, GitPollerConfig, SshKey};

use super::run::{Output, run_command};
use super::{PollContext, PollError};

/// Buildbot's class of a `GitPoller` (its state object is named after it).
pub(super) const CLASS: &str = "buildbot.changes.gitpoller.GitPoller";

/// `https://user:secret@host/...` → `https://user:***@host/...`: repository URLs may
/// carry credentials, which must not reach logs or pages.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(['/', ' ', '\t', '\n']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Text from git in the poller's `encoding`; invalid UTF-8 is replaced (and said so in
/// the log), never refused.
fn text(cfg: &GitPollerConfig, bytes: &[u8]) -> String {
    if cfg.encoding == "latin-1" {
        return bytes.iter().map(|&b| b as char).collect();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            log::warn!(
                "GitPoller {}: git printed text that is not valid UTF-8; replacing the invalid bytes",
                mask(&cfg.repourl)
            );
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

/// One poll's view of the poller: how to run git.
struct Git<'a> {
    cfg: &'a GitPollerConfig,
    workdir: PathBuf,
    env: Vec<(String, String)>,
}

impl Git<'_> {
    /// Runs `git args` (in the workdir unless `bare_cwd` is false); stdout, trimmed as
    /// Buildbot trims it. Exit code 128 and every other failure are errors naming the
    /// command and git's message.
    async fn run(&self, args: &[&str], in_workdir: bool) -> Result<String, PollError> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let cwd = in_workdir.then_some(self.workdir.as_path());
        let Output {
            code,
            stdout,
            stderr,
        } = run_command(&self.cfg.gitbin, &args, cwd, &self.env)
            .await
            .map_err(|e| PollError::Command(mask(&e)))?;
        if code != Some(0) {
            return Err(PollError::Command(mask(&format!(
                "git {} failed with exit code {}: {}",
                args.join(" "),
                code.map_or("(signal)".to_owned(), |c| c.to_string()),
                String::from_utf8_lossy(&stderr).trim()
            ))));
        }
        Ok(text(self.cfg, &stdout).trim().to_owned())
    }

    /// `git ls-remote --refs REPO PATTERNS`: the refs listed.
    async fn list_refs(&self, patterns: &[String]) -> Result<Vec<String>, PollError> {
        let mut args = vec!["ls-remote", "--refs", self.cfg.repourl.as_str()];
        args.extend(patterns.iter().map(String::as_str));
        let out = self.run(&args, false).await?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t').map(|(_, r)| r.to_owned()))
            .collect())
    }

    /// The remote's default branch (`git ls-remote --symref REPO HEAD`).
    async fn head_ref(&self) -> Result<Option<String>, PollError> {
        let out = self
            .run(&["ls-remote", "--symref", &self.cfg.repourl, "HEAD"], false)
            .await?;
        let parts: Vec<&str> = out.split_whitespace().take(3).collect();
        Ok(match parts.as_slice() {
            ["ref:", r, "HEAD"] => Some((*r).to_owned()),
            _ => None,
        })
    }

    /// The refs to poll and whether `refs/heads/` is trimmed from their branch names
    /// (Buildbot's `_get_refs`).
    async fn refs(&self) -> Result<(Vec<String>, bool), PollError> {
        Ok(match &self.cfg.branches {
            GitBranches::Only(names) => {
                let patterns: Vec<String> =
                    names.iter().map(|b| format!("refs/heads/{b}")).collect();
                (self.list_refs(&patterns).await?, true)
            }
            GitBranches::All => (self.list_refs(&["refs/heads/*".to_owned()]).await?, false),
            GitBranches::Tags => {
                let all = self.list_refs(&[]).await?;
                (
                    all.into_iter()
                        .filter(|r| r.starts_with("refs/tags/"))
                        .collect(),
                    false,
                )
            }
            GitBranches::Regex(re) => {
                let re = regex::Regex::new(&format!("^(?:{re})"))
                    .map_err(|e| PollError::Command(format!("branches regex: {e}")))?;
                let all = self.list_refs(&[]).await?;
                (all.into_iter().filter(|r| re.is_match(r)).collect(), false)
            }
            _ => match self.head_ref().await? {
                Some(r) => (vec![r], false),
                None => (vec!["HEAD".to_owned()], false),
            },
        })
    }

    /// Where a ref is kept in the poller's bare repository.
    fn tracker_ref(&self, r: &str) -> String {
        let id: String = self
            .cfg
            .repourl
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        match r.strip_prefix("refs/") {
            Some(rest) => format!("refs/buildbot/{id}/{rest}"),
            None => format!("refs/buildbot/raw/{id}/{r}"),
        }
    }

    /// One log field of `rev`.
    async fn field(&self, rev: &str, format: &str) -> Result<String, PollError> {
        self.run(
            &["log", "--no-walk", &format!("--format={format}"), rev, "--"],
            true,
        )
        .await
    }

    /// The files `rev` touched (first parent), git's quoted names decoded.
    async fn files(&self, rev: &str) -> Result<Vec<String>, PollError> {
        let out = self
            .run(
                &[
                    "log",
                    "--name-only",
                    "--no-walk",
                    "--format=%n",
                    "-m",
                    "--first-parent",
                    rev,
                    "--",
                ],
                true,
            )
            .await?;
        Ok(out.lines().filter(|l| !l.is_empty()).map(unquote).collect())
    }
}

/// Git's quoting of unusual file names: `"caf\303\251.txt"` → `café.txt`.
fn unquote(name: &str) -> String {
    let Some(inner) = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) else {
        return name.to_owned();
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(&n @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(n - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                bytes.push(v as u8);
            }
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(b'a') => bytes.push(7),
            Some(b'b') => bytes.push(8),
            Some(b'f') => bytes.push(12),
            Some(b'r') => bytes.push(b'\r'),
            Some(b'v') => bytes.push(11),
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The environment that gives git the poller's ssh key and known hosts (files written
/// to a private directory inside the workdir; never logged).
/// A private directory removed when dropped (the ssh key's home during a poll).
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new(parent: &Path) -> std::io::Result<Self> {
        let path = parent.join(format!(".buildbot-ssh-{:016x}", rand::random::<u64>()));
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&path)?;
        Ok(PrivateDir(path))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment that points git at the key, and the directory holding it.
type SshSetup = (Vec<(String, String)>, PrivateDir);

fn ssh_env(
    cfg: &GitPollerConfig,
    basedir: &Path,
    workdir: &Path,
) -> Result<Option<SshSetup>, PollError> {
    let Some(key) = &cfg.ssh_private_key else {
        return Ok(None);
    };
    let key_text = match key {
        SshKey::Text(t) => t.clone(),
        SshKey::File(p) => std::fs::read_to_string(basedir.join(p)).map_err(|e| {
            PollError::Command(format!(
                "cannot read sshPrivateKey file {}: {e}",
                p.display()
            ))
        })?,
    };
    let dir = PrivateDir::new(workdir)
        .map_err(|e| PollError::Command(format!("cannot create the ssh key directory: {e}")))?;
    let write = |name: &str, content: &str| -> Result<PathBuf, PollError> {
        let p = dir.0.join(name);
        let mut body = content.to_owned();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        std::fs::write(&p, body)
            .map_err(|e| PollError::Command(format!("cannot write the ssh {name}: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
        Ok(p)
    };
    let key_path = write("ssh-key", &key_text)?;
    let mut ssh = format!(
        "ssh -o BatchMode=yes -o IdentitiesOnly=yes -i '{}'",
        key_path.display()
    );
    let known = match (&cfg.ssh_known_hosts, &cfg.ssh_host_key) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(h)) => Some(format!("* {h}")),
        _ => None,
    };
    if let Some(k) = known {
        let p = write("ssh-known-hosts", &k)?;
        ssh.push_str(&format!(" -o UserKnownHostsFile='{}'", p.display()));
    }
    Ok(Some((vec![("GIT_SSH_COMMAND".into(), ssh)], dir)))
}

/// One poll; the number of changes added.
pub(super) async fn poll(ctx: &PollContext, cfg: &GitPollerConfig) -> Result<usize, PollError> {
    let basedir = ctx.basedir()?;
    let workdir = basedir.join(&cfg.workdir);
    let mut git = Git {
        cfg,
        workdir: workdir.clone(),
        env: Vec::new(),
    };
    let init = workdir.to_string_lossy().into_owned();
    git.run(&["init", "--bare", &init], false).await?;
    let _ssh_dir = match ssh_env(cfg, &basedir, &workdir)? {
        Some((env, dir)) => {
            git.env = env;
            Some(dir)
        }
        None => None,
    };
    let (refs, trim_heads) = git.refs().await?;
    if refs.is_empty() {
        return Ok(0);
    }
    let mut fetch = vec!["fetch".to_owned(), "--progress".into(), cfg.repourl.clone()];
    fetch.extend(refs.iter().map(|r| format!("+{r}:{}", git.tracker_ref(r))));
    fetch.push("--".into());
    let fetch: Vec<&str> = fetch.iter().map(String::as_str).collect();
    git.run(&fetch, true).await?;

    let mut last: BTreeMap<String, String> = match ctx.get_state("lastRev").await? {
        Some(Value::Object(m)) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let first_poll = last.is_empty();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut added = 0;
    for r in &refs {
        let branch = if trim_heads {
            r.strip_prefix("refs/heads/").unwrap_or(r).to_owned()
        } else {
            r.clone()
        };
        let rev = git.run(&["rev-parse", &git.tracker_ref(r)], true).await?;
        let moved = last.get(&branch) != Some(&rev);
        if !first_poll {
            added += new_changes(ctx, &git, &last, &branch, &rev).await?;
        }
        last.insert(branch.clone(), rev.clone());
        seen.insert(branch, rev);
        if moved {
            // what is built is remembered at once: a master stopped mid-poll repeats nothing
            ctx.set_state("lastRev", &serde_json::to_value(&last).unwrap_or_default())
                .await?;
        }
    }
    // branches gone from the remote are forgotten, as Buildbot forgets them
    if seen != last {
        ctx.set_state("lastRev", &serde_json::to_value(&seen).unwrap_or_default())
            .await?;
    }
    Ok(added)
}

/// The changes of `branch` now at `rev`: every first-parent commit not reachable from a
/// head seen before (including heads this poll already moved), oldest first (Buildbot's
/// `_process_changes`).
async fn new_changes(
    ctx: &PollContext,
    git: &Git<'_>,
    last: &BTreeMap<String, String>,
    branch: &str,
    rev: &str,
) -> Result<usize, PollError> {
    let cfg = git.cfg;
    let mut args = vec![
        "log".to_owned(),
        "--ignore-missing".into(),
        "--first-parent".into(),
        "--format=%H".into(),
        rev.to_owned(),
    ];
    let mut excluded: Vec<&String> = last.values().collect();
    excluded.sort();
    excluded.dedup();
    args.extend(excluded.into_iter().map(|r| format!("^{r}")));
    args.push("--".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = git.run(&args, true).await?;
    let mut revs: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    revs.reverse();
    if cfg.build_pushes_with_no_commits
        && revs.is_empty()
        && last.get(branch).is_none_or(|r| r != rev)
    {
        revs.push(rev.to_owned());
    }
    let branch_name = branch.strip_prefix("refs/heads/").unwrap_or(branch);
    for r in &revs {
        let when = if cfg.usetimestamps {
            let t = git.field(r, "%ct").await?;
            Some(t.trim().parse::<i64>().map_err(|_| {
                PollError::Command(format!("git gave '{t}' as the commit time of {r}"))
            })?)
        } else {
            None
        };
        let author = git.field(r, "%aN <%aE>").await?;
        let committer = git.field(r, "%cN <%cE>").await?;
        let comments = git.field(r, "%s%n%b").await?;
        let files = git.files(r).await?;
        let mut ch = NewChange::new(&author, &comments);
        ch.committer = Some(committer);
        ch.revision = Some(r.clone());
        ch.files = files;
        ch.when_timestamp = when;
        ch.branch = Some(branch_name.to_owned());
        ch.project = cfg.project.clone();
        ch.repository = cfg.repourl.clone();
        ch.category = cfg.category.clone();
        ch.codebase = cfg.codebase.clone();
        ch.revlink = Some(String::new());
        ch.src = Some("git".into());
        ctx.add_change(&ch).await?;
    }
    Ok(revs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            mask("git fetch https://bob:s3cret@example.org/r.git main"),
            "git fetch https://bob:***@example.org/r.git main"
        );
        assert_eq!(
            mask("ssh://git@example.org/r.git"),
            "ssh://git@example.org/r.git"
        );
        assert_eq!(mask("/srv/repo"), "/srv/repo");
    }

    #[test]
    fn quoted_file_names_are_decoded() {
        assert_eq!(unquote("\"caf\\303\\251.txt\""), "café.txt");
        assert_eq!(unquote("\"tab\\there\""), "tab\there");
        assert_eq!(unquote("plain.txt"), "plain.txt");
    }
}
