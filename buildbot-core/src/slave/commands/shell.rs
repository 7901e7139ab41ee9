//! The `shell` command (§10.1, §12).

use std::collections::BTreeMap;

use rmpv::Value;

use super::{Args, Ctx, failure_text, value_text};
use crate::slave::pyrepr::{number_display, str_repr, value_repr};
use crate::slave::runprocess::{self, CommandLine, LogfileSpec, ProcessSpec, signal_number};

/// The worker's own environment.
pub(crate) fn worker_environ() -> BTreeMap<String, String> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Substitutes `${NAME}` with the worker's environment value (empty when unset).
fn substitute(value: &str, environ: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            out.push_str(environ.get(name).map(String::as_str).unwrap_or(""));
            rest = &after[name_len + 1..];
        } else {
            out.push_str("${");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Computes the child environment (§12.2). `Err` is the Python error message.
pub(crate) fn child_env(
    env: Option<&Value>,
    workdir: &str,
) -> Result<BTreeMap<String, String>, String> {
    let environ = worker_environ();
    let mut out = environ.clone();
    if let Some(Value::Map(m)) = env {
        let mut given: Vec<(String, Option<String>)> = Vec::new();
        for (k, v) in m {
            let key = value_text(k).unwrap_or_else(|| value_repr(k));
            let val = match v {
                Value::Nil => None,
                Value::String(_) | Value::Binary(_) => value_text(v),
                Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|i| value_text(i).unwrap_or_else(|| value_repr(i)))
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                _ => {
                    return Err(format!(
                        "'env' values must be strings or lists; key '{key}' is incorrect"
                    ));
                }
            };
            given.push((key, val));
        }
        for (k, v) in &mut given {
            if k == "PYTHONPATH"
                && let Some(v) = v
            {
                v.push_str(":${PYTHONPATH}");
            }
        }
        for (k, v) in given {
            match v {
                None => {
                    out.remove(&k);
                }
                Some(v) => {
                    out.insert(k, substitute(&v, &environ));
                }
            }
        }
    }
    out.insert("PWD".to_string(), workdir.to_string());
    Ok(out)
}

fn command_line(v: &Value) -> Option<CommandLine> {
    match v {
        Value::String(_) | Value::Binary(_) => value_text(v).map(CommandLine::Shell),
        Value::Array(items) => Some(CommandLine::Argv(
            items
                .iter()
                .map(|i| match i {
                    Value::Array(t) if t.len() == 3 && t[0].as_str() == Some("obfuscated") => {
                        let real = value_text(&t[1]).unwrap_or_else(|| value_repr(&t[1]));
                        let fake = value_text(&t[2]).unwrap_or_else(|| value_repr(&t[2]));
                        (real, fake)
                    }
                    other => {
                        let s = value_text(other).unwrap_or_else(|| match other {
                            Value::Integer(n) => n.to_string(),
                            o => value_repr(o),
                        });
                        (s.clone(), s)
                    }
                })
                .collect(),
        )),
        _ => None,
    }
}

fn logfiles(v: Option<&Value>, workdir: &std::path::Path) -> (Vec<LogfileSpec>, String) {
    let repr = match v {
        None | Some(Value::Nil) => "{}".to_string(),
        Some(v) => value_repr(v),
    };
    let mut out = Vec::new();
    if let Some(Value::Map(m)) = v {
        for (k, spec) in m {
            let Some(name) = value_text(k) else { continue };
            let (file, follow) = match spec {
                Value::Map(fields) => {
                    let get = |key: &str| {
                        fields
                            .iter()
                            .find(|(k, _)| k.as_str() == Some(key))
                            .map(|(_, v)| v)
                    };
                    (
                        get("filename").and_then(value_text),
                        get("follow").is_some_and(super::truthy),
                    )
                }
                other => (value_text(other), false),
            };
            if let Some(file) = file {
                out.push(LogfileSpec {
                    name,
                    path: workdir.join(file),
                    follow,
                });
            }
        }
    }
    (out, repr)
}

pub(super) async fn run(ctx: &Ctx, a: Args) -> Result<(), String> {
    let Some(workdir_s) = a.str("workdir") else {
        return Err(failure_text("TypeError", "'workdir' must be a string"));
    };
    let Some(workdir) = ctx.check_path("shell", &workdir_s, true) else {
        return Ok(());
    };
    let Some(command) = a.get("command").and_then(command_line) else {
        return Err(failure_text(
            "TypeError",
            "'command' must be a string or a list",
        ));
    };
    let use_pty_arg = match a.get("usePTY") {
        None | Some(Value::Nil) => ctx.shared.config.usepty,
        Some(Value::Boolean(b)) => *b,
        Some(Value::Integer(i)) if i.as_u64() == Some(0) => false,
        Some(Value::Integer(i)) if i.as_u64() == Some(1) => true,
        Some(other) => {
            return Err(failure_text(
                "AssertionError",
                &format!(
                    "Unexpected usePTY argument value: {}. Expected boolean.",
                    value_repr(other)
                ),
            ));
        }
    };
    let env = child_env(a.get("env"), &workdir.to_string_lossy())
        .map_err(|e| failure_text("RuntimeError", &e))?;
    let initial_stdin = a.some("initial_stdin").map(|v| match v {
        Value::Binary(b) => b.clone(),
        other => ctx
            .shared
            .encoding
            .encode(&value_text(other).unwrap_or_else(|| value_repr(other))),
    });
    let (use_pty, pty_warning) = if use_pty_arg && initial_stdin.is_some() {
        (false, true)
    } else {
        (use_pty_arg, false)
    };
    let sig_name = a
        .str("interruptSignal")
        .unwrap_or_else(|| "KILL".to_string());
    let interrupt_signal = match signal_number(&sig_name) {
        Some(n) => (n, sig_name.trim_start_matches("SIG").to_string()),
        None => {
            log::warn!("unknown interruptSignal {sig_name:?}, using KILL");
            (libc::SIGKILL, "KILL".to_string())
        }
    };
    let number = |key: &str| {
        a.some(key)
            .and_then(|v| v.as_f64().map(|f| (f, number_display(v))))
            .filter(|(f, _)| *f != 0.0 && f.is_finite())
    };
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        return Err(failure_text(
            "OSError",
            &format!(
                "[Errno {}] {}: {}",
                e.raw_os_error().unwrap_or(0),
                runprocess::strerror(&e),
                str_repr(&workdir.to_string_lossy())
            ),
        ));
    }
    let (logfiles, logfiles_repr) = logfiles(a.get("logfiles"), &workdir);
    let logfiles = logfiles
        .into_iter()
        .filter(|l| {
            let ok = ctx
                .shared
                .jail
                .check(&l.path.to_string_lossy(), false)
                .is_ok();
            if !ok {
                log::warn!(
                    "logfile {} ({}) is outside the base directory; not watched",
                    l.name,
                    l.path.display()
                );
            }
            ok
        })
        .collect();
    let spec = ProcessSpec {
        command,
        workdir,
        env,
        want_stdout: a.bool_or("want_stdout", true),
        want_stderr: a.bool_or("want_stderr", true),
        logfiles,
        logfiles_repr,
        timeout: number("timeout"),
        max_time: number("maxTime"),
        max_lines: a.u64("max_lines"),
        sigterm_time: a.f64("sigtermTime"),
        use_pty,
        pty_warning,
        log_environ: a.bool_or("logEnviron", true),
        initial_stdin,
        interrupt_signal,
        send_rc: true,
        encoding: ctx.shared.encoding,
    };
    let result = runprocess::run(spec, &ctx.io, ctx.control.clone(), &ctx.pgid).await;
    match result.failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/root".to_string());
        assert_eq!(substitute("${HOME}-x", &env), "/root-x");
        assert_eq!(substitute("a${NOPE}b", &env), "ab");
        assert_eq!(substitute("a${b", &env), "a${b");
    }
}
