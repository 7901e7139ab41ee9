//! `buildslave upgrade-slave`: converts a Python `buildbot.tac` (0.8 `buildslave`,
//! pre-0.8.1 `buildbot.slave`, 4.x `buildbot-worker`) into the TOML tac.

use std::collections::BTreeMap;
use std::fs;
use std::process::ExitCode;

use anyhow::Context;
use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, TAC_FILE_NAME, TacText};
use buildbot_core::protocol::WIRE_PROTOCOL;

use crate::create::write_private;
use crate::options::UpgradeOptions;
use crate::tac::{SLAVE_MARKER, SlaveTac};

/// A Python literal from a simple assignment.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    /// `os.path.abspath(os.path.dirname(__file__))`: the tac's own directory.
    Here,
}

/// The top-level assignments of a Python tac, plus the statements we skipped.
#[derive(Debug, Default)]
struct PyTac {
    vars: BTreeMap<String, Py>,
    skipped: Vec<(usize, String)>,
}

/// Names that are plumbing of the Python tac, not settings.
const PLUMBING: &[&str] = &["application", "s", "logfile", "observer"];

fn parse_python(text: &str) -> PyTac {
    let mut t = PyTac::default();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with(char::is_whitespace)
            || trimmed.starts_with("import ")
            || trimmed.starts_with("from ")
            || trimmed.starts_with("if ")
            || trimmed.starts_with("try:")
            || trimmed.starts_with("except")
            || trimmed.starts_with(')')
            || trimmed.starts_with("s.setServiceParent")
            || trimmed.starts_with("application.setComponent")
        {
            continue;
        }
        let Some((name, value)) = trimmed.split_once('=') else {
            t.skipped.push((n + 1, trimmed.to_owned()));
            continue;
        };
        let name = name.trim();
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
            t.skipped.push((n + 1, trimmed.to_owned()));
            continue;
        }
        if PLUMBING.contains(&name) {
            continue;
        }
        match literal(value.trim()) {
            Some(v) => {
                t.vars.insert(name.to_owned(), v);
            }
            None => t.skipped.push((n + 1, trimmed.to_owned())),
        }
    }
    t
}

/// Parses one Python literal, allowing a trailing comment.
fn literal(s: &str) -> Option<Py> {
    let s = s.trim();
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.starts_with("os.path.abspath(os.path.dirname(__file__))") {
        return Some(Py::Here);
    }
    let lower_prefix_end = s.find(['\'', '"']);
    if let Some(q) = lower_prefix_end {
        let prefix = &s[..q];
        if prefix.len() <= 2 && prefix.chars().all(|c| "rRuUbB".contains(c)) {
            let raw = prefix.contains(['r', 'R']);
            let quote = s[q..].chars().next()?;
            let body = &s[q + 1..];
            let mut out = String::new();
            let mut chars = body.chars();
            loop {
                let c = chars.next()?;
                if c == quote {
                    break;
                }
                if c == '\\' && !raw {
                    let e = chars.next()?;
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else if c == '\\' {
                    out.push(c);
                    out.push(chars.next()?);
                } else {
                    out.push(c);
                }
            }
            let rest = chars.as_str().trim();
            return (rest.is_empty() || rest.starts_with('#')).then_some(Py::Str(out));
        }
        return None;
    }
    let word = s.split('#').next().unwrap_or("").trim();
    match word {
        "None" => Some(Py::None),
        "True" => Some(Py::Bool(true)),
        "False" => Some(Py::Bool(false)),
        w => {
            let w = w.replace('_', "");
            if let Some(o) = w.strip_prefix("0o").or_else(|| w.strip_prefix("0O")) {
                i64::from_str_radix(o, 8).ok().map(Py::Int)
            } else if let Some(x) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
                i64::from_str_radix(x, 16).ok().map(Py::Int)
            } else if w.len() > 1 && w.starts_with('0') {
                // Python 2 octal (umask = 022)
                i64::from_str_radix(&w[1..], 8).ok().map(Py::Int)
            } else {
                w.parse::<i64>().ok().map(Py::Int)
            }
        }
    }
}

fn get_str(t: &PyTac, k: &str) -> Option<String> {
    match t.vars.get(k) {
        Some(Py::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn get_int(t: &PyTac, k: &str) -> Option<i64> {
    match t.vars.get(k) {
        Some(Py::Int(i)) => Some(*i),
        Some(Py::Bool(b)) => Some(i64::from(*b)),
        Some(Py::Str(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

fn get_bool(t: &PyTac, k: &str) -> bool {
    match t.vars.get(k) {
        Some(Py::Bool(b)) => *b,
        Some(Py::Int(i)) => *i != 0,
        _ => false,
    }
}

/// Builds the TOML tac from a Python one; `notes` collects what the user should know.
fn convert(
    text: &str,
    basedir: &std::path::Path,
    notes: &mut Vec<String>,
) -> Result<SlaveTac, String> {
    let t = parse_python(text);
    let name = get_str(&t, "workername")
        .or_else(|| get_str(&t, "slavename"))
        .ok_or("no slavename/workername assignment found")?;
    let passwd = get_str(&t, "passwd").ok_or("no passwd assignment found")?;
    let connection_string = get_str(&t, "connection_string");
    let host = get_str(&t, "buildmaster_host");
    let port = get_int(&t, "port").and_then(|p| u16::try_from(p).ok());
    if connection_string.is_none() && (host.is_none() || port.is_none()) {
        return Err("no buildmaster_host/port (or connection_string) assignment found".into());
    }
    let basedir_value = match t.vars.get("basedir") {
        Some(Py::Here) => ".".to_owned(),
        Some(Py::Str(s)) if s == "." => ".".to_owned(),
        Some(Py::Str(s)) => s.clone(),
        _ => {
            notes.push("basedir not found: made the tac relocatable".into());
            ".".to_owned()
        }
    };
    let protocol = match get_str(&t, "protocol").as_deref() {
        Some("msgpack_experimental_v7") => WIRE_PROTOCOL.to_owned(),
        other => {
            notes.push(format!(
                "protocol {} replaced by {WIRE_PROTOCOL}: the master must offer a msgpack port (its port may differ from the PB port {})",
                other.map_or("'pb' (the default)".to_owned(), |p| format!("'{p}'")),
                port.map_or_else(|| "?".into(), |p| p.to_string())
            ));
            WIRE_PROTOCOL.to_owned()
        }
    };
    let umask = match t.vars.get("umask") {
        Some(Py::Int(i)) if (0..=0o777).contains(i) => Some(*i as u32),
        Some(Py::Str(s)) => buildbot_core::daemon::parse_octal(s),
        Some(Py::None) | None => None,
        Some(other) => {
            notes.push(format!("umask {other:?} not carried over"));
            None
        }
    };
    let opt_u32 = |k: &str| get_int(&t, k).and_then(|v| u32::try_from(v).ok());
    let (rotate_length, max_rotated_files) = match t.vars.get("rotateLength") {
        Some(Py::None) => (None, None),
        _ => (
            Some(
                get_int(&t, "rotateLength")
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(10_000_000),
            ),
            match t.vars.get("maxRotatedFiles") {
                Some(Py::None) => None,
                Some(_) => opt_u32("maxRotatedFiles"),
                None => Some(10),
            },
        ),
    };
    for (line, stmt) in &t.skipped {
        notes.push(format!("line {line} not carried over: {stmt}"));
    }
    let _ = basedir;
    Ok(SlaveTac {
        application: SLAVE_MARKER.to_owned(),
        basedir: basedir_value,
        buildmaster_host: if connection_string.is_some() {
            None
        } else {
            host
        },
        port: if connection_string.is_some() {
            None
        } else {
            port
        },
        connection_string,
        slavename: name,
        passwd,
        protocol,
        use_tls: get_bool(&t, "use_tls"),
        proxy_connection_string: get_str(&t, "proxy_connection_string"),
        path: None,
        keepalive: get_int(&t, "keepalive")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(600),
        maxdelay: get_int(&t, "maxdelay")
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(300),
        maxretries: opt_u32("maxretries"),
        usepty: get_bool(&t, "usepty"),
        umask,
        allow_shutdown: get_str(&t, "allow_shutdown").filter(|a| a == "signal" || a == "file"),
        unicode_encoding: get_str(&t, "unicode_encoding"),
        numcpus: opt_u32("numcpus"),
        delete_leftover_dirs: get_bool(&t, "delete_leftover_dirs"),
        rotate_length,
        max_rotated_files,
        log_file: None,
        connect_timeout: None,
    })
}

pub fn upgrade_slave(o: &UpgradeOptions) -> anyhow::Result<ExitCode> {
    let base = &o.basedir;
    let tac_path = base.join(TAC_FILE_NAME);
    let invalid = |why: &str| {
        CliError::new(
            ErrorKind::InvalidDirectory,
            format!("invalid buildslave directory '{}': {why}", base.display()),
        )
    };
    if !tac_path.is_file() {
        return Err(invalid("no buildbot.tac").into());
    }
    let text = match daemon::read_tac(&tac_path) {
        Ok(TacText::Toml { table, .. }) => {
            if table.get("application").and_then(|v| v.as_str()) != Some(SLAVE_MARKER) {
                return Err(invalid("buildbot.tac is not a buildslave's").into());
            }
            ui::say(o.quiet, "No changes made");
            return Ok(ExitCode::SUCCESS);
        }
        Ok(TacText::Python(text)) => text,
        Ok(_) => return Err(invalid("unrecognised buildbot.tac").into()),
        Err(e) => return Err(CliError::new(ErrorKind::InvalidDirectory, e.to_string()).into()),
    };
    if text.contains("Application('buildmaster')") || text.contains("Application(\"buildmaster\")")
    {
        return Err(
            invalid("this is a buildmaster directory; use `buildbot upgrade-master`").into(),
        );
    }
    let mut notes = Vec::new();
    let tac = convert(&text, base, &mut notes)
        .map_err(|why| invalid(&format!("cannot convert the Python buildbot.tac: {why}")))?;
    let backup = base.join("buildbot.tac.python");
    fs::copy(&tac_path, &backup)
        .with_context(|| format!("cannot keep the original as '{}'", backup.display()))?;
    write_private(&tac_path, &tac.render())?;
    for n in &notes {
        ui::say(o.quiet, &format!("note: {n}"));
    }
    ui::say(o.quiet, &format!("original kept as {}", backup.display()));
    ui::say(o.quiet, "buildbot.tac updated");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(literal("'abc'"), Some(Py::Str("abc".into())));
        assert_eq!(literal("r'/a/b' # comment"), Some(Py::Str("/a/b".into())));
        assert_eq!(literal("\"it's\""), Some(Py::Str("it's".into())));
        assert_eq!(literal("'a\\'b'"), Some(Py::Str("a'b".into())));
        assert_eq!(literal("022"), Some(Py::Int(0o22)));
        assert_eq!(literal("0o22"), Some(Py::Int(0o22)));
        assert_eq!(literal("9989"), Some(Py::Int(9989)));
        assert_eq!(literal("None  # x"), Some(Py::None));
        assert_eq!(literal("True"), Some(Py::Bool(true)));
        assert_eq!(
            literal("os.path.abspath( os.path.dirname(__file__) )"),
            Some(Py::Here)
        );
        assert_eq!(literal("Worker(a, b)"), None);
    }
}
