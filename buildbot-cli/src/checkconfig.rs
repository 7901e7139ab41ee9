//! `buildbot checkconfig [FILE|BASEDIR]`: load and check a config without starting anything.

use std::path::PathBuf;
use std::process::ExitCode;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::master::config::{ConfigError, LoadedConfig, Registry, check_config};

use crate::options::CheckConfigOptions;
use crate::tac::{self, MasterDir};

/// Every problem of `e`, one per line, under "Configuration Errors:".
pub fn format_errors(e: &ConfigError) -> String {
    let mut out = String::from("Configuration Errors:");
    for issue in e.issues() {
        out.push_str("\n  ");
        out.push_str(&issue.to_string());
    }
    out
}

/// Loads the config of a master directory, printing warnings (and the S39 URL warning).
pub fn load_dir_config(dir: &MasterDir) -> Result<LoadedConfig, CliError> {
    let path = dir.config_path();
    load_file(&path, dir.tac.db_url.as_deref())
}

fn load_file(path: &std::path::Path, tac_url: Option<&str>) -> Result<LoadedConfig, CliError> {
    let loaded = check_config(path, &Registry::new()).map_err(|e| {
        CliError::new(
            ErrorKind::Config,
            format!(
                "{}\nerror while parsing config file {}",
                format_errors(&e),
                path.display()
            ),
        )
    })?;
    // `[www]` auth/authz/change hook tables are the web server's to read.
    let basedir = path.parent().unwrap_or(std::path::Path::new("."));
    buildbot_web::check_config(&loaded.config.www, basedir).map_err(|m| {
        CliError::new(
            ErrorKind::Config,
            format!(
                "Configuration Errors:\n  {m}\nerror while parsing config file {}",
                path.display()
            ),
        )
    })?;
    for w in &loaded.warnings {
        ui::error(&format!("WARNING: {w}"));
    }
    if let (_, Some(w)) = loaded.config.db.effective_url(tac_url) {
        ui::error(&format!("WARNING: {w}"));
    }
    Ok(loaded)
}

pub fn checkconfig(o: &CheckConfigOptions) -> anyhow::Result<ExitCode> {
    let (path, tac_url): (PathBuf, Option<String>) = if o.target.is_dir() {
        let dir = tac::load(&o.target)?;
        (dir.config_path(), dir.tac.db_url.clone())
    } else if o.target.exists() {
        (o.target.clone(), None)
    } else {
        return Err(CliError::new(
            ErrorKind::Config,
            format!("no such file or directory: '{}'", o.target.display()),
        )
        .into());
    };
    load_file(&path, tac_url.as_deref())?;
    ui::say(o.quiet, "Config file is good!");
    Ok(ExitCode::SUCCESS)
}
