//! Workers: `/workers[/:id]` (by id or name), and the workers of a master or a builder.

use buildbot_db::{BuilderId, DbError, MasterId, Query};
use serde_json::Value;

use super::builders::builder_id;
use super::mem::py_int;
use super::query::{Kind, mem_collection, mem_single, n_param, single};
use super::respond::{ApiError, error_response, not_found};
use crate::state::Req;
use buildbot_core::master::rest;

/// A worker row addressed by id or name.
pub(super) async fn find_worker(req: &Req) -> Result<Option<(i64, String)>, DbError> {
    let raw = req.param("id").unwrap_or_default();
    let db = req.state().handle.db();
    let w = match raw.trim().parse::<i64>() {
        Ok(id) => db.get_worker(buildbot_db::WorkerId(id)).await?,
        Err(_) => db.get_worker_by_name(raw).await?,
    };
    Ok(w.map(|w| (w.workerid.0, w.name)))
}

pub(super) async fn worker_one(req: Req) -> tide::Result {
    match find_worker(&req).await {
        Ok(Some((id, _))) => single(req, Kind::Workers, vec![("workerid", id.to_string())]).await,
        Ok(None) => Ok(error_response(not_found(&req))),
        Err(e) => Ok(error_response(e.into())),
    }
}

async fn workers_list(
    req: &Req,
    builder: Option<BuilderId>,
    master: Option<MasterId>,
) -> Result<Vec<Value>, ApiError> {
    Ok(req
        .state()
        .handle
        .db()
        .list_workers(&Query::new(), builder, master)
        .await?
        .iter()
        .map(rest::worker)
        .collect())
}

pub(super) async fn master_workers(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "id")?;
    let items = workers_list(req, None, Some(MasterId(mid))).await?;
    mem_collection(req, "workers", rest::WORKER_FIELDS, items)
}

pub(super) async fn builder_workers(req: &Req) -> Result<Value, ApiError> {
    let items = match builder_id(req, "builder").await? {
        Some(b) => workers_list(req, Some(b), None).await?,
        None => Vec::new(),
    };
    mem_collection(req, "workers", rest::WORKER_FIELDS, items)
}

pub(super) async fn builder_worker_one(req: &Req) -> Result<Value, ApiError> {
    let w = req.param("worker").unwrap_or_default();
    let items = match builder_id(req, "builder").await? {
        Some(b) => workers_list(req, Some(b), None).await?,
        None => Vec::new(),
    };
    let item = items.into_iter().find(|v| match py_int(w) {
        Some(id) => v["workerid"] == id,
        None => v["name"] == w,
    });
    mem_single(req, "workers", rest::WORKER_FIELDS, item)
}
