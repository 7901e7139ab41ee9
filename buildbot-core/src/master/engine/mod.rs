//! The build engine: a running master that accepts workers, turns build requests into
//! builds, runs their steps on workers and records everything in the database
//! (`spec/data-model.md` §6–§7, §9).
//!
//! ```no_run
//! use buildbot_core::master::config::*;
//! use buildbot_core::master::engine::{ForceRequest, Master, MasterOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = MasterConfig::builder()
//!     .worker_port(0)
//!     .worker(WorkerConfig::new("w1", "pass"))
//!     .builder(
//!         BuilderConfig::builder("hello")
//!             .workername("w1")
//!             .step(StepConfig::shell("echo hello"))
//!             .build()?,
//!     )
//!     .scheduler(SchedulerConfig::force("force", ["hello"]))
//!     .build()?;
//! let master = Master::start(cfg, MasterOptions::new("/srv/master").upgrade_db(true)).await?;
//! let (_bsid, requests) = master
//!     .force("force", ForceRequest::new("me", "try it").builders(["hello"]))
//!     .await?;
//! let done = master.wait_for_request(requests[0].1, std::time::Duration::from_secs(60)).await?;
//! println!("result {}", done.results);
//! master.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Invariants: state is persisted before it is announced on the [`EventBus`]; requests are
//! claimed through the database (several masters may share it); the distributor is woken by
//! new requests, attaching workers and finished builds (plus one scan per heartbeat for
//! requests submitted by other masters), and reads at most one pending request per builder
//! and build it starts.

mod build;
mod builtin;
pub mod json;
mod locks;
mod schedulers;
mod source;
mod step;
mod strategies;
mod trigger;

pub use step::{BuildStep, CustomStep, StepContext, StepDone, StepError, register_custom_step};
pub use strategies::BuilderStrategy;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_std::channel::{Receiver, Sender, unbounded};
use async_std::task::JoinHandle;
use buildbot_db::{
    BuildId, BuildRequestId, BuildRequestRow, BuildRow, BuilderId, BuilderInfo, BuildsetId,
    BuildsetRow, CancelOutcome, ChangeId, ClaimOutcome, Db, DbError, MasterId, NewBuildset,
    NewChange, Query, Results, SchemaStatus, SourceStampSpec, WorkerId,
};
use serde_json::Value;

use crate::master::EventBus;
use crate::master::config::{
    BuilderConfig, ConfigError, ForceParameterKind, MasterConfig, SchedulerKind, WorkerConfig,
    restart_required,
};
use crate::master::properties::Properties;
use crate::master::workers::{
    ConnectionEvent, WorkerBuilder, WorkerConnection, WorkerManager, WorkerManagerConfig,
    WorkerManagerError, WorkerRegistration,
};

use build::{NewBuild, now};
use step::lock;

/// Seconds after which a silent master is declared dead (§7.3).
const MASTER_TIMEOUT_S: i64 = 600;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterError {
    /// A database operation failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database schema is missing or older than this version.
    #[error(
        "the database at {url} needs to be upgraded ({detail}); run 'buildbot upgrade-master <basedir>'"
    )]
    SchemaOutOfDate {
        /// The database URL (password masked).
        url: String,
        /// What is pending.
        detail: String,
    },
    /// The worker listener could not start.
    #[error(transparent)]
    Workers(#[from] WorkerManagerError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A reconfig changed settings that need a restart; nothing was changed.
    #[error("reconfig refused: {}", .0.join("; "))]
    RestartRequired(Vec<String>),
    /// No such scheduler, or not a `ForceScheduler`.
    #[error("no ForceScheduler named '{0}'")]
    NoForceScheduler(String),
    /// A builder name is unknown (or not served by the scheduler).
    #[error("builder '{builder}' is not known to scheduler '{scheduler}'")]
    UnknownBuilder {
        /// The scheduler.
        scheduler: String,
        /// The builder.
        builder: String,
    },
    /// A force parameter has an invalid value.
    #[error("invalid value for force parameter '{name}': {message}")]
    InvalidParameter {
        /// Parameter name.
        name: String,
        /// Why.
        message: String,
    },
    /// A build, request or other row does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// The master is stopping or stopped.
    #[error("the master is stopping")]
    Stopping,
    /// The base directory cannot be created.
    #[error("cannot create the base directory {}: {source}", path.display())]
    Basedir {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No worker of that name is configured.
    #[error("no worker named '{0}' is configured")]
    UnknownWorker(String),
    /// A wait did not end in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// A `PBChangeSource` port could not be opened.
    #[error("cannot listen for changes on {addr}: {source}")]
    ChangePort {
        /// The address.
        addr: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

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

/// A force request (what the force-build form sends).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ForceRequest {
    /// Builders to build (empty: all builders of the scheduler).
    pub builder_names: Vec<String>,
    /// `reason` field.
    pub reason: String,
    /// `owner` (the user).
    pub owner: String,
    /// Values of the scheduler's parameters, by name.
    pub properties: BTreeMap<String, Value>,
}

impl ForceRequest {
    /// A request by `owner` with `reason`, for all builders of the scheduler.
    pub fn new(owner: impl Into<String>, reason: impl Into<String>) -> Self {
        ForceRequest {
            owner: owner.into(),
            reason: reason.into(),
            ..Default::default()
        }
    }

    /// Restricts to these builders.
    pub fn builders(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.builder_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets a parameter value.
    pub fn property(mut self, name: impl Into<String>, value: Value) -> Self {
        self.properties.insert(name.into(), value);
        self
    }
}

/// Entry point: [`Master::start`].
#[derive(Debug)]
pub struct Master;

#[derive(Clone)]
struct BuilderEntry {
    id: BuilderId,
    config: Arc<BuilderConfig>,
}

struct WorkerEntry {
    id: WorkerId,
    config: WorkerConfig,
    conn: Option<WorkerConnection>,
    running: usize,
    busy: HashSet<String>,
    paused: bool,
    graceful: bool,
    shutdown_requested: bool,
}

impl WorkerEntry {
    fn available_for(&self, builder: &str) -> Option<WorkerConnection> {
        let conn = self.conn.as_ref()?;
        if !conn.is_connected()
            || self.paused
            || self.graceful
            || self.shutdown_requested
            || self.busy.contains(builder)
            || self
                .config
                .max_builds
                .is_some_and(|m| self.running >= m as usize)
        {
            return None;
        }
        Some(conn.clone())
    }
}

struct RunningBuild {
    shared: Arc<build::BuildShared>,
    brids: Vec<BuildRequestId>,
}

#[derive(Default)]
struct State {
    builders: BTreeMap<String, BuilderEntry>,
    workers: BTreeMap<String, WorkerEntry>,
    builds: HashMap<BuildId, RunningBuild>,
    starting: usize,
}

enum Wake {
    Builders(Vec<BuilderId>),
    All,
}

struct Inner {
    db: Db,
    events: EventBus,
    masterid: MasterId,
    name: String,
    basedir: PathBuf,
    config: RwLock<Arc<MasterConfig>>,
    state: Mutex<State>,
    /// Inputs of buildsets submitted here and not complete yet.
    buildsets: Mutex<HashMap<BuildsetId, Arc<BuildsetInputs>>>,
    /// The source stamp of forced builds (codebase `""`, everything empty); source stamps
    /// are never deleted, so its id stays valid.
    force_ss: Mutex<Option<buildbot_db::SourceStampRow>>,
    /// Master and worker locks held by running builds and steps.
    locks: Arc<locks::LockTable>,
    /// Builder strategies by name.
    strategies: BTreeMap<String, BuilderStrategy>,
    wake: Sender<Wake>,
    /// Buildsets of `Dependent` schedulers to submit (`schedulers::dependent_loop`).
    dependent: Sender<(String, Vec<buildbot_db::SourceStampId>)>,
    manager: WorkerManager,
    /// No new builds are started.
    draining: AtomicBool,
    stopped: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running master. Cheap to clone.
#[derive(Clone)]
pub struct MasterHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MasterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterHandle")
            .field("masterid", &self.inner.masterid)
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn registrations(cfg: &MasterConfig) -> Vec<WorkerRegistration> {
    cfg.workers
        .iter()
        .map(|w| {
            let mut r = WorkerRegistration::new(&w.name, &w.password).builders(
                cfg.builders
                    .iter()
                    .filter(|b| b.workernames.contains(&w.name))
                    .map(|b| WorkerBuilder::new(&b.name).workerbuilddir(&b.workerbuilddir)),
            );
            if let Some(k) = w.keepalive_interval {
                r = r.keepalive_interval(Duration::from_secs(k));
            }
            r
        })
        .collect()
}

impl Master {
    /// Starts a master: connects the database (refusing an out-of-date schema unless
    /// [`MasterOptions::upgrade_db`]), cleans up after a previous crash of this master and
    /// after dead masters, registers builders/workers/schedulers, listens for workers, and
    /// starts distributing build requests.
    pub async fn start(
        config: MasterConfig,
        opts: MasterOptions,
    ) -> Result<MasterHandle, MasterError> {
        config.validate()?;
        std::fs::create_dir_all(&opts.basedir).map_err(|source| MasterError::Basedir {
            path: opts.basedir.clone(),
            source,
        })?;
        let url = opts
            .db_url
            .clone()
            .unwrap_or_else(|| config.db.effective_url(None).0);
        let mut db = Db::connect(&url, &opts.basedir).await?;
        db.set_log_compression(config.log_compression_method);
        match db.schema_status().await? {
            SchemaStatus::UpToDate => {}
            SchemaStatus::TooNew { unknown } => {
                return Err(DbError::SchemaTooNew { unknown }.into());
            }
            status if opts.upgrade_db => {
                log::info!("upgrading the database schema ({status:?})");
                db.upgrade().await?;
            }
            SchemaStatus::Empty => {
                return Err(MasterError::SchemaOutOfDate {
                    url: buildbot_db::mask_password(&url),
                    detail: "the database has no Buildbot tables".into(),
                });
            }
            SchemaStatus::NeedsUpgrade { pending } => {
                return Err(MasterError::SchemaOutOfDate {
                    url: buildbot_db::mask_password(&url),
                    detail: format!("pending migrations: {}", pending.join(", ")),
                });
            }
            other => {
                return Err(MasterError::SchemaOutOfDate {
                    url: buildbot_db::mask_password(&url),
                    detail: format!("{other:?}"),
                });
            }
        }
        let basedir = opts.basedir.clone();
        let name = opts
            .name
            .clone()
            .unwrap_or_else(|| format!("{}:{}", hostname(), basedir.display()));
        let masterid = db.find_or_create_master(&name).await?;
        // §7.1 step 2: mark stopped in case we crashed
        if db.set_master_state(masterid, false).await? {
            log::info!("master {name} was marked active: cleaning up after a crash");
        }
        let hk = db.master_housekeeping(masterid).await?;
        if !hk.builds_finished.is_empty() {
            log::info!(
                "finished {} builds of a previous run with RETRY; {} requests claimable again",
                hk.builds_finished.len(),
                hk.requests_unclaimed.len()
            );
        }
        db.deconfigure_all_workers_for_master(masterid).await?;
        db.forget_connected_workers(masterid).await?;
        // §7.1 step 3: forced housekeeping of stale masters
        for m in db.stale_masters(MASTER_TIMEOUT_S).await? {
            if m.masterid != masterid {
                db.set_master_state(m.masterid, false).await?;
                db.master_housekeeping(m.masterid).await?;
            }
        }
        let bind = opts
            .worker_bind
            .clone()
            .unwrap_or_else(|| match &config.protocols.msgpack {
                Some(p) => format!("{}:{}", p.interface.as_deref().unwrap_or("0.0.0.0"), p.port),
                None => "0.0.0.0:9989".into(),
            });
        let manager =
            WorkerManager::start(WorkerManagerConfig::new(bind), registrations(&config)).await?;
        let (wake_tx, wake_rx) = unbounded();
        let (dependent_tx, dependent_rx) = unbounded();
        let inner = Arc::new(Inner {
            db,
            events: EventBus::new(),
            masterid,
            name,
            basedir,
            config: RwLock::new(Arc::new(config.clone())),
            state: Mutex::new(State::default()),
            buildsets: Mutex::new(HashMap::new()),
            force_ss: Mutex::new(None),
            locks: Arc::default(),
            strategies: opts.strategies.clone(),
            wake: wake_tx,
            dependent: dependent_tx,
            manager,
            draining: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
        });
        if let Err(e) = inner.apply_config(&config, None).await {
            inner.manager.stop().await;
            return Err(e);
        }
        if inner.db.set_master_state(masterid, true).await? {
            let n = inner.name.clone();
            inner
                .events
                .publish_master(masterid, "started", || json::master(masterid, &n, true));
        }
        let events = inner.manager.events();
        let changes = inner.events.subscribe_path("changes/*/new");
        let t1 = async_std::task::spawn(connection_loop(inner.clone(), events));
        let t2 = async_std::task::spawn(distributor_loop(inner.clone(), wake_rx));
        let t3 = async_std::task::spawn(heartbeat_loop(inner.clone(), opts.heartbeat_interval));
        let t4 = async_std::task::spawn(schedulers::change_loop(inner.clone(), changes));
        let t5 = async_std::task::spawn(schedulers::timed_loop(inner.clone()));
        let t6 = async_std::task::spawn(schedulers::dependent_loop(inner.clone(), dependent_rx));
        lock(&inner.tasks).extend([t1, t2, t3, t4, t5, t6]);
        let _ = inner.wake.try_send(Wake::All);
        let handle = MasterHandle { inner };
        match crate::master::pb::start_change_ports(&handle, &config).await {
            Ok(ports) => lock(&handle.inner.tasks).extend(ports),
            Err(e) => {
                let _ = handle.stop().await;
                return Err(e);
            }
        }
        let inner = &handle.inner;
        log::info!(
            "master {} (id {}) started; workers on {}",
            inner.name,
            masterid.0,
            inner.manager.local_addr()
        );
        Ok(handle)
    }
}

impl Inner {
    fn config(&self) -> Arc<MasterConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Registers builders, workers, schedulers and change sources (§7.1 step 4); `old` is the
    /// previous config on reconfig.
    async fn apply_config(
        &self,
        cfg: &MasterConfig,
        old: Option<&MasterConfig>,
    ) -> Result<(), MasterError> {
        let db = &self.db;
        let mut builders: BTreeMap<String, BuilderEntry> = BTreeMap::new();
        for b in &cfg.builders {
            let id = db.find_or_create_builder(&b.name).await?;
            let mut info = BuilderInfo::new(b.tags.clone());
            info.description = b.description.clone();
            if let Some(p) = &b.project {
                info.projectid = Some(db.find_or_create_project(p).await?);
            }
            db.update_builder_info(id, &info).await?;
            let known = old.is_some_and(|o| o.builders.iter().any(|x| x.name == b.name));
            db.add_builder_master(id, self.masterid).await?;
            if !known {
                let (mid, n) = (self.masterid, b.name.clone());
                self.events.publish_builder(
                    id,
                    "started",
                    || serde_json::json!({"builderid": id.0, "masterid": mid.0, "name": n}),
                );
            }
            builders.insert(
                b.name.clone(),
                BuilderEntry {
                    id,
                    config: Arc::new(b.clone()),
                },
            );
        }
        if let Some(old) = old {
            for b in old
                .builders
                .iter()
                .filter(|b| cfg.builder_named(&b.name).is_none())
            {
                if let Some(id) = db.builder_id_by_name(&b.name).await? {
                    db.remove_builder_master(id, self.masterid).await?;
                    let (mid, n) = (self.masterid, b.name.clone());
                    self.events.publish_builder(
                        id,
                        "stopped",
                        || serde_json::json!({"builderid": id.0, "masterid": mid.0, "name": n}),
                    );
                }
            }
        }
        let mut workers: Vec<(WorkerConfig, WorkerId, bool)> = Vec::new();
        for w in &cfg.workers {
            let id = db.find_or_create_worker(&w.name).await?;
            let ids: Vec<BuilderId> = cfg
                .builders
                .iter()
                .filter(|b| b.workernames.contains(&w.name))
                .filter_map(|b| builders.get(&b.name).map(|e| e.id))
                .collect();
            db.worker_configured(id, self.masterid, &ids).await?;
            let paused = db.get_worker(id).await?.is_some_and(|r| r.paused);
            workers.push((w.clone(), id, paused));
        }
        for s in &cfg.schedulers {
            let id = db.find_or_create_scheduler(&s.name).await?;
            db.claim_scheduler(id, self.masterid).await?;
        }
        // change sources are listed (`/changesources`) as Buildbot lists them: by name, with
        // the master that runs them
        for c in &cfg.change_sources {
            let id = db.find_or_create_changesource(&c.name).await?;
            db.claim_changesource(id, self.masterid).await?;
        }
        if let Some(old) = old {
            // services a reconfig removed: this master no longer runs them
            for s in old
                .schedulers
                .iter()
                .filter(|s| !cfg.schedulers.iter().any(|n| n.name == s.name))
            {
                let id = db.find_or_create_scheduler(&s.name).await?;
                db.unclaim_scheduler(id, self.masterid).await?;
            }
            for c in old
                .change_sources
                .iter()
                .filter(|c| !cfg.change_sources.iter().any(|n| n.name == c.name))
            {
                let id = db.find_or_create_changesource(&c.name).await?;
                db.unclaim_changesource(id, self.masterid).await?;
            }
        }
        {
            let mut st = lock(&self.state);
            st.builders = builders;
            let mut old_workers = std::mem::take(&mut st.workers);
            for (w, id, paused) in workers {
                let entry = match old_workers.remove(&w.name) {
                    Some(mut e) => {
                        e.config = w;
                        e
                    }
                    None => WorkerEntry {
                        id,
                        config: w.clone(),
                        conn: None,
                        running: 0,
                        busy: HashSet::new(),
                        paused,
                        graceful: false,
                        shutdown_requested: false,
                    },
                };
                st.workers.insert(entry.config.name.clone(), entry);
            }
        }
        Ok(())
    }

    fn wake_builders(&self, ids: Vec<BuilderId>) {
        if !ids.is_empty() {
            let _ = self.wake.try_send(Wake::Builders(ids));
        }
    }

    fn builder_ids_of_worker(&self, st: &State, worker: &str) -> Vec<BuilderId> {
        st.builders
            .values()
            .filter(|b| b.config.workernames.iter().any(|w| w == worker))
            .map(|b| b.id)
            .collect()
    }

    async fn on_attached(self: &Arc<Self>, conn: WorkerConnection) -> Result<(), DbError> {
        let name = conn.name().to_owned();
        let Some(id) = lock(&self.state).workers.get(&name).map(|w| w.id) else {
            return Ok(());
        };
        let info = conn.info();
        let info_json = serde_json::json!({
            "admin": info.admin,
            "host": info.host,
            "access_uri": info.access_uri,
            "version": info.version,
        });
        self.db
            .worker_connected(id, self.masterid, &info_json)
            .await?;
        let wake = {
            let mut st = lock(&self.state);
            if let Some(w) = st.workers.get_mut(&name) {
                w.conn = Some(conn);
                w.graceful = false;
                w.shutdown_requested = false;
            }
            self.builder_ids_of_worker(&st, &name)
        };
        log::info!("worker {name} attached");
        self.events
            .publish_worker(id, "connected", || worker_json(id, &name, &info_json));
        self.wake_builders(wake);
        Ok(())
    }

    async fn on_detached(self: &Arc<Self>, name: &str, reason: &str) -> Result<(), DbError> {
        let id = {
            let mut st = lock(&self.state);
            let Some(w) = st.workers.get_mut(name) else {
                return Ok(());
            };
            match &w.conn {
                Some(c) if !c.is_connected() => {
                    w.conn = None;
                    w.id
                }
                _ => return Ok(()),
            }
        };
        log::info!("worker {name} detached: {reason}");
        self.db.worker_disconnected(id, self.masterid).await?;
        let n = name.to_owned();
        self.events.publish_worker(
            id,
            "disconnected",
            || serde_json::json!({"workerid": id.0, "name": n}),
        );
        Ok(())
    }
}

fn worker_json(id: WorkerId, name: &str, info: &Value) -> Value {
    serde_json::json!({
        "workerid": id.0,
        "name": name,
        "workerinfo": info,
        "paused": false,
        "pause_reason": null,
        "graceful": false,
    })
}

async fn connection_loop(inner: Arc<Inner>, events: Receiver<ConnectionEvent>) {
    while let Ok(ev) = events.recv().await {
        let r = match ev {
            ConnectionEvent::Attached(conn) => inner.on_attached(conn).await,
            ConnectionEvent::Detached { name, reason } => inner.on_detached(&name, &reason).await,
            ConnectionEvent::ShutdownRequested(name) => {
                let conn = {
                    let mut st = lock(&inner.state);
                    match st.workers.get_mut(&name) {
                        Some(w) => {
                            w.shutdown_requested = true;
                            if w.running == 0 { w.conn.clone() } else { None }
                        }
                        None => None,
                    }
                };
                if let Some(c) = conn {
                    async_std::task::spawn(async move {
                        let _ = c.shutdown().await;
                    });
                }
                Ok(())
            }
            ConnectionEvent::AuthFailed { name, peer, reason } => {
                log::warn!("refused worker {name:?} from {peer}: {reason}");
                Ok(())
            }
        };
        if let Err(e) = r {
            log::error!("recording a worker event: {e}");
        }
    }
}

async fn heartbeat_loop(inner: Arc<Inner>, every: Duration) {
    loop {
        async_std::task::sleep(every).await;
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = inner.db.master_heartbeat(inner.masterid).await {
            log::error!("master heartbeat: {e}");
            continue;
        }
        match inner.db.expire_masters(MASTER_TIMEOUT_S).await {
            Ok(dead) => {
                for m in dead {
                    log::warn!(
                        "master {} stopped heartbeating: reclaiming its work",
                        m.name
                    );
                    if let Err(e) = inner.db.master_housekeeping(m.masterid).await {
                        log::error!("housekeeping for master {}: {e}", m.name);
                    }
                    let n = m.name.clone();
                    inner.events.publish_master(m.masterid, "stopped", || {
                        json::master(m.masterid, &n, false)
                    });
                }
            }
            Err(e) => log::error!("expiring masters: {e}"),
        }
        // requests submitted by other masters sharing the database
        let _ = inner.wake.try_send(Wake::All);
    }
}

// ------------------------------------------------------------------ distribution

async fn distributor_loop(inner: Arc<Inner>, wake: Receiver<Wake>) {
    while let Ok(first) = wake.recv().await {
        let mut all = false;
        let mut dirty: BTreeSet<BuilderId> = BTreeSet::new();
        let mut add = |w: Wake| match w {
            Wake::All => all = true,
            Wake::Builders(b) => dirty.extend(b),
        };
        add(first);
        while let Ok(w) = wake.try_recv() {
            add(w);
        }
        if inner.draining.load(Ordering::SeqCst) {
            continue;
        }
        if all {
            dirty = lock(&inner.state).builders.values().map(|b| b.id).collect();
        }
        if let Err(e) = distribute(&inner, dirty).await {
            log::error!("distributing build requests: {e}");
            async_std::task::sleep(Duration::from_millis(500)).await;
            let _ = inner.wake.try_send(Wake::All);
        }
    }
}

/// A free worker for `builder`: the builder's `nextWorker` strategy's choice among the
/// available ones that its `canStartBuild` strategy accepts for `req`; without a strategy,
/// random (Buildbot's default `nextWorker`), or the first available with a `nextWorker`
/// name containing `first`.
fn pick_worker(
    strategies: &BTreeMap<String, BuilderStrategy>,
    st: &State,
    builder: &BuilderEntry,
    req: Option<&BuildRequestRow>,
) -> Option<(String, WorkerConnection)> {
    let bname = &builder.config.name;
    let can_start = match builder
        .config
        .can_start_build
        .as_ref()
        .and_then(|n| strategies.get(n))
    {
        Some(BuilderStrategy::CanStartBuild(f)) => Some(f.clone()),
        _ => None,
    };
    let candidates: Vec<(String, WorkerConnection)> = builder
        .config
        .workernames
        .iter()
        .filter_map(|n| {
            st.workers
                .get(n)
                .and_then(|w| w.available_for(bname))
                .map(|c| (n.clone(), c))
        })
        .filter(|(n, _)| match (&can_start, req) {
            (Some(f), Some(r)) => f(bname, n, r),
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    if let Some(BuilderStrategy::NextWorker(f)) = builder
        .config
        .next_worker
        .as_ref()
        .and_then(|n| strategies.get(n))
    {
        let names: Vec<String> = candidates.iter().map(|c| c.0.clone()).collect();
        let i = f(bname, &names)?;
        return candidates.into_iter().nth(i);
    }
    let first = builder
        .config
        .next_worker
        .as_deref()
        .is_some_and(|s| s.to_ascii_lowercase().contains("first"));
    let i = if first || candidates.len() == 1 {
        0
    } else {
        rand::random::<usize>() % candidates.len()
    };
    candidates.into_iter().nth(i)
}

/// The request `builder` should build next: its `nextBuild` strategy's choice among the
/// pending requests (in the default order: priority, then oldest first), or the first.
async fn next_request(
    inner: &Inner,
    builder: &BuilderEntry,
) -> Result<Option<BuildRequestRow>, DbError> {
    match builder
        .config
        .next_build
        .as_ref()
        .and_then(|n| inner.strategies.get(n))
    {
        Some(BuilderStrategy::NextBuild(f)) => {
            let mut all = inner
                .db
                .pending_buildrequests(Some(builder.id), Some(100))
                .await?;
            if all.is_empty() {
                return Ok(None);
            }
            Ok(f(&builder.config.name, &all)
                .filter(|i| *i < all.len())
                .map(|i| all.swap_remove(i)))
        }
        _ => Ok(inner
            .db
            .pending_buildrequests(Some(builder.id), Some(1))
            .await?
            .pop()),
    }
}

async fn distribute(inner: &Arc<Inner>, dirty: BTreeSet<BuilderId>) -> Result<(), DbError> {
    // builders that could start something now, with their best pending request
    let mut todo: Vec<(BuilderEntry, BuildRequestRow)> = Vec::new();
    for id in dirty {
        let entry = {
            let st = lock(&inner.state);
            let Some(b) = st.builders.values().find(|b| b.id == id).cloned() else {
                continue;
            };
            if pick_worker(&inner.strategies, &st, &b, None).is_none() {
                continue;
            }
            b
        };
        if let Some(r) = next_request(inner, &entry).await? {
            todo.push((entry, r));
        }
    }
    todo.sort_by(|a, b| {
        b.1.priority
            .cmp(&a.1.priority)
            .then(a.1.submitted_at.cmp(&b.1.submitted_at))
            .then(a.0.config.name.cmp(&b.0.config.name))
    });
    for (builder, mut req) in todo {
        loop {
            if inner.draining.load(Ordering::SeqCst) {
                return Ok(());
            }
            let picked = {
                let mut st = lock(&inner.state);
                match pick_worker(&inner.strategies, &st, &builder, Some(&req)) {
                    Some((name, conn)) => {
                        // reserve the slot before any await
                        if let Some(w) = st.workers.get_mut(&name) {
                            w.running += 1;
                            w.busy.insert(builder.config.name.clone());
                        }
                        st.starting += 1;
                        Some((name, conn))
                    }
                    None => None,
                }
            };
            let Some((wname, conn)) = picked else { break };
            let claimed = inner
                .db
                .claim_buildrequests(&[req.buildrequestid], inner.masterid, None)
                .await;
            match claimed {
                Ok(ClaimOutcome::Claimed) => {
                    req.claimed = true;
                    req.claimed_at = Some(now());
                    req.claimed_by_masterid = Some(inner.masterid);
                    inner.events.publish_buildrequest(
                        req.buildsetid,
                        req.builderid,
                        req.buildrequestid,
                        "claimed",
                        || json::buildrequest(&req),
                    );
                    let inner2 = inner.clone();
                    let b2 = builder.clone();
                    let r2 = req.clone();
                    async_std::task::spawn(async move {
                        build_task(inner2, b2, wname, conn, vec![r2]).await;
                    });
                }
                other => {
                    release_slot(inner, &wname, &builder.config.name, false);
                    lock(&inner.state).starting -= 1;
                    other?;
                }
            }
            if pick_worker(&inner.strategies, &lock(&inner.state), &builder, None).is_none() {
                break;
            }
            match next_request(inner, &builder).await? {
                Some(r) => req = r,
                None => break,
            }
        }
    }
    Ok(())
}

/// Frees a worker slot; sends `shutdown` to a worker that asked for it once idle.
fn release_slot(inner: &Arc<Inner>, worker: &str, builder: &str, wake: bool) {
    let (ids, shutdown) = {
        let mut st = lock(&inner.state);
        let mut shutdown = None;
        if let Some(w) = st.workers.get_mut(worker) {
            w.running = w.running.saturating_sub(1);
            w.busy.remove(builder);
            if w.shutdown_requested && w.running == 0 {
                shutdown = w.conn.clone();
            }
        }
        (inner.builder_ids_of_worker(&st, worker), shutdown)
    };
    if let Some(c) = shutdown {
        async_std::task::spawn(async move {
            let _ = c.shutdown().await;
        });
    }
    if wake {
        inner.wake_builders(ids);
    }
}

/// What builds need of a buildset (kept in memory from submission to completion, read
/// from the database for buildsets submitted elsewhere).
struct BuildsetInputs {
    properties: buildbot_db::Properties,
    sourcestamps: Vec<buildbot_db::SourceStampRow>,
}

async fn load_buildset_inputs(db: &Db, bsid: BuildsetId) -> Result<BuildsetInputs, DbError> {
    let properties = db.get_buildset_properties(bsid).await?;
    let ssids = db
        .get_buildset(bsid)
        .await?
        .map(|b| b.sourcestamps)
        .unwrap_or_default();
    let sourcestamps = db.get_sourcestamps(&ssids).await?;
    Ok(BuildsetInputs {
        properties,
        sourcestamps,
    })
}

fn ss_map(ss: &buildbot_db::SourceStampRow) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("ssid".into(), Value::from(ss.ssid.0));
    m.insert("branch".into(), Value::from(ss.branch.clone()));
    m.insert("revision".into(), Value::from(ss.revision.clone()));
    m.insert("repository".into(), Value::from(ss.repository.clone()));
    m.insert("project".into(), Value::from(ss.project.clone()));
    m.insert("codebase".into(), Value::from(ss.codebase.clone()));
    m
}

/// Properties and source stamps of a build from its request's buildset.
async fn build_inputs(
    inner: &Inner,
    builder: &BuilderEntry,
    wname: &str,
    conn: &WorkerConnection,
    req: &BuildRequestRow,
) -> Result<(Properties, BTreeMap<String, serde_json::Map<String, Value>>), DbError> {
    let cfg = inner.config();
    let mut props = Properties::new();
    for (k, v, s) in cfg.properties.iter() {
        props.set(k, v.clone(), s);
    }
    let cached = lock(&inner.buildsets).get(&req.buildsetid).cloned();
    let bs = match cached {
        Some(c) => c,
        None => Arc::new(load_buildset_inputs(&inner.db, req.buildsetid).await?),
    };
    for (k, (v, s)) in &bs.properties {
        props.set(k, v.clone(), s);
    }
    let mut sourcestamps = BTreeMap::new();
    for ss in &bs.sourcestamps {
        let m = ss_map(ss);
        if sourcestamps.is_empty() || ss.codebase.is_empty() {
            for k in ["branch", "revision", "repository", "project", "codebase"] {
                let v = m.get(k).cloned().unwrap_or(Value::Null);
                props.set(k, v, "Build");
            }
        }
        sourcestamps.insert(ss.codebase.clone(), m);
    }
    if let Some(owner) = props.get("owner").cloned() {
        props.set("owners", Value::Array(vec![owner]), "Build");
    }
    let b = &builder.config;
    props.set("buildername", Value::from(b.name.clone()), "Builder");
    props.set("builderid", Value::from(builder.id.0), "Builder");
    for (k, v, s) in b.properties.iter() {
        props.set(k, v.clone(), s);
    }
    if let Some(w) = cfg.worker(wname) {
        for (k, v, s) in w.properties.iter() {
            props.set(k, v.clone(), s);
        }
    }
    props.set("workername", Value::from(wname), "Worker");
    let info = conn.info();
    if !info.basedir.is_empty() {
        props.set("basedir", Value::from(info.basedir.clone()), "Worker");
        props.set("builddir", Value::from(conn.builder_dir(&b.name)), "Worker");
    }
    Ok((props, sourcestamps))
}

async fn build_task(
    inner: Arc<Inner>,
    builder: BuilderEntry,
    wname: String,
    conn: WorkerConnection,
    reqs: Vec<BuildRequestRow>,
) {
    let brids: Vec<BuildRequestId> = reqs.iter().map(|r| r.buildrequestid).collect();
    let name = builder.config.name.clone();
    let workerid = lock(&inner.state).workers.get(&wname).map(|w| w.id);
    let started = async {
        let (props, sourcestamps) = build_inputs(&inner, &builder, &wname, &conn, &reqs[0]).await?;
        build::create_build(NewBuild {
            db: inner.db.clone(),
            events: inner.events.clone(),
            basedir: inner.basedir.clone(),
            builderid: builder.id,
            builder_name: name.clone(),
            brids: brids.clone(),
            workerid: workerid.unwrap_or(WorkerId(0)),
            masterid: inner.masterid,
            worker: conn.clone(),
            properties: props,
            sourcestamps,
            env: builder.config.env.clone(),
            master: Arc::downgrade(&inner),
            build_locks: builder.config.locks.clone(),
        })
        .await
    }
    .await;
    let shared = match started {
        Ok(s) => s,
        Err(e) => {
            log::error!("builder {name}: cannot start a build: {e}");
            lock(&inner.state).starting -= 1;
            let _ = inner.db.unclaim_buildrequests(&brids, inner.masterid).await;
            for r in &reqs {
                publish_req(&inner, r, "unclaimed", false, None);
            }
            release_slot(&inner, &wname, &name, true);
            return;
        }
    };
    let buildid = shared.buildid;
    {
        let mut st = lock(&inner.state);
        st.starting -= 1;
        st.builds.insert(
            buildid,
            RunningBuild {
                shared: shared.clone(),
                brids: brids.clone(),
            },
        );
    }
    if inner.draining.load(Ordering::SeqCst) {
        shared.request_stop("master shutdown", Results::Retry).await;
    }
    let steps = builder.config.steps.clone();
    let results = match build::run_build(shared.clone(), steps).await {
        Ok(r) => r,
        Err(e) => {
            log::error!("build {} of {name}: database error: {e}", buildid.0);
            let _ = inner.db.finish_build(buildid, Results::Exception).await;
            Results::Exception
        }
    };
    if let Err(e) = finish_requests(&inner, &reqs, results).await {
        log::error!("build {}: completing its requests: {e}", buildid.0);
    }
    lock(&inner.state).builds.remove(&buildid);
    release_slot(&inner, &wname, &name, true);
}

fn publish_req(
    inner: &Inner,
    r: &BuildRequestRow,
    event: &str,
    complete: bool,
    results: Option<Results>,
) {
    let mut row = r.clone();
    if event == "unclaimed" {
        row.claimed = false;
        row.claimed_at = None;
        row.claimed_by_masterid = None;
    }
    if complete {
        row.complete = true;
        row.complete_at = Some(now());
        row.results = results.map_or(-1, |r| i64::from(r.code()));
    }
    inner.events.publish_buildrequest(
        row.buildsetid,
        row.builderid,
        row.buildrequestid,
        event,
        || json::buildrequest(&row),
    );
}

async fn publish_buildset_complete(inner: &Inner, bsid: BuildsetId) -> Result<(), DbError> {
    lock(&inner.buildsets).remove(&bsid);
    schedulers::buildset_completed(inner, bsid).await?;
    if inner
        .events
        .is_wanted(&["buildsets".into(), bsid.0.into(), "complete".into()])
        && let Some(bs) = inner.db.get_buildset(bsid).await?
    {
        inner
            .events
            .publish_buildset(bsid, "complete", || buildset_json(&bs));
    }
    Ok(())
}

fn buildset_json(bs: &BuildsetRow) -> Value {
    serde_json::json!({
        "bsid": bs.bsid.0,
        "external_idstring": bs.external_idstring,
        "reason": bs.reason,
        "rebuilt_buildid": bs.rebuilt_buildid.map(|b| b.0),
        "sourcestamps": bs.sourcestamps.iter().map(|s| s.0).collect::<Vec<_>>(),
        "submitted_at": bs.submitted_at,
        "complete": bs.complete,
        "complete_at": bs.complete_at,
        "results": bs.results,
        "parent_buildid": bs.parent_buildid.map(|b| b.0),
        "parent_relationship": bs.parent_relationship,
    })
}

/// §6.4: requests of a finished build completed (or unclaimed on RETRY), buildsets
/// completed when their last request is.
async fn finish_requests(
    inner: &Inner,
    reqs: &[BuildRequestRow],
    results: Results,
) -> Result<(), DbError> {
    let brids: Vec<BuildRequestId> = reqs.iter().map(|r| r.buildrequestid).collect();
    if results == Results::Retry {
        inner
            .db
            .unclaim_buildrequests(&brids, inner.masterid)
            .await?;
        for r in reqs {
            publish_req(inner, r, "unclaimed", false, None);
        }
        return Ok(());
    }
    if !inner
        .db
        .complete_buildrequests(&brids, results, None)
        .await?
    {
        return Ok(());
    }
    for r in reqs {
        publish_req(inner, r, "complete", true, Some(results));
    }
    let bsids: BTreeSet<BuildsetId> = reqs.iter().map(|r| r.buildsetid).collect();
    for bsid in bsids {
        if inner.db.maybe_complete_buildset(bsid).await?.is_some() {
            publish_buildset_complete(inner, bsid).await?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the handle

impl MasterHandle {
    /// The master's id.
    pub fn masterid(&self) -> MasterId {
        self.inner.masterid
    }

    /// The master's name (`<hostname>:<basedir>`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The address the worker listener is bound to.
    pub fn worker_addr(&self) -> std::net::SocketAddr {
        self.inner.manager.local_addr()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The event bus (subscribe with Buildbot's routing keys).
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<MasterConfig> {
        self.inner.config()
    }

    /// The base directory.
    pub fn basedir(&self) -> &Path {
        &self.inner.basedir
    }

    /// Names of the workers currently attached.
    pub fn connected_workers(&self) -> Vec<String> {
        lock(&self.inner.state)
            .workers
            .iter()
            .filter(|(_, w)| w.conn.as_ref().is_some_and(|c| c.is_connected()))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Ids of the builds running on this master.
    pub fn running_builds(&self) -> Vec<BuildId> {
        lock(&self.inner.state).builds.keys().copied().collect()
    }

    fn check_running(&self) -> Result<(), MasterError> {
        if self.inner.draining.load(Ordering::SeqCst) {
            return Err(MasterError::Stopping);
        }
        Ok(())
    }

    /// Adds a change — what change sources, `buildbot sendchange` and the web's change hooks
    /// do — and announces it on the event bus (`changes/<id>/new`).
    pub async fn add_change(&self, ch: &NewChange) -> Result<ChangeId, MasterError> {
        let db = &self.inner.db;
        let id = db.add_change(ch).await?;
        if let Some(row) = db.get_change(id).await? {
            let ss = db.get_sourcestamp(row.sourcestampid).await?;
            self.inner
                .events
                .publish_change(id, || json::change(&row, ss.as_ref()));
        }
        Ok(id)
    }

    /// Submits a buildset (§6.1) — what every scheduler does — with collapsing (§6.6) and
    /// events; returns the buildset id and `(builder, request)` pairs.
    pub async fn submit_buildset(
        &self,
        bs: NewBuildset,
        scheduler: &str,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        self.submit(bs, scheduler, None).await
    }

    async fn submit(
        &self,
        bs: NewBuildset,
        scheduler: &str,
        ss_rows: Option<Vec<buildbot_db::SourceStampRow>>,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        self.check_running()?;
        let inner = &self.inner;
        let (bsid, map) = inner.db.add_buildset(&bs).await?;
        schedulers::buildset_submitted(inner, scheduler, bsid).await?;
        let reqs: Vec<(BuilderId, BuildRequestId)> = map.into_iter().collect();
        for (builderid, brid) in &reqs {
            self.collapse(*builderid, *brid, bsid).await?;
        }
        let ss_rows = match ss_rows {
            Some(r) => r,
            None => inner.db.get_sourcestamps(&bs.sourcestamps).await?,
        };
        if inner.events.subscriber_count() > 0 {
            let submitted = bs.submitted_at.unwrap_or_else(now);
            for (builderid, brid) in &reqs {
                inner
                    .events
                    .publish_buildrequest(bsid, *builderid, *brid, "new", || {
                        json::buildrequest_new(
                            *brid,
                            bsid,
                            *builderid,
                            bs.priority,
                            submitted,
                            bs.waited_for,
                        )
                    });
            }
            inner.events.publish_buildset(bsid, "new", || {
                let sourcestamps = ss_rows.iter().map(|s| Value::Object(ss_map(s))).collect();
                json::buildset_new(
                    bsid,
                    &bs.reason,
                    submitted,
                    scheduler,
                    bs.rebuilt_buildid,
                    Value::Array(sourcestamps),
                )
            });
        }
        if !reqs.is_empty() {
            lock(&inner.buildsets).insert(
                bsid,
                Arc::new(BuildsetInputs {
                    properties: bs.properties.clone(),
                    sourcestamps: ss_rows,
                }),
            );
        }
        if reqs.is_empty() {
            inner.db.complete_buildset(bsid, Results::Success).await?;
            publish_buildset_complete(inner, bsid).await?;
        }
        inner.wake_builders(reqs.iter().map(|r| r.0).collect());
        Ok((bsid, reqs))
    }

    /// §6.6: older compatible pending requests of the builder are completed SKIPPED.
    async fn collapse(
        &self,
        builderid: BuilderId,
        brid: BuildRequestId,
        bsid: BuildsetId,
    ) -> Result<(), DbError> {
        let inner = &self.inner;
        let cfg = inner.config();
        let enabled = {
            let st = lock(&inner.state);
            st.builders
                .values()
                .find(|b| b.id == builderid)
                .map(|b| b.config.collapse_requests.unwrap_or(cfg.collapse_requests))
                .unwrap_or(false)
        };
        if !enabled {
            return Ok(());
        }
        let pending = inner
            .db
            .pending_buildrequests(Some(builderid), Some(100))
            .await?;
        let older: Vec<BuildRequestRow> = pending
            .into_iter()
            .filter(|r| r.buildrequestid.0 < brid.0)
            .collect();
        if older.is_empty() {
            return Ok(());
        }
        let new_bs = inner.db.get_buildset(bsid).await?;
        let new_props = scheduler_props(&inner.db.get_buildset_properties(bsid).await?);
        for o in older {
            let compatible = if o.buildsetid == bsid {
                true
            } else {
                let old_bs = inner.db.get_buildset(o.buildsetid).await?;
                let same_ss = match (&new_bs, &old_bs) {
                    (Some(a), Some(b)) => {
                        let mut x = a.sourcestamps.clone();
                        let mut y = b.sourcestamps.clone();
                        x.sort();
                        y.sort();
                        x == y
                    }
                    _ => false,
                };
                same_ss
                    && scheduler_props(&inner.db.get_buildset_properties(o.buildsetid).await?)
                        == new_props
            };
            if !compatible {
                continue;
            }
            if inner
                .db
                .claim_buildrequests(&[o.buildrequestid], inner.masterid, None)
                .await?
                != ClaimOutcome::Claimed
            {
                continue;
            }
            publish_req(inner, &o, "claimed", false, None);
            if inner
                .db
                .complete_buildrequests(&[o.buildrequestid], Results::Skipped, None)
                .await?
            {
                publish_req(inner, &o, "complete", true, Some(Results::Skipped));
                if inner
                    .db
                    .maybe_complete_buildset(o.buildsetid)
                    .await?
                    .is_some()
                {
                    publish_buildset_complete(inner, o.buildsetid).await?;
                }
            }
        }
        Ok(())
    }

    /// Runs `ForceScheduler` `scheduler`: validates the parameters, and submits a buildset
    /// with reason `A build was forced by '<owner>': <reason>`.
    pub async fn force(
        &self,
        scheduler: &str,
        req: ForceRequest,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        let cfg = self.inner.config();
        let sched = cfg
            .scheduler(scheduler)
            .ok_or_else(|| MasterError::NoForceScheduler(scheduler.into()))?;
        let SchedulerKind::Force { parameters, .. } = &sched.kind else {
            return Err(MasterError::NoForceScheduler(scheduler.into()));
        };
        let names: Vec<String> = if req.builder_names.is_empty() {
            sched.builder_names.clone()
        } else {
            req.builder_names.clone()
        };
        let mut builderids = Vec::new();
        for n in &names {
            let id = if sched.builder_names.contains(n) {
                lock(&self.inner.state).builders.get(n).map(|b| b.id)
            } else {
                None
            };
            builderids.push(id.ok_or_else(|| MasterError::UnknownBuilder {
                scheduler: scheduler.into(),
                builder: n.clone(),
            })?);
        }
        let mut props = Properties::new();
        for (k, v, s) in sched.properties.iter() {
            props.set(k, v.clone(), s);
        }
        for p in parameters {
            let given = req.properties.get(&p.name).cloned();
            let v = check_parameter(p, given)?;
            props.set(&p.name, v, "Force Build Form");
        }
        for k in req.properties.keys() {
            if !parameters.iter().any(|p| &p.name == k) {
                return Err(MasterError::InvalidParameter {
                    name: k.clone(),
                    message: format!("scheduler '{scheduler}' has no such parameter"),
                });
            }
        }
        props.set("owner", Value::from(req.owner.clone()), "Force Build Form");
        props.set(
            "reason",
            Value::from(req.reason.clone()),
            "Force Build Form",
        );
        props.set("scheduler", Value::from(scheduler), "Scheduler");
        let cached = lock(&self.inner.force_ss).clone();
        let ss_row =
            match cached {
                Some(r) => r,
                None => {
                    let mut ss = SourceStampSpec::new(Some(""), Some(""), "");
                    ss.project = String::new();
                    ss.codebase = String::new();
                    let ssid = self.inner.db.find_or_create_sourcestamp(&ss).await?;
                    let row = self.inner.db.get_sourcestamp(ssid).await?.ok_or(
                        MasterError::NotFound {
                            what: "sourcestamp",
                            id: ssid.0,
                        },
                    )?;
                    *lock(&self.inner.force_ss) = Some(row.clone());
                    row
                }
            };
        let ssid = ss_row.ssid;
        let reason = format!("A build was forced by '{}': {}", req.owner, req.reason);
        let mut bs = NewBuildset::new(&reason, vec![ssid], builderids);
        bs.properties = props.as_map().clone();
        bs.priority = sched.priority;
        self.submit(bs, scheduler, Some(vec![ss_row])).await
    }

    /// Stops a running build (§6.5): its current command is interrupted and it ends
    /// CANCELLED with `cancelled (<reason>) …`. A build that is not running is left alone.
    pub async fn stop_build(&self, buildid: BuildId, reason: &str) -> Result<(), MasterError> {
        let shared = lock(&self.inner.state)
            .builds
            .get(&buildid)
            .map(|b| b.shared.clone());
        match shared {
            Some(s) => {
                s.request_stop(reason, Results::Cancelled).await;
                Ok(())
            }
            None => match self.inner.db.get_build(buildid).await? {
                Some(_) => Ok(()),
                None => Err(MasterError::NotFound {
                    what: "build",
                    id: buildid.0,
                }),
            },
        }
    }

    /// Cancels a request (§6.5): a pending one is completed CANCELLED; a claimed one has its
    /// builds stopped.
    pub async fn cancel_request(
        &self,
        brid: BuildRequestId,
        reason: &str,
    ) -> Result<(), MasterError> {
        let inner = &self.inner;
        let Some(row) = inner.db.get_buildrequest(brid).await? else {
            return Err(MasterError::NotFound {
                what: "build request",
                id: brid.0,
            });
        };
        if row.complete {
            return Ok(());
        }
        match inner.db.cancel_buildrequest(brid, inner.masterid).await? {
            CancelOutcome::Cancelled {
                bsid,
                buildset_results,
            } => {
                publish_req(inner, &row, "claimed", false, None);
                publish_req(inner, &row, "complete", true, Some(Results::Cancelled));
                if buildset_results.is_some() {
                    publish_buildset_complete(inner, bsid).await?;
                }
                inner.events.publish_buildrequest_cancel(brid);
            }
            _ => {
                let builds: Vec<Arc<build::BuildShared>> = lock(&inner.state)
                    .builds
                    .values()
                    .filter(|b| b.brids.contains(&brid))
                    .map(|b| b.shared.clone())
                    .collect();
                for b in builds {
                    b.request_stop(reason, Results::Cancelled).await;
                }
            }
        }
        Ok(())
    }

    /// Sets the priority of a request that is not complete yet (the intended effect of the
    /// `set_priority` control action; a complete request is left unchanged).
    pub async fn set_request_priority(
        &self,
        brid: BuildRequestId,
        priority: i64,
    ) -> Result<(), MasterError> {
        let inner = &self.inner;
        let Some(row) = inner.db.get_buildrequest(brid).await? else {
            return Err(MasterError::NotFound {
                what: "build request",
                id: brid.0,
            });
        };
        if !row.complete {
            inner.db.set_buildrequest_priority(brid, priority).await?;
        }
        Ok(())
    }

    /// Enables or disables a scheduler (`schedulers.enabled`, the `enable` control action).
    pub async fn set_scheduler_enabled(
        &self,
        id: buildbot_db::SchedulerId,
        enabled: bool,
    ) -> Result<(), MasterError> {
        self.inner.db.set_scheduler_enabled(id, enabled).await?;
        Ok(())
    }

    /// Rebuilds a build (§6.5): a new buildset copying the original's source stamps and
    /// properties, reason `rebuild`, one request for the same builder.
    pub async fn rebuild(
        &self,
        buildid: BuildId,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        let db = &self.inner.db;
        let b = db.get_build(buildid).await?.ok_or(MasterError::NotFound {
            what: "build",
            id: buildid.0,
        })?;
        let br = db
            .get_buildrequest(b.buildrequestid)
            .await?
            .ok_or(MasterError::NotFound {
                what: "build request",
                id: b.buildrequestid.0,
            })?;
        let bs = db
            .get_buildset(br.buildsetid)
            .await?
            .ok_or(MasterError::NotFound {
                what: "buildset",
                id: br.buildsetid.0,
            })?;
        let props = db.get_buildset_properties(bs.bsid).await?;
        let mut nb = NewBuildset::new("rebuild", bs.sourcestamps.clone(), vec![b.builderid]);
        nb.properties = props;
        nb.external_idstring = bs.external_idstring.clone();
        nb.parent_buildid = bs.parent_buildid;
        nb.parent_relationship = bs.parent_relationship.clone();
        nb.rebuilt_buildid = Some(bs.rebuilt_buildid.unwrap_or(buildid));
        nb.waited_for = false;
        nb.priority = br.priority;
        self.submit_buildset(nb, "rebuild").await
    }

    /// Applies a new configuration, all or nothing: an invalid config or one needing a
    /// restart changes nothing. Builders are added/removed, worker credentials and builder
    /// lists updated; running builds keep going.
    pub async fn reconfig(&self, new: MasterConfig) -> Result<(), MasterError> {
        new.validate()?;
        let old = self.inner.config();
        let restart = restart_required(&old, &new);
        if !restart.is_empty() {
            return Err(MasterError::RestartRequired(restart));
        }
        self.inner.apply_config(&new, Some(&old)).await?;
        *self.inner.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new.clone());
        for e in self.inner.manager.reconfigure(registrations(&new)).await {
            log::warn!("reconfig: updating a worker's builders: {e}");
        }
        let _ = self.inner.wake.try_send(Wake::All);
        log::info!("reconfig applied");
        Ok(())
    }

    async fn worker_action(
        &self,
        name: &str,
        f: impl FnOnce(&mut WorkerEntry),
    ) -> Result<(WorkerId, Option<WorkerConnection>, bool, bool, usize), MasterError> {
        let (id, conn, paused, graceful, running) = {
            let mut st = lock(&self.inner.state);
            let w = st.workers.get_mut(name).ok_or(MasterError::NotFound {
                what: "worker",
                id: -1,
            })?;
            f(w);
            (w.id, w.conn.clone(), w.paused, w.graceful, w.running)
        };
        Ok((id, conn, paused, graceful, running))
    }

    async fn set_worker_flags(
        &self,
        id: WorkerId,
        name: &str,
        paused: bool,
        graceful: bool,
        reason: Option<&str>,
    ) -> Result<(), MasterError> {
        self.inner
            .db
            .set_worker_state(id, paused, graceful, reason)
            .await?;
        let (n, r) = (name.to_owned(), reason.map(str::to_owned));
        self.inner.events.publish_worker(id, "state_updated", || {
            serde_json::json!({"workerid": id.0, "name": n, "paused": paused, "pause_reason": r, "graceful": graceful})
        });
        Ok(())
    }

    /// Pauses a worker (§6.5): it gets no new builds until unpaused (persisted).
    pub async fn pause_worker(&self, name: &str, reason: Option<&str>) -> Result<(), MasterError> {
        let (id, _, _, graceful, _) = self.worker_action(name, |w| w.paused = true).await?;
        self.set_worker_flags(id, name, true, graceful, reason)
            .await
    }

    /// Unpauses a worker.
    pub async fn unpause_worker(&self, name: &str) -> Result<(), MasterError> {
        let (id, _, _, graceful, _) = self.worker_action(name, |w| w.paused = false).await?;
        self.set_worker_flags(id, name, false, graceful, None)
            .await?;
        let ids = self
            .inner
            .builder_ids_of_worker(&lock(&self.inner.state), name);
        self.inner.wake_builders(ids);
        Ok(())
    }

    /// Graceful stop of a worker (§6.5): no new builds; told to shut down once idle.
    pub async fn graceful_stop_worker(&self, name: &str) -> Result<(), MasterError> {
        let (id, conn, paused, _, running) = self
            .worker_action(name, |w| {
                w.graceful = true;
                w.shutdown_requested = true;
            })
            .await?;
        self.set_worker_flags(id, name, paused, true, None).await?;
        if running == 0
            && let Some(c) = conn
        {
            let _ = c.shutdown().await;
        }
        Ok(())
    }

    /// Drops a worker's connection at once (`kill`): its running builds end RETRY.
    pub async fn kill_worker(&self, name: &str) -> Result<(), MasterError> {
        let (_, conn, ..) = self.worker_action(name, |_| {}).await?;
        if let Some(c) = conn {
            c.disconnect();
        }
        Ok(())
    }

    /// Waits until a request is complete and returns it.
    pub async fn wait_for_request(
        &self,
        brid: BuildRequestId,
        timeout: Duration,
    ) -> Result<BuildRequestRow, MasterError> {
        let sub = self
            .inner
            .events
            .subscribe_path(&format!("buildrequests/{}/complete", brid.0));
        let deadline = Instant::now() + timeout;
        loop {
            match self.inner.db.get_buildrequest(brid).await? {
                Some(r) if r.complete => return Ok(r),
                Some(_) => {}
                None => {
                    return Err(MasterError::NotFound {
                        what: "build request",
                        id: brid.0,
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MasterError::Timeout(
                    timeout,
                    format!("build request {}", brid.0),
                ));
            }
            let _ =
                async_std::future::timeout(left.min(Duration::from_millis(250)), sub.recv()).await;
        }
    }

    /// Waits until a build is finished and returns its row.
    pub async fn wait_for_build(
        &self,
        buildid: BuildId,
        timeout: Duration,
    ) -> Result<BuildRow, MasterError> {
        let sub = self
            .inner
            .events
            .subscribe_path(&format!("builds/{}/finished", buildid.0));
        let deadline = Instant::now() + timeout;
        loop {
            match self.inner.db.get_build(buildid).await? {
                Some(b) if b.complete_at.is_some() => return Ok(b),
                Some(_) => {}
                None => {
                    return Err(MasterError::NotFound {
                        what: "build",
                        id: buildid.0,
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MasterError::Timeout(
                    timeout,
                    format!("build {}", buildid.0),
                ));
            }
            let _ =
                async_std::future::timeout(left.min(Duration::from_millis(250)), sub.recv()).await;
        }
    }

    /// Waits until a request has a build (started by any master) and returns the newest.
    pub async fn wait_for_build_of(
        &self,
        brid: BuildRequestId,
        timeout: Duration,
    ) -> Result<BuildRow, MasterError> {
        let deadline = Instant::now() + timeout;
        loop {
            let builds = self.builds_of_request(brid).await?;
            if let Some(b) = builds.into_iter().last() {
                return Ok(b);
            }
            if Instant::now() >= deadline {
                return Err(MasterError::Timeout(
                    timeout,
                    format!("a build of request {}", brid.0),
                ));
            }
            async_std::task::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Builds of a request, oldest first.
    pub async fn builds_of_request(
        &self,
        brid: BuildRequestId,
    ) -> Result<Vec<BuildRow>, MasterError> {
        Ok(self
            .inner
            .db
            .list_builds(
                &Query::new()
                    .eq("buildrequestid", brid.0)
                    .order("buildid", false),
            )
            .await?)
    }

    /// Stops without waiting for builds: new work is refused, running builds are
    /// interrupted and end RETRY (their requests run again later), workers are dropped, and
    /// the master row is deactivated with its builder/worker/scheduler links removed.
    pub async fn stop(&self) -> Result<(), MasterError> {
        self.shutdown(false).await
    }

    /// Waits for running builds to finish (starting no new ones), then stops
    /// (`buildbot stop --clean`).
    pub async fn stop_when_idle(&self) -> Result<(), MasterError> {
        self.shutdown(true).await
    }

    async fn shutdown(&self, clean: bool) -> Result<(), MasterError> {
        let inner = &self.inner;
        if inner.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        inner.draining.store(true, Ordering::SeqCst);
        if !clean {
            let builds: Vec<Arc<build::BuildShared>> = lock(&inner.state)
                .builds
                .values()
                .map(|b| b.shared.clone())
                .collect();
            for b in builds {
                b.request_stop("master shutdown", Results::Retry).await;
            }
        }
        // wait for running builds (bounded when not clean)
        let deadline = Instant::now() + Duration::from_secs(if clean { 365 * 86400 } else { 30 });
        loop {
            let busy = {
                let st = lock(&inner.state);
                !st.builds.is_empty() || st.starting > 0
            };
            if !busy || Instant::now() >= deadline {
                break;
            }
            async_std::task::sleep(Duration::from_millis(20)).await;
        }
        inner.manager.stop().await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&inner.tasks));
        for t in tasks {
            t.cancel().await;
        }
        let hk = inner.db.master_housekeeping(inner.masterid).await?;
        for b in hk.builders_stopped {
            let mid = inner.masterid;
            inner.events.publish_builder(
                b,
                "stopped",
                || serde_json::json!({"builderid": b.0, "masterid": mid.0}),
            );
        }
        inner
            .db
            .deconfigure_all_workers_for_master(inner.masterid)
            .await?;
        inner.db.forget_connected_workers(inner.masterid).await?;
        if inner.db.set_master_state(inner.masterid, false).await? {
            let n = inner.name.clone();
            let mid = inner.masterid;
            inner
                .events
                .publish_master(mid, "stopped", || json::master(mid, &n, false));
        }
        log::info!("master {} stopped", inner.name);
        Ok(())
    }
}

fn scheduler_props(p: &buildbot_db::Properties) -> BTreeMap<String, Value> {
    p.iter()
        .filter(|(k, (_, s))| s == "Scheduler" && k.as_str() != "scheduler")
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

fn check_parameter(
    p: &crate::master::config::ForceParameter,
    given: Option<Value>,
) -> Result<Value, MasterError> {
    let bad = |m: String| MasterError::InvalidParameter {
        name: p.name.clone(),
        message: m,
    };
    let v = match (p.kind, given) {
        (ForceParameterKind::Fixed, _) | (_, None) => p.default.clone(),
        (_, Some(v)) => v,
    };
    let v = match p.kind {
        ForceParameterKind::Int => match &v {
            Value::Number(n) if n.is_i64() => v,
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad(format!("'{s}' is not an integer")))?,
            Value::Null => Value::from(0),
            other => return Err(bad(format!("{other} is not an integer"))),
        },
        ForceParameterKind::Boolean => match &v {
            Value::Bool(_) => v,
            Value::String(s) => Value::Bool(matches!(s.as_str(), "true" | "True" | "1" | "on")),
            Value::Null => Value::Bool(false),
            Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
            other => return Err(bad(format!("{other} is not a boolean"))),
        },
        ForceParameterKind::ChoiceString => {
            let picked: Vec<String> = match &v {
                Value::Array(a) => a.iter().map(crate::master::python_str).collect(),
                Value::Null => vec![],
                other => vec![crate::master::python_str(other)],
            };
            if p.strict {
                for x in &picked {
                    if !p.choices.contains(x) {
                        return Err(bad(format!("'{x}' is not one of {:?}", p.choices)));
                    }
                }
            }
            if p.multiple {
                Value::from(picked)
            } else {
                Value::from(picked.into_iter().next().unwrap_or_default())
            }
        }
        _ => match &v {
            Value::String(_) => v,
            Value::Null => Value::from(""),
            other => Value::from(crate::master::python_str(other)),
        },
    };
    if p.required && matches!(&v, Value::String(s) if s.is_empty()) {
        return Err(bad("a value is required".into()));
    }
    Ok(v)
}
