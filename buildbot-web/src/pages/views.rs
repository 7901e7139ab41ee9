//! The GET pages: each handler reads the database, the config and the live worker list and
//! renders one template with a plain JSON context.

use std::collections::BTreeMap;

use buildbot_core::master::config::{ForceParameterKind, SchedulerKind};
use buildbot_db::{BuildId, BuildRow, DbError, LogId, LogRow, LogType, Query, Results, StepId};
use serde_json::{Value, json};
use tide::{Response, StatusCode};

use super::{Req, error_page, not_found, page, redirect};
use crate::State;

/// Lines of a log rendered on its page (more with `?tail=`).
pub(crate) const LOG_TAIL: i64 = 1000;
/// Upper bound of `?tail=`.
const LOG_TAIL_MAX: i64 = 20_000;
/// Lines of the running step's log shown on a build page.
const BUILD_TAIL: i64 = 40;

type PageResult = Result<Response, Response>;

/// A database error as a 500 page.
trait OrPage<T> {
    fn or_page(self, req: &Req) -> Result<T, Response>;
}

impl<T> OrPage<T> for Result<T, DbError> {
    fn or_page(self, req: &Req) -> Result<T, Response> {
        self.map_err(|e| {
            log::error!("web page {}: {e}", req.url().path());
            error_page(req, StatusCode::InternalServerError, &e.to_string())
        })
    }
}

fn done(r: PageResult) -> tide::Result {
    Ok(r.unwrap_or_else(|e| e))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for an epoch time.
pub(crate) fn fmt_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `1h 2m 3s`-style duration.
pub(crate) fn fmt_duration(s: i64) -> String {
    let s = s.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m {}s", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// CSS class / label of a result: `success`, `failure`, ..., `running`, `pending`.
pub(crate) fn result_class(results: Option<i64>, complete: bool) -> &'static str {
    match (complete, results) {
        (false, _) => "running",
        (true, Some(r)) => Results::from_code(r).map_or("unknown", Results::name),
        (true, None) => "unknown",
    }
}

/// Builder and worker names by id.
struct Names {
    builders: BTreeMap<i64, String>,
    workers: BTreeMap<i64, String>,
}

async fn names(state: &State) -> Result<Names, DbError> {
    let db = state.handle.db();
    Ok(Names {
        builders: db
            .list_builders(&Query::new(), None)
            .await?
            .into_iter()
            .map(|b| (b.builderid.0, b.name))
            .collect(),
        workers: db
            .list_workers(&Query::new(), None, None)
            .await?
            .into_iter()
            .map(|w| (w.workerid.0, w.name))
            .collect(),
    })
}

fn build_url(b: &BuildRow) -> String {
    format!("/builders/{}/builds/{}", b.builderid.0, b.number)
}

/// What lists show of a build.
fn build_summary(b: &BuildRow, n: &Names) -> Value {
    let end = b.complete_at.unwrap_or_else(now);
    json!({
        "buildid": b.buildid.0,
        "number": b.number,
        "builderid": b.builderid.0,
        "builder": n.builders.get(&b.builderid.0).cloned().unwrap_or_default(),
        "worker": b.workerid.and_then(|w| n.workers.get(&w.0).cloned()),
        "result": result_class(b.results, b.complete()),
        "complete": b.complete(),
        "state_string": b.state_string,
        "started": fmt_time(b.started_at),
        "started_at": b.started_at,
        "duration": fmt_duration(end - b.started_at),
        "url": build_url(b),
    })
}

async fn builder_by_param(req: &Req) -> Result<Option<buildbot_db::BuilderRow>, DbError> {
    let raw = req.param("builder").unwrap_or_default();
    let raw = super::files::percent_decode(raw).unwrap_or_default();
    let db = req.state().handle.db();
    let q = match raw.trim().parse::<i64>() {
        Ok(id) => Query::new().eq("builderid", id),
        Err(_) => Query::new().eq("name", &raw),
    };
    Ok(db.list_builders(&q, None).await?.into_iter().next())
}

async fn worker_by_param(req: &Req) -> Result<Option<buildbot_db::WorkerRow>, DbError> {
    let raw = req.param("worker").unwrap_or_default();
    let raw = super::files::percent_decode(raw).unwrap_or_default();
    let db = req.state().handle.db();
    match raw.trim().parse::<i64>() {
        Ok(id) => db.get_worker(buildbot_db::WorkerId(id)).await,
        Err(_) => db.get_worker_by_name(&raw).await,
    }
}

// ---- home, builders, builder ------------------------------------------------------------

async fn home(req: Req) -> tide::Result {
    done(home_page(&req).await)
}

async fn home_page(req: &Req) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let n = names(st).await.or_page(req)?;
    let recent: Vec<Value> = db
        .list_builds(&Query::new().order("buildid", true).limit(20))
        .await
        .or_page(req)?
        .iter()
        .map(|b| build_summary(b, &n))
        .collect();
    let pending = db
        .pending_buildrequests(None, None)
        .await
        .or_page(req)?
        .len();
    let connected = st.handle.connected_workers();
    Ok(page(
        req,
        "root.html",
        json!({
            "page": "home",
            "recent": recent,
            "running": st.handle.running_builds().len(),
            "pending": pending,
            "connected_workers": connected,
            "builder_count": st.handle.config().builders.len(),
        }),
    ))
}

async fn builders(req: Req) -> tide::Result {
    done(builders_page(&req).await)
}

async fn builders_page(req: &Req) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let cfg = st.handle.config();
    let n = names(st).await.or_page(req)?;
    let connected = st.handle.connected_workers();
    let pending = db.builders_with_pending_requests().await.or_page(req)?;
    let mut out = Vec::new();
    for b in db.list_builders(&Query::new(), None).await.or_page(req)? {
        let last = db
            .list_builds(
                &Query::new()
                    .eq("builderid", b.builderid.0)
                    .order("number", true)
                    .limit(1),
            )
            .await
            .or_page(req)?;
        let workers: Vec<Value> = cfg
            .builder_named(&b.name)
            .map(|c| {
                c.workernames
                    .iter()
                    .map(|w| json!({"name": w, "connected": connected.contains(w)}))
                    .collect()
            })
            .unwrap_or_default();
        let npending = pending.iter().filter(|(id, ..)| *id == b.builderid).count();
        out.push(json!({
            "builderid": b.builderid.0,
            "name": b.name,
            "description": b.description,
            "tags": b.tags,
            "active": !b.masterids.is_empty(),
            "last": last.first().map(|l| build_summary(l, &n)),
            "workers": workers,
            "pending": npending,
        }));
    }
    Ok(page(
        req,
        "builders.html",
        json!({"page": "builders", "builders": out}),
    ))
}

fn param_kind(k: ForceParameterKind) -> &'static str {
    match k {
        ForceParameterKind::Text => "text",
        ForceParameterKind::Int => "int",
        ForceParameterKind::Boolean => "bool",
        ForceParameterKind::ChoiceString => "choice",
        ForceParameterKind::Fixed => "fixed",
        _ => "string",
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim_end().to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The force forms offered for builder `name`.
pub(crate) fn force_forms(state: &State, name: &str) -> Vec<Value> {
    let cfg = state.handle.config();
    cfg.schedulers
        .iter()
        .filter(|s| s.builder_names.iter().any(|b| b == name))
        .filter_map(|s| match &s.kind {
            SchedulerKind::Force {
                reason,
                button_name,
                label,
                parameters,
            } => Some(json!({
                "scheduler": s.name,
                "label": label,
                "button_name": button_name,
                "reason": reason,
                "params": parameters.iter().map(|p| {
                    let picked: Vec<String> = match &p.default {
                        Value::Array(a) => a.iter().map(value_text).collect(),
                        v => vec![value_text(v)],
                    };
                    json!({
                        "name": p.name,
                        "field": format!("param_{}", p.name),
                        "label": p.label,
                        "kind": param_kind(p.kind),
                        "default": value_text(&p.default),
                        "checked": p.default.as_bool().unwrap_or(false),
                        "required": p.required,
                        "multiple": p.multiple,
                        "choices": p.choices.iter().map(|c| json!({
                            "value": c,
                            "selected": picked.contains(c),
                        })).collect::<Vec<_>>(),
                    })
                }).collect::<Vec<_>>(),
            })),
            _ => None,
        })
        .collect()
}

async fn builder(req: Req) -> tide::Result {
    done(builder_page(&req).await)
}

async fn builder_page(req: &Req) -> PageResult {
    let st = req.state();
    let db = st.handle.db();
    let Some(b) = builder_by_param(req).await.or_page(req)? else {
        return Err(not_found(req, "builder"));
    };
    let n = names(st).await.or_page(req)?;
    let builds: Vec<Value> = db
        .list_builds(
            &Query::new()
                .eq("builderid", b.builderid.0)
                .order("number", true)
                .limit(50),
        )
        .await
        .or_page(req)?
        .iter()
        .map(|x| build_summary(x, &n))
        .collect();
    let mut pending = Vec::new();
    for r in db
        .pending_buildrequests(Some(b.builderid), Some(100))
        .await
        .or_page(req)?
    {
        let bs = db.get_buildset(r.buildsetid).await.or_page(req)?;
        pending.push(json!({
            "buildrequestid": r.buildrequestid.0,
            "priority": r.priority,
            "submitted": fmt_time(r.submitted_at),
            "reason": bs.and_then(|b| b.reason).unwrap_or_default(),
        }));
    }
    let cfg = st.handle.config();
    let connected = st.handle.connected_workers();
    let workers: Vec<Value> = cfg
        .builder_named(&b.name)
        .map(|c| {
            c.workernames
                .iter()
                .map(|w| json!({"name": w, "connected": connected.contains(w)}))
                .collect()
        })
        .unwrap_or_default();
    let forms = force_forms(st, &b.name);
    Ok(page(
        req,
        "builder.html",
        json!({
            "page": "builders",
            "builder": {
                "builderid": b.builderid.0,
                "name": b.name,
                "description": b.description,
                "tags": b.tags,
                "active": !b.masterids.is_empty(),
            },
            "builds": builds,
            "pending": pending,
            "workers": workers,
            "forms": forms,
            "force_url": format!("/builders/{}/force", b.builderid.0),
        }),
    ))
}

// ---- build, logs -------------------------------------------------------------------------

/// Lines of a log as `{cls, text}` (stdio lines lose their stream letter, which becomes the
/// class `o`, `e` or `h`).
pub(crate) fn log_lines(log: &LogRow, text: &str) -> Vec<Value> {
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

fn log_summary(l: &LogRow) -> Value {
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
async fn tail(state: &State, log: &LogRow, n: i64) -> Result<(i64, Vec<Value>), DbError> {
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

async fn build(req: Req) -> tide::Result {
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

async fn build_by_id(req: Req) -> tide::Result {
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

async fn log_view(req: Req) -> tide::Result {
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
async fn log_by_slug(req: Req) -> tide::Result {
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

// ---- grid, waterfall ---------------------------------------------------------------------

/// Recent builds per builder (newest first), `per` each.
async fn recent_by_builder(req: &Req, per: u64) -> Result<Vec<Value>, Response> {
    let st = req.state();
    let db = st.handle.db();
    let n = names(st).await.or_page(req)?;
    let mut rows = Vec::new();
    for b in db.list_builders(&Query::new(), None).await.or_page(req)? {
        let builds: Vec<Value> = db
            .list_builds(
                &Query::new()
                    .eq("builderid", b.builderid.0)
                    .order("number", true)
                    .limit(per),
            )
            .await
            .or_page(req)?
            .iter()
            .map(|x| build_summary(x, &n))
            .collect();
        rows.push(json!({
            "builderid": b.builderid.0,
            "name": b.name,
            "active": !b.masterids.is_empty(),
            "builds": builds,
        }));
    }
    Ok(rows)
}

async fn grid(req: Req) -> tide::Result {
    let r = async {
        let rows = recent_by_builder(&req, 16).await?;
        Ok(page(
            &req,
            "grid.html",
            json!({"page": "grid", "builders": rows}),
        ))
    }
    .await;
    done(r)
}

async fn waterfall(req: Req) -> tide::Result {
    let r = async {
        let rows = recent_by_builder(&req, 25).await?;
        Ok(page(
            &req,
            "waterfall.html",
            json!({"page": "waterfall", "builders": rows}),
        ))
    }
    .await;
    done(r)
}

// ---- workers -----------------------------------------------------------------------------

fn worker_summary(state: &State, w: &buildbot_db::WorkerRow) -> Value {
    let info = |k: &str| w.workerinfo.get(k).map(value_text);
    let cfg = state.handle.config();
    let configured = cfg.worker(&w.name);
    let mut extra: Vec<Value> = w
        .workerinfo
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"name": k, "value": value_text(v)}))
                .collect()
        })
        .unwrap_or_default();
    extra.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({
        "workerid": w.workerid.0,
        "name": w.name,
        "connected": state.handle.connected_workers().contains(&w.name),
        "paused": w.paused,
        "pause_reason": w.pause_reason,
        "graceful": w.graceful,
        "admin": info("admin"),
        "host": info("host"),
        "access_uri": info("access_uri"),
        "version": info("version"),
        "info": extra,
        "configured": configured.is_some(),
        "max_builds": configured.and_then(|c| c.max_builds),
        "url": format!("/workers/{}", w.name),
    })
}

async fn workers(req: Req) -> tide::Result {
    let r = async {
        let st = req.state();
        let rows = st
            .handle
            .db()
            .list_workers(&Query::new(), None, None)
            .await
            .or_page(&req)?;
        let ws: Vec<Value> = rows.iter().map(|w| worker_summary(st, w)).collect();
        Ok(page(
            &req,
            "workers.html",
            json!({"page": "workers", "workers": ws}),
        ))
    }
    .await;
    done(r)
}

async fn worker(req: Req) -> tide::Result {
    let r = async {
        let st = req.state();
        let db = st.handle.db();
        let Some(w) = worker_by_param(&req).await.or_page(&req)? else {
            return Err(not_found(&req, "worker"));
        };
        let n = names(st).await.or_page(&req)?;
        let builds: Vec<Value> = db
            .list_builds(
                &Query::new()
                    .eq("workerid", w.workerid.0)
                    .order("buildid", true)
                    .limit(30),
            )
            .await
            .or_page(&req)?
            .iter()
            .map(|b| build_summary(b, &n))
            .collect();
        let running: Vec<Value> = builds
            .iter()
            .filter(|b| b["complete"] == false)
            .cloned()
            .collect();
        let builders: Vec<String> = st
            .handle
            .config()
            .builders
            .iter()
            .filter(|b| b.workernames.contains(&w.name))
            .map(|b| b.name.clone())
            .collect();
        let builders: Vec<Value> = builders
            .into_iter()
            .map(|name| {
                let id = n
                    .builders
                    .iter()
                    .find(|(_, v)| **v == name)
                    .map(|(k, _)| *k);
                json!({"name": name, "builderid": id})
            })
            .collect();
        Ok(page(
            &req,
            "worker.html",
            json!({
                "page": "workers",
                "worker": worker_summary(st, &w),
                "builds": builds,
                "running": running,
                "builders": builders,
                "action_url": format!("/workers/{}", w.name),
            }),
        ))
    }
    .await;
    done(r)
}

// ---- changes, pending, masters, about ----------------------------------------------------

async fn changes(req: Req) -> tide::Result {
    let r = async {
        let db = req.state().handle.db();
        let rows = db
            .list_changes(&Query::new().order("changeid", true).limit(50))
            .await
            .or_page(&req)?;
        let cs: Vec<Value> = rows
            .iter()
            .map(|c| {
                let link = c
                    .revlink
                    .as_ref()
                    .filter(|l| l.starts_with("http://") || l.starts_with("https://"));
                json!({
                    "changeid": c.changeid.0,
                    "author": c.author,
                    "committer": c.committer,
                    "comments": c.comments,
                    "branch": c.branch,
                    "revision": c.revision,
                    "revlink": link,
                    "when": fmt_time(c.when_timestamp),
                    "repository": c.repository,
                    "project": c.project,
                    "category": c.category,
                    "files": c.files,
                })
            })
            .collect();
        Ok(page(
            &req,
            "changes.html",
            json!({"page": "changes", "changes": cs}),
        ))
    }
    .await;
    done(r)
}

async fn pending(req: Req) -> tide::Result {
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

async fn masters(req: Req) -> tide::Result {
    let r = async {
        let st = req.state();
        let rows = st
            .handle
            .db()
            .list_masters(&Query::new())
            .await
            .or_page(&req)?;
        let ms: Vec<Value> = rows
            .iter()
            .map(|m| {
                json!({
                    "masterid": m.masterid.0,
                    "name": m.name,
                    "active": m.active,
                    "last_active": fmt_time(m.last_active),
                    "this": m.masterid == st.handle.masterid(),
                })
            })
            .collect();
        Ok(page(
            &req,
            "masters.html",
            json!({"page": "masters", "masters": ms}),
        ))
    }
    .await;
    done(r)
}

async fn about(req: Req) -> tide::Result {
    let st = req.state();
    let cfg = st.handle.config();
    let db = st.handle.db();
    let schedulers: Vec<Value> = cfg
        .schedulers
        .iter()
        .map(|s| json!({"name": s.name, "type": s.kind.type_name(), "builders": s.builder_names}))
        .collect();
    let ctx = json!({
        "page": "about",
        "master_name": st.handle.name(),
        "basedir": st.handle.basedir().display().to_string(),
        "buildbot_url": cfg.buildbot_url,
        "db_backend": format!("{:?}", db.backend()),
        "db_target": db.target(),
        "builders": cfg.builders.iter().map(|b| &b.name).collect::<Vec<_>>(),
        "workers": cfg.workers.iter().map(|w| &w.name).collect::<Vec<_>>(),
        "schedulers": schedulers,
        "change_sources": cfg.change_sources.iter().map(|c| &c.name).collect::<Vec<_>>(),
        "connected": st.handle.connected_workers().len(),
    });
    Ok(page(&req, "about.html", ctx))
}

pub(super) fn routes(app: &mut tide::Server<State>) {
    app.at("/").get(home);
    app.at("/builders").get(builders);
    app.at("/builders/").get(builders);
    app.at("/builders/:builder").get(builder);
    app.at("/builders/:builder/builds/:number").get(build);
    app.at("/builds/:id").get(build_by_id);
    app.at("/logs/:id").get(log_view);
    app.at("/steps/:id/logs/:slug").get(log_by_slug);
    app.at("/grid").get(grid);
    app.at("/waterfall").get(waterfall);
    app.at("/workers").get(workers);
    app.at("/workers/").get(workers);
    app.at("/workers/:worker").get(worker);
    app.at("/changes").get(changes);
    app.at("/pending").get(pending);
    app.at("/masters").get(masters);
    app.at("/about").get(about);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(fmt_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(fmt_duration(5), "5s");
        assert_eq!(fmt_duration(65), "1m 5s");
        assert_eq!(fmt_duration(3725), "1h 2m 5s");
    }
}
