//! The typed configuration: what the TOML loader produces and what an embedder builds in code.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::components::{ChangeSourceConfig, ReporterConfig, SchedulerConfig};
use super::error::ConfigError;
use super::steps::{LockAccess, StepConfig};
use crate::master::properties::{Properties, Renderable};

/// Buildbot's default `buildbotURL`.
pub const DEFAULT_BUILDBOT_URL: &str = "http://localhost:8080/";

pub use buildbot_db::LogCompression;

/// The database URL used when neither `master.cfg` nor `buildbot.tac` names one.
pub const DEFAULT_DB_URL: &str = "sqlite:///state.sqlite";

/// `[db]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbConfig {
    /// `db_url` (also `url`); `None` means "the URL recorded in `buildbot.tac`, else
    /// `sqlite:///state.sqlite`" (S39).
    pub db_url: Option<String>,
}

impl DbConfig {
    /// The URL to use (S39): `[db] db_url` from `master.cfg` wins, else the URL recorded in
    /// the tac by `create-master --db`, else [`DEFAULT_DB_URL`]. The second value is a
    /// warning (passwords masked) when both name a URL and they differ.
    pub fn effective_url(&self, tac_url: Option<&str>) -> (String, Option<String>) {
        match (&self.db_url, tac_url) {
            (Some(cfg), Some(tac)) if cfg != tac => (
                cfg.clone(),
                Some(format!(
                    "the database URL in master.cfg ({}) differs from the one in buildbot.tac ({}); using the one in master.cfg",
                    buildbot_db::mask_password(cfg),
                    buildbot_db::mask_password(tac)
                )),
            ),
            (Some(cfg), _) => (cfg.clone(), None),
            (None, Some(tac)) => (tac.to_owned(), None),
            (None, None) => (DEFAULT_DB_URL.to_owned(), None),
        }
    }
}

/// One listener of `[protocols.*]`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortConfig {
    /// TCP port.
    pub port: u16,
    /// Interface to listen on (`None`: all).
    pub interface: Option<String>,
}

impl PortConfig {
    /// A listener on `port`, all interfaces.
    pub fn new(port: u16) -> Self {
        PortConfig {
            port,
            interface: None,
        }
    }
}

/// `[protocols]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolsConfig {
    /// `[protocols.msgpack]` (alias `msgpack_experimental_v7`): the worker listener.
    pub msgpack: Option<PortConfig>,
    /// `[protocols.pb]`: the port `buildbot sendchange` talks to.
    pub pb: Option<PortConfig>,
}

/// `[www]`.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct WwwConfig {
    /// HTTP port; `None` disables the web server.
    pub port: Option<u16>,
    /// Interface to listen on (`None`: all).
    pub listen: Option<String>,
    /// `auth` table, kept as given for the web layer.
    pub auth: Option<Value>,
    /// `authz` table, kept as given for the web layer.
    pub authz: Option<Value>,
    /// Other `www` settings (`plugins`, `change_hook_dialects`, `logfileName`, ...), kept as
    /// given for the web layer.
    pub extra: BTreeMap<String, Value>,
    /// The web server's limits on what a client can make it hold (`max_connections`, ...).
    pub limits: WwwLimits,
}

/// `[www]`'s limits on connections, timeouts and request bodies; `None` keeps the web
/// server's default (`buildbot_web` documents each default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WwwLimits {
    /// `max_connections`: open connections in total (also capped below the process's
    /// file-descriptor limit).
    pub max_connections: Option<u32>,
    /// `max_connections_per_ip`: open connections from one client address (an IPv6
    /// client's /64).
    pub max_connections_per_ip: Option<u32>,
    /// `header_timeout` (seconds): time to send a request head, or to start the next
    /// request on a kept-alive connection.
    pub header_timeout: Option<Duration>,
    /// `body_timeout` (seconds): time to send a request body once its head is read.
    pub body_timeout: Option<Duration>,
    /// `change_hook_max_body` (bytes): the largest change hook payload accepted.
    pub change_hook_max_body: Option<u64>,
}

/// `[[workers]]`: one worker the master accepts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Name (an identifier of at most 50 characters).
    pub name: String,
    /// Password.
    pub password: String,
    /// Maximum simultaneous builds (`None`: unlimited).
    pub max_builds: Option<u32>,
    /// Worker properties.
    pub properties: Properties,
    /// Keepalive interval in seconds (`None`: Buildbot's default, 3600).
    pub keepalive_interval: Option<u64>,
}

impl WorkerConfig {
    /// A worker with a name and password, other settings default.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        WorkerConfig {
            name: name.into(),
            password: password.into(),
            max_builds: None,
            properties: Properties::new(),
            keepalive_interval: None,
        }
    }

    /// Sets `max_builds`.
    pub fn max_builds(mut self, n: u32) -> Self {
        self.max_builds = Some(n);
        self
    }
}

/// Buildbot's `safeTranslate`: the default builddir of a builder.
pub fn safe_translate(name: &str) -> String {
    name.chars()
        .map(|c| {
            if "\t !#$%&'()*+,./:;<=>?@[\\]^{|}~".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// `[[builders]]`: one builder.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct BuilderConfig {
    /// Name.
    pub name: String,
    /// Workers that may run its builds.
    pub workernames: Vec<String>,
    /// Master-side directory (default: the name through [`safe_translate`]).
    pub builddir: String,
    /// Worker-side directory (default: `builddir`).
    pub workerbuilddir: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Project name.
    pub project: Option<String>,
    /// Builder properties.
    pub properties: Properties,
    /// Environment for every shell step.
    pub env: BTreeMap<String, Renderable>,
    /// `collapseRequests` (`None`: the global setting).
    pub collapse_requests: Option<bool>,
    /// Builder priority (higher first).
    pub priority: i64,
    /// Name of a registered `canStartBuild` strategy.
    pub can_start_build: Option<String>,
    /// Name of a registered `nextWorker` strategy.
    pub next_worker: Option<String>,
    /// Name of a registered `nextBuild` strategy.
    pub next_build: Option<String>,
    /// Locks held for the whole build.
    pub locks: Vec<LockAccess>,
    /// Steps, in order (Buildbot's `factory`).
    pub steps: Vec<StepConfig>,
}

impl BuilderConfig {
    /// Starts building a builder config.
    pub fn builder(name: impl Into<String>) -> BuilderConfigBuilder {
        BuilderConfigBuilder {
            name: name.into(),
            workernames: Vec::new(),
            builddir: None,
            workerbuilddir: None,
            tags: Vec::new(),
            description: None,
            project: None,
            properties: Properties::new(),
            env: BTreeMap::new(),
            collapse_requests: None,
            priority: 0,
            can_start_build: None,
            next_worker: None,
            next_build: None,
            locks: Vec::new(),
            steps: Vec::new(),
        }
    }
}

/// Builder for [`BuilderConfig`].
#[derive(Clone, Debug)]
pub struct BuilderConfigBuilder {
    name: String,
    workernames: Vec<String>,
    builddir: Option<String>,
    workerbuilddir: Option<String>,
    tags: Vec<String>,
    description: Option<String>,
    project: Option<String>,
    properties: Properties,
    env: BTreeMap<String, Renderable>,
    collapse_requests: Option<bool>,
    priority: i64,
    can_start_build: Option<String>,
    next_worker: Option<String>,
    next_build: Option<String>,
    locks: Vec<LockAccess>,
    steps: Vec<StepConfig>,
}

macro_rules! setter {
    ($(#[$d:meta] $name:ident: $t:ty => $field:ident $(wrap $w:ident)?),* $(,)?) => {
        $(
            #[$d]
            pub fn $name(mut self, v: $t) -> Self {
                self.$field = setter!(@wrap v $($w)?);
                self
            }
        )*
    };
    (@wrap $v:ident Some) => { Some($v.into()) };
    (@wrap $v:ident) => { $v.into() };
}

impl BuilderConfigBuilder {
    /// Adds a worker name.
    pub fn workername(mut self, name: impl Into<String>) -> Self {
        self.workernames.push(name.into());
        self
    }

    /// Sets all worker names.
    pub fn workernames(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.workernames = names.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a step.
    pub fn step(mut self, step: StepConfig) -> Self {
        self.steps.push(step);
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets a builder property.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.properties.set(name, value, "Builder");
        self
    }

    /// Sets an environment variable for shell steps.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<Renderable>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Adds a lock held for the whole build.
    pub fn lock(mut self, lock: LockAccess) -> Self {
        self.locks.push(lock);
        self
    }

    setter! {
        /// Sets the master-side build directory.
        builddir: &str => builddir wrap Some,
        /// Sets the worker-side build directory.
        workerbuilddir: &str => workerbuilddir wrap Some,
        /// Sets the description.
        description: &str => description wrap Some,
        /// Sets the project.
        project: &str => project wrap Some,
        /// Sets `collapseRequests`.
        collapse_requests: bool => collapse_requests wrap Some,
        /// Sets the priority.
        priority: i64 => priority,
        /// Names a registered `canStartBuild` strategy.
        can_start_build: &str => can_start_build wrap Some,
        /// Names a registered `nextWorker` strategy.
        next_worker: &str => next_worker wrap Some,
        /// Names a registered `nextBuild` strategy.
        next_build: &str => next_build wrap Some,
    }

    /// Checks the builder on its own (name, workers, tags) and returns it.
    pub fn build(self) -> Result<BuilderConfig, ConfigError> {
        let builddir = self.builddir.unwrap_or_else(|| safe_translate(&self.name));
        let b = BuilderConfig {
            workerbuilddir: self.workerbuilddir.unwrap_or_else(|| builddir.clone()),
            builddir,
            name: self.name,
            workernames: self.workernames,
            tags: self.tags,
            description: self.description,
            project: self.project,
            properties: self.properties,
            env: self.env,
            collapse_requests: self.collapse_requests,
            priority: self.priority,
            can_start_build: self.can_start_build,
            next_worker: self.next_worker,
            next_build: self.next_build,
            locks: self.locks,
            steps: self.steps,
        };
        let mut problems = Vec::new();
        super::validate::check_builder(&b, "builders[0]", &mut problems);
        if problems.is_empty() {
            Ok(b)
        } else {
            Err(ConfigError::Invalid { issues: problems })
        }
    }
}

/// Kind of a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// `MasterLock`: one per master.
    Master,
    /// `WorkerLock`: one per worker.
    Worker,
}

/// `[[locks]]`: a named lock steps and builders can take.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockConfig {
    /// Name.
    pub name: String,
    /// Master or worker lock.
    pub kind: LockKind,
    /// How many counting holders at once (`maxCount`, default 1).
    pub max_count: u32,
    /// Per-worker `maxCount` (`maxCountForWorker`, worker locks only).
    pub max_count_for_worker: BTreeMap<String, u32>,
}

impl LockConfig {
    /// A master lock with `maxCount` 1.
    pub fn master(name: impl Into<String>) -> Self {
        LockConfig {
            name: name.into(),
            kind: LockKind::Master,
            max_count: 1,
            max_count_for_worker: BTreeMap::new(),
        }
    }

    /// A worker lock with `maxCount` 1.
    pub fn worker(name: impl Into<String>) -> Self {
        LockConfig {
            kind: LockKind::Worker,
            ..Self::master(name)
        }
    }

    /// Sets `maxCount`.
    pub fn max_count(mut self, n: u32) -> Self {
        self.max_count = n;
        self
    }
}

/// One `[[user_managers]]` entry: a `CommandlineUserManager` serving `buildbot user` on a
/// PB port with its own login.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserManagerConfig {
    /// PB login name.
    pub username: String,
    /// PB login password.
    pub passwd: String,
    /// PB port.
    pub port: u16,
}

/// The whole master configuration (Buildbot's `c = BuildmasterConfig = {}`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MasterConfig {
    /// `title`.
    pub title: String,
    /// `titleURL`.
    pub title_url: String,
    /// `buildbotURL`.
    pub buildbot_url: String,
    /// `[db]`.
    pub db: DbConfig,
    /// `[protocols]`.
    pub protocols: ProtocolsConfig,
    /// `[www]`.
    pub www: WwwConfig,
    /// `[[workers]]`.
    pub workers: Vec<WorkerConfig>,
    /// `[[change_source]]`.
    pub change_sources: Vec<ChangeSourceConfig>,
    /// `[[user_managers]]` (`CommandlineUserManager`s serving `buildbot user`).
    pub user_managers: Vec<UserManagerConfig>,
    /// `[[schedulers]]`.
    pub schedulers: Vec<SchedulerConfig>,
    /// `[[builders]]`.
    pub builders: Vec<BuilderConfig>,
    /// `[[services]]` (reporters).
    pub services: Vec<ReporterConfig>,
    /// Global `properties`.
    pub properties: Properties,
    /// Global `collapseRequests` (default true).
    pub collapse_requests: bool,
    /// `changeHorizon`: number of changes to keep (older ones are pruned hourly).
    pub change_horizon: Option<u64>,
    /// `logCompressionMethod`.
    pub log_compression_method: LogCompression,
    /// `logCompressionLimit` in bytes (default 4096): smaller chunks are stored raw.
    pub log_compression_limit: u64,
    /// `logEncoding` (default `utf-8`).
    pub log_encoding: String,
    /// `multiMaster`.
    pub multi_master: bool,
    /// `[[locks]]`.
    pub locks: Vec<LockConfig>,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            title: "Buildbot".into(),
            title_url: "http://buildbot.net/".into(),
            buildbot_url: DEFAULT_BUILDBOT_URL.into(),
            db: DbConfig::default(),
            protocols: ProtocolsConfig::default(),
            www: WwwConfig::default(),
            workers: Vec::new(),
            change_sources: Vec::new(),
            user_managers: Vec::new(),
            schedulers: Vec::new(),
            builders: Vec::new(),
            services: Vec::new(),
            properties: Properties::new(),
            collapse_requests: true,
            change_horizon: None,
            log_compression_method: LogCompression::default(),
            log_compression_limit: 4 * 1024,
            log_encoding: "utf-8".into(),
            multi_master: false,
            locks: Vec::new(),
        }
    }
}

impl MasterConfig {
    /// Starts building a configuration in code.
    pub fn builder() -> MasterConfigBuilder {
        MasterConfigBuilder {
            config: MasterConfig::default(),
        }
    }

    /// Runs every cross-check (the ones the loader runs after parsing) on this value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let issues = super::validate::validate(self);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { issues })
        }
    }

    /// The worker with this name.
    pub fn worker(&self, name: &str) -> Option<&WorkerConfig> {
        self.workers.iter().find(|w| w.name == name)
    }

    /// The builder with this name.
    pub fn builder_named(&self, name: &str) -> Option<&BuilderConfig> {
        self.builders.iter().find(|b| b.name == name)
    }

    /// The scheduler with this name.
    pub fn scheduler(&self, name: &str) -> Option<&SchedulerConfig> {
        self.schedulers.iter().find(|s| s.name == name)
    }
}

/// Builder for [`MasterConfig`]; `build()` runs the same cross-checks as the loader.
#[derive(Clone, Debug)]
pub struct MasterConfigBuilder {
    config: MasterConfig,
}

impl MasterConfigBuilder {
    /// Sets `title`.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.config.title = t.into();
        self
    }

    /// Sets `titleURL`.
    pub fn title_url(mut self, t: impl Into<String>) -> Self {
        self.config.title_url = t.into();
        self
    }

    /// Sets `buildbotURL`.
    pub fn buildbot_url(mut self, t: impl Into<String>) -> Self {
        self.config.buildbot_url = t.into();
        self
    }

    /// Sets `[db] db_url`.
    pub fn db_url(mut self, url: impl Into<String>) -> Self {
        self.config.db.db_url = Some(url.into());
        self
    }

    /// Sets the worker listener port (`[protocols.msgpack] port`).
    pub fn worker_port(mut self, port: u16) -> Self {
        self.config.protocols.msgpack = Some(PortConfig::new(port));
        self
    }

    /// Sets the sendchange port (`[protocols.pb] port`).
    pub fn pb_port(mut self, port: u16) -> Self {
        self.config.protocols.pb = Some(PortConfig::new(port));
        self
    }

    /// Sets the web port.
    pub fn www_port(mut self, port: u16) -> Self {
        self.config.www.port = Some(port);
        self
    }

    /// Adds a worker.
    pub fn worker(mut self, w: WorkerConfig) -> Self {
        self.config.workers.push(w);
        self
    }

    /// Adds a builder.
    pub fn builder(mut self, b: BuilderConfig) -> Self {
        self.config.builders.push(b);
        self
    }

    /// Adds a scheduler.
    pub fn scheduler(mut self, s: SchedulerConfig) -> Self {
        self.config.schedulers.push(s);
        self
    }

    /// Adds a change source.
    pub fn change_source(mut self, c: ChangeSourceConfig) -> Self {
        self.config.change_sources.push(c);
        self
    }

    /// Adds a reporter.
    pub fn service(mut self, r: ReporterConfig) -> Self {
        self.config.services.push(r);
        self
    }

    /// Adds a lock.
    pub fn lock(mut self, l: LockConfig) -> Self {
        self.config.locks.push(l);
        self
    }

    /// Sets a global property.
    pub fn property(mut self, name: &str, value: Value) -> Self {
        self.config.properties.set(
            name,
            value,
            crate::master::properties::sources::MASTER_CONFIG,
        );
        self
    }

    /// Sets `logCompressionMethod`.
    pub fn log_compression(mut self, m: LogCompression) -> Self {
        self.config.log_compression_method = m;
        self
    }

    /// Sets `multiMaster`.
    pub fn multi_master(mut self, on: bool) -> Self {
        self.config.multi_master = on;
        self
    }

    /// Sets `collapseRequests`.
    pub fn collapse_requests(mut self, on: bool) -> Self {
        self.config.collapse_requests = on;
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<MasterConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }
}
