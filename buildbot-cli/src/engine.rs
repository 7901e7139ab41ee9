//! The running master as the CLI sees it: `buildbot_core`'s engine behind the few calls
//! `start` needs (start with a config, reconfig, stop).

use std::net::SocketAddr;
use std::path::Path;

use buildbot_core::master::config::MasterConfig;
use buildbot_core::master::{Master, MasterHandle, MasterOptions};

/// A started master.
pub struct Engine {
    master: MasterHandle,
    web: Option<buildbot_web::WebServer>,
}

impl Engine {
    /// Starts the master on the database at `db_url` (already checked to be up to date).
    pub async fn start(cfg: &MasterConfig, db_url: &str, basedir: &Path) -> Result<Engine, String> {
        let opts = MasterOptions::new(basedir).db_url(db_url);
        let master = Master::start(cfg.clone(), opts)
            .await
            .map_err(|e| e.to_string())?;
        let web = match cfg.www.port {
            Some(port) => {
                let host = cfg.www.listen.as_deref().unwrap_or("0.0.0.0");
                let addr = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                match buildbot_web::serve(master.clone(), &addr).await {
                    Ok(w) => Some(w),
                    Err(e) => {
                        let _ = master.stop().await;
                        return Err(e.to_string());
                    }
                }
            }
            None => None,
        };
        Ok(Engine { master, web })
    }

    /// The bound worker listener.
    pub fn worker_addr(&self) -> Option<SocketAddr> {
        Some(self.master.worker_addr())
    }

    /// Applies a new (valid) configuration.
    pub async fn reconfig(&mut self, cfg: &MasterConfig) -> Result<(), String> {
        self.master
            .reconfig(cfg.clone())
            .await
            .map_err(|e| e.to_string())
    }

    /// Stops everything (SIGTERM): running builds are interrupted and re-queued.
    pub async fn stop(mut self) {
        if let Some(w) = self.web.take() {
            w.stop().await;
        }
        if let Err(e) = self.master.stop().await {
            log::error!("error while stopping: {e}");
        }
        close_db(&self.master).await;
    }

    /// Stops once no build runs (SIGUSR1).
    pub async fn stop_when_idle(mut self) {
        if let Some(w) = self.web.take() {
            w.stop().await;
        }
        if let Err(e) = self.master.stop_when_idle().await {
            log::error!("error while stopping: {e}");
        }
        close_db(&self.master).await;
    }
}

/// Closes the master's database (an SQLite file's WAL is then removed).
async fn close_db(master: &MasterHandle) {
    if let Err(e) = master.db().clone().close().await {
        log::warn!("closing the database: {e}");
    }
}
