//! `buildbot create-master`: the base directory, its tac, the sample config, the static
//! files and the database.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use buildbot_core::daemon::TAC_FILE_NAME;
use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_db::Db;

use crate::assets::{self, PUBLIC_HTML, Stock, TEMPLATES};
use crate::options::CreateOptions;

/// Writes `bytes` to `path` with `mode`.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write '{}'", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of '{}'", path.display()))
}

/// Creates `dir` (relative to `basedir`) holding `files`, or says it is kept.
fn install_dir(
    basedir: &Path,
    dir: &str,
    files: &[Stock],
    quiet: bool,
    written: &mut Vec<String>,
) -> anyhow::Result<()> {
    let path = basedir.join(dir);
    if path.exists() {
        ui::say(quiet, &format!("{dir}/ already exists: not replacing"));
        return Ok(());
    }
    fs::create_dir(&path).with_context(|| format!("cannot create '{}'", path.display()))?;
    for f in files {
        write_file(&basedir.join(f.path), f.bytes, 0o644)?;
    }
    ui::say(quiet, &format!("populated {dir}/"));
    written.push(format!("{dir}/"));
    Ok(())
}

/// Makes sure a database at `url` has the current schema; returns the applied migrations.
pub async fn init_db(url: &str, basedir: &Path) -> Result<Vec<String>, buildbot_db::DbError> {
    let db = Db::connect(url, basedir).await?;
    let applied = db.upgrade().await;
    let _ = db.close().await;
    applied
}

pub fn create_master(o: &CreateOptions) -> anyhow::Result<ExitCode> {
    let q = o.quiet;
    let tac_path = o.basedir.join(TAC_FILE_NAME);
    let mut written = Vec::new();
    if o.basedir.exists() {
        if !o.basedir.is_dir() {
            return Err(CliError::new(
                ErrorKind::Failure,
                format!("'{}' exists and is not a directory", o.basedir.display()),
            )
            .into());
        }
        if tac_path.exists() && !o.force {
            return Err(CliError::new(
                ErrorKind::Failure,
                format!(
                    "'{}' already holds a buildmaster (buildbot.tac exists); use `buildbot create-master -f` to re-use it, or `buildbot upgrade-master` to upgrade it",
                    o.basedir.display()
                ),
            )
            .into());
        }
        if o.force {
            ui::say(q, "updating existing installation");
        }
    } else {
        fs::create_dir_all(&o.basedir)
            .with_context(|| format!("cannot create '{}'", o.basedir.display()))?;
        ui::say(q, &format!("mkdir {}", o.basedir.display()));
    }

    let text = o.tac.render();
    // the tac records the database URL: keep it private when that holds a password
    let tac_mode = if buildbot_db::mask_password(&o.db_url) == o.db_url {
        0o644
    } else {
        0o600
    };
    if tac_path.exists() {
        let old = fs::read_to_string(&tac_path).unwrap_or_default();
        if old == text {
            ui::say(q, "buildbot.tac already exists and is correct");
        } else {
            ui::say(
                q,
                "not touching existing buildbot.tac; creating buildbot.tac.new instead",
            );
            write_file(
                &o.basedir.join("buildbot.tac.new"),
                text.as_bytes(),
                tac_mode,
            )?;
            written.push("buildbot.tac.new".to_owned());
        }
    } else {
        write_file(&tac_path, text.as_bytes(), tac_mode)?;
        ui::say(q, "creating buildbot.tac");
        written.push("buildbot.tac".to_owned());
    }

    let sample = o.basedir.join("master.cfg.sample");
    ui::say(
        q,
        if sample.exists() {
            "updating master.cfg.sample"
        } else {
            "creating master.cfg.sample"
        },
    );
    write_file(&sample, assets::sample_config(&o.db_url).as_bytes(), 0o600)?;
    written.push("master.cfg.sample".to_owned());

    install_dir(&o.basedir, "public_html", PUBLIC_HTML, q, &mut written)?;
    install_dir(&o.basedir, "templates", TEMPLATES, q, &mut written)?;

    let masked = buildbot_db::mask_password(&o.db_url);
    ui::say(q, &format!("creating database ({masked})"));
    match async_std::task::block_on(init_db(&o.db_url, &o.basedir)) {
        Ok(applied) if applied.is_empty() => ui::say(q, "database schema is up to date"),
        Ok(_) => ui::say(q, "database schema created"),
        Err(e) => {
            let kind = ErrorKind::Database;
            return Err(CliError::new(
                kind,
                format!(
                    "{e}\nThe buildmaster directory '{}' was only partly set up: files written: {}; the database was not initialised.\nFix the database (it must exist and be reachable), then run `buildbot create-master -f` again, or `buildbot upgrade-master` once master.cfg names it.",
                    o.basedir.display(),
                    if written.is_empty() { "none".to_owned() } else { written.join(", ") }
                ),
            )
            .into());
        }
    }
    ui::say(
        q,
        &format!("buildmaster configured in {}", o.basedir.display()),
    );
    Ok(ExitCode::SUCCESS)
}
