//! Build properties (`spec/data-model.md` §4.2) and renderables (Buildbot's `Interpolate`,
//! `Property`).
//!
//! A property is a name bound to a JSON value and the *source* that set it (`"Force Build
//! Form"`, `"Builder"`, `"SetPropertyFromCommand Step"`, ...). [`Properties`] keeps them and
//! converts between the three encodings the database and the REST API use.

mod interpolate;

use std::collections::BTreeMap;

use serde_json::Value;

pub use interpolate::{
    Interpolate, InterpolateError, Redactor, RenderContext, RenderError, Renderable,
    SimpleRenderContext, is_truthy, python_str,
};

/// The standard property sources written by the master (`spec/data-model.md` §4.2).
pub mod sources {
    /// Properties given in the force-build form (reason, owner, user fields).
    pub const FORCE_BUILD_FORM: &str = "Force Build Form";
    /// `scheduler`.
    pub const SCHEDULER: &str = "Scheduler";
    /// `buildername`, `builderid`, `projectname`, `projectid`.
    pub const BUILDER: &str = "Builder";
    /// `workername`, `basedir`, `builddir`.
    pub const WORKER: &str = "Worker";
    /// `buildnumber`, `branch`, `revision`, `repository`, `codebase`, `project`, `owners`.
    pub const BUILD: &str = "Build";
    /// Change properties copied into a buildset.
    pub const CHANGE: &str = "Change";
    /// Global properties from the configuration (`properties = {...}`); Buildbot uses the
    /// config file name, we use this fixed string when there is none.
    pub const MASTER_CONFIG: &str = "master.cfg";

    /// The source string of a property set by a step: `"<StepClass> Step"`.
    pub fn step(step_class: &str) -> String {
        format!("{step_class} Step")
    }
}

/// A set of build properties: name → (value, source).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties {
    map: BTreeMap<String, (Value, String)>,
}

/// Error decoding an encoded property set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PropertiesError {
    /// Stored JSON text could not be parsed.
    #[error("property {name:?}: invalid JSON value: {source}")]
    Json {
        /// Property name.
        name: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// A sourced-properties object had an entry that is not a `[value, source]` pair.
    #[error("property {name:?}: expected a [value, source] pair")]
    NotAPair {
        /// Property name.
        name: String,
    },
    /// The encoded value was not a JSON object.
    #[error("properties must be a JSON object")]
    NotAnObject,
}

impl Properties {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) a property.
    pub fn set(&mut self, name: impl Into<String>, value: Value, source: impl Into<String>) {
        self.map.insert(name.into(), (value, source.into()));
    }

    /// The value of a property.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).map(|(v, _)| v)
    }

    /// The value and source of a property.
    pub fn get_with_source(&self, name: &str) -> Option<(&Value, &str)> {
        self.map.get(name).map(|(v, s)| (v, s.as_str()))
    }

    /// Whether the property is set (even to `null`).
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Removes a property, returning its value and source.
    pub fn remove(&mut self, name: &str) -> Option<(Value, String)> {
        self.map.remove(name)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Iterates `(name, value, source)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value, &str)> {
        self.map
            .iter()
            .map(|(k, (v, s))| (k.as_str(), v, s.as_str()))
    }

    /// Merges `other` into `self`; properties of `other` win.
    pub fn update(&mut self, other: &Properties) {
        for (k, v) in &other.map {
            self.map.insert(k.clone(), v.clone());
        }
    }

    /// Sets every entry of a JSON object with one source (Buildbot's
    /// `Properties.update(dict, source)`).
    pub fn update_from_map(&mut self, values: &serde_json::Map<String, Value>, source: &str) {
        for (k, v) in values {
            self.set(k.clone(), v.clone(), source);
        }
    }

    /// Plain `name → value` object (no sources), e.g. for `Interpolate` kwargs or reporters.
    pub fn to_plain_json(&self) -> Value {
        Value::Object(
            self.map
                .iter()
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// REST/MQ encoding: object `name → [value, source]`.
    pub fn to_sourced_json(&self) -> Value {
        Value::Object(
            self.map
                .iter()
                .map(|(k, (v, s))| {
                    (
                        k.clone(),
                        Value::Array(vec![v.clone(), Value::from(s.as_str())]),
                    )
                })
                .collect(),
        )
    }

    /// Parses the REST/MQ encoding `name → [value, source]`.
    pub fn from_sourced_json(value: &Value) -> Result<Self, PropertiesError> {
        let obj = value.as_object().ok_or(PropertiesError::NotAnObject)?;
        let mut props = Properties::new();
        for (name, pair) in obj {
            match pair.as_array().map(Vec::as_slice) {
                Some([v, Value::String(s)]) => props.set(name.clone(), v.clone(), s.clone()),
                _ => return Err(PropertiesError::NotAPair { name: name.clone() }),
            }
        }
        Ok(props)
    }

    /// `build_properties` encoding: rows of `(name, JSON text of value, source)`.
    pub fn to_build_rows(&self) -> Vec<(String, String, String)> {
        self.map
            .iter()
            .map(|(k, (v, s))| (k.clone(), v.to_string(), s.clone()))
            .collect()
    }

    /// Reads `build_properties` rows `(name, JSON text of value, source)`.
    pub fn from_build_rows<I, N, J, S>(rows: I) -> Result<Self, PropertiesError>
    where
        I: IntoIterator<Item = (N, J, S)>,
        N: Into<String>,
        J: AsRef<str>,
        S: Into<String>,
    {
        let mut props = Properties::new();
        for (name, json, source) in rows {
            let name = name.into();
            let value =
                serde_json::from_str(json.as_ref()).map_err(|source| PropertiesError::Json {
                    name: name.clone(),
                    source,
                })?;
            props.set(name, value, source);
        }
        Ok(props)
    }

    /// `buildset_properties`/`change_properties` encoding of one property: the JSON text
    /// `[value, source]`.
    pub fn encode_pair(value: &Value, source: &str) -> String {
        Value::Array(vec![value.clone(), Value::from(source)]).to_string()
    }

    /// Decodes a `buildset_properties`/`change_properties` value; anything that is not a
    /// JSON `[value, source]` pair is read leniently as `(raw, "Change")`.
    pub fn decode_pair(text: &str) -> (Value, String) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(mut a)) if a.len() == 2 && a[1].is_string() => {
                let source = a.pop().and_then(|s| s.as_str().map(str::to_owned));
                let value = a.pop().unwrap_or(Value::Null);
                (value, source.unwrap_or_else(|| sources::CHANGE.to_owned()))
            }
            Ok(other) => (other, sources::CHANGE.to_owned()),
            Err(_) => (Value::from(text), sources::CHANGE.to_owned()),
        }
    }

    /// Reads `buildset_properties`/`change_properties` rows `(name, property_value text)`.
    pub fn from_pair_rows<I, N, J>(rows: I) -> Self
    where
        I: IntoIterator<Item = (N, J)>,
        N: Into<String>,
        J: AsRef<str>,
    {
        let mut props = Properties::new();
        for (name, text) in rows {
            let (v, s) = Self::decode_pair(text.as_ref());
            props.set(name, v, s);
        }
        props
    }
}

impl From<BTreeMap<String, (Value, String)>> for Properties {
    /// From `buildbot_db::Properties` (the storage layer's map).
    fn from(map: BTreeMap<String, (Value, String)>) -> Self {
        Properties { map }
    }
}

impl From<Properties> for BTreeMap<String, (Value, String)> {
    /// Into `buildbot_db::Properties` (the storage layer's map).
    fn from(p: Properties) -> Self {
        p.map
    }
}

impl Properties {
    /// The underlying `name → (value, source)` map (`buildbot_db::Properties`).
    pub fn as_map(&self) -> &BTreeMap<String, (Value, String)> {
        &self.map
    }
}

impl FromIterator<(String, Value, String)> for Properties {
    fn from_iter<T: IntoIterator<Item = (String, Value, String)>>(iter: T) -> Self {
        let mut p = Properties::new();
        for (k, v, s) in iter {
            p.set(k, v, s);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn three_encodings_round_trip() {
        let mut p = Properties::new();
        p.set("buildername", json!("b1"), sources::BUILDER);
        p.set("buildnumber", json!(3), sources::BUILD);
        p.set(
            "answer",
            json!({"a": [1, 2]}),
            sources::step("SetPropertyFromCommand"),
        );

        let sourced = p.to_sourced_json();
        assert_eq!(sourced["buildername"], json!(["b1", "Builder"]));
        assert_eq!(sourced["answer"][1], json!("SetPropertyFromCommand Step"));
        assert_eq!(Properties::from_sourced_json(&sourced).unwrap(), p);

        let rows = p.to_build_rows();
        assert!(rows.contains(&("buildnumber".into(), "3".into(), "Build".into())));
        assert_eq!(Properties::from_build_rows(rows).unwrap(), p);

        let text = Properties::encode_pair(&json!("main"), "Scheduler");
        assert_eq!(text, r#"["main","Scheduler"]"#);
        assert_eq!(
            Properties::decode_pair(&text),
            (json!("main"), "Scheduler".to_owned())
        );
    }

    #[test]
    fn lenient_pair_decoding() {
        assert_eq!(
            Properties::decode_pair("42"),
            (json!(42), "Change".to_owned())
        );
        assert_eq!(
            Properties::decode_pair("[1,2,3]"),
            (json!([1, 2, 3]), "Change".to_owned())
        );
        assert_eq!(
            Properties::decode_pair("not json"),
            (json!("not json"), "Change".to_owned())
        );
    }

    #[test]
    fn update_overrides() {
        let mut a = Properties::new();
        a.set("x", json!(1), "A");
        a.set("y", json!(1), "A");
        let mut b = Properties::new();
        b.set("y", json!(2), "B");
        a.update(&b);
        assert_eq!(a.get_with_source("y"), Some((&json!(2), "B")));
        assert_eq!(a.get("x"), Some(&json!(1)));
        assert!(Properties::from_sourced_json(&json!({"x": 1})).is_err());
    }
}
