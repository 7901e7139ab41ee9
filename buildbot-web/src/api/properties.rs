//! Property bags as the API shows them: the object form (`{"name": [value, source]}`), the
//! `_properties` list form, and the selection of `property=` names.

use buildbot_db::Properties;
use serde_json::{Value, json};

pub(super) fn props_object(p: &Properties) -> Value {
    let m: serde_json::Map<String, Value> = p
        .iter()
        .map(|(k, (v, s))| (k.clone(), json!([v, s])))
        .collect();
    Value::Object(m)
}

pub(super) fn props_list(p: &Properties) -> Vec<Value> {
    p.iter()
        .map(|(k, (v, s))| json!({"name": k, "source": s, "value": v.to_string()}))
        .collect()
}

pub(super) const PROPERTY_LIST_FIELDS: &[&str] = &["name", "source", "value"];

/// Buildset properties filtered by `names` (`*` = all) for buildrequests' `property=`.
pub(super) fn filter_props(p: &Properties, names: &[String]) -> Value {
    let all = names.iter().any(|n| n == "*");
    let m: serde_json::Map<String, Value> = p
        .iter()
        .filter(|(k, _)| all || names.contains(k))
        .map(|(k, (v, s))| (k.clone(), json!([v, s])))
        .collect();
    Value::Object(m)
}
