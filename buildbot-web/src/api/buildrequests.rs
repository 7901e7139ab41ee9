//! Build requests and buildsets: `/buildrequests[/:id]` and `/buildsets[/:id]` (in the route
//! table), a builder's requests, a buildset's properties.

use buildbot_db::{BuildsetId, Properties};
use serde_json::Value;

use super::builders::builder_id;
use super::properties::{properties_answer, property_list_answer, props_list};
use super::query::{Kind, collection_value, n_param};
use super::respond::ApiError;
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

/// The properties of the buildset of the path.
async fn buildset_props(req: &Req) -> Result<Properties, ApiError> {
    let id = n_param(req, "id")?;
    Ok(req
        .state()
        .handle
        .db()
        .get_buildset_properties(BuildsetId(id))
        .await?)
}

pub(super) async fn buildset_properties(req: &Req) -> Result<Value, ApiError> {
    properties_answer(req, &buildset_props(req).await?)
}

pub(super) async fn buildset_properties_list(req: &Req) -> Result<Value, ApiError> {
    property_list_answer(req, props_list(&buildset_props(req).await?))
}
