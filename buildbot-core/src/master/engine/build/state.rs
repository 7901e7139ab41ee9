//! A running build: what its task, its steps and `stop_build` share ([`Build`]), and its
//! creation (the build row, `created`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, Db, DbError, MasterId, Results, StepId, WorkerId,
};
use serde_json::Value;

use crate::master::config::LockAccess;
use crate::master::properties::Properties;
use crate::master::workers::{CommandHandle, WorkerConnection};
use crate::master::{EventBus, Renderable};
use crate::util::{lock, unix_now};

use super::BuildServices;
use crate::master::rest;

/// Why a build was stopped.
#[derive(Clone, Debug)]
pub(crate) struct StopRequest {
    pub reason: String,
    pub results: Results,
}

/// A running build: what the build task and its steps share (and what `stop_build`
/// reaches).
pub(crate) struct Build {
    pub db: Db,
    pub events: EventBus,
    pub basedir: PathBuf,
    pub buildid: BuildId,
    pub number: i64,
    pub builderid: BuilderId,
    pub builder_name: String,
    pub buildrequestid: BuildRequestId,
    pub workerid: WorkerId,
    pub masterid: MasterId,
    pub started_at: i64,
    pub worker: WorkerConnection,
    pub properties: Mutex<Properties>,
    pub sourcestamps: BTreeMap<String, serde_json::Map<String, Value>>,
    pub env: BTreeMap<String, Renderable>,
    /// What the build may ask of the master (config snapshot, locks, buildset submission).
    pub services: BuildServices,
    /// The builder's `locks`, held for the whole build.
    pub build_locks: Vec<LockAccess>,
    pub stop: Mutex<Option<StopRequest>>,
    pub command: Mutex<Option<CommandHandle>>,
    pub state_string: Mutex<String>,
    /// Number of the next step (this build adds all its steps, so it is `max+1` without a
    /// query).
    next_step: AtomicI64,
    flushed: Mutex<BTreeMap<String, (Value, String)>>,
}

impl Build {
    pub(crate) fn stop_reason(&self) -> Option<String> {
        lock(&self.stop).as_ref().map(|s| s.reason.clone())
    }

    pub(crate) fn set_command(&self, c: Option<CommandHandle>) {
        *lock(&self.command) = c;
    }

    /// Asks the build to stop; interrupts the running command.
    pub(crate) async fn request_stop(&self, reason: &str, results: Results) {
        {
            let mut s = lock(&self.stop);
            if s.is_some() {
                return;
            }
            *s = Some(StopRequest {
                reason: reason.to_owned(),
                results,
            });
        }
        let cmd = lock(&self.command).clone();
        if let Some(cmd) = cmd
            && let Err(e) = cmd.interrupt(reason).await
        {
            log::warn!("build {}: interrupt failed: {e}", self.buildid.0);
        }
    }

    fn build_json(&self, complete: Option<(i64, Results)>) -> Value {
        let st = lock(&self.state_string).clone();
        rest::BuildView {
            buildid: self.buildid,
            number: self.number,
            builderid: self.builderid,
            buildrequestid: self.buildrequestid,
            workerid: Some(self.workerid),
            masterid: self.masterid,
            started_at: self.started_at,
            complete_at: complete.map(|c| c.0),
            locks_duration_s: 0,
            state_string: &st,
            results: complete.map(|c| i64::from(c.1.code())),
        }
        .to_json()
    }

    pub(crate) fn publish_build(&self, event: &str, complete: Option<(i64, Results)>) {
        self.events.publish_build(
            crate::master::BuildKeys {
                builderid: self.builderid,
                number: self.number,
                buildid: self.buildid,
                workerid: self.workerid,
            },
            event,
            || self.build_json(complete),
        );
    }

    /// Adds the next step (state `pending`), started at `started` with its locks acquired
    /// (one insert instead of `add_step` + `start_step`): `(stepid, number, name)`.
    pub(crate) async fn add_started_step(
        &self,
        name: &str,
        started: i64,
    ) -> Result<(StepId, i64, String), DbError> {
        let hint = self.next_step.load(Ordering::Relaxed);
        let (stepid, number, name) = self
            .db
            .add_step_numbered(self.buildid, name, "pending", Some(hint), Some(started))
            .await?;
        self.next_step.store(number + 1, Ordering::Relaxed);
        Ok((stepid, number, name))
    }

    /// Announces `event` of a step the build adds itself (`worker_preparation`,
    /// `locks_acquire`): no URLs, never hidden; `done` is its end and result.
    pub(crate) fn publish_own_step(
        &self,
        step: (StepId, i64, &str),
        started: i64,
        locks_acquired_at: Option<i64>,
        event: &str,
        state: &str,
        done: Option<(i64, Results)>,
    ) {
        let (stepid, number, name) = step;
        self.events.publish_step(self.buildid, stepid, event, || {
            rest::StepView {
                stepid,
                number,
                name,
                buildid: self.buildid,
                started_at: Some(started),
                locks_acquired_at,
                complete_at: done.map(|d| d.0),
                state_string: state,
                results: done.map(|d| i64::from(d.1.code())),
                urls: &[],
                hidden: false,
            }
            .to_json()
        });
    }

    /// Sets the summary in memory and announces it, without a DB write: for a state that is
    /// replaced right away (the next [`Build::set_state`] writes the latest one).
    pub(crate) fn set_passing_state(&self, text: &str) {
        {
            let mut s = lock(&self.state_string);
            if *s == text {
                return;
            }
            *s = text.to_owned();
        }
        self.publish_build("update", None);
    }

    pub(crate) async fn set_state(&self, text: &str) -> Result<(), DbError> {
        {
            let mut s = lock(&self.state_string);
            if *s == text {
                return Ok(());
            }
            *s = text.to_owned();
        }
        self.db.set_build_state_string(self.buildid, text).await?;
        self.publish_build("update", None);
        Ok(())
    }

    /// Writes the properties that changed since the last flush and announces them.
    pub(crate) async fn flush_properties(&self) -> Result<(), DbError> {
        let changed: BTreeMap<String, (Value, String)> = {
            let props = lock(&self.properties);
            let flushed = lock(&self.flushed);
            props
                .as_map()
                .iter()
                .filter(|(k, v)| flushed.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if changed.is_empty() {
            return Ok(());
        }
        if lock(&self.flushed).is_empty() {
            // the build's first write: nothing to compare with in the database
            self.db.add_build_properties(self.buildid, &changed).await?;
        } else {
            self.db.set_build_properties(self.buildid, &changed).await?;
        }
        lock(&self.flushed).extend(changed.clone());
        self.events
            .publish_build_properties(self.buildid, || rest::properties(&changed));
        Ok(())
    }
}

/// Everything needed to create a build.
pub(crate) struct NewBuild {
    pub db: Db,
    pub events: EventBus,
    pub basedir: PathBuf,
    pub builderid: BuilderId,
    pub builder_name: String,
    pub brids: Vec<BuildRequestId>,
    pub workerid: WorkerId,
    pub masterid: MasterId,
    pub worker: WorkerConnection,
    pub properties: Properties,
    pub sourcestamps: BTreeMap<String, serde_json::Map<String, Value>>,
    pub env: BTreeMap<String, Renderable>,
    pub services: BuildServices,
    pub build_locks: Vec<LockAccess>,
}

/// Inserts the build row (`created`); nothing is announced yet.
pub(crate) async fn create_build(nb: NewBuild) -> Result<Arc<Build>, DbError> {
    let (buildid, number) = nb
        .db
        .add_build(
            nb.builderid,
            nb.brids[0],
            Some(nb.workerid),
            nb.masterid,
            "created",
        )
        .await?;
    let mut props = nb.properties;
    props.set("buildnumber", Value::from(number), "Build");
    Ok(Arc::new(Build {
        db: nb.db,
        events: nb.events,
        basedir: nb.basedir,
        buildid,
        number,
        builderid: nb.builderid,
        builder_name: nb.builder_name,
        buildrequestid: nb.brids[0],
        workerid: nb.workerid,
        masterid: nb.masterid,
        started_at: unix_now(),
        worker: nb.worker,
        properties: Mutex::new(props),
        sourcestamps: nb.sourcestamps,
        env: nb.env,
        services: nb.services,
        build_locks: nb.build_locks,
        stop: Mutex::new(None),
        command: Mutex::new(None),
        state_string: Mutex::new("created".into()),
        next_step: AtomicI64::new(0),
        flushed: Mutex::new(BTreeMap::new()),
    }))
}
