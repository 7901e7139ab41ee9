//! The distributor: where a build request becomes a build. Woken by new requests,
//! attaching workers and finished builds, it reads each builder's best pending request,
//! picks a free worker (the builder's `nextWorker` / `nextBuild` / `canStartBuild`
//! strategies, or Buildbot's defaults), claims the request in the database (several
//! masters may share it) and starts the build's task: the build's properties and source
//! stamps from its buildset, the build row, [`run_build`], then the requests completed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_std::channel::Receiver;
use buildbot_db::{
    BuildRequestId, BuildRequestRow, BuilderId, ClaimOutcome, DbError, Results, WorkerId,
};
use serde_json::Value;

use crate::master::config::MasterConfig;
use crate::master::properties::Properties;
use crate::master::workers::WorkerConnection;
use crate::util::{lock, unix_now as now};

use super::BuilderStrategy;
use super::build::{BuildServices, NewBuild, create_build};
use super::buildsets::{finish_requests, load_buildset_inputs, publish_req};
use super::control::WeakMaster;
use super::runner::run_build;
use super::state::{BuilderEntry, Inner, RunningBuild, State, Wake};
use crate::master::rest;

pub(super) async fn distributor_loop(inner: Arc<Inner>, wake: Receiver<Wake>) {
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
                        || rest::buildrequest(&req),
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
pub(super) fn release_slot(inner: &Arc<Inner>, worker: &str, builder: &str, wake: bool) {
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
        (st.builder_ids_of_worker(worker), shutdown)
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

/// Properties and source stamps of a build from its request's buildset.
async fn build_inputs(
    inner: &Inner,
    cfg: &MasterConfig,
    builder: &BuilderEntry,
    wname: &str,
    conn: &WorkerConnection,
    req: &BuildRequestRow,
) -> Result<(Properties, BTreeMap<String, serde_json::Map<String, Value>>), DbError> {
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
        let m = sourcestamp_attrs(ss);
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
    let cfg = inner.config();
    let started = async {
        let (props, sourcestamps) =
            build_inputs(&inner, &cfg, &builder, &wname, &conn, &reqs[0]).await?;
        create_build(NewBuild {
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
            services: BuildServices {
                config: cfg.clone(),
                locks: inner.locks.clone(),
                control: Arc::new(WeakMaster::new(&inner)),
            },
            build_locks: builder.config.locks.clone(),
        })
        .await
    }
    .await;
    let build = match started {
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
    let buildid = build.buildid;
    {
        let mut st = lock(&inner.state);
        st.starting -= 1;
        st.builds.insert(
            buildid,
            RunningBuild {
                build: build.clone(),
                brids: brids.clone(),
            },
        );
    }
    if inner.draining.load(Ordering::SeqCst) {
        build.request_stop("master shutdown", Results::Retry).await;
    }
    let steps = builder.config.steps.clone();
    let results = match run_build(build.clone(), steps).await {
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

/// The attributes of a source stamp a build keeps (`ssid`, `branch`, `revision`,
/// `repository`, `project`, `codebase`): what `%(src:<codebase>:<attr>)s` renders.
fn sourcestamp_attrs(ss: &buildbot_db::SourceStampRow) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("ssid".into(), Value::from(ss.ssid.0));
    m.insert("branch".into(), Value::from(ss.branch.clone()));
    m.insert("revision".into(), Value::from(ss.revision.clone()));
    m.insert("repository".into(), Value::from(ss.repository.clone()));
    m.insert("project".into(), Value::from(ss.project.clone()));
    m.insert("codebase".into(), Value::from(ss.codebase.clone()));
    m
}
