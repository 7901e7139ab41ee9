//! One build: the row, the synthetic `worker_preparation` step, the steps in order, the
//! final result (`spec/data-model.md` §6.3–§6.4).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use buildbot_db::{
    BuildId, BuildRequestId, BuilderId, Db, DbError, MasterId, Results, StepId, WorkerId,
};
use serde_json::Value;

use crate::master::EventBus;
use crate::master::config::{StepConfig, StepKind};
use crate::master::properties::{Properties, is_truthy};
use crate::master::results::{
    StepEnding, build_final_text, compute_result_and_termination, contributes_to_build_summary,
    step_result_summary,
};
use crate::master::workers::{CommandHandle, WorkerConnection};

use super::builtin;
use super::json;
use super::step::{BuildRenderContext, StepContext, StepDone, StepError, lock};

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Why a build was stopped.
#[derive(Clone, Debug)]
pub(crate) struct StopRequest {
    pub reason: String,
    pub results: Results,
}

/// What the build task and its steps share (and what `stop_build` reaches).
pub(crate) struct BuildShared {
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
    pub env: BTreeMap<String, crate::master::Renderable>,
    /// The master running the build (steps such as `Trigger` submit buildsets through it).
    pub(super) master: std::sync::Weak<super::Inner>,
    /// The builder's `locks`, held for the whole build.
    pub build_locks: Vec<crate::master::config::LockAccess>,
    pub stop: Mutex<Option<StopRequest>>,
    pub command: Mutex<Option<CommandHandle>>,
    pub state_string: Mutex<String>,
    /// Number of the next step (this build adds all its steps, so it is `max+1` without a
    /// query).
    next_step: std::sync::atomic::AtomicI64,
    flushed: Mutex<BTreeMap<String, (Value, String)>>,
}

impl BuildShared {
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
        json::build(&json::BuildJson {
            buildid: self.buildid,
            number: self.number,
            builderid: self.builderid,
            buildrequestid: self.buildrequestid,
            workerid: self.workerid,
            masterid: self.masterid,
            started_at: self.started_at,
            complete_at: complete.map(|c| c.0),
            state_string: &st,
            results: complete.map(|c| c.1),
        })
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
    pub(super) async fn add_started_step(
        &self,
        name: &str,
        started: i64,
    ) -> Result<(StepId, i64, String), DbError> {
        use std::sync::atomic::Ordering;
        let hint = self.next_step.load(Ordering::Relaxed);
        let (stepid, number, name) = self
            .db
            .add_step_numbered(self.buildid, name, "pending", Some(hint), Some(started))
            .await?;
        self.next_step.store(number + 1, Ordering::Relaxed);
        Ok((stepid, number, name))
    }

    /// Sets the summary in memory and announces it, without a DB write: for a state that is
    /// replaced right away (the next [`BuildShared::set_state`] writes the latest one).
    fn set_passing_state(&self, text: &str) {
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
        self.events.publish_build_properties(self.buildid, || {
            Value::Object(
                changed
                    .into_iter()
                    .map(|(k, (v, s))| (k, Value::Array(vec![v, Value::from(s)])))
                    .collect(),
            )
        });
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
    pub env: BTreeMap<String, crate::master::Renderable>,
    pub(super) master: std::sync::Weak<super::Inner>,
    pub build_locks: Vec<crate::master::config::LockAccess>,
}

/// Inserts the build row (`created`); nothing is announced yet.
pub(crate) async fn create_build(nb: NewBuild) -> Result<Arc<BuildShared>, DbError> {
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
    Ok(Arc::new(BuildShared {
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
        started_at: now(),
        worker: nb.worker,
        properties: Mutex::new(props),
        sourcestamps: nb.sourcestamps,
        env: nb.env,
        master: nb.master,
        build_locks: nb.build_locks,
        stop: Mutex::new(None),
        command: Mutex::new(None),
        state_string: Mutex::new("created".into()),
        next_step: std::sync::atomic::AtomicI64::new(0),
        flushed: Mutex::new(BTreeMap::new()),
    }))
}

struct PrepStep {
    stepid: StepId,
    started: i64,
}

async fn prep_step_event(
    b: &BuildShared,
    p: &PrepStep,
    event: &str,
    state: &str,
    done: Option<(i64, Results)>,
) {
    b.events.publish_step(b.buildid, p.stepid, event, || {
        json::step(&json::StepJson {
            stepid: p.stepid,
            number: 0,
            name: "worker_preparation",
            buildid: b.buildid,
            started_at: Some(p.started),
            locks_acquired_at: Some(p.started),
            complete_at: done.map(|d| d.0),
            state_string: state,
            results: done.map(|d| d.1),
            urls: &[],
            hidden: false,
        })
    });
}

/// Runs the build to its end and returns its result (the build row is finished; requests
/// are the caller's business).
pub(crate) async fn run_build(
    b: Arc<BuildShared>,
    steps: Vec<StepConfig>,
) -> Result<Results, DbError> {
    // worker_preparation (announced before builds/<id>/new, as Buildbot does)
    let started = now();
    let (prep_id, _, _) = b.add_started_step("worker_preparation", started).await?;
    let prep = PrepStep {
        stepid: prep_id,
        started,
    };
    prep_step_event(&b, &prep, "new", "pending", None).await;
    prep_step_event(&b, &prep, "started", "pending", None).await;
    b.flush_properties().await?;
    // "starting" and "preparing worker" are replaced at once: only announced, the DB row
    // gets "pinging worker" (the row Buildbot leaves after the three updates)
    b.set_passing_state("starting");
    b.publish_build("new", None);
    b.set_passing_state("preparing worker");
    b.set_state("pinging worker").await?;
    let pinged = if b.stop_reason().is_some() {
        Err("worker cancelled")
    } else if b.worker.ping().await.is_err() {
        Err("worker not pinged")
    } else {
        Ok(())
    };
    if let Err(text) = pinged {
        let st = "error while pinging worker";
        let r = if b.stop_reason().is_some() {
            Results::Cancelled
        } else {
            Results::Retry
        };
        b.db.finish_step_with_state(prep_id, r, false, Some(st))
            .await?;
        prep_step_event(&b, &prep, "updated", st, None).await;
        prep_step_event(&b, &prep, "finished", st, Some((now(), r))).await;
        return finish(&b, r, text.to_owned()).await;
    }
    let ready = format!("worker {} ready", b.worker.name());
    b.db.finish_step_with_state(prep_id, Results::Success, false, Some(&ready))
        .await?;
    prep_step_event(&b, &prep, "updated", &ready, None).await;
    prep_step_event(
        &b,
        &prep,
        "finished",
        &ready,
        Some((now(), Results::Success)),
    )
    .await;
    let _build_locks = match super::locks::build_locks(&b).await {
        Ok(Ok(held)) => held,
        Ok(Err(r)) => {
            let text = build_final_text(r, b.stop_reason().as_deref(), &[]);
            return finish(&b, r, text).await;
        }
        Err(e) => {
            log::warn!("build {}: cannot acquire locks: {e}", b.buildid.0);
            let text = build_final_text(Results::Exception, None, &[]);
            return finish(&b, Results::Exception, text).await;
        }
    };
    b.set_state("building").await?;

    let mut results = Results::Success;
    let mut texts: Vec<String> = Vec::new();
    let mut terminate = false;
    let mut lost = false;
    for sc in &steps {
        if lost || ((terminate || b.stop_reason().is_some()) && !sc.common.always_run) {
            continue;
        }
        let (step_result, summary, hard) = run_one_step(&b, sc).await?;
        if step_result == Results::Retry && hard {
            lost = true;
        }
        let (r, term) = compute_result_and_termination(&sc.common.flags, step_result, results);
        results = r;
        terminate |= term;
        if contributes_to_build_summary(&sc.common.update_build_summary_policy, step_result) {
            texts.push(summary);
            b.set_state(&texts.join(" ")).await?;
        }
        b.flush_properties().await?;
    }
    let stop = lock(&b.stop).clone();
    let (final_result, text) = if lost {
        (
            Results::Retry,
            build_final_text(Results::Retry, None, &["lost connection".to_owned()]),
        )
    } else if let Some(stop) = stop {
        let r = results.worst(stop.results);
        (
            stop.results,
            build_final_text(r, Some(&stop.reason), &texts),
        )
    } else {
        (results, build_final_text(results, None, &texts))
    };
    finish(&b, final_result, text).await
}

async fn finish(b: &BuildShared, results: Results, text: String) -> Result<Results, DbError> {
    let changed = {
        let mut s = lock(&b.state_string);
        if *s == text {
            false
        } else {
            *s = text.clone();
            true
        }
    };
    // the final summary and the finish in one statement
    b.db.finish_build_with_state(b.buildid, results, changed.then_some(text.as_str()))
        .await?;
    if changed {
        b.publish_build("update", None);
    }
    b.publish_build("finished", Some((now(), results)));
    Ok(results)
}

/// Runs one configured step: `(result, summary, lost connection)`.
async fn run_one_step(
    b: &Arc<BuildShared>,
    sc: &StepConfig,
) -> Result<(Results, String, bool), DbError> {
    let started = now();
    let (stepid, number, name) = b.add_started_step(&sc.common.name, started).await?;
    let mut ctx = StepContext::new(b.clone(), stepid, number, name, started);
    ctx.publish_step("new", None, None);
    ctx.publish_step("started", None, None);

    let render_bool = |r: &crate::master::Renderable, default: bool| -> bool {
        match r.as_constant() {
            Some(v) => is_truthy(v),
            None => {
                let rc = BuildRenderContext {
                    props: lock(&b.properties).clone(),
                    shared: b,
                };
                r.render(&rc).map(|v| is_truthy(&v)).unwrap_or(default)
            }
        }
    };
    let do_step = render_bool(&sc.common.do_step_if, true);
    let outcome: Result<StepDone, StepError> = if !do_step {
        // shell steps summarize with their (rendered) command even when skipped
        let summary = sc.kind.shell().and_then(|sh| {
            let rc = BuildRenderContext {
                props: lock(&b.properties).clone(),
                shared: b,
            };
            let cmd = sh.command.render(&rc).ok()?;
            Some(crate::master::results::shell_result_summary(
                &sc.common.description,
                &cmd,
                Results::Skipped,
                StepEnding::default(),
            ))
        });
        Ok(StepDone {
            results: Results::Skipped,
            summary,
        })
    } else {
        match builtin::make_step(sc) {
            Some(step) => {
                if !matches!(
                    sc.kind,
                    StepKind::ShellCommand(_)
                        | StepKind::Configure(_)
                        | StepKind::Compile(_)
                        | StepKind::Test(_)
                        | StepKind::SetPropertyFromCommand { .. }
                        | StepKind::Git(_)
                ) {
                    let cur = crate::master::results::step_current_summary(&sc.common.description);
                    if let Err(e) = ctx.set_state_string(&cur).await {
                        log::warn!("step {}: {e}", stepid.0);
                    }
                }
                match super::locks::step_locks(&mut ctx, &sc.common.locks).await {
                    Ok(Ok(_held)) => step.run(&mut ctx).await,
                    Ok(Err(cancelled)) => Ok(cancelled),
                    Err(e) => Err(e),
                }
            }
            None => Err(StepError::Failed(format!(
                "step type {} is not supported by this master",
                sc.kind.type_name()
            ))),
        }
    };
    let (results, summary, lost) = match outcome {
        Ok(done) => (done.results, done.summary, false),
        Err(StepError::LostConnection) => (Results::Retry, None, true),
        Err(e) => {
            log::warn!("build {} step {}: {e}", b.buildid.0, sc.common.name);
            if let Err(e2) = ctx.add_complete_log("err.text", &e.to_string()).await {
                log::warn!("step {}: cannot write err.text: {e2}", stepid.0);
            }
            (Results::Exception, None, false)
        }
    };
    let summary = summary.unwrap_or_else(|| {
        step_result_summary(
            &sc.common.description,
            results,
            StepEnding {
                timed_out: ctx.timed_out,
                max_lines_reached: ctx.max_lines_reached,
            },
        )
    });
    if let Err(e) = ctx.finish_all_logs().await {
        log::warn!("step {}: finishing logs: {e}", stepid.0);
    }
    let hidden = render_bool(&sc.common.hide_step_if, false);
    let changed = ctx.state_string != summary;
    if changed {
        ctx.state_string = summary.clone();
    }
    // the final summary and the finish in one statement
    b.db.finish_step_with_state(stepid, results, hidden, changed.then_some(summary.as_str()))
        .await?;
    if changed {
        ctx.publish_step("updated", None, None);
    }
    ctx.publish_step("finished", Some((now(), results)), Some(hidden));
    Ok((results, summary, lost))
}
