//! The slave's `buildbot.tac`: a TOML file (mode 0600, it holds the password).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use buildbot_core::daemon::{self, TacText};
use serde::Deserialize;

use crate::cli::WIRE_PROTOCOL;
use crate::error::{CliError, ErrorKind};

/// Marker value of `application` in a slave tac.
pub const SLAVE_MARKER: &str = "buildslave";
/// File name of the tac.
pub const TAC: &str = "buildbot.tac";

/// Everything a slave tac holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaveTac {
    pub application: String,
    pub basedir: String,
    #[serde(default)]
    pub buildmaster_host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub connection_string: Option<String>,
    #[serde(alias = "workername")]
    pub slavename: String,
    pub passwd: String,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default)]
    pub use_tls: bool,
    #[serde(default)]
    pub proxy_connection_string: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "default_keepalive")]
    pub keepalive: u64,
    #[serde(default = "default_maxdelay")]
    pub maxdelay: u64,
    #[serde(default)]
    pub maxretries: Option<u32>,
    #[serde(default)]
    pub usepty: bool,
    #[serde(default, deserialize_with = "buildbot_core::daemon::deserialize_umask")]
    pub umask: Option<u32>,
    #[serde(default)]
    pub allow_shutdown: Option<String>,
    #[serde(default)]
    pub unicode_encoding: Option<String>,
    #[serde(default)]
    pub numcpus: Option<u32>,
    #[serde(default)]
    pub delete_leftover_dirs: bool,
    #[serde(default)]
    pub rotate_length: Option<u64>,
    #[serde(default)]
    pub max_rotated_files: Option<u32>,
    /// Log file name relative to basedir (default `twistd.log`); `"-"` logs to
    /// stderr only when running with `--nodaemon`.
    #[serde(default)]
    pub log_file: Option<String>,
    /// Seconds before a connection attempt is abandoned (default 120).
    #[serde(default)]
    pub connect_timeout: Option<f64>,
}

fn default_protocol() -> String {
    WIRE_PROTOCOL.to_owned()
}
fn default_keepalive() -> u64 {
    600
}
fn default_maxdelay() -> u64 {
    300
}

fn q(s: &str) -> String {
    // a TOML basic string (same escaping rules as JSON for what matters here)
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

fn opt_line(out: &mut String, key: &str, value: Option<String>, example: &str) {
    match value {
        Some(v) => {
            let _ = writeln!(out, "{key} = {v}");
        }
        None => {
            let _ = writeln!(out, "# {key} = {example}");
        }
    }
}

impl SlaveTac {
    /// The tac text, with comments explaining each setting.
    pub fn render(&self) -> String {
        let mut o = String::new();
        o.push_str(
            "# buildbot.tac of a Buildbot slave, read by `buildslave start`.\n\
             # Edit it and restart the slave to apply changes.\n\n\
             # note: this line is matched against to check that this is a buildslave\n\
             # directory; do not edit it.\n",
        );
        let _ = writeln!(o, "application = {}", q(&self.application));
        o.push_str("\n# \".\" means the directory holding this file (relocatable)\n");
        let _ = writeln!(o, "basedir = {}", q(&self.basedir));
        o.push_str(
            "\n# the master to connect to (its msgpack_experimental_v7 port) and how to log in\n",
        );
        opt_line(
            &mut o,
            "buildmaster_host",
            self.buildmaster_host.as_deref().map(q),
            "\"localhost\"",
        );
        opt_line(&mut o, "port", self.port.map(|p| p.to_string()), "9989");
        opt_line(
            &mut o,
            "connection_string",
            self.connection_string.as_deref().map(q),
            "\"tcp:host=localhost:port=9989\"",
        );
        let _ = writeln!(o, "slavename = {}", q(&self.slavename));
        let _ = writeln!(o, "passwd = {}", q(&self.passwd));
        let _ = writeln!(o, "protocol = {}", q(&self.protocol));
        let _ = writeln!(o, "use_tls = {}", self.use_tls);
        opt_line(
            &mut o,
            "proxy_connection_string",
            self.proxy_connection_string.as_deref().map(q),
            "\"tcp:host=proxy:port=3128\"",
        );
        opt_line(&mut o, "path", self.path.as_deref().map(q), "\"/ws\"");
        o.push_str(
            "\n# seconds between keepalives (0: none); longest wait between connection attempts\n",
        );
        let _ = writeln!(o, "keepalive = {}", self.keepalive);
        let _ = writeln!(o, "maxdelay = {}", self.maxdelay);
        o.push_str("# give up after this many failed connection attempts (unset: never)\n");
        opt_line(
            &mut o,
            "maxretries",
            self.maxretries.map(|v| v.to_string()),
            "10",
        );
        o.push_str(
            "\n# run commands in a pseudo-terminal when the step does not say (deprecated)\n",
        );
        let _ = writeln!(o, "usepty = {}", self.usepty);
        o.push_str("# umask of the slave and its commands (unset: 077 as a daemon, inherited with --nodaemon)\n");
        opt_line(
            &mut o,
            "umask",
            self.umask.map(|u| format!("0o{u:03o}")),
            "0o022",
        );
        o.push_str("# let the slave ask for a graceful shutdown: \"signal\" (SIGHUP) or \"file\" (shutdown.stamp)\n");
        opt_line(
            &mut o,
            "allow_shutdown",
            self.allow_shutdown.as_deref().map(q),
            "\"signal\"",
        );
        o.push_str("# encoding of command arguments (unset: the locale's, UTF-8 by default)\n");
        opt_line(
            &mut o,
            "unicode_encoding",
            self.unicode_encoding.as_deref().map(q),
            "\"utf-8\"",
        );
        o.push_str("# CPUs reported to the master (unset: detected)\n");
        opt_line(&mut o, "numcpus", self.numcpus.map(|v| v.to_string()), "4");
        let _ = writeln!(o, "delete_leftover_dirs = {}", self.delete_leftover_dirs);
        if let Some(f) = &self.log_file {
            let _ = writeln!(o, "log_file = {}", q(f));
        }
        if let Some(t) = self.connect_timeout {
            let _ = writeln!(o, "connect_timeout = {t:?}");
        }
        match (self.rotate_length, self.max_rotated_files) {
            (Some(len), count) => {
                o.push_str(
                    "\n# twistd.log rotation: size in bytes, rotated files kept (unset: all).\n",
                );
                o.push_str(
                    "# Without rotate_length the log is not rotated here (use logrotate).\n",
                );
                let _ = writeln!(o, "rotate_length = {len}");
                opt_line(
                    &mut o,
                    "max_rotated_files",
                    count.map(|c| c.to_string()),
                    "10",
                );
            }
            (None, _) => {
                o.push_str("\n# twistd.log is not rotated by the slave (use logrotate; it is re-opened when moved)\n");
            }
        }
        o
    }

    /// Whether the tac records "the directory holding this file".
    pub fn is_relocatable(&self) -> bool {
        self.basedir == "."
    }
}

/// A slave directory with its parsed tac.
#[derive(Debug)]
pub struct SlaveDir {
    pub basedir: PathBuf,
    pub tac_path: PathBuf,
    pub tac: SlaveTac,
}

/// Checks that `basedir` is a slave directory and reads its tac.
pub fn load(basedir: &Path) -> Result<SlaveDir, CliError> {
    let invalid = |why: &str| {
        CliError::new(
            ErrorKind::InvalidDirectory,
            format!(
                "invalid buildslave directory '{}': {why}",
                basedir.display()
            ),
        )
    };
    if !basedir.is_dir() {
        return Err(invalid("no such directory"));
    }
    let tac_path = basedir.join(TAC);
    if !tac_path.is_file() {
        return Err(invalid(
            "no buildbot.tac (create one with `buildslave create-slave`)",
        ));
    }
    let tac = match daemon::read_tac(&tac_path) {
        Ok(TacText::Toml { text, table }) => {
            match table.get("application").and_then(|v| v.as_str()) {
                Some(SLAVE_MARKER) => {}
                Some("buildmaster") => {
                    return Err(invalid(
                        "this is a buildmaster directory; use `buildbot start` for it",
                    ));
                }
                _ => {
                    return Err(invalid(
                        "buildbot.tac does not declare application = \"buildslave\"",
                    ));
                }
            }
            daemon::parse_toml::<SlaveTac>(&tac_path, &text)
                .map_err(|e| CliError::new(ErrorKind::InvalidDirectory, e.to_string()))?
        }
        Ok(TacText::Python(text)) => {
            if text.contains("Application('buildmaster')")
                || text.contains("Application(\"buildmaster\")")
            {
                return Err(invalid(
                    "this is a buildmaster directory; use `buildbot start` for it",
                ));
            }
            return Err(CliError::new(
                ErrorKind::InvalidDirectory,
                format!(
                    "this buildbot.tac is Python; run `buildslave upgrade-slave {}` to convert it",
                    basedir.display()
                ),
            ));
        }
        Ok(_) => return Err(invalid("unrecognised buildbot.tac")),
        Err(e) => return Err(CliError::new(ErrorKind::InvalidDirectory, e.to_string())),
    };
    Ok(SlaveDir {
        basedir: basedir.to_path_buf(),
        tac_path,
        tac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SlaveTac {
        SlaveTac {
            application: SLAVE_MARKER.into(),
            basedir: "/srv/slave".into(),
            buildmaster_host: Some("::1".into()),
            port: Some(9989),
            connection_string: None,
            slavename: "w\"1".into(),
            passwd: "p\\w".into(),
            protocol: WIRE_PROTOCOL.into(),
            use_tls: false,
            proxy_connection_string: None,
            path: None,
            keepalive: 600,
            maxdelay: 300,
            maxretries: Some(3),
            usepty: false,
            umask: Some(0o22),
            allow_shutdown: Some("signal".into()),
            unicode_encoding: None,
            numcpus: None,
            delete_leftover_dirs: true,
            rotate_length: Some(10_000_000),
            max_rotated_files: None,
            log_file: None,
            connect_timeout: None,
        }
    }

    #[test]
    fn render_parses_back() {
        let tac = sample();
        let text = tac.render();
        let back: SlaveTac = toml::from_str(&text).unwrap();
        assert_eq!(back, tac);
        assert!(text.contains("umask = 0o022"));
        assert!(text.contains("# unicode_encoding ="));
    }
}
