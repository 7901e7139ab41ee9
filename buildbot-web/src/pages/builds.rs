//! The build pages: `/builders/:builder/builds/:number` (steps, logs, the running step's
//! log tail, properties), `/builds/:id` (a redirect to it) and `/pending` (the queue).

use buildbot_db::{BuildId, BuildRow, LogRow, LogType, Query};
use serde_json::{Value, json};

use super::builders::builder_by_param;
use super::context::{
    build_summary, build_url, fmt_duration, fmt_time, names, now, result_class, value_text,
};
use super::logs::{log_summary, tail};
use super::respond::{OrPage, PageResult, done, not_found, page, redirect};
use crate::state::Req;

/// Lines of the running step's log shown on a build page.
const BUILD_TAIL: i64 = 40;

pub(super) async fn build(req: Req) -> tide::Result {
    done(build_page(&req).await)
}

async fn build_page(req: &Req) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let Some(b) = builder_by_param(req).await.or_page(req)? else {
        return Err(not_found(req, "builder"));
    };
    let Some(number) = req
        .param("number")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
    else {
        return Err(not_found(req, "build"));
    };
    let Some(build) = db
        .get_build_by_number(b.builderid, number)
        .await
        .or_page(req)?
    else {
        return Err(not_found(req, "build"));
    };
    render_build(req, &build).await
}

async fn render_build(req: &Req, build: &BuildRow) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let n = names(st).await.or_page(req)?;
    let mut steps = Vec::new();
    let mut live: Option<LogRow> = None;
    for s in db
        .list_steps(&Query::new().eq("buildid", build.buildid.0))
        .await
        .or_page(req)?
    {
        let logs = db
            .list_logs(&Query::new().eq("stepid", s.stepid.0))
            .await
            .or_page(req)?;
        if let Some(l) = logs
            .iter()
            .find(|l| l.kind() == Some(LogType::Stdio))
            .or(logs.first())
        {
            live = Some(l.clone());
        }
        let dur = s.started_at.map(|t| s.complete_at.unwrap_or_else(now) - t);
        steps.push(json!({
            "stepid": s.stepid.0,
            "number": s.number,
            "name": s.name,
            "state_string": s.state_string,
            "result": if s.started_at.is_none() { "pending" } else { result_class(s.results, s.complete()) },
            "started": s.started_at.map(fmt_time),
            "duration": dur.map(fmt_duration),
            "hidden": s.hidden,
            "urls": s.urls.iter()
                .filter(|(_, u)| u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/'))
                .map(|(name, url)| json!({"name": name, "url": url}))
                .collect::<Vec<_>>(),
            "logs": logs.iter().map(log_summary).collect::<Vec<_>>(),
        }));
    }
    let live = match live {
        Some(l) => {
            let (first, lines) = tail(st, &l, BUILD_TAIL).await.or_page(req)?;
            let mut v = log_summary(&l);
            v["first"] = json!(first);
            v["next"] = json!(first + lines.len() as i64);
            v["lines"] = json!(lines);
            Some(v)
        }
        None => None,
    };
    let mut props: Vec<Value> = db
        .get_build_properties(build.buildid)
        .await
        .or_page(req)?
        .into_iter()
        .map(|(k, (v, src))| json!({"name": k, "value": value_text(&v), "source": src}))
        .collect();
    props.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let br = db
        .get_buildrequest(build.buildrequestid)
        .await
        .or_page(req)?;
    let reason = match br {
        Some(r) => db
            .get_buildset(r.buildsetid)
            .await
            .or_page(req)?
            .and_then(|b| b.reason),
        None => None,
    };
    let mut worker = Value::Null;
    if let Some(w) = build.workerid
        && let Some(w) = db.get_worker(w).await.or_page(req)?
    {
        worker = json!({
            "name": w.name,
            "admin": w.workerinfo.get("admin").map(value_text),
            "host": w.workerinfo.get("host").map(value_text),
        });
    }
    let mut summary = build_summary(build, &n);
    summary["reason"] = json!(reason);
    summary["complete_at"] = json!(build.complete_at.map(fmt_time));
    Ok(page(
        req,
        "build.html",
        json!({
            "page": "builders",
            "build": summary,
            "worker": worker,
            "steps": steps,
            "properties": props,
            "live": live,
        }),
    ))
}

pub(super) async fn build_by_id(req: Req) -> tide::Result {
    let id = req
        .param("id")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let r = async {
        let Some(id) = id else {
            return Err(not_found(&req, "build"));
        };
        match req
            .state()
            .handle
            .db()
            .get_build(BuildId(id))
            .await
            .or_page(&req)?
        {
            Some(b) => Ok(redirect(&build_url(&b))),
            None => Err(not_found(&req, "build")),
        }
    }
    .await;
    done(r)
}

pub(super) async fn pending(req: Req) -> tide::Result {
    let r = async {
        let st = req.state();
        let db = st.handle.db();
        let n = names(st).await.or_page(&req)?;
        let mut out = Vec::new();
        for r in db
            .pending_buildrequests(None, Some(500))
            .await
            .or_page(&req)?
        {
            let bs = db.get_buildset(r.buildsetid).await.or_page(&req)?;
            out.push(json!({
                "buildrequestid": r.buildrequestid.0,
                "builderid": r.builderid.0,
                "builder": n.builders.get(&r.builderid.0),
                "priority": r.priority,
                "submitted": fmt_time(r.submitted_at),
                "waiting": fmt_duration(now() - r.submitted_at),
                "reason": bs.and_then(|b| b.reason).unwrap_or_default(),
            }));
        }
        Ok(page(
            &req,
            "pending.html",
            json!({"page": "pending", "requests": out}),
        ))
    }
    .await;
    done(r)
}
