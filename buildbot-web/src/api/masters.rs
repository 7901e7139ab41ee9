//! Masters: `/masters[/:id]` (in the route table) and the masters of a builder.

use std::collections::BTreeMap;

use buildbot_db::Query;
use serde_json::Value;

use super::builders::builder_id;
use super::query::{mem_collection, mem_single, n_param};
use super::respond::ApiError;
use crate::state::Req;
use buildbot_core::master::rest;

pub(super) async fn masters_json(req: &Req) -> Result<BTreeMap<i64, Value>, ApiError> {
    Ok(req
        .state()
        .handle
        .db()
        .list_masters(&Query::new())
        .await?
        .iter()
        .map(|m| (m.masterid.0, rest::master(m)))
        .collect())
}

async fn builder_masters_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let Some(bid) = builder_id(req, "builder").await? else {
        return Ok(Vec::new());
    };
    let Some(b) = db.get_builder(bid).await? else {
        return Ok(Vec::new());
    };
    let all = masters_json(req).await?;
    Ok(b.masterids
        .iter()
        .filter_map(|m| all.get(&m.0).cloned())
        .collect())
}

pub(super) async fn builder_masters(req: &Req) -> Result<Value, ApiError> {
    let items = builder_masters_list(req).await?;
    mem_collection(req, "masters", rest::MASTER_FIELDS, items)
}

pub(super) async fn builder_master_one(req: &Req) -> Result<Value, ApiError> {
    let mid = n_param(req, "masterid")?;
    let item = builder_masters_list(req)
        .await?
        .into_iter()
        .find(|m| m["masterid"] == mid);
    mem_single(req, "masters", rest::MASTER_FIELDS, item)
}
