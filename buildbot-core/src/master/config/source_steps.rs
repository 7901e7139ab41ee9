//! The source steps' configurations (`Git`, `Mercurial`, `SVN`): Buildbot's argument names,
//! defaults and checks, and [`SourceArgs`], the arguments every source step has
//! (`repourl`, `mode`, `method`, `codebase`, `alwaysUseLatest`, `timeout`, `env`,
//! `logEnviron`, `retry`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::args::ComponentArgs;
use super::steps::StepKind;
use crate::master::properties::Renderable;

/// `Git`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GitConfig {
    /// What every source step has (`method` for `full`: `clean`, `fresh` (default),
    /// `clobber`, `copy`).
    pub source: SourceArgs,
    /// `branch` (default `HEAD`).
    pub branch: Renderable,
    /// `submodules`.
    pub submodules: bool,
    /// `shallow`: clone depth (`true` is 1).
    pub shallow: Option<u64>,
    /// `progress` (default true).
    pub progress: bool,
    /// `retryFetch`.
    pub retry_fetch: bool,
    /// `clobberOnFailure`.
    pub clobber_on_failure: bool,
    /// `getDescription`.
    pub get_description: bool,
    /// `origin`.
    pub origin: Option<String>,
    /// `reference` repository.
    pub reference: Option<String>,
    /// `tags`: fetch tags.
    pub tags: bool,
    /// `config`: `git -c` settings.
    pub config: BTreeMap<String, String>,
    /// `sshPrivateKey`: the key's text (e.g. `%(secret:key)s` once secrets exist), written
    /// on the worker beside the workdir for the step's duration (mode 0400, then removed).
    pub ssh_private_key: Option<Renderable>,
    /// `sshHostKey` (the server's public key) or `sshKnownHosts` (a known_hosts file's
    /// text); without either, ssh's own known hosts are used.
    pub ssh_known_hosts: Option<String>,
}

/// `Mercurial`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MercurialConfig {
    /// What every source step has (with `branchType = "dirname"`, the branch is appended
    /// to `repourl`; `method` for `full`: `clean`, `fresh` (default), `clobber`).
    pub source: SourceArgs,
    /// `defaultBranch`.
    pub default_branch: Option<String>,
    /// `branchType`: `dirname` (default) or `inrepo`.
    pub branch_type: String,
    /// `clobberOnBranchChange` (default true).
    pub clobber_on_branch_change: bool,
}

/// `SVN`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SvnConfig {
    /// What every source step has (a branch is usually part of `repourl`: `Interpolate`
    /// with `%(src::branch)s`; `method` for `full`: `clean`, `fresh` (default), `clobber`,
    /// `copy`, `export`).
    pub source: SourceArgs,
    /// `username`.
    pub username: Option<String>,
    /// `password` (sent obfuscated: the worker's log shows `XXXXXX`).
    pub password: Option<String>,
    /// `extra_args` for every svn command.
    pub extra_args: Vec<String>,
    /// `keep_on_purge`: paths `clean`/`fresh` keep.
    pub keep_on_purge: Vec<String>,
    /// `depth`.
    pub depth: Option<String>,
    /// `preferLastChangedRev`: `got_revision` is the last changed revision.
    pub prefer_last_changed_rev: bool,
}

/// The arguments every source step has, as Buildbot's `Source` base class.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SourceArgs {
    /// `repourl`.
    pub repourl: Renderable,
    /// `mode`: `incremental` (default) or `full`.
    pub mode: String,
    /// `method` for `full` (each step checks its own list; default `fresh`).
    pub method: Option<String>,
    /// `codebase` (default `""`).
    pub codebase: String,
    /// `alwaysUseLatest`.
    pub always_use_latest: bool,
    /// `timeout` (default 1200).
    pub timeout: u64,
    /// `env`.
    pub env: BTreeMap<String, Renderable>,
    /// `logEnviron` (default true).
    pub log_environ: bool,
    /// `retry = [delay, repeats]`: after a failed clone/checkout, wait `delay` seconds,
    /// remove the directory and try again, at most `repeats` times.
    pub retry: Option<(u64, u64)>,
}

/// Reads the [`SourceArgs`]; `None` without `repourl` (reported).
fn source_args(a: &mut ComponentArgs<'_>) -> Option<SourceArgs> {
    let repourl = a.req_renderable("repourl");
    let mode = a
        .choice("mode", &["incremental", "full"])
        .unwrap_or_else(|| "incremental".into());
    let retry = match a.json("retry") {
        None => None,
        Some(Value::Array(v)) if v.len() == 2 && v.iter().all(|x| x.as_u64().is_some()) => {
            Some((v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0)))
        }
        Some(_) => {
            let msg = format!("{}: 'retry' must be [delay_seconds, repeats]", a.label());
            a.error("retry", msg, Some("retry = [10, 3]".into()));
            None
        }
    };
    Some(SourceArgs {
        mode,
        method: a.str("method"),
        codebase: a.str("codebase").unwrap_or_default(),
        always_use_latest: a.bool("alwaysUseLatest", false),
        timeout: a.uint("timeout").unwrap_or(1200),
        env: a.renderable_map("env").unwrap_or_default(),
        log_environ: a.bool("logEnviron", true),
        retry,
        repourl: repourl?,
    })
}

pub(crate) fn git(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let source = source_args(a);
    let branch = a.renderable_str("branch").unwrap_or_else(|| "HEAD".into());
    let (mode, method) = source
        .as_ref()
        .map(|s| (s.mode.as_str(), s.method.clone()))
        .unwrap_or(("incremental", None));
    if mode == "full"
        && let Some(m) = &method
        && !["clean", "fresh", "clobber", "copy"].contains(&m.as_str())
    {
        a.error(
            "method",
            "Git: invalid method for mode 'full'.",
            Some("use 'clean', 'fresh', 'clobber' or 'copy'".into()),
        );
    }
    let shallow = match a.json("shallow") {
        None | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(1),
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(_) => {
            a.error(
                "shallow",
                "Git: 'shallow' must be true, false or a depth",
                None,
            );
            None
        }
    };
    if shallow.is_some() && (mode != "full" || method.as_deref() != Some("clobber")) {
        a.error(
            "shallow",
            "Git: in mode 'full' shallow only possible with method 'clobber'.",
            None,
        );
    }
    let config = a.string_map("config").unwrap_or_default();
    let ssh_private_key = a.renderable_str("sshPrivateKey");
    let host_key = a.str("sshHostKey");
    let known_hosts = a.str("sshKnownHosts");
    for (key, given) in [
        ("sshHostKey", host_key.is_some()),
        ("sshKnownHosts", known_hosts.is_some()),
    ] {
        if given && ssh_private_key.is_none() {
            a.error(
                key,
                format!("Git: sshPrivateKey must be provided in order use {key}"),
                None,
            );
        }
    }
    if host_key.is_some() && known_hosts.is_some() {
        a.error(
            "sshKnownHosts",
            "Git: only one of sshHostKey and sshKnownHosts can be provided",
            None,
        );
    }
    let ssh_known_hosts = known_hosts.or(host_key.map(|k| format!("* {k}")));
    let cfg = GitConfig {
        ssh_private_key,
        ssh_known_hosts,
        branch,
        submodules: a.bool("submodules", false),
        shallow,
        progress: a.bool("progress", true),
        retry_fetch: a.bool("retryFetch", false),
        clobber_on_failure: a.bool("clobberOnFailure", false),
        get_description: a.bool("getDescription", false),
        origin: a.str("origin"),
        reference: a.str("reference"),
        tags: a.bool("tags", false),
        config,
        source: source?,
    };
    Some(StepKind::Git(cfg))
}

pub(crate) fn mercurial(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let source = source_args(a);
    if let Some(m) = source.as_ref().and_then(|s| s.method.as_ref())
        && !["clean", "fresh", "clobber"].contains(&m.as_str())
    {
        let msg = format!("Mercurial: method {m} is not one of clean, fresh, clobber");
        a.error("method", msg, None);
    }
    let branch_type = a
        .choice("branchType", &["dirname", "inrepo"])
        .unwrap_or_else(|| "dirname".into());
    let cfg = MercurialConfig {
        default_branch: a.str("defaultBranch"),
        branch_type,
        clobber_on_branch_change: a.bool("clobberOnBranchChange", true),
        source: source?,
    };
    Some(StepKind::Mercurial(cfg))
}

pub(crate) fn svn(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let source = source_args(a);
    if let Some(m) = source.as_ref().and_then(|s| s.method.as_ref())
        && !["clean", "fresh", "clobber", "copy", "export"].contains(&m.as_str())
    {
        let msg = format!("SVN: method {m} is not one of clean, fresh, clobber, copy, export");
        a.error("method", msg, None);
    }
    let cfg = SvnConfig {
        username: a.str("username"),
        password: a.str("password"),
        extra_args: a.str_list("extra_args").unwrap_or_default(),
        keep_on_purge: a.str_list("keep_on_purge").unwrap_or_default(),
        depth: a.str("depth"),
        prefer_last_changed_rev: a.bool("preferLastChangedRev", false),
        source: source?,
    };
    Some(StepKind::Svn(cfg))
}
