//! The page forms' POST routes: force a build, pause/unpause/gracefully stop a worker.
//! Each answers `303 See Other` to the page to show next.

use std::time::Duration;

use buildbot_core::master::config::{ForceParameterKind, SchedulerKind};
use buildbot_core::master::{ForceRequest, MasterError};
use buildbot_db::Query;
use serde_json::Value;
use tide::{Response, StatusCode};

use super::respond::{error_page, not_found, redirect};
use crate::State;
use crate::state::Req;

/// How long the force route waits for the build to start before sending the user to the
/// builder page instead of the build page.
const WAIT_FOR_BUILD: Duration = Duration::from_secs(3);

/// Control actions the page routes perform (what an authorization check is asked about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Force a build on a builder.
    ForceBuild,
    /// Pause a worker.
    PauseWorker,
    /// Unpause a worker.
    UnpauseWorker,
    /// Gracefully shut a worker down.
    StopWorker,
}

/// May this request perform `action` on `target` (builder or worker name)? `Err` holds the
/// answer to send instead.
///
/// The rules of `[www.authz]` decide (`crate::auth::authorize`), as for the JSON-RPC API.
async fn authorize(req: &Req, action: Action, target: &str) -> Result<(), Response> {
    use crate::auth::Action as A;
    let a = match action {
        Action::ForceBuild => A::Force,
        Action::PauseWorker => A::WorkerPause,
        Action::UnpauseWorker => A::WorkerUnpause,
        Action::StopWorker => A::WorkerStop,
    };
    crate::auth::authorize(req, a, Some(target)).await
}

fn master_error(req: &Req, e: &MasterError) -> Response {
    let status = match e {
        MasterError::InvalidParameter { .. }
        | MasterError::NoForceScheduler(_)
        | MasterError::UnknownBuilder { .. } => StatusCode::BadRequest,
        MasterError::NotFound { .. } => StatusCode::NotFound,
        _ => StatusCode::InternalServerError,
    };
    error_page(req, status, &e.to_string())
}

async fn form(req: &mut Req) -> Result<Vec<(String, String)>, Response> {
    match req.body_form::<Vec<(String, String)>>().await {
        Ok(f) => Ok(f),
        Err(e) => Err(error_page(
            req,
            StatusCode::BadRequest,
            &format!("cannot read the form: {e}"),
        )),
    }
}

async fn force(mut req: Req) -> tide::Result {
    let fields = match form(&mut req).await {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    Ok(force_build(&req, &fields).await.unwrap_or_else(|r| r))
}

async fn force_build(req: &Req, fields: &[(String, String)]) -> Result<Response, Response> {
    let st = req.state();
    let raw = req.param("builder").unwrap_or_default();
    let q = match raw.trim().parse::<i64>() {
        Ok(id) => Query::new().eq("builderid", id),
        Err(_) => Query::new().eq("name", raw),
    };
    let builder = st
        .handle
        .db()
        .list_builders(&q, None)
        .await
        .map_err(|e| error_page(req, StatusCode::InternalServerError, &e.to_string()))?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(req, "builder"))?;
    authorize(req, Action::ForceBuild, &builder.name).await?;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let cfg = st.handle.config();
    let sched_name = get("scheduler").unwrap_or_default();
    let Some(SchedulerKind::Force { parameters, .. }) = cfg.scheduler(&sched_name).map(|s| &s.kind)
    else {
        return Err(error_page(
            req,
            StatusCode::BadRequest,
            &format!("no ForceScheduler named '{sched_name}'"),
        ));
    };
    let owner = get("owner")
        .filter(|s| !s.is_empty())
        .or_else(|| crate::auth::current_user(req).map(|u| u.username.clone()))
        .unwrap_or_else(|| "anonymous".into());
    let reason = get("reason").unwrap_or_else(|| "force build".into());
    let mut fr = ForceRequest::new(owner, reason).builders([builder.name.clone()]);
    for p in parameters {
        let field = format!("param_{}", p.name);
        let values: Vec<&str> = fields
            .iter()
            .filter(|(n, _)| *n == field)
            .map(|(_, v)| v.as_str())
            .collect();
        let v = match p.kind {
            ForceParameterKind::Fixed => continue,
            ForceParameterKind::Boolean => Value::Bool(values.iter().any(|v| *v != "false")),
            ForceParameterKind::ChoiceString if p.multiple => {
                Value::from(values.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            }
            _ => match values.first() {
                Some(v) => Value::from(*v),
                None => continue,
            },
        };
        fr = fr.property(p.name.clone(), v);
    }
    let (_bsid, brids) = st
        .handle
        .force(&sched_name, fr)
        .await
        .map_err(|e| master_error(req, &e))?;
    let builder_page = format!("/builders/{}", builder.builderid.0);
    let Some((_, brid)) = brids.into_iter().find(|(b, _)| *b == builder.builderid) else {
        return Ok(redirect(&builder_page));
    };
    Ok(
        match st.handle.wait_for_build_of(brid, WAIT_FOR_BUILD).await {
            Ok(b) => redirect(&format!(
                "/builders/{}/builds/{}",
                builder.builderid.0, b.number
            )),
            Err(_) => redirect(&builder_page),
        },
    )
}

fn worker_action(action: Action) -> impl tide::Endpoint<State> {
    move |mut req: Req| async move {
        let fields = match form(&mut req).await {
            Ok(f) => f,
            Err(r) => return Ok(r),
        };
        Ok(do_worker_action(&req, action, &fields)
            .await
            .unwrap_or_else(|r| r))
    }
}

async fn do_worker_action(
    req: &Req,
    action: Action,
    fields: &[(String, String)],
) -> Result<Response, Response> {
    let st = req.state();
    let raw = req.param("worker").unwrap_or_default();
    let db = st.handle.db();
    let w = match raw.trim().parse::<i64>() {
        Ok(id) => db.get_worker(buildbot_db::WorkerId(id)).await,
        Err(_) => db.get_worker_by_name(raw).await,
    }
    .map_err(|e| error_page(req, StatusCode::InternalServerError, &e.to_string()))?
    .ok_or_else(|| not_found(req, "worker"))?;
    authorize(req, action, &w.name).await?;
    let reason = fields
        .iter()
        .find(|(k, _)| k == "reason")
        .map(|(_, v)| v.trim())
        .filter(|s| !s.is_empty());
    let r = match action {
        Action::PauseWorker => st.handle.pause_worker(&w.name, reason).await,
        Action::UnpauseWorker => st.handle.unpause_worker(&w.name).await,
        Action::StopWorker => st.handle.graceful_stop_worker(&w.name).await,
        Action::ForceBuild => Ok(()),
    };
    r.map_err(|e| master_error(req, &e))?;
    Ok(redirect(&format!("/workers/{}", w.name)))
}

pub(super) fn routes(app: &mut tide::Server<State>) {
    app.at("/builders/:builder/force").post(force);
    app.at("/workers/:worker/pause")
        .post(worker_action(Action::PauseWorker));
    app.at("/workers/:worker/unpause")
        .post(worker_action(Action::UnpauseWorker));
    app.at("/workers/:worker/stop")
        .post(worker_action(Action::StopWorker));
}
