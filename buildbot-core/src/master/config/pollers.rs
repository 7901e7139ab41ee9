//! Polling change sources (`[[change_source]]`): `GitPoller` with Buildbot 4.3's arguments
//! and the timing every poller shares.
//!
//! ```toml
//! [[change_source]]
//! type = "GitPoller"
//! repourl = "https://example.org/hello.git"
//! branches = ["main", "release"]     # or true (all), or { regex = "^refs/heads/rel" }
//! pollInterval = 300
//! pollAtLaunch = true
//! ```

use std::path::PathBuf;

use serde_json::Value;

use super::args::ComponentArgs;

/// When a poller polls (Buildbot's `ReconfigurablePollingChangeSource` arguments).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollTiming {
    /// `pollInterval` seconds (default 600).
    pub interval: u64,
    /// `pollAtLaunch`: poll at start (else after one interval).
    pub at_launch: bool,
    /// `pollRandomDelayMin` seconds added to each wait, at least.
    pub random_delay_min: u64,
    /// `pollRandomDelayMax` seconds added to each wait, at most.
    pub random_delay_max: u64,
}

impl PollTiming {
    /// Every `interval` seconds, not at launch, no random delay.
    pub fn every(interval: u64) -> Self {
        PollTiming {
            interval,
            at_launch: false,
            random_delay_min: 0,
            random_delay_max: 0,
        }
    }
}

/// Which refs a `GitPoller` follows.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitBranches {
    /// Neither `branch` nor `branches`: the remote's default branch (its `HEAD`).
    Default,
    /// `branches = true`: every branch.
    All,
    /// `branches = [...]` or `branch = "..."`: these branches.
    Only(Vec<String>),
    /// `branches = { regex = "..." }`: every ref (`refs/heads/...`, `refs/tags/...`) the
    /// regular expression matches from its start (Buildbot's callable `branches`).
    Regex(String),
    /// `only_tags = true`: every tag.
    Tags,
}

/// A private key for ssh, never logged.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshKey {
    /// The key text (`sshPrivateKey = "-----BEGIN ..."`).
    Text(String),
    /// A file holding it (`sshPrivateKey = { file = "path" }`, relative to the base
    /// directory), read at each poll.
    File(PathBuf),
}

impl std::fmt::Debug for SshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshKey::Text(_) => f.write_str("SshKey::Text(<redacted>)"),
            SshKey::File(p) => write!(f, "SshKey::File({})", p.display()),
        }
    }
}

/// `GitPoller`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GitPollerConfig {
    /// `repourl`.
    pub repourl: String,
    /// `branches` / `branch` / `only_tags`.
    pub branches: GitBranches,
    /// `workdir` (default `gitpoller-work`, relative to the base directory): a bare
    /// repository the poller fetches into.
    pub workdir: String,
    /// `project` (default `""`).
    pub project: String,
    /// `category`.
    pub category: Option<String>,
    /// `codebase` of the changes (default `""`).
    pub codebase: String,
    /// `usetimestamps` (default true): a change's time is its commit time, else now.
    pub usetimestamps: bool,
    /// `buildPushesWithNoCommits`: a branch moved to a known commit still makes a change.
    pub build_pushes_with_no_commits: bool,
    /// `gitbin` (default `git`).
    pub gitbin: String,
    /// `sshPrivateKey`.
    pub ssh_private_key: Option<SshKey>,
    /// `sshHostKey`: the server's public host key (`ssh-ed25519 AAAA...`).
    pub ssh_host_key: Option<String>,
    /// `sshKnownHosts`: a `known_hosts` file's content.
    pub ssh_known_hosts: Option<String>,
    /// `encoding` of git's output (`utf-8`, the default, or `latin-1`).
    pub encoding: String,
    /// When it polls.
    pub timing: PollTiming,
}

impl GitPollerConfig {
    /// A poller of `repourl`'s default branch with Buildbot's defaults.
    pub fn new(repourl: impl Into<String>) -> Self {
        GitPollerConfig {
            repourl: repourl.into(),
            branches: GitBranches::Default,
            workdir: "gitpoller-work".into(),
            project: String::new(),
            category: None,
            codebase: String::new(),
            usetimestamps: true,
            build_pushes_with_no_commits: false,
            gitbin: "git".into(),
            ssh_private_key: None,
            ssh_host_key: None,
            ssh_known_hosts: None,
            encoding: "utf-8".into(),
            timing: PollTiming::every(600),
        }
    }
}

/// The timing arguments, checked as Buildbot checks them.
pub(crate) fn poll_timing(a: &mut ComponentArgs<'_>) -> PollTiming {
    let t = PollTiming {
        interval: a.uint("pollInterval").unwrap_or(600),
        at_launch: a.bool("pollAtLaunch", false),
        random_delay_min: a.uint("pollRandomDelayMin").unwrap_or(0),
        random_delay_max: a.uint("pollRandomDelayMax").unwrap_or(0),
    };
    if t.random_delay_min > t.random_delay_max {
        a.error(
            "pollRandomDelayMin",
            format!(
                "{}: min random delay must be <= {}: {}",
                a.label(),
                t.random_delay_max,
                t.random_delay_min
            ),
            None,
        );
    }
    if t.random_delay_max > 0 && t.random_delay_max >= t.interval {
        a.error(
            "pollRandomDelayMax",
            format!(
                "{}: max random delay must be < {}: {}",
                a.label(),
                t.interval,
                t.random_delay_max
            ),
            None,
        );
    }
    t
}

/// Arguments of Buildbot that this master refuses (with the reason), rather than accept
/// and ignore.
fn refuse(a: &mut ComponentArgs<'_>, key: &str, why: &str) {
    if a.has(key) {
        a.error(
            key,
            format!("{}: '{key}' is not supported: {why}", a.label()),
            None,
        );
    }
}

pub(crate) fn git_poller(a: &mut ComponentArgs<'_>) -> Option<GitPollerConfig> {
    let repourl = a.req_str("repourl");
    let branch = a.str("branch");
    let only_tags = a.bool("only_tags", false);
    let branches = match a.json("branches") {
        None => None,
        Some(Value::Bool(true)) => Some(GitBranches::All),
        Some(Value::Array(_)) | Some(Value::String(_)) => {
            a.str_list("branches").map(GitBranches::Only)
        }
        Some(Value::Object(_)) => a
            .table("branches", |t| {
                let re = t.req_str("regex")?;
                match regex::Regex::new(&re) {
                    Ok(_) => Some(GitBranches::Regex(re)),
                    Err(e) => {
                        t.error("regex", format!("GitPoller: invalid regex: {e}"), None);
                        None
                    }
                }
            })
            .flatten(),
        Some(_) => {
            a.error(
                "branches",
                "GitPoller: 'branches' must be a list of names, true, or { regex = \"...\" }",
                None,
            );
            None
        }
    };
    if only_tags && (branch.is_some() || branches.is_some()) {
        a.error(
            "only_tags",
            "GitPoller: can't specify only_tags and branch/branches",
            None,
        );
    }
    if branch.is_some() && branches.is_some() {
        a.error(
            "branch",
            "GitPoller: can't specify both branch and branches",
            None,
        );
    }
    if a.has("fetch_refspec") {
        a.error(
            "fetch_refspec",
            "GitPoller: fetch_refspec is no longer supported. Instead, only the given branches are downloaded.",
            None,
        );
    }
    refuse(
        a,
        "auth_credentials",
        "give credentials in the repository URL or use sshPrivateKey",
    );
    refuse(
        a,
        "git_credentials",
        "give credentials in the repository URL or use sshPrivateKey",
    );
    let mut cfg = GitPollerConfig::new(repourl.clone().unwrap_or_default());
    cfg.branches = if only_tags {
        GitBranches::Tags
    } else if let Some(b) = branch {
        GitBranches::Only(vec![b])
    } else {
        branches.unwrap_or(GitBranches::Default)
    };
    if let Some(w) = a.str("workdir") {
        cfg.workdir = w;
    }
    cfg.project = a.str("project").unwrap_or_default();
    cfg.category = a.str("category");
    if a.json("codebase").is_some_and(|v| !v.is_string()) {
        a.error(
            "codebase",
            "GitPoller: 'codebase' must be a codebase name (a string)",
            None,
        );
    }
    cfg.codebase = a.str("codebase").unwrap_or_default();
    cfg.usetimestamps = a.bool("usetimestamps", true);
    cfg.build_pushes_with_no_commits = a.bool("buildPushesWithNoCommits", false);
    if let Some(g) = a.str("gitbin") {
        cfg.gitbin = g;
    }
    cfg.ssh_private_key = match a.json("sshPrivateKey") {
        None => None,
        Some(Value::String(s)) => Some(SshKey::Text(s)),
        Some(Value::Object(_)) => a
            .table("sshPrivateKey", |t| {
                t.req_str("file").map(|f| SshKey::File(f.into()))
            })
            .flatten(),
        Some(_) => {
            a.error(
                "sshPrivateKey",
                "GitPoller: 'sshPrivateKey' must be the key text or { file = \"path\" }",
                None,
            );
            None
        }
    };
    cfg.ssh_host_key = a.str("sshHostKey");
    cfg.ssh_known_hosts = a.str("sshKnownHosts");
    if cfg.ssh_host_key.is_some() && cfg.ssh_known_hosts.is_some() {
        a.error(
            "sshKnownHosts",
            "GitPoller: only one of sshKnownHosts and sshHostKey can be given",
            None,
        );
    }
    if (cfg.ssh_host_key.is_some() || cfg.ssh_known_hosts.is_some())
        && cfg.ssh_private_key.is_none()
    {
        a.error(
            "sshHostKey",
            "GitPoller: sshPrivateKey must be provided in order to use sshHostKey or sshKnownHosts",
            None,
        );
    }
    if let Some(e) = a.str("encoding") {
        match e.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => cfg.encoding = "utf-8".into(),
            "latin-1" | "latin1" | "iso-8859-1" => cfg.encoding = "latin-1".into(),
            _ => a.error(
                "encoding",
                format!("GitPoller: encoding '{e}' is not supported (utf-8 or latin-1)"),
                None,
            ),
        }
    }
    cfg.timing = poll_timing(a);
    repourl.map(|_| cfg)
}
