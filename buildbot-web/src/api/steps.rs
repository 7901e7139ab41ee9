//! Steps: `/steps/:id` (in the route table), a build's steps by number or name.

use buildbot_db::{Query, StepId, StepRow};
use serde_json::Value;

use super::builds::resolve_build;
use super::mem::py_int;
use super::query::{Kind, collection_value, is_identifier, n_param, single_value};
use super::respond::{ApiError, invalid_path, not_found};
use crate::state::Req;

/// The step of `/steps/:stepid/…` or `<build>/steps/:step/…` (number or name).
pub(super) async fn resolve_step(req: &Req) -> Result<Option<StepRow>, ApiError> {
    let db = req.state().handle.db();
    if req.param("stepid").is_ok() {
        let id = n_param(req, "stepid")?;
        return Ok(db.get_step(StepId(id)).await?);
    }
    let Some(build) = resolve_build(req).await? else {
        return Ok(None);
    };
    let raw = req.param("step").unwrap_or_default();
    let q = Query::new().eq("buildid", build.buildid.0);
    let q = match py_int(raw) {
        Some(n) => q.eq("number", n),
        None if is_identifier(raw) => q.eq("name", raw),
        None => return Err(invalid_path(req)),
    };
    Ok(db.list_steps(&q).await?.into_iter().next())
}

pub(super) async fn build_steps(req: &Req) -> Result<Value, ApiError> {
    let build = resolve_build(req).await?;
    if build.is_none() && req.param("buildid").is_err() {
        return Err(not_found(req));
    }
    let id = build.map_or(-1, |b| b.buildid.0);
    collection_value(req, Kind::Steps, vec![("buildid", id.to_string())]).await
}

pub(super) async fn step_one(req: &Req) -> Result<Value, ApiError> {
    let s = resolve_step(req).await?.ok_or_else(|| not_found(req))?;
    single_value(req, Kind::Steps, vec![("stepid", s.stepid.0.to_string())]).await
}
