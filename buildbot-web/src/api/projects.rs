//! Projects and codebases: `/projects[/:project]` and `/codebases[/:id]` (always empty:
//! codebases are not stored).

use buildbot_core::master::rest;
use buildbot_db::Query;
use serde_json::Value;

use super::mem::py_int;
use super::query::{mem_collection, mem_single, n_param};
use super::respond::ApiError;
use crate::state::Req;

async fn projects_list(req: &Req) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let builders = db.list_builders(&Query::new(), None).await?;
    Ok(db
        .list_projects()
        .await?
        .iter()
        .map(|p| {
            let active = builders
                .iter()
                .any(|b| b.projectid == Some(p.projectid) && !b.masterids.is_empty());
            rest::project(p, active)
        })
        .collect())
}

pub(super) async fn projects(req: &Req) -> Result<Value, ApiError> {
    let filtered = req
        .url()
        .query_pairs()
        .any(|(k, _)| k.starts_with("active"));
    let mut v = mem_collection(
        req,
        "projects",
        rest::PROJECT_FIELDS,
        projects_list(req).await?,
    )?;
    if !filtered && let Some(a) = v["projects"].as_array_mut() {
        for p in a {
            if let Some(o) = p.as_object_mut()
                && o.contains_key("active")
            {
                o.insert("active".into(), Value::Null);
            }
        }
    }
    Ok(v)
}

async fn find_project(req: &Req) -> Result<Option<Value>, ApiError> {
    let raw = req.param("project").unwrap_or_default();
    Ok(projects_list(req)
        .await?
        .into_iter()
        .find(|p| match py_int(raw) {
            Some(id) => p["projectid"] == id,
            None => p["name"] == raw,
        }))
}

pub(super) async fn project_one(req: &Req) -> Result<Value, ApiError> {
    let p = find_project(req).await?.map(|mut p| {
        p["active"] = Value::Null;
        p
    });
    mem_single(req, "projects", rest::PROJECT_FIELDS, p)
}

pub(super) async fn codebases(req: &Req) -> Result<Value, ApiError> {
    mem_collection(req, "codebases", rest::CODEBASE_FIELDS, Vec::new())
}

pub(super) async fn codebase_one(req: &Req) -> Result<Value, ApiError> {
    n_param(req, "id")?;
    mem_single(req, "codebases", rest::CODEBASE_FIELDS, None)
}
