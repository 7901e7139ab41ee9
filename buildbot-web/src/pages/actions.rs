//! The page forms' POST routes: force a build, pause/unpause/gracefully stop a worker.
//! Each answers `303 See Other` to the page to show next. A POST whose `Origin` is foreign
//! (not this site, `buildbotURL` or `www.allowed_origins`: `crate::origin`) gets `403` and
//! changes nothing; one without `Origin` (curl, scripts) is served.

use std::time::Duration;

use buildbot_core::master::MasterError;
use buildbot_core::master::config::{ForceParameterKind, ForceSchedulerConfig, SchedulerKind};
use buildbot_db::Query;
use serde_json::{Map, Value, json};
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
        MasterError::InvalidForceFields(_)
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

/// The posted form as force fields: one value per field, a list for a `multiple` one, a
/// boolean for a check box (the last of its hidden `false` and its `true`); the page's
/// own `scheduler` field is left out.
fn form_fields(sched: &ForceSchedulerConfig, pairs: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        if k == "scheduler" {
            continue;
        }
        let p = sched.all_parameters().find(|p| &p.full_name == k);
        let value = match p {
            Some(p) if p.kind == ForceParameterKind::Boolean => Value::Bool(v == "true"),
            Some(p) if p.multiple => {
                let mut list = match out.remove(k) {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                list.push(Value::from(v.clone()));
                Value::Array(list)
            }
            // a field given twice keeps its first value
            _ if out.contains_key(k) => continue,
            _ => Value::from(v.clone()),
        };
        out.insert(k.clone(), value);
    }
    out
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
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let cfg = st.handle.config();
    let sched_name = get("scheduler").unwrap_or_default();
    let Some(SchedulerKind::Force(sched)) = cfg.scheduler(&sched_name).map(|s| &s.kind) else {
        return Err(error_page(
            req,
            StatusCode::BadRequest,
            &format!("no ForceScheduler named '{sched_name}'"),
        ));
    };
    let mut posted = form_fields(sched, fields);
    posted.insert("builderNames".into(), json!([builder.name]));
    let owner = crate::auth::current_user(req).map(|u| u.email.as_str());
    let fr = st
        .handle
        .force_request(&sched_name, owner, &posted)
        .map_err(|e| master_error(req, &e))?;
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

/// In front of every form route: a request from a foreign `Origin` (`crate::origin`) gets
/// `403` before its body is read or anything is done.
fn same_site_only<'a>(
    req: Req,
    next: tide::Next<'a, State>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = tide::Result> + Send + 'a>> {
    Box::pin(async move {
        if !crate::origin::allowed_or_log(&req, "form POST") {
            return Ok(error_page(
                &req,
                StatusCode::Forbidden,
                "cross-site request refused: this form must be posted from this site's pages",
            ));
        }
        Ok(next.run(req).await)
    })
}

pub(super) fn routes(app: &mut tide::Server<State>) {
    app.at("/builders/:builder/force")
        .with(same_site_only)
        .post(force);
    app.at("/workers/:worker/pause")
        .with(same_site_only)
        .post(worker_action(Action::PauseWorker));
    app.at("/workers/:worker/unpause")
        .with(same_site_only)
        .post(worker_action(Action::UnpauseWorker));
    app.at("/workers/:worker/stop")
        .with(same_site_only)
        .post(worker_action(Action::StopWorker));
}
