//! `buildbot cleanupdb`: re-pack log chunks and reclaim space on a stopped master.

use std::process::ExitCode;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};
use buildbot_db::{Backend, Db, LogId, Query};

use crate::checkconfig::load_dir_config;
use crate::options::CleanupDbOptions;
use crate::tac;
use crate::upgrade::refuse_if_running;

pub fn cleanupdb(o: &CleanupDbOptions) -> anyhow::Result<ExitCode> {
    let dir = tac::load(&o.basedir)?;
    tac::check_location(&dir)?;
    refuse_if_running(&dir.basedir)?;
    let cfg = load_dir_config(&dir)?;
    let (url, _) = cfg.config.db.effective_url(dir.tac.db_url.as_deref());
    let fail = |e: buildbot_db::DbError| CliError::new(ErrorKind::Database, e.to_string());
    async_std::task::block_on(async {
        let mut db = Db::connect(&url, &dir.basedir).await.map_err(fail)?;
        db.check_schema().await.map_err(fail)?;
        db.set_log_compression(cfg.config.log_compression_method);
        let size = |db: &Db| {
            (db.backend() == Backend::Sqlite)
                .then(|| std::fs::metadata(db.target()).map(|m| m.len()).ok())
                .flatten()
        };
        let before = size(&db);
        let logs = db.list_logs(&Query::new()).await.map_err(fail)?;
        ui::say(
            o.quiet,
            &format!("re-packing the chunks of {} logs", logs.len()),
        );
        let mut groups = 0;
        for log in &logs {
            let id: LogId = log.logid;
            let (chunks, _) = db.log_chunk_stats(id).await.map_err(fail)?;
            if chunks > 1 || o.force {
                groups += db.compress_log(id).await.map_err(fail)?;
            }
        }
        ui::say(o.quiet, &format!("rewrote {groups} chunk groups"));
        ui::say(o.quiet, "reclaiming free space (VACUUM)");
        db.vacuum().await.map_err(fail)?;
        let after = size(&db);
        let _ = db.close().await;
        if let (Some(b), Some(a)) = (before, after) {
            ui::say(o.quiet, &format!("database size: {b} -> {a} bytes"));
        }
        ui::say(o.quiet, "cleanup complete");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
