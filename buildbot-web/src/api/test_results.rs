//! Test results: `/test_result_sets` (also of a build, a step or a builder), one set, and
//! a set's results.

use buildbot_core::master::rest;
use buildbot_db::{Query, StepId, TestResultSetId};
use serde_json::Value;

use super::builders::builder_id;
use super::query::{mem_collection, mem_single, n_param};
use super::respond::ApiError;
use crate::state::Req;

async fn sets_of_builds(req: &Req, q: &Query) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let mut out = Vec::new();
    for b in db.list_builds(q).await? {
        out.extend(
            db.list_test_result_sets(b.buildid)
                .await?
                .iter()
                .map(rest::test_result_set),
        );
    }
    Ok(out)
}

pub(super) async fn test_result_sets(req: &Req) -> Result<Value, ApiError> {
    let items = if req.param("buildid").is_ok() {
        let id = n_param(req, "buildid")?;
        sets_of_builds(req, &Query::new().eq("buildid", id)).await?
    } else if req.param("stepid").is_ok() {
        let id = n_param(req, "stepid")?;
        match req.state().handle.db().get_step(StepId(id)).await? {
            Some(s) => sets_of_builds(req, &Query::new().eq("buildid", s.buildid.0))
                .await?
                .into_iter()
                .filter(|v| v["stepid"] == id)
                .collect(),
            None => Vec::new(),
        }
    } else if req.param("builder").is_ok() {
        match builder_id(req, "builder").await? {
            Some(b) => sets_of_builds(req, &Query::new().eq("builderid", b.0)).await?,
            None => Vec::new(),
        }
    } else {
        sets_of_builds(req, &Query::new()).await?
    };
    mem_collection(req, "test_result_sets", rest::TEST_RESULT_SET_FIELDS, items)
}

pub(super) async fn test_result_set_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let s = req
        .state()
        .handle
        .db()
        .get_test_result_set(TestResultSetId(id))
        .await?;
    mem_single(
        req,
        "test_result_sets",
        rest::TEST_RESULT_SET_FIELDS,
        s.as_ref().map(rest::test_result_set),
    )
}

pub(super) async fn test_results(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let items = req
        .state()
        .handle
        .db()
        .list_test_results(TestResultSetId(id))
        .await?
        .iter()
        .map(rest::test_result)
        .collect();
    mem_collection(req, "test_results", rest::TEST_RESULT_FIELDS, items)
}
