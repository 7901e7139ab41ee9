//! The master's `buildbot.tac`: a TOML file naming the base directory, the config file,
//! the database URL, the umask and the log rotation.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use buildbot_core::daemon::ui::{CliError, ErrorKind};
use buildbot_core::daemon::{self, Rotation, TAC_FILE_NAME, TacText, toml_setting, toml_string};
use serde::Deserialize;

use crate::cli::PROGRAM;

/// Marker value of `application` in a master tac.
pub const MASTER_MARKER: &str = "buildmaster";

/// Everything a master tac holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterTac {
    pub application: String,
    pub basedir: String,
    #[serde(default = "default_configfile")]
    pub configfile: String,
    #[serde(default)]
    pub db_url: Option<String>,
    #[serde(default, deserialize_with = "buildbot_core::daemon::deserialize_umask")]
    pub umask: Option<u32>,
    #[serde(default)]
    pub rotate_length: Option<u64>,
    #[serde(default)]
    pub max_rotated_files: Option<u32>,
    /// Log file name relative to basedir (default `twistd.log`); `"-"`: stderr only with
    /// `--nodaemon` (D3).
    #[serde(default)]
    pub log_file: Option<String>,
}

fn default_configfile() -> String {
    "master.cfg".into()
}

impl MasterTac {
    /// The tac text, with comments explaining each setting.
    pub fn render(&self) -> String {
        let mut o = daemon::tac_head("master", "buildbot", &self.application, &self.basedir);
        o.push_str("# the configuration file, relative to basedir or absolute\n");
        let _ = writeln!(o, "configfile = {}", toml_string(&self.configfile));
        o.push_str(
            "# database used when master.cfg has no [db] db_url (master.cfg wins when it has one)\n",
        );
        let db_url = self.db_url.as_deref().map(toml_string);
        toml_setting(&mut o, "db_url", db_url, "\"sqlite:///state.sqlite\"");
        o.push_str("# umask of the master (unset: 077 as a daemon, inherited with --nodaemon)\n");
        let umask = self.umask.map(|u| format!("\"0o{u:03o}\""));
        toml_setting(&mut o, "umask", umask, "\"0o022\"");
        if let Some(f) = &self.log_file {
            let _ = writeln!(o, "log_file = {}", toml_string(f));
        }
        daemon::tac_rotation(&mut o, "master", self.rotate_length, self.max_rotated_files);
        o
    }

    /// Whether the tac records "the directory holding this file".
    pub fn is_relocatable(&self) -> bool {
        self.basedir == "."
    }

    /// The log rotation the tac asks for.
    pub fn rotation(&self) -> Rotation {
        Rotation::from_tac(self.rotate_length, self.max_rotated_files)
    }
}

/// A master directory with its parsed tac.
#[derive(Debug, Clone)]
pub struct MasterDir {
    pub basedir: PathBuf,
    pub tac_path: PathBuf,
    pub tac: MasterTac,
}

impl MasterDir {
    /// The config file named by the tac, resolved against the basedir.
    pub fn config_path(&self) -> PathBuf {
        self.basedir.join(&self.tac.configfile)
    }
}

/// What `buildbot.tac` of a directory turned out to be.
pub enum Loaded {
    Master(MasterDir),
    /// A Python tac (0.8 / 4.x master), with its text.
    Python(String),
}

fn invalid(basedir: &Path, why: &str) -> CliError {
    CliError::new(
        ErrorKind::InvalidDirectory,
        format!(
            "invalid buildmaster directory '{}': {why}",
            basedir.display()
        ),
    )
}

/// Reads the tac of `basedir`, accepting a Python one (for `upgrade-master`).
pub fn load_any(basedir: &Path) -> Result<Loaded, CliError> {
    if !basedir.is_dir() {
        return Err(invalid(basedir, "no such directory"));
    }
    let tac_path = basedir.join(TAC_FILE_NAME);
    if !tac_path.is_file() {
        return Err(invalid(
            basedir,
            "no buildbot.tac (create one with `buildbot create-master`)",
        ));
    }
    match daemon::read_tac(&tac_path) {
        Ok(TacText::Toml { text, table }) => {
            match table.get("application").and_then(|v| v.as_str()) {
                Some(MASTER_MARKER) => {}
                Some("buildslave") => {
                    return Err(invalid(
                        basedir,
                        "this is a buildslave directory; use `buildslave start` for it",
                    ));
                }
                _ => {
                    return Err(invalid(
                        basedir,
                        "buildbot.tac does not declare application = \"buildmaster\"",
                    ));
                }
            }
            let tac = daemon::parse_toml::<MasterTac>(&tac_path, &text)
                .map_err(|e| CliError::new(ErrorKind::InvalidDirectory, e.to_string()))?;
            Ok(Loaded::Master(MasterDir {
                basedir: basedir.to_path_buf(),
                tac_path,
                tac,
            }))
        }
        Ok(TacText::Python(text)) => {
            if text.contains("Application('buildslave')")
                || text.contains("Application(\"buildslave\")")
                || text.contains("Application('buildbot-worker')")
                || text.contains("buildslave.bot")
                || text.contains("buildbot_worker.bot")
            {
                return Err(invalid(
                    basedir,
                    "this is a buildslave directory; use `buildslave start` for it",
                ));
            }
            Ok(Loaded::Python(text))
        }
        Ok(_) => Err(invalid(basedir, "unrecognised buildbot.tac")),
        Err(e) => Err(CliError::new(ErrorKind::InvalidDirectory, e.to_string())),
    }
}

/// Checks that `basedir` is a (TOML) master directory and reads its tac.
pub fn load(basedir: &Path) -> Result<MasterDir, CliError> {
    match load_any(basedir)? {
        Loaded::Master(d) => Ok(d),
        Loaded::Python(_) => Err(CliError::new(
            ErrorKind::InvalidDirectory,
            format!(
                "this buildbot.tac is Python; run `buildbot upgrade-master {}` to convert it",
                basedir.display()
            ),
        )),
    }
}

/// Refuses a non-relocatable directory that was moved (S21).
pub fn check_location(dir: &MasterDir) -> Result<(), CliError> {
    PROGRAM.check_location(&dir.tac_path, &dir.tac.basedir, &dir.basedir)
}

/// A Python literal of a simple assignment in an old tac.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    Str(String),
    Int(i64),
    None,
    /// `os.path.abspath(os.path.dirname(__file__))` or similar: the tac's directory.
    Here,
}

fn literal(s: &str) -> Option<Py> {
    let s = s.split(" #").next().unwrap_or(s).trim();
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("dirname(__file__)")
        || compact.contains("dirname(os.path.abspath(__file__))")
    {
        return Some(Py::Here);
    }
    if s == "None" {
        return Some(Py::None);
    }
    let unprefixed = s.trim_start_matches(['r', 'u', 'R', 'U']);
    for quote in ['\'', '"'] {
        if unprefixed.len() >= 2 && unprefixed.starts_with(quote) && unprefixed.ends_with(quote) {
            return Some(Py::Str(unprefixed[1..unprefixed.len() - 1].to_owned()));
        }
    }
    if let Some(oct) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        return i64::from_str_radix(oct, 8).ok().map(Py::Int);
    }
    if s.len() > 1 && s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()) {
        return i64::from_str_radix(&s[1..], 8).ok().map(Py::Int);
    }
    s.parse::<i64>().ok().map(Py::Int)
}

/// The result of converting a Python tac.
#[derive(Debug)]
pub struct Converted {
    pub tac: MasterTac,
    /// Statements (line, text) that were not carried over.
    pub skipped: Vec<(usize, String)>,
}

/// Converts a Python master tac (0.8 or 4.x) by reading its simple assignments.
pub fn convert_python(text: &str) -> Converted {
    let mut tac = MasterTac {
        application: MASTER_MARKER.into(),
        basedir: ".".into(),
        configfile: default_configfile(),
        db_url: None,
        umask: None,
        rotate_length: None,
        max_rotated_files: None,
        log_file: None,
    };
    let mut skipped = Vec::new();
    const PLUMBING: &[&str] = &[
        "application",
        "m",
        "BuildMaster",
        "logfile",
        "configfile_",
        "observer",
    ];
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t.is_empty()
            || t.starts_with('#')
            || t.starts_with(char::is_whitespace)
            || t.starts_with("import ")
            || t.starts_with("from ")
            || t.starts_with("if ")
            || t.starts_with("else")
            || t.starts_with("try:")
            || t.starts_with("except")
            || t.starts_with(')')
            || t.contains("setServiceParent")
            || t.contains("setComponent")
        {
            continue;
        }
        let Some((name, value)) = t.split_once('=') else {
            skipped.push((n + 1, t.to_owned()));
            continue;
        };
        let name = name.trim();
        if PLUMBING.contains(&name) || name.starts_with("m.") {
            continue;
        }
        let Some(v) = literal(value) else {
            skipped.push((n + 1, t.to_owned()));
            continue;
        };
        match (name, v) {
            ("basedir", Py::Here) => tac.basedir = ".".into(),
            ("basedir", Py::Str(s)) => {
                tac.basedir = if s == "." {
                    s
                } else {
                    s.trim_end_matches('/').to_owned()
                }
            }
            ("configfile", Py::Str(s)) => tac.configfile = s,
            ("rotateLength", Py::Int(i)) if i > 0 => tac.rotate_length = Some(i as u64),
            ("maxRotatedFiles", Py::Int(i)) if i >= 0 => tac.max_rotated_files = Some(i as u32),
            ("maxRotatedFiles", Py::None) => tac.max_rotated_files = None,
            ("umask", Py::Int(i)) if (0..=0o777).contains(&i) => tac.umask = Some(i as u32),
            ("umask", Py::None) => tac.umask = None,
            ("rotateLength", Py::None) => tac.rotate_length = None,
            _ => skipped.push((n + 1, t.to_owned())),
        }
    }
    Converted { tac, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_parses_back() {
        let tac = MasterTac {
            application: MASTER_MARKER.into(),
            basedir: "/srv/m \"x\"".into(),
            configfile: "master.cfg".into(),
            db_url: Some("postgresql://u:p@h/db".into()),
            umask: Some(0o22),
            rotate_length: Some(10_000_000),
            max_rotated_files: Some(10),
            log_file: None,
        };
        let back: MasterTac = toml::from_str(&tac.render()).unwrap();
        assert_eq!(back, tac);
        let mut norot = tac.clone();
        norot.rotate_length = None;
        norot.max_rotated_files = None;
        let text = norot.render();
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("rotate_length") || l.starts_with("max_rotated_files"))
        );
        assert_eq!(toml::from_str::<MasterTac>(&text).unwrap(), norot);
    }

    #[test]
    fn python_tac() {
        let text = "import os\n\nfrom twisted.application import service\nfrom buildbot.master import BuildMaster\n\nbasedir = r'/srv/bb'\nrotateLength = 10000000\nmaxRotatedFiles = 10\n\n# if this is a relocatable tac file, get the directory containing the TAC\nif basedir == '.':\n    import os.path\n    basedir = os.path.abspath(os.path.dirname(__file__))\n\napplication = service.Application('buildmaster')\ntry:\n  from twisted.python.logfile import LogFile\nexcept ImportError:\n  pass\n\nconfigfile = r'master.cfg'\numask = 022\nm = BuildMaster(basedir, configfile, umask)\nm.setServiceParent(application)\nfoo = bar()\n";
        let c = convert_python(text);
        assert_eq!(c.tac.basedir, "/srv/bb");
        assert_eq!(c.tac.rotate_length, Some(10_000_000));
        assert_eq!(c.tac.max_rotated_files, Some(10));
        assert_eq!(c.tac.umask, Some(0o22));
        assert_eq!(c.tac.configfile, "master.cfg");
        assert_eq!(c.skipped.len(), 1, "{:?}", c.skipped);
    }
}
