//! The worker pages: `/workers` and `/workers/:worker` (info, recent builds, builders and
//! the pause/unpause/stop forms).

use buildbot_db::{DbError, Query};
use serde_json::{Value, json};

use super::context::{build_summary, names, value_text};
use super::respond::{OrPage, done, not_found, page};
use crate::State;
use crate::state::Req;

/// The worker named by the `:worker` path parameter (id or percent-encoded name).
async fn worker_by_param(req: &Req) -> Result<Option<buildbot_db::WorkerRow>, DbError> {
    let raw = req.param("worker").unwrap_or_default();
    let raw = super::files::percent_decode(raw).unwrap_or_default();
    let db = req.state().handle.db();
    match raw.trim().parse::<i64>() {
        Ok(id) => db.get_worker(buildbot_db::WorkerId(id)).await,
        Err(_) => db.get_worker_by_name(&raw).await,
    }
}

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

pub(super) async fn workers(req: Req) -> tide::Result {
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

pub(super) async fn worker(req: Req) -> tide::Result {
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
