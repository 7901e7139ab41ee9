//! `buildbot upgrade-master`: tac conversion, file upgrades, database migration.

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use buildbot_core::daemon::PidStatus;
use buildbot_core::daemon::TAC_FILE_NAME;
use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_db::{Backend, Db, SchemaStatus};

use crate::assets::{self, PUBLIC_HTML, Stock, TEMPLATES};
use crate::checkconfig::load_dir_config;
use crate::cli::PROGRAM;
use crate::create::write_file;
use crate::options::UpgradeOptions;
use crate::tac::{self, Loaded, MasterDir};

/// Refuses while the master of `basedir` runs.
pub fn refuse_if_running(basedir: &Path) -> Result<(), CliError> {
    if let Ok(PidStatus::Running(pid)) = PROGRAM.pid_file(basedir).status() {
        return Err(CliError::new(
            ErrorKind::AlreadyRunning,
            format!(
                "the buildmaster in '{}' is running (pid {pid}) - is this master still running? Stop it first with `buildbot stop`",
                basedir.display()
            ),
        ));
    }
    Ok(())
}

/// Installs one stock file; returns whether something was written.
fn upgrade_file(basedir: &Path, f: &Stock, replace: bool, q: bool) -> anyhow::Result<bool> {
    let path = basedir.join(f.path);
    match fs::read(&path) {
        Err(_) => {
            write_file(&path, f.bytes, 0o644)?;
            ui::say(q, &format!("creating {}", f.path));
            Ok(true)
        }
        Ok(old) if old == f.bytes => Ok(false),
        Ok(_) if replace => {
            write_file(&path, f.bytes, 0o644)?;
            ui::say(q, &format!("replacing {} (you had edited it)", f.path));
            Ok(true)
        }
        Ok(_) => {
            let new = basedir.join(format!("{}.new", f.path));
            if fs::read(&new).is_ok_and(|n| n == f.bytes) {
                return Ok(false);
            }
            write_file(&new, f.bytes, 0o644)?;
            ui::say(
                q,
                &format!(
                    "{} has been modified: leaving it alone and writing the new version as {}.new",
                    f.path, f.path
                ),
            );
            Ok(true)
        }
    }
}

fn upgrade_files(dir: &MasterDir, db_url: &str, o: &UpgradeOptions) -> anyhow::Result<bool> {
    let q = o.quiet;
    let b = &dir.basedir;
    let mut changed = false;
    for d in ["public_html", "templates"] {
        let p = b.join(d);
        if !p.is_dir() {
            fs::create_dir_all(&p).with_context(|| format!("cannot create '{}'", p.display()))?;
            ui::say(q, &format!("creating {d}/"));
            changed = true;
        }
    }
    for f in PUBLIC_HTML.iter().chain(TEMPLATES) {
        changed |= upgrade_file(b, f, o.replace, q)?;
    }
    let old_index = b.join("public_html/index.html");
    if old_index.is_file() {
        let root = b.join("templates/root.html");
        if root.exists() {
            ui::say(
                q,
                "public_html/index.html is not used any more and templates/root.html exists: leaving index.html alone",
            );
        } else {
            fs::rename(&old_index, &root)
                .with_context(|| format!("cannot move '{}'", old_index.display()))?;
            ui::say(
                q,
                "moving public_html/index.html to templates/root.html (the home page is a template now)",
            );
            changed = true;
        }
    }
    let sample = b.join("master.cfg.sample");
    let text = assets::sample_config(db_url);
    if fs::read_to_string(&sample).ok().as_deref() != Some(text.as_str()) {
        write_file(&sample, text.as_bytes(), 0o600)?;
        ui::say(q, "updating master.cfg.sample");
        changed = true;
    }
    Ok(changed)
}

fn seq(migration: &str) -> String {
    // m20251125_000002_codebases -> 000002
    migration.split('_').nth(1).unwrap_or(migration).to_owned()
}

async fn upgrade_db(dir: &MasterDir, url: &str, q: bool) -> Result<bool, CliError> {
    let fail = |e: buildbot_db::DbError| CliError::new(ErrorKind::Database, e.to_string());
    let db = Db::connect(url, &dir.basedir).await.map_err(fail)?;
    let status = db.schema_status().await.map_err(fail)?;
    let pending = match status {
        SchemaStatus::UpToDate => {
            let _ = db.close().await;
            ui::say(q, "database schema is up to date: nothing to migrate");
            return Ok(false);
        }
        SchemaStatus::Empty => None,
        SchemaStatus::NeedsUpgrade { pending } => Some(pending),
        SchemaStatus::TooNew { unknown } => {
            let _ = db.close().await;
            return Err(fail(buildbot_db::DbError::SchemaTooNew { unknown }));
        }
        _ => None,
    };
    let db = match (&pending, db.backend()) {
        (Some(p), Backend::Sqlite) if !p.is_empty() => {
            let file = std::path::PathBuf::from(db.target());
            let _ = db.close().await; // checkpoints the WAL into the file
            let first = seq(&p[0]);
            let old = first.parse::<u32>().map_or_else(
                |_| "old".to_owned(),
                |n| format!("{:06}", n.saturating_sub(1)),
            );
            let new = seq(&p[p.len() - 1]);
            let name = format!(
                "{}.bak-{old}-{new}",
                file.file_name()
                    .map_or("state.sqlite".into(), |n| n.to_string_lossy())
            );
            let backup = file.with_file_name(name);
            fs::copy(&file, &backup).map_err(|e| {
                CliError::new(
                    ErrorKind::Database,
                    format!(
                        "cannot back up '{}' to '{}': {e}",
                        file.display(),
                        backup.display()
                    ),
                )
            })?;
            ui::say(
                q,
                &format!("backed up the database to {}", backup.display()),
            );
            Db::connect(url, &dir.basedir).await.map_err(fail)?
        }
        _ => db,
    };
    ui::say(q, "upgrading database schema");
    let applied = db.upgrade().await;
    let _ = db.close().await;
    let applied = applied.map_err(fail)?;
    ui::say(
        q,
        &format!("database schema upgraded ({})", applied.join(", ")),
    );
    Ok(true)
}

pub fn upgrade_master(o: &UpgradeOptions) -> anyhow::Result<ExitCode> {
    let q = o.quiet;
    let loaded = tac::load_any(&o.basedir)?;
    refuse_if_running(&o.basedir)?;
    let (dir, python) = match loaded {
        Loaded::Master(d) => (d, None),
        Loaded::Python(text) => {
            let mut c = tac::convert_python(&text);
            if !c.tac.is_relocatable()
                && fs::canonicalize(&c.tac.basedir).ok() != fs::canonicalize(&o.basedir).ok()
            {
                ui::error(&format!(
                    "WARNING: the Python buildbot.tac names basedir '{}'; recording '{}' instead",
                    c.tac.basedir,
                    o.basedir.display()
                ));
                c.tac.basedir = o.basedir.display().to_string();
            }
            let dir = MasterDir {
                basedir: o.basedir.clone(),
                tac_path: o.basedir.join(TAC_FILE_NAME),
                tac: c.tac,
            };
            (dir, Some((text, c.skipped)))
        }
    };
    tac::check_location(&dir)?;
    // check the config before changing anything
    let cfg = load_dir_config(&dir)?;
    let (url, _) = cfg.config.db.effective_url(dir.tac.db_url.as_deref());

    let mut changed = false;
    if let Some((text, skipped)) = python {
        let keep = o.basedir.join("buildbot.tac.python");
        write_file(&keep, text.as_bytes(), 0o644)?;
        write_file(&dir.tac_path, dir.tac.render().as_bytes(), 0o644)?;
        ui::say(
            q,
            "converted the Python buildbot.tac to TOML (the original is kept as buildbot.tac.python)",
        );
        for (line, stmt) in skipped {
            ui::error(&format!(
                "WARNING: buildbot.tac.python:{line}: not carried over: {stmt}"
            ));
        }
        changed = true;
    }
    changed |= upgrade_files(&dir, &url, o)?;
    ui::say(
        q,
        &format!(
            "upgrading the database ({})",
            buildbot_db::mask_password(&url)
        ),
    );
    changed |= async_std::task::block_on(upgrade_db(&dir, &url, q))?;
    if o.basedir.join("changes.pck").exists() {
        ui::say(
            q,
            "found changes.pck (0.7-era change history): it was not imported (pickles are not supported); it is left alone",
        );
    }
    if !changed {
        ui::say(q, "nothing to do: this buildmaster is already up to date");
    }
    ui::say(q, "upgrade complete");
    Ok(ExitCode::SUCCESS)
}
