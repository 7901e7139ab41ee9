use std::ffi::CStr;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::de::DeserializeOwned;

use super::DaemonError;

/// Turns a BASEDIR argument into an absolute path.
///
/// `None` means the current directory. A leading `~` or `~/` is expanded by us
/// (cron does not), from `HOME` or, when unset, the password database. `.` and `..`
/// components are resolved lexically (as Python's `os.path.abspath`).
pub fn expand_basedir(arg: Option<&str>) -> Result<PathBuf, DaemonError> {
    let cwd = || {
        std::env::current_dir().map_err(|e| DaemonError::Io {
            what: "cannot determine the current directory",
            path: PathBuf::from("."),
            source: e,
        })
    };
    let path = match arg {
        None | Some("") => cwd()?,
        Some(a) if a == "~" || a.starts_with("~/") => {
            let home = home_dir().ok_or_else(|| DaemonError::BadPath {
                arg: a.to_owned(),
                reason: "no home directory (HOME is unset)".into(),
            })?;
            home.join(a.trim_start_matches('~').trim_start_matches('/'))
        }
        Some(a) if a.starts_with('~') => {
            return Err(DaemonError::BadPath {
                arg: a.to_owned(),
                reason: "only '~' and '~/...' are expanded".into(),
            });
        }
        Some(a) => PathBuf::from(a),
    };
    let abs = if path.is_absolute() {
        path
    } else {
        cwd()?.join(path)
    };
    Ok(normalize(&abs))
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe_zeroed_passwd();
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call; buf outlives the
    // use of the strings it backs.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points to a NUL-terminated string inside buf.
    let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
    Some(PathBuf::from(dir.to_string_lossy().into_owned()))
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: passwd is a plain C struct for which all-zero bytes are valid.
    unsafe { std::mem::zeroed() }
}

/// Name of the tac file inside a base directory.
pub const TAC_FILE_NAME: &str = "buildbot.tac";

/// The text of a `buildbot.tac`, classified.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TacText {
    /// A TOML tac (ours), already checked for syntax.
    Toml {
        /// The raw text (for typed parsing with [`parse_toml`]).
        text: String,
        /// The parsed table.
        table: toml::Table,
    },
    /// A Python tac from a 0.8 or 4.x installation.
    Python(String),
}

/// Reads a `buildbot.tac`: a TOML file (syntax errors carry `file:line:col`) or a
/// Python one from an older installation (recognised by its `Application(` line or
/// its imports).
pub fn read_tac(path: &Path) -> Result<TacText, DaemonError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| DaemonError::io("cannot read", path, e))?;
    match text.parse::<toml::Table>() {
        Ok(table) => Ok(TacText::Toml { text, table }),
        Err(e) => {
            if looks_like_python(&text) {
                Ok(TacText::Python(text))
            } else {
                Err(toml_error(path, &text, &e))
            }
        }
    }
}

fn looks_like_python(text: &str) -> bool {
    text.contains("Application(")
        || text
            .lines()
            .any(|l| l.starts_with("from twisted") || l.starts_with("import os"))
}

/// Deserializes TOML `text` (read from `path`) into `T`, with `file:line:col` in
/// the error.
pub fn parse_toml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, DaemonError> {
    toml::from_str(text).map_err(|e| toml_error(path, text, &e))
}

fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> DaemonError {
    let (line, column) = e
        .span()
        .map(|span| line_col(text, span.start))
        .unwrap_or((0, 0));
    DaemonError::Toml {
        path: path.to_path_buf(),
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

/// `s` as a TOML basic string (quoted, with `"`, `\` and control characters escaped),
/// for writing a `buildbot.tac`.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The head of a `buildbot.tac` being written: which `daemon` ("master", "slave") it
/// configures and which `program` reads it, the `application` marker (with the warning not
/// to edit it) and the `basedir`.
pub fn tac_head(daemon: &str, program: &str, application: &str, basedir: &str) -> String {
    let mut o = format!(
        "# buildbot.tac of a Buildbot {daemon}, read by `{program} start`.\n\
         # Edit it and restart the {daemon} to apply changes.\n\n\
         # note: this line is matched against to check that this is a {application}\n\
         # directory; do not edit it.\n"
    );
    let _ = writeln!(o, "application = {}", toml_string(application));
    o.push_str("\n# \".\" means the directory holding this file (relocatable)\n");
    let _ = writeln!(o, "basedir = {}", toml_string(basedir));
    o
}

/// Appends the line `key = value` (a TOML value, e.g. from [`toml_string`]) to a
/// `buildbot.tac` being written, or `# key = example`, commented out, when there is no
/// value.
pub fn toml_setting(out: &mut String, key: &str, value: Option<String>, example: &str) {
    let _ = match value {
        Some(v) => writeln!(out, "{key} = {v}"),
        None => writeln!(out, "# {key} = {example}"),
    };
}

/// Appends the log rotation settings to a `buildbot.tac` being written, with the comments
/// that explain them (`daemon`: "master", "slave").
pub fn tac_rotation(
    out: &mut String,
    daemon: &str,
    rotate_length: Option<u64>,
    max_rotated_files: Option<u32>,
) {
    let Some(len) = rotate_length else {
        let _ = writeln!(
            out,
            "\n# twistd.log is not rotated by the {daemon} (use logrotate; it is re-opened when moved)"
        );
        return;
    };
    out.push_str(
        "\n# twistd.log rotation: size in bytes, rotated files kept (unset: all).\n\
         # Without rotate_length the log is not rotated here (use logrotate).\n",
    );
    let _ = writeln!(out, "rotate_length = {len}");
    let count = max_rotated_files.map(|c| c.to_string());
    toml_setting(out, "max_rotated_files", count, "10");
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basedir_expansion() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(expand_basedir(None).unwrap(), cwd);
        assert_eq!(expand_basedir(Some("a/./b/../c")).unwrap(), cwd.join("a/c"));
        assert_eq!(
            expand_basedir(Some("/x/y/")).unwrap(),
            PathBuf::from("/x/y")
        );
        let home = home_dir().unwrap();
        assert_eq!(expand_basedir(Some("~/slave")).unwrap(), home.join("slave"));
        assert_eq!(expand_basedir(Some("~")).unwrap(), normalize(&home));
        assert!(expand_basedir(Some("~bob/x")).is_err());
    }

    #[test]
    fn toml_errors_have_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buildbot.tac");
        std::fs::write(&path, "a = 1\nb = [\n").unwrap();
        let err = read_tac(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}:", path.display())), "{msg}");
        assert!(
            matches!(err, DaemonError::Toml { line: 2 | 3, .. }),
            "{msg}"
        );

        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            port: u16,
        }
        let err = parse_toml::<T>(&path, "\nport = \"x\"\n").unwrap_err();
        assert!(
            matches!(
                err,
                DaemonError::Toml {
                    line: 2,
                    column: 8,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn toml_strings_parse_back() {
        let nasty = "a \"b\" \\ c\n\td\u{1}\u{7f}é";
        let text = format!("k = {}\n", toml_string(nasty));
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["k"].as_str(), Some(nasty));
        let mut out = String::new();
        toml_setting(&mut out, "port", Some("9989".into()), "1");
        toml_setting(&mut out, "path", None, "\"/ws\"");
        assert_eq!(out, "port = 9989\n# path = \"/ws\"\n");
    }

    #[test]
    fn python_tac_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("buildbot.tac");
        std::fs::write(
            &path,
            "import os\nfrom twisted.application import service\napplication = service.Application('buildslave')\n",
        )
        .unwrap();
        assert!(matches!(read_tac(&path).unwrap(), TacText::Python(_)));
        std::fs::write(&path, "application = \"buildslave\"\n").unwrap();
        assert!(matches!(read_tac(&path).unwrap(), TacText::Toml { .. }));
    }
}
