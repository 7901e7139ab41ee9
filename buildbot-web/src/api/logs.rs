//! Logs: a step's logs, `/logs/:logid`, their `contents` (line chunks) and the raw
//! download (`raw`, `raw_inline`) streamed from the database.

use buildbot_core::master::rest;
use buildbot_db::{LogId, LogRow, LogType};
use futures::StreamExt;
use serde_json::{Value, json};
use tide::{Response, StatusCode};

use super::query::{Kind, collection_value, is_identifier, n_param, pairs, single_value};
use super::respond::{ApiError, error_response, invalid_path, not_found, render};
use super::steps::resolve_step;
use crate::json::select_fields;
use crate::spec;
use crate::state::Req;

/// The log of `/logs/:logid/…` or `<step>/logs/:slug/…`.
pub(super) async fn resolve_log(req: &Req) -> Result<LogRow, ApiError> {
    let db = req.state().handle.db();
    let log = if req.param("logid").is_ok() {
        db.get_log(LogId(n_param(req, "logid")?)).await?
    } else {
        let slug = req.param("slug").unwrap_or_default();
        if !is_identifier(slug) {
            return Err(invalid_path(req));
        }
        match resolve_step(req).await? {
            Some(s) => db.get_log_by_slug(s.stepid, slug).await?,
            None => None,
        }
    };
    log.ok_or_else(|| not_found(req))
}

pub(super) async fn step_logs(req: &Req) -> Result<Value, ApiError> {
    let id = resolve_step(req).await?.map_or(-1, |s| s.stepid.0);
    collection_value(req, Kind::Logs, vec![("stepid", id.to_string())]).await
}

pub(super) async fn log_one(req: &Req) -> Result<Value, ApiError> {
    let l = resolve_log(req).await?;
    single_value(req, Kind::Logs, vec![("logid", l.logid.0.to_string())]).await
}

pub(super) async fn logchunks_root(req: &Req) -> Result<Value, ApiError> {
    Err(not_found(req))
}

pub(super) async fn log_contents(req: Req) -> tide::Result {
    Ok(match log_contents_value(&req).await {
        Ok(v) => render(&req, &v),
        Err(e) => error_response(e),
    })
}

async fn log_contents_value(req: &Req) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), rest::LOGCHUNK_FIELDS, false, false)?;
    let db = req.state().handle.db();
    let log = resolve_log(req).await?;
    let logid = log.logid;
    let first = spec.query.offset.map_or(0, |o| o as i64);
    let chunk = if log.num_lines == 0 && first == 0 {
        rest::logchunk(logid, 0, "")
    } else {
        let last = match spec.query.limit {
            Some(l) => (first + l as i64 - 1).min(log.num_lines - 1),
            None => log.num_lines - 1,
        };
        if first >= log.num_lines || last < first {
            return Err(not_found(req));
        }
        let content = db.get_log_lines(logid, first, last).await?;
        rest::logchunk(logid, first, &content)
    };
    Ok(json!({"logchunks": [select_fields(chunk, spec.fields.as_deref())], "meta": {}}))
}

pub(super) async fn log_raw(req: Req) -> tide::Result {
    log_raw_as(req, false).await
}

pub(super) async fn log_raw_inline(req: Req) -> tide::Result {
    log_raw_as(req, true).await
}

async fn log_raw_as(req: Req, inline: bool) -> tide::Result {
    let r = async {
        let db = req.state().handle.db().clone();
        let log = resolve_log(&req).await?;
        let logid = log.logid;
        let mut header = String::new();
        let mut filename = Vec::new();
        if let Some(step) = db.get_step(log.stepid).await? {
            if let Some(b) = db.get_build(step.buildid).await? {
                let bname = db
                    .get_builder(b.builderid)
                    .await?
                    .map(|x| x.name)
                    .unwrap_or_default();
                let wname = match b.workerid {
                    Some(w) => db.get_worker(w).await?.map(|x| x.name).unwrap_or_default(),
                    None => String::new(),
                };
                header = format!(
                    "Builder: {bname}\nBuild number: {}\nWorker name: {wname}\n",
                    b.number
                );
                filename.push(format!("{bname}_build_{}", b.number));
            }
            filename.push(format!("step_{}", step.name));
        }
        filename.push(format!("log_{}", log.slug));
        let stdio = log.kind() == Some(LogType::Stdio);
        let (tx, rx) = async_std::channel::bounded::<Result<Vec<u8>, std::io::Error>>(4);
        async_std::task::spawn(async move {
            if stdio && tx.send(Ok(header.into_bytes())).await.is_err() {
                return;
            }
            let mut chunks = Box::pin(db.log_chunks(logid));
            while let Some(c) = chunks.next().await {
                let item = c
                    .map(|c| {
                        if stdio {
                            let mut out = String::with_capacity(c.text.len());
                            for line in c.text.split_inclusive('\n') {
                                let mut cs = line.chars();
                                cs.next();
                                out.push_str(cs.as_str());
                            }
                            out.into_bytes()
                        } else {
                            c.text.into_bytes()
                        }
                    })
                    .map_err(std::io::Error::other);
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        let mime = if log.kind() == Some(LogType::Html) {
            "text/html; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        let reader = futures::TryStreamExt::into_async_read(rx);
        let mut r = Response::new(StatusCode::Ok);
        r.set_body(tide::Body::from_reader(reader, None));
        r.insert_header("Content-Type", mime);
        if !inline {
            r.insert_header(
                "Content-Disposition",
                format!("attachment; filename={}", filename.join("_")),
            );
        }
        Ok::<_, ApiError>(r)
    }
    .await;
    Ok(r.unwrap_or_else(error_response))
}
