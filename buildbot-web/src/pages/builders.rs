//! The builder pages: `/builders` and `/builders/:builder` (recent builds, pending
//! requests, workers and the force forms).

use buildbot_core::master::config::{
    ForceParameter, ForceParameterKind, MasterConfig, SchedulerKind,
};
use buildbot_db::{DbError, Query};
use serde_json::{Value, json};

use super::context::{build_summary, fmt_time, names, value_text};
use super::respond::{OrPage, PageResult, done, not_found, page};
use crate::State;
use crate::state::Req;

/// The builder named by the `:builder` path parameter (id or percent-encoded name).
pub(super) async fn builder_by_param(
    req: &Req,
) -> Result<Option<buildbot_db::BuilderRow>, DbError> {
    let raw = req.param("builder").unwrap_or_default();
    let raw = super::files::percent_decode(raw).unwrap_or_default();
    let db = req.state().handle.db();
    let q = match raw.trim().parse::<i64>() {
        Ok(id) => Query::new().eq("builderid", id),
        Err(_) => Query::new().eq("name", &raw),
    };
    Ok(db.list_builders(&q, None).await?.into_iter().next())
}

pub(super) async fn builders(req: Req) -> tide::Result {
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
        let workers = builder_workers(&cfg, &b.name, &connected);
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

/// The configured workers of builder `name`, each with whether it is `connected`.
fn builder_workers(cfg: &MasterConfig, name: &str, connected: &[String]) -> Vec<Value> {
    cfg.builder_named(name)
        .map(|c| {
            c.workernames
                .iter()
                .map(|w| json!({"name": w, "connected": connected.contains(w)}))
                .collect()
        })
        .unwrap_or_default()
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

/// One field of a force form, as the template shows it (posted by its `fullName`).
fn param_context(p: &ForceParameter) -> Value {
    let picked: Vec<String> = match &p.default {
        Value::Array(a) => a.iter().map(value_text).collect(),
        v => vec![value_text(v)],
    };
    json!({
        "field": p.full_name,
        "label": p.label,
        "tooltip": p.tooltip,
        "kind": param_kind(p.kind),
        "default": value_text(&p.default),
        "checked": p.default.as_bool().unwrap_or(false),
        "required": p.required,
        "multiple": p.multiple,
        "size": p.size,
        "maxsize": p.maxsize,
        "choices": p.choices.iter().map(|c| json!({
            "value": c,
            "selected": picked.contains(c),
        })).collect::<Vec<_>>(),
    })
}

/// The visible fields of `params` as template contexts.
fn visible(
    params: impl IntoIterator<Item = impl std::ops::Deref<Target = ForceParameter>>,
) -> Vec<Value> {
    params
        .into_iter()
        .filter(|p| !p.hide)
        .map(|p| param_context(&p))
        .collect()
}

/// The force forms offered for builder `name`: every field its `ForceScheduler` has
/// (the name field only without a logged-in user), as Buildbot's form shows them.
fn force_forms(state: &State, name: &str, logged_in: bool) -> Vec<Value> {
    let cfg = state.handle.config();
    cfg.schedulers
        .iter()
        .filter(|s| s.builder_names.iter().any(|b| b == name))
        .filter_map(|s| match &s.kind {
            SchedulerKind::Force(f) => {
                let first: Vec<&ForceParameter> = [&f.username, &f.reason, &f.priority]
                    .into_iter()
                    .filter(|p| !logged_in || p.name != f.username.name)
                    .collect();
                let mut fields = visible(first);
                for cb in &f.codebases {
                    let params = visible(cb.fields.iter().map(|(_, p)| p));
                    if !cb.label.is_empty() && !params.is_empty() {
                        fields.push(json!({"kind": "group", "label": cb.label}));
                    }
                    fields.extend(params);
                }
                fields.extend(visible(&f.properties));
                Some(json!({
                    "scheduler": s.name,
                    "label": f.label,
                    "button_name": f.button_name,
                    "fields": fields,
                }))
            }
            _ => None,
        })
        .collect()
}

pub(super) async fn builder(req: Req) -> tide::Result {
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
    let workers = builder_workers(&cfg, &b.name, &connected);
    let forms = force_forms(st, &b.name, crate::auth::current_user(req).is_some());
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
