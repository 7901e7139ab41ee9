//! Changes and source stamps: `/changes[/:id]` (in the route table), the changes of a build
//! or a source stamp, a change's properties, `/sourcestamps` and a buildset's source stamps.

use buildbot_db::{BuildRow, BuildsetId, ChangeId, SourceStampId};
use serde_json::Value;

use super::builds::resolve_build;
use super::mem::py_int;
use super::properties::property_list_answer;
use super::query::{mem_collection, mem_single, n_param};
use super::respond::ApiError;
use crate::state::Req;
use buildbot_core::master::rest;

/// Source stamp ids of the buildset of `build`.
async fn build_sourcestamps(req: &Req, build: &BuildRow) -> Result<Vec<SourceStampId>, ApiError> {
    let db = req.state().handle.db();
    let Some(br) = db.get_buildrequest(build.buildrequestid).await? else {
        return Ok(Vec::new());
    };
    Ok(db
        .get_buildset(br.buildsetid)
        .await?
        .map(|b| b.sourcestamps)
        .unwrap_or_default())
}

async fn changes_json(req: &Req, ssids: &[SourceStampId]) -> Result<Vec<Value>, ApiError> {
    let db = req.state().handle.db();
    let mut out = Vec::new();
    for ss in ssids {
        let row = db.get_sourcestamp(*ss).await?;
        for c in db.changes_for_sourcestamp(*ss).await? {
            out.push(rest::change(&c, row.as_ref()));
        }
    }
    Ok(out)
}

pub(super) async fn build_changes(req: &Req) -> Result<Value, ApiError> {
    let items = match resolve_build(req).await? {
        Some(b) => {
            let ss = build_sourcestamps(req, &b).await?;
            changes_json(req, &ss).await?
        }
        None => Vec::new(),
    };
    mem_collection(req, "changes", rest::CHANGE_FIELDS, items)
}

/// Python 4.3.0 answers 500 here (missing DB method); we serve the intended list.
pub(super) async fn change_properties_list(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let c = req.state().handle.db().get_change(ChangeId(id)).await?;
    let items = match c {
        Some(c) => {
            let v = rest::change(&c, None);
            v["properties"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, pv)| rest::property_list_item(k, &pv[0], &pv[1]))
                        .collect()
                })
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    property_list_answer(req, items)
}

pub(super) async fn sourcestamps(req: &Req) -> Result<Value, ApiError> {
    let items = req
        .state()
        .handle
        .db()
        .list_sourcestamps(None, None)
        .await?
        .iter()
        .map(rest::sourcestamp)
        .collect();
    mem_collection(req, "sourcestamps", rest::SOURCESTAMP_FIELDS, items)
}

pub(super) async fn sourcestamp_one(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let ss = req
        .state()
        .handle
        .db()
        .get_sourcestamp(SourceStampId(id))
        .await?;
    mem_single(
        req,
        "sourcestamps",
        rest::SOURCESTAMP_FIELDS,
        ss.as_ref().map(rest::sourcestamp),
    )
}

pub(super) async fn sourcestamp_changes(req: &Req) -> Result<Value, ApiError> {
    let id = n_param(req, "id")?;
    let items = changes_json(req, &[SourceStampId(id)]).await?;
    mem_collection(req, "changes", rest::CHANGE_FIELDS, items)
}

pub(super) async fn buildset_sourcestamps(req: &Req) -> Result<Value, ApiError> {
    let db = req.state().handle.db();
    let items = match py_int(req.param("id").unwrap_or_default()) {
        Some(id) => match db.get_buildset(BuildsetId(id)).await? {
            Some(bs) => db
                .get_sourcestamps(&bs.sourcestamps)
                .await?
                .iter()
                .map(rest::sourcestamp)
                .collect(),
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    mem_collection(req, "sourcestamps", rest::SOURCESTAMP_FIELDS, items)
}
