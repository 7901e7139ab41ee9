//! Reading a request against the data: path parameters, result specs (`field`, filters,
//! `order`, paging) run in SQL for the [`Kind`]s of entity, or in memory over collections
//! built here ([`mem_collection`], [`mem_single`]).

use std::collections::BTreeMap;

use buildbot_core::master::MasterHandle;
use buildbot_db::{Op, Properties, Query};
use serde_json::{Value, json};

use super::mem::{self, py_int};
use super::respond::{ApiError, cached, error_response, invalid_path, not_found};
use crate::State;
use crate::json::select_fields;
use crate::spec::{self, Spec};
use crate::state::Req;
use buildbot_core::master::rest::*;

pub(super) fn pairs(req: &Req) -> Vec<(String, String)> {
    req.url()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn param_i64(req: &Req, name: &str) -> Result<i64, ApiError> {
    req.param(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| invalid_path(req))
}

/// An `n:` path parameter (Python `int()`); anything else is an invalid path.
pub(super) fn n_param(req: &Req, name: &str) -> Result<i64, ApiError> {
    req.param(name)
        .ok()
        .and_then(py_int)
        .ok_or_else(|| invalid_path(req))
}

pub(super) fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-')
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The resource types served.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Builds,
    Builders,
    Workers,
    BuildRequests,
    Buildsets,
    Steps,
    Logs,
    Masters,
    Changes,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::Builds => "builds",
            Kind::Builders => "builders",
            Kind::Workers => "workers",
            Kind::BuildRequests => "buildrequests",
            Kind::Buildsets => "buildsets",
            Kind::Steps => "steps",
            Kind::Logs => "logs",
            Kind::Masters => "masters",
            Kind::Changes => "changes",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Builds => BUILD_FIELDS,
            Kind::Builders => BUILDER_FIELDS,
            Kind::Workers => WORKER_FIELDS,
            Kind::BuildRequests => BUILDREQUEST_FIELDS,
            Kind::Buildsets => BUILDSET_FIELDS,
            Kind::Steps => STEP_FIELDS,
            Kind::Logs => LOG_FIELDS,
            Kind::Masters => MASTER_FIELDS,
            Kind::Changes => CHANGE_FIELDS,
        }
    }

    /// Collections whose paging runs in SQL (`meta.total` = page length, §3.5).
    fn sql_paged(self) -> bool {
        matches!(
            self,
            Kind::Builds | Kind::BuildRequests | Kind::Buildsets | Kind::Changes
        )
    }
}

async fn fetch(
    m: &MasterHandle,
    kind: Kind,
    q: &Query,
    properties: &[String],
) -> Result<Vec<Value>, ApiError> {
    let db = m.db();
    Ok(match kind {
        Kind::Builds => {
            let mut out = Vec::new();
            for b in db.list_builds(q).await? {
                let mut v = build(&b);
                if !properties.is_empty() {
                    let props = db.get_build_properties(b.buildid).await?;
                    v["properties"] = filter_props(&props, properties);
                }
                out.push(v);
            }
            out
        }
        Kind::Builders => db
            .list_builders(q, None)
            .await?
            .iter()
            .map(builder)
            .collect(),
        Kind::Workers => db
            .list_workers(q, None, None)
            .await?
            .iter()
            .map(worker)
            .collect(),
        Kind::BuildRequests => {
            let mut out = Vec::new();
            let mut cache: BTreeMap<i64, Value> = BTreeMap::new();
            for r in db.list_buildrequests(q).await? {
                let mut v = buildrequest(&r);
                if !properties.is_empty() {
                    let p = match cache.get(&r.buildsetid.0) {
                        Some(p) => p.clone(),
                        None => {
                            let props = db.get_buildset_properties(r.buildsetid).await?;
                            let p = filter_props(&props, properties);
                            cache.insert(r.buildsetid.0, p.clone());
                            p
                        }
                    };
                    v["properties"] = p;
                }
                out.push(v);
            }
            out
        }
        Kind::Buildsets => {
            let mut out = Vec::new();
            for b in db.list_buildsets(q).await? {
                let ss = db.get_sourcestamps(&b.sourcestamps).await?;
                out.push(buildset(&b, &ss));
            }
            out
        }
        Kind::Steps => db.list_steps(q).await?.iter().map(step).collect(),
        Kind::Logs => db.list_logs(q).await?.iter().map(log).collect(),
        Kind::Masters => db.list_masters(q).await?.iter().map(master).collect(),
        Kind::Changes => {
            let mut out = Vec::new();
            for c in db.list_changes(q).await? {
                let ss = db.get_sourcestamp(c.sourcestampid).await?;
                out.push(change(&c, ss.as_ref()));
            }
            out
        }
    })
}

/// A collection, with `base` filters from the path added to the query's.
pub(super) async fn collection(req: Req, kind: Kind, base: Vec<(&str, String)>) -> tide::Result {
    Ok(cached(&req, collection_value(&req, kind, base)).await)
}

pub(super) async fn collection_value(
    req: &Req,
    kind: Kind,
    base: Vec<(&str, String)>,
) -> Result<Value, ApiError> {
    let base = base
        .into_iter()
        .map(|(f, v)| buildbot_db::Filter {
            field: f.to_owned(),
            op: Op::Eq,
            values: vec![v],
        })
        .collect();
    collection_value_with(req, kind, base).await
}

/// A collection with `base` filters from the path added to the query's.
pub(super) async fn collection_value_with(
    req: &Req,
    kind: Kind,
    base: Vec<buildbot_db::Filter>,
) -> Result<Value, ApiError> {
    let with_props = matches!(kind, Kind::Builds | Kind::BuildRequests);
    let Spec {
        fields,
        mut query,
        properties,
    } = spec::parse(&pairs(req), kind.fields(), with_props, true)?;
    query.filters.extend(base);
    let (items, total) = if kind.sql_paged() {
        let mut items = fetch(&req.state().handle, kind, &query, &properties).await?;
        if kind == Kind::Changes {
            items.reverse();
        }
        let n = items.len();
        (items, n)
    } else {
        let (limit, offset) = (query.limit.take(), query.offset.take());
        let all = fetch(&req.state().handle, kind, &query, &properties).await?;
        let n = all.len();
        let items = all
            .into_iter()
            .skip(offset.unwrap_or(0) as usize)
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        (items, n)
    };
    let items: Vec<Value> = items
        .into_iter()
        .map(|v| select_fields(v, fields.as_deref()))
        .collect();
    Ok(json!({ kind.plural(): items, "meta": { "total": total } }))
}

/// A single entity: the collection filtered by `key`, 404 when empty.
pub(super) async fn single(req: Req, kind: Kind, key: Vec<(&str, String)>) -> tide::Result {
    Ok(cached(&req, single_value(&req, kind, key)).await)
}

pub(super) async fn single_value(
    req: &Req,
    kind: Kind,
    key: Vec<(&str, String)>,
) -> Result<Value, ApiError> {
    let with_props = matches!(kind, Kind::Builds | Kind::BuildRequests);
    let spec = spec::parse(&pairs(req), kind.fields(), with_props, false)?;
    let mut q = Query::new();
    for (f, v) in key {
        q = q.filter(f, Op::Eq, [v]);
    }
    let item = fetch(&req.state().handle, kind, &q, &spec.properties)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(req))?;
    Ok(json!({ kind.plural(): [select_fields(item, spec.fields.as_deref())], "meta": {} }))
}

pub(super) fn by_id(kind: Kind, field: &'static str) -> impl tide::Endpoint<State> {
    move |req: Req| async move {
        match param_i64(&req, "id") {
            Ok(id) => single(req, kind, vec![(field, id.to_string())]).await,
            Err(e) => Ok(error_response(e)),
        }
    }
}

/// Collection of `items` with the query applied in memory (`total` before paging).
pub(super) fn mem_collection(
    req: &Req,
    plural: &str,
    fields: &[&str],
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), fields, false, true)?;
    let (page, total) = mem::apply(items, &spec.query)?;
    let page: Vec<Value> = page
        .into_iter()
        .map(|v| select_fields(v, spec.fields.as_deref()))
        .collect();
    Ok(json!({ plural: page, "meta": { "total": total } }))
}

/// Single entity (404 when `None`).
pub(super) fn mem_single(
    req: &Req,
    plural: &str,
    fields: &[&str],
    item: Option<Value>,
) -> Result<Value, ApiError> {
    let spec = spec::parse(&pairs(req), fields, false, false)?;
    let item = item.ok_or_else(|| not_found(req))?;
    Ok(json!({ plural: [select_fields(item, spec.fields.as_deref())], "meta": {} }))
}

/// Properties filtered by `names` (`*` = all), for `property=`.
fn filter_props(p: &Properties, names: &[String]) -> Value {
    let all = names.iter().any(|n| n == "*");
    let m: serde_json::Map<String, Value> = p
        .iter()
        .filter(|(k, _)| all || names.contains(k))
        .map(|(k, (v, s))| (k.clone(), json!([v, s])))
        .collect();
    Value::Object(m)
}
