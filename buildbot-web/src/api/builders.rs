//! Builders: `/builders[/:builder]` (by id or name), and the builders of a master, a
//! worker or a project.

use buildbot_db::{BuilderId, BuilderRow, MasterId, Query};
use serde_json::Value;

use super::query::{Kind, mem_collection, mem_single, n_param, single};
use super::respond::{ApiError, error_response, not_found};
use crate::state::Req;
use buildbot_core::master::rest;

pub(super) async fn builder_id(req: &Req, param: &str) -> Result<Option<BuilderId>, ApiError> {
    let raw = req.param(param).unwrap_or_default();
    if let Ok(id) = raw.trim().parse::<i64>() {
        return Ok(Some(BuilderId(id)));
    }
    let builders = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new().eq("name", raw), None)
        .await?;
    Ok(builders.first().map(|b| b.builderid))
}

pub(super) async fn builder_one(req: Req) -> tide::Result {
    let id = match builder_id(&req, "builder").await {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_response(not_found(&req))),
        Err(e) => return Ok(error_response(e)),
    };
    single(req, Kind::Builders, vec![("builderid", id.0.to_string())]).await
}

/// The builders of the master `/masters/:id/…`.
async fn master_builders_list(req: &Req) -> Result<Vec<BuilderRow>, ApiError> {
    let mid = n_param(req, "id")?;
    Ok(req
        .state()
        .handle
        .db()
        .list_builders(&Query::new(), Some(MasterId(mid)))
        .await?)
}

pub(super) async fn master_builders(req: &Req) -> Result<Value, ApiError> {
    let items = master_builders_list(req)
        .await?
        .iter()
        .map(rest::builder)
        .collect();
    mem_collection(req, "builders", rest::BUILDER_FIELDS, items)
}

pub(super) async fn master_builder_one(req: &Req) -> Result<Value, ApiError> {
    let bid = n_param(req, "builderid")?;
    let item = master_builders_list(req)
        .await?
        .iter()
        .find(|b| b.builderid == BuilderId(bid))
        .map(rest::builder);
    mem_single(req, "builders", rest::BUILDER_FIELDS, item)
}

pub(super) async fn worker_builders(req: &Req) -> Result<Value, ApiError> {
    let wid = n_param(req, "id")?;
    let db = req.state().handle.db();
    let ids: Vec<i64> = match db.get_worker(buildbot_db::WorkerId(wid)).await? {
        Some(w) => w.configured_on.iter().map(|(_, b)| b.0).collect(),
        None => Vec::new(),
    };
    let items = db
        .list_builders(&Query::new(), None)
        .await?
        .iter()
        .filter(|b| ids.contains(&b.builderid.0))
        .map(rest::builder)
        .collect();
    mem_collection(req, "builders", rest::BUILDER_FIELDS, items)
}

pub(super) async fn project_builders(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "project")?;
    let items = req
        .state()
        .handle
        .db()
        .list_builders(&Query::new(), None)
        .await?
        .iter()
        .filter(|b| b.projectid.map(|p| p.0) == Some(id))
        .map(rest::builder)
        .collect();
    mem_collection(req, "builders", rest::BUILDER_FIELDS, items)
}
