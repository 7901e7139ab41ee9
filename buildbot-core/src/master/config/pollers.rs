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
    cfg.encoding = encoding(a);
    cfg.timing = poll_timing(a);
    repourl.map(|_| cfg)
}

/// `HgPoller`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HgPollerConfig {
    /// `repourl`.
    pub repourl: String,
    /// `branches` / `branch` (default `["default"]` unless `bookmarks` are given).
    pub branches: Vec<String>,
    /// `bookmarks`.
    pub bookmarks: Vec<String>,
    /// `workdir` (required, as in Buildbot; relative to the base directory): the local
    /// repository the poller pulls into.
    pub workdir: String,
    /// `hgbin` (default `hg`).
    pub hgbin: String,
    /// `usetimestamps` (default true).
    pub usetimestamps: bool,
    /// `category`.
    pub category: Option<String>,
    /// `project`.
    pub project: String,
    /// `encoding` of hg's output (`utf-8` or `latin-1`).
    pub encoding: String,
    /// When it polls.
    pub timing: PollTiming,
    /// Its name when `name` is not given (Buildbot's: the URL, then `_` and the bookmarks,
    /// then `_` and the branches given).
    pub default_name: String,
}

/// How `SVNPoller` splits a repository path into branch and file (Buildbot's
/// `split_file` functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SvnSplit {
    /// `split_file_alwaystrunk` (default): every path is a file of the one branch.
    AlwaysTrunk,
    /// `split_file_branches`: `trunk/...` (branch `None`) and `branches/NAME/...`.
    Branches,
    /// `split_file_projects_branches`: `PROJECT/trunk/...`, `PROJECT/branches/NAME/...`.
    ProjectsBranches,
}

/// `SVNPoller`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SvnPollerConfig {
    /// `repourl` (without a trailing `/`).
    pub repourl: String,
    /// `split_file`: `"alwaystrunk"`, `"branches"` or `"projects_branches"`.
    pub split_file: SvnSplit,
    /// `svnuser`.
    pub svnuser: Option<String>,
    /// `svnpasswd` (never logged).
    pub svnpasswd: Option<String>,
    /// `histmax`: how many log entries a poll reads (default 100).
    pub histmax: u64,
    /// `svnbin` (default `svn`).
    pub svnbin: String,
    /// `revlinktmpl`: `%s` replaced by the revision.
    pub revlinktmpl: String,
    /// `category`.
    pub category: Option<String>,
    /// `project`.
    pub project: String,
    /// `cachepath`: a file also keeping the last revision seen.
    pub cachepath: Option<String>,
    /// `extra_args` of every `svn` command.
    pub extra_args: Vec<String>,
    /// When it polls.
    pub timing: PollTiming,
}

fn encoding(a: &mut ComponentArgs<'_>) -> String {
    match a.str("encoding") {
        None => "utf-8".into(),
        Some(e) => match e.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => "utf-8".into(),
            "latin-1" | "latin1" | "iso-8859-1" => "latin-1".into(),
            _ => {
                a.error(
                    "encoding",
                    format!(
                        "{}: encoding '{e}' is not supported (utf-8 or latin-1)",
                        a.label()
                    ),
                    None,
                );
                "utf-8".into()
            }
        },
    }
}

fn no_callable(a: &mut ComponentArgs<'_>, key: &str) {
    if a.has(key) {
        a.error(
            key,
            format!(
                "{}: '{key}' is a Python callable and cannot be written in TOML",
                a.label()
            ),
            None,
        );
    }
}

pub(crate) fn hg_poller(a: &mut ComponentArgs<'_>) -> Option<HgPollerConfig> {
    let repourl = a.req_str("repourl");
    let branch = a.str("branch");
    let branches = a.str_list("branches");
    if branch.is_some() && branches.is_some() {
        a.error(
            "branch",
            "HgPoller: can't specify both branch and branches",
            None,
        );
    }
    let bookmarks = a.str_list("bookmarks").unwrap_or_default();
    let mut branches = branch.map(|b| vec![b]).or(branches).unwrap_or_default();
    let mut default_name = repourl.clone().unwrap_or_default();
    if !bookmarks.is_empty() {
        default_name = format!("{default_name}_{}", bookmarks.join("_"));
    }
    if !branches.is_empty() {
        default_name = format!("{default_name}_{}", branches.join("_"));
    }
    if branches.is_empty() && bookmarks.is_empty() {
        branches = vec!["default".into()];
    }
    let workdir = a.str("workdir");
    if workdir.is_none() {
        a.error_here("HgPoller: workdir is mandatory for now in HgPoller", None);
    }
    no_callable(a, "revlink");
    let cfg = HgPollerConfig {
        repourl: repourl.clone().unwrap_or_default(),
        branches,
        bookmarks,
        workdir: workdir.clone().unwrap_or_default(),
        hgbin: a.str("hgbin").unwrap_or_else(|| "hg".into()),
        usetimestamps: a.bool("usetimestamps", true),
        category: a.str("category"),
        project: a.str("project").unwrap_or_default(),
        encoding: encoding(a),
        timing: poll_timing(a),
        default_name,
    };
    (repourl.is_some() && workdir.is_some()).then_some(cfg)
}

pub(crate) fn svn_poller(a: &mut ComponentArgs<'_>) -> Option<SvnPollerConfig> {
    let repourl = a.req_str("repourl");
    let split_file = match a
        .choice(
            "split_file",
            &["alwaystrunk", "branches", "projects_branches"],
        )
        .as_deref()
    {
        Some("branches") => SvnSplit::Branches,
        Some("projects_branches") => SvnSplit::ProjectsBranches,
        _ => SvnSplit::AlwaysTrunk,
    };
    let histmax = a.uint("histmax").unwrap_or(100);
    if histmax == 0 {
        a.error("histmax", "SVNPoller: 'histmax' must be positive", None);
    }
    let cfg = SvnPollerConfig {
        repourl: repourl
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned(),
        split_file,
        svnuser: a.str("svnuser"),
        svnpasswd: a.str("svnpasswd"),
        histmax: histmax.max(1),
        svnbin: a.str("svnbin").unwrap_or_else(|| "svn".into()),
        revlinktmpl: a.str("revlinktmpl").unwrap_or_default(),
        category: a.str("category"),
        project: a.str("project").unwrap_or_default(),
        cachepath: a.str("cachepath"),
        extra_args: a.str_list("extra_args").unwrap_or_default(),
        timing: poll_timing(a),
    };
    repourl.map(|_| cfg)
}
