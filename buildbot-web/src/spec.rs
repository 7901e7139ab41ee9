//! Query parameters ("result specs", rest-api.md §3) → [`buildbot_db::Query`].

use buildbot_db::{Filter, Op, Query};

/// A `400` with Buildbot's message.
#[derive(Debug)]
pub(crate) struct BadRequest(pub String);

/// Parsed query parameters.
#[derive(Debug, Default)]
pub(crate) struct Spec {
    /// `field=` projection.
    pub fields: Option<Vec<String>>,
    /// Filters, order, paging.
    pub query: Query,
    /// `property=` names.
    pub properties: Vec<String>,
}

fn op_of(s: &str) -> Option<Op> {
    Some(match s {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "lt" => Op::Lt,
        "le" => Op::Le,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "in" => Op::In,
        "notin" => Op::NotIn,
        "contains" => Op::Contains,
        _ => return None,
    })
}

/// Parses `pairs` against the fields of a resource type. `extra` are endpoint-specific
/// keys accepted besides the generic ones (e.g. `offset`/`limit` handled elsewhere).
pub(crate) fn parse(
    pairs: &[(String, String)],
    fields: &[&str],
    with_properties: bool,
    collection: bool,
) -> Result<Spec, BadRequest> {
    let known = |f: &str| fields.contains(&f);
    let mut spec = Spec::default();
    let mut selected: Vec<String> = Vec::new();
    let mut filters: Vec<Filter> = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "field" => {
                if !known(v) {
                    return Err(BadRequest(format!("no such field '{v}'")));
                }
                selected.push(v.clone());
            }
            "order" => {
                let (name, desc) = match v.strip_prefix('-') {
                    Some(n) => (n, true),
                    None => (v.as_str(), false),
                };
                if !known(name) {
                    return Err(BadRequest(format!("no such field '{name}'")));
                }
                spec.query.order.push((name.to_owned(), desc));
            }
            "limit" => {
                spec.query.limit = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| BadRequest("invalid limit".into()))?,
                );
            }
            "offset" => {
                spec.query.offset = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| BadRequest("invalid offset".into()))?,
                );
            }
            "property" if with_properties => spec.properties.push(v.clone()),
            _ => {
                let (name, op) = match k.rsplit_once("__") {
                    Some((name, op)) => match (known(name), op_of(op)) {
                        (true, Some(op)) => (name, op),
                        // unknown field or operator with `__`: silently ignored
                        _ => continue,
                    },
                    None if known(k) => (k.as_str(), Op::Eq),
                    None => {
                        return Err(BadRequest(format!("unrecognized query parameter '{k}'")));
                    }
                };
                match filters.iter_mut().find(|f| f.field == name && f.op == op) {
                    Some(f) => f.values.push(v.clone()),
                    None => filters.push(Filter {
                        field: name.to_owned(),
                        op,
                        values: vec![v.clone()],
                    }),
                }
            }
        }
    }
    // comparisons are not allowed with several values: ignored
    filters.retain(|f| !(matches!(f.op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && f.values.len() > 1));
    if !selected.is_empty() {
        if filters.iter().any(|f| !selected.contains(&f.field)) {
            return Err(BadRequest("cannot filter on un-selected fields".into()));
        }
        if spec.query.order.iter().any(|(f, _)| !selected.contains(f)) {
            return Err(BadRequest("cannot order on un-selected fields".into()));
        }
        spec.fields = Some(selected);
    }
    if !collection && !filters.is_empty() {
        return Err(BadRequest("this is not a collection".into()));
    }
    spec.query.filters = filters;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const F: &[&str] = &["buildid", "complete", "results"];

    #[test]
    fn parses_filters_and_paging() {
        let s = parse(
            &p(&[
                ("buildid__in", "1"),
                ("buildid__in", "2"),
                ("order", "-buildid"),
                ("limit", "3"),
                ("x__bogus", "1"),
            ]),
            F,
            false,
            true,
        )
        .unwrap();
        assert_eq!(s.query.filters.len(), 1);
        assert_eq!(s.query.filters[0].values, vec!["1", "2"]);
        assert_eq!(s.query.order, vec![("buildid".to_string(), true)]);
        assert_eq!(s.query.limit, Some(3));
    }

    #[test]
    fn rejects_bad_params() {
        let e = |q: &[(&str, &str)]| parse(&p(q), F, false, true).unwrap_err().0;
        assert_eq!(e(&[("nope", "1")]), "unrecognized query parameter 'nope'");
        assert_eq!(e(&[("field", "nope")]), "no such field 'nope'");
        assert_eq!(e(&[("limit", "x")]), "invalid limit");
        assert_eq!(
            e(&[("field", "buildid"), ("complete", "true")]),
            "cannot filter on un-selected fields"
        );
    }
}
