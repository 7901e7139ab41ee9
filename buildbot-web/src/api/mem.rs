//! Result specs applied in memory (rest-api.md §3.4): filters, order and paging over entity
//! JSON objects, for the collections that are not (or not fully) queried in SQL.

use std::cmp::Ordering;

use buildbot_db::{Filter, Op, Query};
use serde_json::Value;

use crate::spec::BadRequest;

/// How a field's filter values are parsed (§3.3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Int,
    Bool,
    Str,
    /// Objects and nested entities: not filterable.
    Other,
}

fn ty_of(field: &str) -> Ty {
    match field {
        "complete" | "enabled" | "active" | "paused" | "graceful" | "hidden" | "claimed"
        | "waited_for" => Ty::Bool,
        "properties" | "master" | "workerinfo" | "sourcestamp" | "sourcestamps" | "patch"
        | "connected_to" | "configured_on" | "all_fields" | "urls" => Ty::Other,
        "results" | "number" | "num_lines" | "length" | "priority" | "line" | "duration_ns"
        | "tests_passed" | "tests_failed" | "firstline" | "locks_duration_s" | "when_timestamp"
        | "last_active" => Ty::Int,
        f if f.ends_with("id") || f.ends_with("ids") || f.ends_with("_at") => Ty::Int,
        _ => Ty::Str,
    }
}

/// A filter value parsed by the field's type.
#[derive(PartialEq, PartialOrd)]
enum Val {
    Int(i64),
    Bool(bool),
    Str(String),
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Python's `int()` on text: surrounding blanks, a sign, `_` between digits.
pub(crate) fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    t.replace('_', "").parse().ok()
}

fn parse(field: &str, s: &str) -> Result<Val, BadRequest> {
    let bad = || BadRequest(format!("invalid filter value for {field}"));
    Ok(match ty_of(field) {
        Ty::Int => Val::Int(py_int(s).ok_or_else(bad)?),
        Ty::Bool => Val::Bool(parse_bool(s).ok_or_else(bad)?),
        Ty::Str => Val::Str(s.to_owned()),
        Ty::Other => return Err(bad()),
    })
}

fn as_val(v: &Value) -> Option<Val> {
    match v {
        Value::Bool(b) => Some(Val::Bool(*b)),
        Value::Number(n) => n.as_i64().map(Val::Int),
        Value::String(s) => Some(Val::Str(s.clone())),
        _ => None,
    }
}

/// Checks the filter values once (400 for bad values) and returns them parsed.
fn prepare(f: &Filter) -> Result<Vec<Val>, BadRequest> {
    f.values.iter().map(|s| parse(&f.field, s)).collect()
}

fn matches(v: &Value, f: &Filter, want: &[Val]) -> bool {
    // list fields (tags, masterids, builder_names): element semantics
    let items: Vec<Val> = match v {
        Value::Array(a) => a.iter().filter_map(as_val).collect(),
        other => as_val(other).into_iter().collect(),
    };
    let any_eq = || items.iter().any(|i| want.contains(i));
    match f.op {
        Op::Eq | Op::In => any_eq(),
        Op::Ne | Op::NotIn => !v.is_null() && !any_eq(),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let Some(w) = want.first() else { return false };
            items.iter().any(|i| match i.partial_cmp(w) {
                Some(o) => match f.op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                },
                None => false,
            })
        }
        Op::Contains => match v {
            Value::String(s) => want.iter().any(|w| match w {
                Val::Str(w) => s.contains(w.as_str()),
                _ => false,
            }),
            _ => any_eq(),
        },
        _ => false,
    }
}

fn cmp_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Filters and orders `items`; returns `(page, total before paging)`.
pub(crate) fn apply(mut items: Vec<Value>, q: &Query) -> Result<(Vec<Value>, usize), BadRequest> {
    for f in &q.filters {
        let want = prepare(f)?;
        items.retain(|v| matches(&v[f.field.as_str()], f, &want));
    }
    if !q.order.is_empty() {
        items.sort_by(|a, b| {
            for (f, desc) in &q.order {
                let o = cmp_json(&a[f.as_str()], &b[f.as_str()]);
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let total = items.len();
    let page = items
        .into_iter()
        .skip(q.offset.unwrap_or(0) as usize)
        .take(q.limit.map_or(usize::MAX, |l| l as usize))
        .collect();
    Ok((page, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_int_rules() {
        assert_eq!(py_int(" 5"), Some(5));
        assert_eq!(py_int("+5"), Some(5));
        assert_eq!(py_int("1_0"), Some(10));
        assert_eq!(py_int("-3"), Some(-3));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("x"), None);
        assert_eq!(py_int(""), None);
    }

    #[test]
    fn filters_orders_pages() {
        let items = vec![
            json!({"id": 1, "name": "a", "tags": ["x"]}),
            json!({"id": 2, "name": "b", "tags": []}),
            json!({"id": 3, "name": "ab", "tags": ["x", "y"]}),
        ];
        let q = Query::new()
            .filter("tags", Op::Contains, ["x"])
            .order("id", true)
            .limit(1);
        let (page, total) = apply(items.clone(), &q).unwrap();
        assert_eq!(total, 2);
        assert_eq!(page, vec![items[2].clone()]);
        let q = Query::new().filter("name", Op::Contains, ["b"]);
        assert_eq!(apply(items.clone(), &q).unwrap().1, 2);
        let q = Query::new().filter("id", Op::Gt, ["x"]);
        assert!(apply(items, &q).is_err());
    }
}
