//! Property bags as the API shows them: the object form (`{"name": [value, source]}`), the
//! `_properties` list form, and the selection of `property=` names.

use buildbot_db::Properties;
use serde_json::{Value, json};

use super::query::{mem_collection, pairs};
use super::respond::ApiError;
use crate::spec;
use crate::state::Req;

fn props_object(p: &Properties) -> Value {
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

const PROPERTY_LIST_FIELDS: &[&str] = &["name", "source", "value"];

/// A `properties` answer: the bag as one object (only `field`-less requests are valid).
pub(super) fn properties_answer(req: &Req, p: &Properties) -> Result<Value, ApiError> {
    spec::parse(&pairs(req), &[], false, false)?;
    Ok(json!({"properties": [props_object(p)], "meta": {}}))
}

/// A `property_list`/`properties_list` answer: `{name, source, value}` items.
pub(super) fn property_list_answer(req: &Req, items: Vec<Value>) -> Result<Value, ApiError> {
    mem_collection(req, "_properties", PROPERTY_LIST_FIELDS, items)
}
