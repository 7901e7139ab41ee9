//! The overview pages: home (`/`), `/grid`, `/waterfall`, `/masters` and `/about`.

use buildbot_db::Query;
use serde_json::{Value, json};
use tide::Response;

use super::context::{build_summary, fmt_time, names};
use super::respond::{OrPage, PageResult, done, page};
use crate::state::Req;

pub(super) async fn home(req: Req) -> tide::Result {
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

pub(super) async fn grid(req: Req) -> tide::Result {
    recent_page(req, 16, "grid").await
}

pub(super) async fn waterfall(req: Req) -> tide::Result {
    recent_page(req, 25, "waterfall").await
}

/// Page `name` (template `<name>.html`) of the recent builds per builder, `per` each.
async fn recent_page(req: Req, per: u64, name: &str) -> tide::Result {
    let r = async {
        let rows = recent_by_builder(&req, per).await?;
        Ok(page(
            &req,
            &format!("{name}.html"),
            json!({"page": name, "builders": rows}),
        ))
    }
    .await;
    done(r)
}

pub(super) async fn masters(req: Req) -> tide::Result {
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

pub(super) async fn about(req: Req) -> tide::Result {
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
