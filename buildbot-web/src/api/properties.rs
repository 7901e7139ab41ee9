//! Property bags as the API shows them: the object form (`{"name": [value, source]}`), the
//! `_properties` list form, and the selection of `property=` names.

use buildbot_core::master::rest;
use buildbot_db::Properties;
use serde_json::{Value, json};

use super::query::{mem_collection, pairs};
use super::respond::ApiError;
use crate::spec;
use crate::state::Req;

pub(super) fn props_list(p: &Properties) -> Vec<Value> {
    p.iter()
        .map(|(k, (v, s))| rest::property_list_item(k, v, &Value::from(s.as_str())))
        .collect()
}

/// A `properties` answer: the bag as one object (only `field`-less requests are valid).
pub(super) fn properties_answer(req: &Req, p: &Properties) -> Result<Value, ApiError> {
    spec::parse(&pairs(req), &[], false, false)?;
    Ok(json!({"properties": [rest::properties(p.iter())], "meta": {}}))
}

/// A `property_list`/`properties_list` answer: `{name, source, value}` items.
pub(super) fn property_list_answer(req: &Req, items: Vec<Value>) -> Result<Value, ApiError> {
    mem_collection(req, "_properties", rest::PROPERTY_LIST_FIELDS, items)
}
