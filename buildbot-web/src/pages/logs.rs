//! The log pages: `/logs/:id` (the last lines, more with `?tail=`) and
//! `/steps/:id/logs/:slug` (a redirect to it).

use buildbot_db::{DbError, LogId, LogRow, LogType, StepId};
use serde_json::{Value, json};

use super::context::{build_summary, names};
use super::respond::{OrPage, PageResult, done, not_found, page, redirect};
use crate::State;
use crate::state::Req;

/// Lines of a log rendered on its page (more with `?tail=`).
const LOG_TAIL: i64 = 1000;
/// Upper bound of `?tail=`.
const LOG_TAIL_MAX: i64 = 20_000;

/// Lines of a log as `{cls, text}` (stdio lines lose their stream letter, which becomes the
/// class `o`, `e` or `h`).
fn log_lines(log: &LogRow, text: &str) -> Vec<Value> {
    let stdio = log.kind() == Some(LogType::Stdio);
    text.split_terminator('\n')
        .map(|l| {
            if stdio {
                let mut cs = l.chars();
                let c = cs.next().unwrap_or('o');
                json!({"cls": c.to_string(), "text": cs.as_str()})
            } else {
                json!({"cls": "o", "text": l})
            }
        })
        .collect()
}

/// What a page shows of a log, besides its lines.
pub(super) fn log_summary(l: &LogRow) -> Value {
    json!({
        "logid": l.logid.0,
        "name": l.name,
        "slug": l.slug,
        "num_lines": l.num_lines,
        "complete": l.complete,
        "type": l.log_type,
        "url": format!("/logs/{}", l.logid.0),
        "raw_url": format!("/api/v2/logs/{}/raw", l.logid.0),
    })
}

/// The last `n` lines of `log` as `(first line index, lines)`.
pub(super) async fn tail(
    state: &State,
    log: &LogRow,
    n: i64,
) -> Result<(i64, Vec<Value>), DbError> {
    let first = (log.num_lines - n).max(0);
    if log.num_lines == 0 {
        return Ok((0, Vec::new()));
    }
    let text = state
        .handle
        .db()
        .get_log_lines(log.logid, first, log.num_lines - 1)
        .await?;
    Ok((first, log_lines(log, &text)))
}

pub(super) async fn log_view(req: Req) -> tide::Result {
    done(log_page(&req).await)
}

async fn log_page(req: &Req) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let Some(id) = req
        .param("id")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    else {
        return Err(not_found(req, "log"));
    };
    let Some(log) = db.get_log(LogId(id)).await.or_page(req)? else {
        return Err(not_found(req, "log"));
    };
    let want = req
        .url()
        .query_pairs()
        .find(|(k, _)| k == "tail")
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .unwrap_or(LOG_TAIL)
        .clamp(1, LOG_TAIL_MAX);
    let (first, lines) = tail(st, &log, want).await.or_page(req)?;
    let step = db.get_step(log.stepid).await.or_page(req)?;
    let mut ctx_step = Value::Null;
    let mut ctx_build = Value::Null;
    if let Some(s) = &step {
        ctx_step = json!({"name": s.name, "number": s.number});
        if let Some(b) = db.get_build(s.buildid).await.or_page(req)? {
            let n = names(st).await.or_page(req)?;
            ctx_build = build_summary(&b, &n);
        }
    }
    let mut l = log_summary(&log);
    l["first"] = json!(first);
    l["next"] = json!(first + lines.len() as i64);
    l["lines"] = json!(lines);
    Ok(page(
        req,
        "log.html",
        json!({
            "page": "builders",
            "log": l,
            "step": ctx_step,
            "build": ctx_build,
            "tail": want,
            "more": (first > 0).then(|| (want * 5).min(LOG_TAIL_MAX)),
        }),
    ))
}

/// `/steps/<id>/logs/<slug>`: the log page of a step's log.
pub(super) async fn log_by_slug(req: Req) -> tide::Result {
    let r = async {
        let id = req
            .param("id")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let slug = req.param("slug").unwrap_or_default();
        let Some(id) = id else {
            return Err(not_found(&req, "log"));
        };
        match req
            .state()
            .handle
            .db()
            .get_log_by_slug(StepId(id), slug)
            .await
            .or_page(&req)?
        {
            Some(l) => Ok(redirect(&format!("/logs/{}", l.logid.0))),
            None => Err(not_found(&req, "log")),
        }
    }
    .await;
    done(r)
}
