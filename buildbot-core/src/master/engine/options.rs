//! How to run a master: what is not in `master.cfg`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::BuilderStrategy;

/// How to run a master (what is not in `master.cfg`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MasterOptions {
    /// Base directory (SQLite paths and `masterdest`s are relative to it).
    pub basedir: PathBuf,
    /// Database URL overriding `[db] db_url` (e.g. from `buildbot.tac`).
    pub db_url: Option<String>,
    /// Create or upgrade the schema instead of refusing an out-of-date database.
    pub upgrade_db: bool,
    /// Worker listener address overriding `[protocols.msgpack]` (`127.0.0.1:0` in tests).
    pub worker_bind: Option<String>,
    /// Master name (default `<hostname>:<basedir>`).
    pub name: Option<String>,
    /// Heartbeat interval (default 60 s).
    pub heartbeat_interval: Duration,
    /// The code of the builder strategies `master.cfg` names (`nextWorker`, `nextBuild`,
    /// `canStartBuild`).
    pub strategies: BTreeMap<String, BuilderStrategy>,
}

impl MasterOptions {
    /// Options for `basedir` with the defaults.
    pub fn new(basedir: impl Into<PathBuf>) -> Self {
        MasterOptions {
            basedir: basedir.into(),
            db_url: None,
            upgrade_db: false,
            worker_bind: None,
            name: None,
            heartbeat_interval: Duration::from_secs(60),
            strategies: BTreeMap::new(),
        }
    }

    /// Gives the code for the strategy `name` (declare the name for the loader with
    /// [`Registry::register_strategy`](crate::master::config::Registry::register_strategy)).
    pub fn strategy(mut self, name: impl Into<String>, s: BuilderStrategy) -> Self {
        self.strategies.insert(name.into(), s);
        self
    }

    /// Sets the database URL override.
    pub fn db_url(mut self, url: impl Into<String>) -> Self {
        self.db_url = Some(url.into());
        self
    }

    /// Create/upgrade the schema at start.
    pub fn upgrade_db(mut self, on: bool) -> Self {
        self.upgrade_db = on;
        self
    }

    /// Sets the worker listener address.
    pub fn worker_bind(mut self, addr: impl Into<String>) -> Self {
        self.worker_bind = Some(addr.into());
        self
    }

    /// Sets the master name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
