//! Build requests and buildsets: `/buildrequests[/:id]` and `/buildsets[/:id]` (in the route
//! table), a builder's requests, a buildset's properties.

use buildbot_db::BuildsetId;
use serde_json::{Value, json};

use super::builders::builder_id;
use super::properties::{PROPERTY_LIST_FIELDS, props_list, props_object};
use super::query::{Kind, collection_value, mem_collection, n_param, pairs};
use super::respond::ApiError;
use crate::spec;
use crate::state::Req;

pub(super) async fn builder_requests(req: &Req) -> Result<Value, ApiError> {
    let id = builder_id(req, "builder").await?.map_or(-1, |b| b.0);
    collection_value(
        req,
        Kind::BuildRequests,
        vec![("builderid", id.to_string())],
    )
    .await
}

pub(super) async fn buildset_properties(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let p = req
        .state()
        .handle
        .db()
        .get_buildset_properties(BuildsetId(id))
        .await?;
    spec::parse(&pairs(req), &[], false, false)?;
    Ok(json!({"properties": [props_object(&p)], "meta": {}}))
}

pub(super) async fn buildset_properties_list(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let p = req
        .state()
        .handle
        .db()
        .get_buildset_properties(BuildsetId(id))
        .await?;
    mem_collection(req, "_properties", PROPERTY_LIST_FIELDS, props_list(&p))
}
