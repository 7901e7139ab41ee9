//! File-system commands (§10.5–§10.11).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rmpv::Value;

use super::shell::child_env;
use super::{Args, Ctx, failure_text, value_text};
use crate::protocol::UpdateEntry;
use crate::slave::pyrepr::number_display;
use crate::slave::runprocess::{self, CommandLine, ProcessSpec, strerror};

/// Reports an OS error the Python way: `rc errno`, then (after `elapsed`) the header.
fn report(ctx: &Ctx, cmd: &str, e: &std::io::Error, path: &str) {
    ctx.io
        .entry(UpdateEntry::Rc(i64::from(e.raw_os_error().unwrap_or(1))));
    ctx.io.header(&format!("{cmd}: {}: {path}", strerror(e)));
}

fn paths(a: &Args) -> Vec<String> {
    match a.get("paths") {
        Some(Value::Array(items)) => items.iter().filter_map(value_text).collect(),
        Some(v) => value_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

pub(super) async fn mkdir(ctx: &Ctx, a: Args) -> Result<(), String> {
    for p in paths(&a) {
        let Some(path) = ctx.check_path("mkdir", &p, true) else {
            return Ok(());
        };
        if let Err(e) = std::fs::create_dir_all(&path) {
            report(ctx, "mkdir", &e, &p);
            return Ok(());
        }
    }
    ctx.io.entry(UpdateEntry::Rc(0));
    Ok(())
}

/// Runs a helper process (`rm`, `chmod`, `cp`) in the base directory, streaming its
/// header and output without its own `rc` (as the Python worker does).
async fn helper(ctx: &Ctx, a: &Args, argv: Vec<String>) -> i64 {
    let base = ctx.shared.jail.base().to_path_buf();
    let env = child_env(None, &base.to_string_lossy()).unwrap_or_default();
    let timeout = match a.get("timeout") {
        None => Some((120.0, "120".to_string())),
        Some(v) => v
            .as_f64()
            .filter(|f| *f != 0.0 && f.is_finite())
            .map(|f| (f, number_display(v))),
    };
    let max_time = a.some("maxTime").and_then(|v| {
        v.as_f64()
            .filter(|f| *f != 0.0 && f.is_finite())
            .map(|f| (f, number_display(v)))
    });
    let spec = ProcessSpec {
        command: CommandLine::Argv(argv.into_iter().map(|s| (s.clone(), s)).collect()),
        workdir: base,
        env,
        want_stdout: true,
        want_stderr: true,
        logfiles: Vec::new(),
        logfiles_repr: "{}".to_string(),
        timeout,
        max_time,
        max_lines: None,
        sigterm_time: None,
        use_pty: false,
        pty_warning: false,
        log_environ: a.bool_or("logEnviron", true),
        initial_stdin: None,
        interrupt_signal: (libc::SIGKILL, "KILL".to_string()),
        send_rc: false,
        encoding: ctx.shared.encoding,
    };
    runprocess::run(spec, &ctx.io, ctx.control.clone(), &ctx.pgid)
        .await
        .rc
}

pub(super) async fn rmdir(ctx: &Ctx, a: Args) -> Result<(), String> {
    let mut rc = 0;
    for p in paths(&a) {
        let Some(path) = ctx.check_path("rmdir", &p, false) else {
            return Ok(());
        };
        let path = path.to_string_lossy().into_owned();
        let mut r = helper(ctx, &a, vec!["rm".into(), "-rf".into(), path.clone()]).await;
        if r != 0 && !ctx.is_interrupted() {
            helper(
                ctx,
                &a,
                vec!["chmod".into(), "-Rf".into(), "u+rwx".into(), path.clone()],
            )
            .await;
            r = helper(ctx, &a, vec!["rm".into(), "-rf".into(), path]).await;
        }
        if r != 0 {
            rc = r;
        }
        if ctx.is_interrupted() {
            break;
        }
    }
    if !ctx.is_interrupted() {
        ctx.io.entry(UpdateEntry::Rc(rc));
    }
    Ok(())
}

pub(super) async fn cpdir(ctx: &Ctx, a: Args) -> Result<(), String> {
    let (Some(from), Some(to)) = (a.str("from_path"), a.str("to_path")) else {
        return Err(failure_text("TypeError", "paths must be strings"));
    };
    let Some(from_p) = ctx.check_path("cpdir", &from, true) else {
        return Ok(());
    };
    let Some(to_p) = ctx.check_path("cpdir", &to, false) else {
        return Ok(());
    };
    if let Some(parent) = to_p.parent()
        && !parent.exists()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        report(ctx, "cpdir", &e, &parent.to_string_lossy());
        return Ok(());
    }
    if to_p.exists() {
        log::warn!("cpdir: destination {} already exists", to_p.display());
    }
    let rc = helper(
        ctx,
        &a,
        vec![
            "cp".into(),
            "-R".into(),
            "-P".into(),
            "-p".into(),
            "-v".into(),
            from_p.to_string_lossy().into_owned(),
            to_p.to_string_lossy().into_owned(),
        ],
    )
    .await;
    ctx.io.entry(UpdateEntry::Rc(rc));
    Ok(())
}

pub(super) async fn stat(ctx: &Ctx, a: Args) -> Result<(), String> {
    let Some(p) = a.str("path") else {
        return Err(failure_text("KeyError", "'path'"));
    };
    let Some(path) = ctx.check_path("stat", &p, true) else {
        return Ok(());
    };
    match std::fs::metadata(&path) {
        Ok(m) => {
            ctx.io.entry(UpdateEntry::Stat(vec![
                i64::from(m.mode()),
                m.ino() as i64,
                m.dev() as i64,
                m.nlink() as i64,
                i64::from(m.uid()),
                i64::from(m.gid()),
                m.size() as i64,
                m.atime(),
                m.mtime(),
                m.ctime(),
            ]));
            ctx.io.entry(UpdateEntry::Rc(0));
        }
        Err(e) => report(ctx, "stat", &e, &p),
    }
    Ok(())
}

/// The part of a glob pattern before the first component with wildcards.
fn literal_prefix(pattern: &str) -> String {
    let mut out = Vec::new();
    for comp in pattern.split('/') {
        if comp.contains(['*', '?', '[']) {
            break;
        }
        out.push(comp);
    }
    let s = out.join("/");
    if s.is_empty() { "/".to_string() } else { s }
}

pub(super) async fn glob(ctx: &Ctx, a: Args) -> Result<(), String> {
    let Some(pattern) = a.str("path") else {
        return Err(failure_text("TypeError", "'path' must be a string"));
    };
    if ctx
        .shared
        .jail
        .check(&literal_prefix(&pattern), true)
        .is_err()
    {
        ctx.refuse(
            "glob",
            &format!(
                "refusing to touch {pattern}: it is outside the worker base directory {}",
                ctx.shared.jail.base().display()
            ),
        );
        return Ok(());
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut files = Vec::new();
    match glob::glob_with(&pattern, options) {
        Ok(paths) => {
            for p in paths.flatten() {
                let s = p.to_string_lossy().into_owned();
                if ctx.shared.jail.check(&s, true).is_ok() {
                    files.push(s);
                }
            }
        }
        Err(e) => log::info!("glob: invalid pattern {pattern:?}: {e}"),
    }
    ctx.io.entry(UpdateEntry::Files(files));
    ctx.io.entry(UpdateEntry::Rc(0));
    Ok(())
}

pub(super) async fn listdir(ctx: &Ctx, a: Args) -> Result<(), String> {
    let Some(p) = a.str("path") else {
        return Err(failure_text("KeyError", "'path'"));
    };
    let Some(path) = ctx.check_path("listdir", &p, true) else {
        return Ok(());
    };
    match std::fs::read_dir(&path) {
        Ok(rd) => {
            let files = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            ctx.io.entry(UpdateEntry::Files(files));
            ctx.io.entry(UpdateEntry::Rc(0));
        }
        Err(e) => report(ctx, "listdir", &e, &p),
    }
    Ok(())
}

pub(super) async fn rmfile(ctx: &Ctx, a: Args) -> Result<(), String> {
    let Some(p) = a.str("path") else {
        return Err(failure_text("TypeError", "'path' must be a string"));
    };
    // The file itself may be a symlink; removing the link is fine, so only its parent must
    // resolve inside the base directory.
    let lexical = crate::slave::paths::normalize(ctx.shared.jail.base(), Path::new(&p));
    let parent_ok = lexical.parent().is_some_and(|parent| {
        ctx.shared
            .jail
            .check(&parent.to_string_lossy(), true)
            .is_ok()
    });
    let Some(path) = (if parent_ok && lexical.as_path() != ctx.shared.jail.base() {
        Some(lexical)
    } else {
        ctx.check_path("rmfile", &p, false)
    }) else {
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Ok(()) => ctx.io.entry(UpdateEntry::Rc(0)),
        Err(e) => report(ctx, "rmfile", &e, &p),
    }
    Ok(())
}
