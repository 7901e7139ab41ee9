//! What the running master holds in memory: its builders and workers with their slots, the
//! builds it runs, and the handles every part of the engine shares ([`Inner`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

use async_std::channel::Sender;
use async_std::task::JoinHandle;
use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, BuildsetId, Db, DbError, MasterId, SchedulerId,
    SourceStampId, SourceStampRow, WorkerId,
};

use crate::master::EventBus;
use crate::master::config::{BuilderConfig, MasterConfig, WorkerConfig};
use crate::master::workers::{WorkerConnection, WorkerManager};

use super::BuilderStrategy;
use super::build::{Build, LockTable};

/// What builds need of a buildset (kept in memory from submission to completion, read
/// from the database for buildsets submitted elsewhere).
pub(super) struct BuildsetInputs {
    pub properties: buildbot_db::Properties,
    pub sourcestamps: Vec<SourceStampRow>,
}

/// A configured builder: its id and configuration.
#[derive(Clone)]
pub(super) struct BuilderEntry {
    pub id: BuilderId,
    pub config: Arc<BuilderConfig>,
}

/// A configured worker: its connection (when attached) and its slots.
pub(super) struct WorkerEntry {
    pub id: WorkerId,
    pub config: WorkerConfig,
    pub conn: Option<WorkerConnection>,
    /// Builds running or starting on it.
    pub running: usize,
    /// Builders with a build on it (one build per builder and worker).
    pub busy: HashSet<String>,
    pub paused: bool,
    pub graceful: bool,
    /// The worker asked to shut down (or a graceful stop was requested): it gets no new
    /// builds and is told to shut down once idle.
    pub shutdown_requested: bool,
}

impl WorkerEntry {
    /// Its connection, if it can take a build of `builder` now.
    pub fn available_for(&self, builder: &str) -> Option<WorkerConnection> {
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

/// A build this master runs, with the requests it builds.
pub(super) struct RunningBuild {
    pub build: Arc<Build>,
    pub brids: Vec<BuildRequestId>,
}

/// The mutable part of the master (one lock, never held across an await).
#[derive(Default)]
pub(super) struct State {
    pub builders: BTreeMap<String, BuilderEntry>,
    pub workers: BTreeMap<String, WorkerEntry>,
    pub builds: HashMap<BuildId, RunningBuild>,
    /// Builds claimed whose task has not registered them in `builds` yet.
    pub starting: usize,
}

impl State {
    /// Ids of the builders `worker` serves.
    pub fn builder_ids_of_worker(&self, worker: &str) -> Vec<BuilderId> {
        self.builders
            .values()
            .filter(|b| b.config.workernames.iter().any(|w| w == worker))
            .map(|b| b.id)
            .collect()
    }
}

/// What the distributor is asked to look at.
pub(super) enum Wake {
    Builders(Vec<BuilderId>),
    All,
}

/// The running master, shared by its tasks and handles.
pub(super) struct Inner {
    pub db: Db,
    pub events: EventBus,
    pub masterid: MasterId,
    pub name: String,
    pub basedir: PathBuf,
    pub config: RwLock<Arc<MasterConfig>>,
    pub state: Mutex<State>,
    /// Inputs of buildsets submitted here and not complete yet.
    pub buildsets: Mutex<HashMap<BuildsetId, Arc<BuildsetInputs>>>,
    /// The source stamp of a force with every field empty (codebase `""`); source stamps
    /// are never deleted, so its id stays valid.
    pub force_ss: Mutex<Option<SourceStampRow>>,
    /// Master and worker locks held by running builds and steps.
    pub locks: Arc<LockTable>,
    /// Builder strategies by name.
    pub strategies: BTreeMap<String, BuilderStrategy>,
    pub wake: Sender<Wake>,
    /// Buildsets of `Dependent` schedulers to submit (`schedulers::dependent_loop`).
    pub dependent: Sender<(String, Vec<SourceStampId>)>,
    pub manager: WorkerManager,
    /// No new builds are started.
    pub draining: AtomicBool,
    pub stopped: AtomicBool,
    pub tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The polling change sources running.
    pub pollers: Mutex<super::pollers::Pollers>,
}

impl Inner {
    /// The current configuration.
    pub fn config(&self) -> Arc<MasterConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether scheduler `sid` is enabled (`schedulers.enabled`; one that is not listed yet
    /// is).
    pub async fn scheduler_enabled(&self, sid: SchedulerId) -> Result<bool, DbError> {
        Ok(self
            .db
            .list_schedulers()
            .await?
            .iter()
            .find(|r| r.schedulerid == sid)
            .is_none_or(|r| r.enabled))
    }

    /// Asks the distributor to look at these builders.
    pub fn wake_builders(&self, ids: Vec<BuilderId>) {
        if !ids.is_empty() {
            let _ = self.wake.try_send(Wake::Builders(ids));
        }
    }
}
