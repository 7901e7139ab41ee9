//! Builds: `/builds/:id` (in the route table), a builder's builds by number, the builds of a
//! worker, a build request, a change or a parent build, and a build's properties and data.

use buildbot_core::master::rest;
use buildbot_db::{BuildId, BuildRow, ChangeId, Filter, Op, Properties, Query};
use serde_json::Value;
use tide::{Response, StatusCode};

use super::builders::builder_id;
use super::properties::{properties_answer, property_list_answer, props_list};
use super::query::{
    Kind, collection, collection_value_with, is_identifier, mem_collection, mem_single, n_param,
    param_i64, single,
};
use super::respond::{ApiError, error_response, invalid_path, not_found};
use crate::state::Req;

/// The build of `/builds/:buildid/…` or `/builders/:builder/builds/:number/…`.
pub(super) async fn resolve_build(req: &Req) -> Result<Option<BuildRow>, ApiError> {
    let db = req.state().handle.db();
    if req.param("buildid").is_ok() {
        let id = n_param(req, "buildid")?;
        return Ok(db.get_build(BuildId(id)).await?);
    }
    let number = n_param(req, "number")?;
    let Some(bid) = builder_id(req, "builder").await? else {
        return Ok(None);
    };
    Ok(db.get_build_by_number(bid, number).await?)
}

pub(super) async fn builder_builds(req: Req) -> tide::Result {
    match builder_id(&req, "builder").await {
        Ok(Some(id)) => collection(req, Kind::Builds, vec![("builderid", id.0.to_string())]).await,
        Ok(None) => collection(req, Kind::Builds, vec![("builderid", "-1".into())]).await,
        Err(e) => Ok(error_response(e)),
    }
}

pub(super) async fn builder_build(req: Req) -> tide::Result {
    let id = match builder_id(&req, "builder").await {
        Ok(Some(id)) => id,
        Ok(None) => return Ok(error_response(not_found(&req))),
        Err(e) => return Ok(error_response(e)),
    };
    let number = match param_i64(&req, "number") {
        Ok(n) => n,
        Err(e) => return Ok(error_response(e)),
    };
    single(
        req,
        Kind::Builds,
        vec![
            ("builderid", id.0.to_string()),
            ("number", number.to_string()),
        ],
    )
    .await
}

async fn builds_where(req: &Req, field: &str, values: Vec<i64>) -> Result<Value, ApiError> {
    let values = if values.is_empty() { vec![-1] } else { values };
    let f = Filter {
        field: field.to_owned(),
        op: Op::In,
        values: values.iter().map(i64::to_string).collect(),
    };
    collection_value_with(req, Kind::Builds, vec![f]).await
}

pub(super) async fn worker_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    builds_where(req, "workerid", vec![id]).await
}

pub(super) async fn request_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    builds_where(req, "buildrequestid", vec![id]).await
}

/// Request ids of the buildsets `bsids`.
async fn requests_of(req: &Req, bsids: Vec<i64>) -> Result<Vec<i64>, ApiError> {
    if bsids.is_empty() {
        return Ok(Vec::new());
    }
    let q = Query::new().filter("buildsetid", Op::In, bsids);
    Ok(req
        .state()
        .handle
        .db()
        .list_buildrequests(&q)
        .await?
        .iter()
        .map(|r| r.buildrequestid.0)
        .collect())
}

pub(super) async fn change_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let db = req.state().handle.db();
    let mut brids = Vec::new();
    if let Some(c) = db.get_change(ChangeId(id)).await? {
        let bsids: Vec<i64> = db
            .list_buildsets(&Query::new())
            .await?
            .iter()
            .filter(|b| b.sourcestamps.contains(&c.sourcestampid))
            .map(|b| b.bsid.0)
            .collect();
        brids = requests_of(req, bsids).await?;
    }
    builds_where(req, "buildrequestid", brids).await
}

pub(super) async fn triggered_builds(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "buildid")?;
    let db = req.state().handle.db();
    let bsids: Vec<i64> = db
        .list_buildsets(&Query::new())
        .await?
        .iter()
        .filter(|b| b.parent_buildid == Some(BuildId(id)))
        .map(|b| b.bsid.0)
        .collect();
    let brids = requests_of(req, bsids).await?;
    builds_where(req, "buildrequestid", brids).await
}

/// The properties of the build of the path (none when there is no such build).
async fn build_props(req: &Req) -> Result<Properties, ApiError> {
    Ok(match resolve_build(req).await? {
        Some(b) => {
            req.state()
                .handle
                .db()
                .get_build_properties(b.buildid)
                .await?
        }
        None => Properties::new(),
    })
}

pub(super) async fn build_properties(req: &Req) -> Result<Value, ApiError> {
    properties_answer(req, &build_props(req).await?)
}

pub(super) async fn build_property_list(req: &Req) -> Result<Value, ApiError> {
    property_list_answer(req, props_list(&build_props(req).await?))
}

// ---- build data ---------------------------------------------------------------------------

pub(super) async fn build_data(req: &Req) -> Result<Value, ApiError> {
    let items = match resolve_build(req).await? {
        Some(b) => req
            .state()
            .handle
            .db()
            .list_build_data(b.buildid)
            .await?
            .iter()
            .map(rest::build_data)
            .collect(),
        None => Vec::new(),
    };
    mem_collection(req, "build_data", rest::BUILD_DATA_FIELDS, items)
}

async fn find_build_data(req: &Req) -> Result<Option<buildbot_db::BuildDataRow>, ApiError> {
    let name = req.param("name").unwrap_or_default();
    if !is_identifier(name) {
        return Err(invalid_path(req));
    }
    Ok(match resolve_build(req).await? {
        Some(b) => {
            req.state()
                .handle
                .db()
                .get_build_data(b.buildid, name)
                .await?
        }
        None => None,
    })
}

pub(super) async fn build_data_one(req: &Req) -> Result<Value, ApiError> {
    let d = find_build_data(req).await?;
    mem_single(
        req,
        "build_data",
        rest::BUILD_DATA_FIELDS,
        d.as_ref().map(rest::build_data),
    )
}

pub(super) async fn build_data_value(req: Req) -> tide::Result {
    Ok(match find_build_data(&req).await {
        Ok(Some(d)) => {
            let mut r = Response::new(StatusCode::Ok);
            r.set_body(d.value.unwrap_or_default());
            r.insert_header("Content-Type", "application/octet-stream; charset=utf-8");
            r.insert_header(
                "Content-Disposition",
                format!("attachment; filename={}", d.name),
            );
            r
        }
        Ok(None) => error_response(not_found(&req)),
        Err(e) => error_response(e),
    })
}
