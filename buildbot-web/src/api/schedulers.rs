//! Schedulers, change sources and force schedulers: `/schedulers`, `/changesources` (also
//! under a master), `/forceschedulers` (also under a builder) with each one's form fields.

use buildbot_core::master::rest;
use serde_json::{Value, json};

use super::builders::builder_id;
use super::masters::masters_json;
use super::mem::py_int;
use super::query::{mem_collection, mem_single, n_param};
use super::respond::ApiError;
use crate::state::Req;

async fn schedulers_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let masters = masters_json(req).await?;
    Ok(req
        .state()
        .handle
        .db()
        .list_schedulers()
        .await?
        .iter()
        .map(|s| rest::scheduler(s, s.masterid.and_then(|m| masters.get(&m.0).cloned())))
        .collect())
}

async fn changesources_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let masters = masters_json(req).await?;
    Ok(req
        .state()
        .handle
        .db()
        .list_changesources()
        .await?
        .iter()
        .map(|s| rest::changesource(s, s.masterid.and_then(|m| masters.get(&m.0).cloned())))
        .collect())
}

fn owned_by(v: &Value, req: &Req) -> bool {
    match req.param("masterid").ok().and_then(py_int) {
        Some(m) => v["master"]["masterid"] == m,
        None => true,
    }
}

pub(super) async fn schedulers(req: &Req) -> Result<Value, ApiError> {
    let items = schedulers_list(req)
        .await?
        .into_iter()
        .filter(|v| owned_by(v, req))
        .collect();
    mem_collection(req, "schedulers", rest::SCHEDULER_FIELDS, items)
}

pub(super) async fn scheduler_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let item = schedulers_list(req)
        .await?
        .into_iter()
        .find(|v| v["schedulerid"] == id && owned_by(v, req));
    mem_single(req, "schedulers", rest::SCHEDULER_FIELDS, item)
}

pub(super) async fn changesources(req: &Req) -> Result<Value, ApiError> {
    let items = changesources_list(req)
        .await?
        .into_iter()
        .filter(|v| owned_by(v, req))
        .collect();
    mem_collection(req, "changesources", rest::CHANGESOURCE_FIELDS, items)
}

pub(super) async fn changesource_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let item = changesources_list(req)
        .await?
        .into_iter()
        .find(|v| v["changesourceid"] == id && owned_by(v, req));
    mem_single(req, "changesources", rest::CHANGESOURCE_FIELDS, item)
}

// ---- force schedulers -----------------------------------------------------------------------

fn forceschedulers_list(req: &Req) -> Vec<Value> {
    let cfg = req.state().handle.config();
    cfg.schedulers
        .iter()
        .filter_map(|s| rest::forcescheduler(s, true))
        .collect()
}

pub(super) async fn forceschedulers(req: &Req) -> Result<Value, ApiError> {
    let mut items = forceschedulers_list(req);
    if req.param("builder").is_ok() {
        let db = req.state().handle.db();
        let name = match builder_id(req, "builder").await? {
            Some(b) => db.get_builder(b).await?.map(|b| b.name),
            None => None,
        };
        items.retain(|v| {
            name.as_ref().is_some_and(|n| {
                v["builder_names"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!(n)))
            })
        });
    }
    mem_collection(req, "forceschedulers", rest::FORCESCHEDULER_FIELDS, items)
}

pub(super) async fn forcescheduler_one(req: &Req) -> Result<Value, ApiError> {
    let name = req.param("name").unwrap_or_default();
    let item = forceschedulers_list(req)
        .into_iter()
        .find(|v| v["name"] == name);
    mem_single(req, "forceschedulers", rest::FORCESCHEDULER_FIELDS, item)
}
