//! The slave's `buildbot.tac`: a TOML file (mode 0600, it holds the password).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use buildbot_core::daemon::ui::{CliError, ErrorKind};
use buildbot_core::daemon::{self, TAC_FILE_NAME, TacText, toml_setting, toml_string};
use serde::Deserialize;

use buildbot_core::protocol::WIRE_PROTOCOL;

/// Marker value of `application` in a slave tac.
pub const SLAVE_MARKER: &str = "buildslave";

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

impl SlaveTac {
    /// The tac text, with comments explaining each setting.
    pub fn render(&self) -> String {
        let mut o = daemon::tac_head("slave", "buildslave", &self.application, &self.basedir);
        o.push_str(
            "\n# the master to connect to (its msgpack_experimental_v7 port) and how to log in\n",
        );
        toml_setting(
            &mut o,
            "buildmaster_host",
            self.buildmaster_host.as_deref().map(toml_string),
            "\"localhost\"",
        );
        toml_setting(&mut o, "port", self.port.map(|p| p.to_string()), "9989");
        toml_setting(
            &mut o,
            "connection_string",
            self.connection_string.as_deref().map(toml_string),
            "\"tcp:host=localhost:port=9989\"",
        );
        let _ = writeln!(o, "slavename = {}", toml_string(&self.slavename));
        let _ = writeln!(o, "passwd = {}", toml_string(&self.passwd));
        let _ = writeln!(o, "protocol = {}", toml_string(&self.protocol));
        let _ = writeln!(o, "use_tls = {}", self.use_tls);
        toml_setting(
            &mut o,
            "proxy_connection_string",
            self.proxy_connection_string.as_deref().map(toml_string),
            "\"tcp:host=proxy:port=3128\"",
        );
        toml_setting(
            &mut o,
            "path",
            self.path.as_deref().map(toml_string),
            "\"/ws\"",
        );
        o.push_str(
            "\n# seconds between keepalives (0: none); longest wait between connection attempts\n",
        );
        let _ = writeln!(o, "keepalive = {}", self.keepalive);
        let _ = writeln!(o, "maxdelay = {}", self.maxdelay);
        o.push_str("# give up after this many failed connection attempts (unset: never)\n");
        toml_setting(
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
        toml_setting(
            &mut o,
            "umask",
            self.umask.map(|u| format!("0o{u:03o}")),
            "0o022",
        );
        o.push_str("# let the slave ask for a graceful shutdown: \"signal\" (SIGHUP) or \"file\" (shutdown.stamp)\n");
        toml_setting(
            &mut o,
            "allow_shutdown",
            self.allow_shutdown.as_deref().map(toml_string),
            "\"signal\"",
        );
        o.push_str("# encoding of command arguments (unset: the locale's, UTF-8 by default)\n");
        toml_setting(
            &mut o,
            "unicode_encoding",
            self.unicode_encoding.as_deref().map(toml_string),
            "\"utf-8\"",
        );
        o.push_str("# CPUs reported to the master (unset: detected)\n");
        toml_setting(&mut o, "numcpus", self.numcpus.map(|v| v.to_string()), "4");
        let _ = writeln!(o, "delete_leftover_dirs = {}", self.delete_leftover_dirs);
        if let Some(f) = &self.log_file {
            let _ = writeln!(o, "log_file = {}", toml_string(f));
        }
        if let Some(t) = self.connect_timeout {
            let _ = writeln!(o, "connect_timeout = {t:?}");
        }
        daemon::tac_rotation(&mut o, "slave", self.rotate_length, self.max_rotated_files);
        o
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
    let tac_path = basedir.join(TAC_FILE_NAME);
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
