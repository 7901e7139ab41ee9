//! `buildbot sendchange`: one change to a master's PB change port (`PBChangeSource`),
//! as Python Buildbot's command sends it, so VCS hooks keep working (D2).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};

use crate::cli::{PROGRAM, SendChangeFlags};
use crate::pb::{Client, Py};

const SUB: &str = "sendchange";
const VCS: [&str; 8] = ["cvs", "svn", "darcs", "hg", "bzr", "git", "mtn", "p4"];
const DEFAULT_AUTH: &str = "change:changepw";

/// `name = value` lines of the first `.buildbot/options` found walking up from `start`,
/// else `~/.buildbot/options`. Values: quoted strings, numbers, True/False. Never executed.
pub fn options_file(start: &Path) -> Vec<(String, String)> {
    let mut candidates: Vec<PathBuf> = start
        .ancestors()
        .map(|d| d.join(".buildbot").join("options"))
        .collect();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".buildbot").join("options"));
    }
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    let Some(file) = candidates.into_iter().find(|p| {
        use std::os::unix::fs::MetadataExt;
        let Some(dir) = p.parent() else { return false };
        match std::fs::metadata(dir) {
            Ok(m) if m.uid() != me && p.is_file() => {
                ui::error(&format!(
                    "skipping {}: the directory is not owned by the current user",
                    p.display()
                ));
                false
            }
            Ok(_) => p.is_file(),
            Err(_) => false,
        }
    }) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1" || host == "[::1]"
}

pub fn sendchange(mut f: SendChangeFlags) -> anyhow::Result<ExitCode> {
    if let Ok(cwd) = std::env::current_dir() {
        for (k, v) in options_file(&cwd) {
            match k.as_str() {
                "master" if f.master.is_none() => f.master = Some(v),
                "who" | "username" if f.who.is_none() => f.who = Some(v),
                "branch" if f.branch.is_none() => f.branch = Some(v),
                "category" if f.category.is_none() => f.category = Some(v),
                "vc" if f.vc.is_none() => f.vc = Some(v),
                _ => {}
            }
        }
    }
    let master = f.master.clone().ok_or_else(|| {
        PROGRAM.usage(
            SUB,
            "you must provide the master location (--master HOST:PORT)",
        )
    })?;
    let Some((host, port)) = master.rsplit_once(':') else {
        return Err(PROGRAM.usage(SUB, "--master must be HOST:PORT").into());
    };
    if port.parse::<u16>().is_err() {
        return Err(PROGRAM
            .usage(SUB, format!("invalid port in --master '{master}'"))
            .into());
    }
    let who = f
        .who
        .clone()
        .ok_or_else(|| PROGRAM.usage(SUB, "you must provide a committer (--who)"))?;
    if let Some(vc) = &f.vc
        && !VCS.contains(&vc.as_str())
    {
        return Err(PROGRAM
            .usage(SUB, format!("vc must be one of {}", VCS.join(", ")))
            .into());
    }
    let when =
        match &f.when {
            None => Py::None,
            Some(w) => Py::Float(w.trim().parse::<f64>().map_err(|_| {
                PROGRAM.usage(SUB, "when must be a number of seconds since the epoch")
            })?),
        };
    if f.encoding.to_ascii_lowercase().replace(['-', '_'], "") != "utf8" {
        ui::error(&format!(
            "WARNING: --encoding {}: arguments are passed as UTF-8",
            f.encoding
        ));
    }
    let auth = f.auth.clone().unwrap_or_else(|| DEFAULT_AUTH.to_owned());
    let (user, pass) = match auth.split_once(':') {
        Some((u, p)) => (u.to_owned(), p.to_owned()),
        None => {
            ui::error(&format!("Enter password for '{auth}': "));
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            (auth.clone(), line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    if auth == DEFAULT_AUTH && !is_loopback(host) {
        ui::error(
            "WARNING: using the well-known default credentials change:changepw with a remote master; set --auth",
        );
    }
    let revision = match (&f.revision, &f.revision_file) {
        (Some(r), _) => Some(r.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| CliError::new(ErrorKind::Failure, format!("cannot read {file}: {e}")))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let comments = match (&f.comments, &f.logfile) {
        (Some(c), _) => c.clone(),
        (None, Some(l)) if l == "-" => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        }
        (None, Some(l)) => std::fs::read_to_string(l)
            .map_err(|e| CliError::new(ErrorKind::Failure, format!("cannot read {l}: {e}")))?,
        (None, None) => String::new(),
    };
    let mut properties = Vec::new();
    for p in &f.property {
        let Some((k, v)) = p.split_once(':') else {
            return Err(PROGRAM
                .usage(SUB, format!("property '{p}' must be NAME:VALUE"))
                .into());
        };
        properties.push((Py::Str(k.to_owned()), Py::Str(v.to_owned())));
    }
    let opt = |v: &Option<String>| v.clone().map_or(Py::None, Py::Str);
    let key = |k: &str| Py::Str(k.to_owned());
    let mut change = vec![
        (key("project"), Py::Str(f.project.clone())),
        (key("repository"), Py::Str(f.repository.clone())),
        (key("who"), Py::Str(who)),
        (
            key("files"),
            Py::List(f.files.iter().cloned().map(Py::Str).collect()),
        ),
        (key("comments"), Py::Str(comments)),
        (key("branch"), opt(&f.branch)),
        (key("revision"), opt(&revision)),
        (key("category"), opt(&f.category)),
        (key("when"), when),
        (key("properties"), Py::Dict(properties)),
        (key("revlink"), Py::Str(f.revlink.clone())),
        (key("src"), opt(&f.vc)),
    ];
    if let Some(cb) = &f.codebase {
        change.push((key("codebase"), Py::Str(cb.clone())));
    }
    let sent = Client::login(&master, &user, &pass, Duration::from_secs(30))
        .and_then(|mut c| c.call_perspective("addChange", vec![Py::Dict(change)]));
    match sent {
        Ok(_) => {
            ui::say(false, "change sent successfully");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(CliError::new(
            ErrorKind::Failure,
            format!("change NOT sent - something went wrong: {e}"),
        )
        .into()),
    }
}
