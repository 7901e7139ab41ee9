//! `buildslave create-slave`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_core::daemon::{self, TAC_FILE_NAME, TacText};

use crate::options::CreateOptions;

const INFO_ADMIN: &str = "Your Name Here <admin@youraddress.invalid>\n";
const INFO_HOST: &str = "Please put a description of this build host here\n";

/// Writes `text` to `path` with mode 0600 (the tac holds the password).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create '{}'", tmp.display()))?;
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod '{}'", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write '{}'", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot create '{}'", path.display()))
}

pub fn create_slave(o: &CreateOptions) -> anyhow::Result<ExitCode> {
    let quiet = o.quiet;
    if o.usepty_given {
        ui::error("WARNING: --usepty is deprecated: set usePTY on the master's steps instead");
    }
    let base = &o.basedir;
    let tac_path = base.join(TAC_FILE_NAME);
    let new_text = o.tac.render();
    if base.exists() {
        if !base.is_dir() {
            return Err(CliError::new(
                ErrorKind::Failure,
                format!("'{}' exists and is not a directory", base.display()),
            )
            .into());
        }
        if tac_path.exists() {
            if let Ok(TacText::Toml { table, .. }) = daemon::read_tac(&tac_path)
                && table.get("application").and_then(|v| v.as_str()) == Some("buildmaster")
            {
                return Err(CliError::new(
                    ErrorKind::InvalidDirectory,
                    format!(
                        "'{}' is a buildmaster directory; refusing to make it a buildslave",
                        base.display()
                    ),
                )
                .into());
            }
            if !o.force {
                return Err(CliError::new(
                    ErrorKind::Failure,
                    format!(
                        "'{}' already holds a buildbot.tac; use -f to re-use it (existing files are kept) or `buildslave upgrade-slave` to convert an old one",
                        base.display()
                    ),
                )
                .into());
            }
            ui::say(quiet, "updating existing installation");
            let old = fs::read_to_string(&tac_path).unwrap_or_default();
            if old == new_text {
                ui::say(quiet, "buildbot.tac already exists and is correct");
            } else {
                ui::say(quiet, "not touching existing buildbot.tac");
                ui::say(quiet, "creating buildbot.tac.new instead");
                write_private(&base.join("buildbot.tac.new"), &new_text)?;
            }
        } else {
            write_private(&tac_path, &new_text)?;
            ui::say(quiet, &format!("created {}", tac_path.display()));
        }
    } else {
        fs::create_dir_all(base)
            .with_context(|| format!("cannot create directory '{}'", base.display()))?;
        ui::say(quiet, &format!("mkdir {}", base.display()));
        write_private(&tac_path, &new_text)?;
        ui::say(quiet, &format!("created {}", tac_path.display()));
    }

    let info = base.join("info");
    if !info.exists() {
        fs::create_dir(&info).with_context(|| format!("cannot create '{}'", info.display()))?;
        ui::say(quiet, &format!("mkdir {}", info.display()));
    }
    for (name, text) in [("admin", INFO_ADMIN), ("host", INFO_HOST)] {
        let p = info.join(name);
        if p.exists() || p.is_symlink() {
            continue;
        }
        fs::write(&p, text).with_context(|| format!("cannot create '{}'", p.display()))?;
        ui::say(
            quiet,
            &format!("Creating info/{name}, you need to edit it appropriately."),
        );
    }
    if !info.join("access_uri").exists() {
        ui::say(
            quiet,
            "Not creating info/access_uri - add it if you wish (a URL where this host can be reached, e.g. ssh://buildslave.example.org)",
        );
    }
    ui::say(
        quiet,
        &format!("Please edit the files in {} appropriately.", info.display()),
    );
    ui::say(
        quiet,
        &format!("buildslave configured in {}", base.display()),
    );
    Ok(ExitCode::SUCCESS)
}
