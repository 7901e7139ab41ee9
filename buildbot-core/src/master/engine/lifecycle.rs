//! The master's life: [`Master::start`] (database checks, crash housekeeping, registration
//! of builders, workers, schedulers and change sources, the worker listener and the
//! master's tasks), reconfig, the heartbeat (and the expiry of dead masters), and stop.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_std::channel::unbounded;
use async_std::task::JoinHandle;
use buildbot_db::{BuilderId, BuilderInfo, Db, DbError, Results, SchemaStatus, WorkerId};

use crate::master::EventBus;
use crate::master::config::{MasterConfig, WorkerConfig, restart_required};
use crate::master::workers::{WorkerManager, WorkerManagerConfig};
use crate::util::lock;

use super::attach::{connection_loop, registrations};
use super::distributor::distributor_loop;
use super::state::{BuilderEntry, Inner, State, Wake, WorkerEntry};
use super::{MasterError, MasterHandle, MasterOptions, pollers, schedulers};
use crate::master::rest;

/// Seconds after which a silent master is declared dead (§7.3).
const MASTER_TIMEOUT_S: i64 = 600;

/// Entry point: [`Master::start`].
#[derive(Debug)]
pub struct Master;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
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
        db.set_log_compression_limit(config.log_compression_limit);
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
            pollers: Mutex::new(BTreeMap::new()),
        });
        if let Err(e) = inner.apply_config(&config, None).await {
            inner.manager.stop().await;
            return Err(e);
        }
        if inner.db.set_master_state(masterid, true).await? {
            let n = inner.name.clone();
            inner.events.publish_master(masterid, "started", || {
                rest::master_state(masterid, &n, true)
            });
        }
        let events = inner.manager.events();
        let changes = inner.events.subscribe_path("changes/*/new");
        let t1 = async_std::task::spawn(connection_loop(inner.clone(), events));
        let t2 = async_std::task::spawn(distributor_loop(inner.clone(), wake_rx));
        let t3 = async_std::task::spawn(heartbeat_loop(inner.clone(), opts.heartbeat_interval));
        let t4 = async_std::task::spawn(schedulers::change_loop(inner.clone(), changes));
        let t5 = async_std::task::spawn(schedulers::timed_loop(inner.clone()));
        let t6 = async_std::task::spawn(schedulers::dependent_loop(inner.clone(), dependent_rx));
        let t7 = async_std::task::spawn(super::janitor::janitor_loop(inner.clone()));
        lock(&inner.tasks).extend([t1, t2, t3, t4, t5, t6, t7]);
        let _ = inner.wake.try_send(Wake::All);
        pollers::sync(&inner, &config).await;
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
                self.events
                    .publish_builder(id, "started", || rest::builder_on_master(id, mid, &n));
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
                    self.events
                        .publish_builder(id, "stopped", || rest::builder_on_master(id, mid, &n));
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
                        rest::master_state(m.masterid, &n, false)
                    });
                }
            }
            Err(e) => log::error!("expiring masters: {e}"),
        }
        // requests submitted by other masters sharing the database
        let _ = inner.wake.try_send(Wake::All);
    }
}

impl MasterHandle {
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
        pollers::sync(&self.inner, &new).await;
        let _ = self.inner.wake.try_send(Wake::All);
        log::info!("reconfig applied");
        Ok(())
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
            let builds: Vec<Arc<super::build::Build>> = lock(&inner.state)
                .builds
                .values()
                .map(|b| b.build.clone())
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
        pollers::stop_all(inner).await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&inner.tasks));
        for t in tasks {
            t.cancel().await;
        }
        let hk = inner.db.master_housekeeping(inner.masterid).await?;
        let names: Vec<(BuilderId, String)> = lock(&inner.state)
            .builders
            .values()
            .map(|b| (b.id, b.config.name.clone()))
            .collect();
        for b in hk.builders_stopped {
            let mid = inner.masterid;
            let name = names
                .iter()
                .find(|(id, _)| *id == b)
                .map(|(_, n)| n.as_str())
                .unwrap_or_default();
            inner
                .events
                .publish_builder(b, "stopped", || rest::builder_on_master(b, mid, name));
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
                .publish_master(mid, "stopped", || rest::master_state(mid, &n, false));
        }
        // an SQLite WAL copied into the database and emptied (the database stays open for
        // the embedding program; `Db::close` then removes the file)
        match inner.db.checkpoint().await {
            Ok(true) => {}
            Ok(false) => log::warn!("SQLite checkpoint at shutdown: another process kept it busy"),
            Err(e) => log::warn!("SQLite checkpoint at shutdown: {e}"),
        }
        log::info!("master {} stopped", inner.name);
        Ok(())
    }
}
