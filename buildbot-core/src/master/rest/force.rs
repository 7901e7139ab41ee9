//! Force schedulers and their form fields (`all_fields`, rest-api.md §7.4).

use serde_json::{Map, Value, json};

use crate::master::config::{
    ForceCodebase, ForceParameter, ForceParameterKind, ForceSchedulerConfig, SchedulerConfig,
    SchedulerKind,
};

/// Fields of a `forcescheduler`.
pub const FORCESCHEDULER_FIELDS: &[&str] = &[
    "all_fields",
    "builder_names",
    "button_name",
    "enabled",
    "label",
    "name",
];

/// The spec of one force-form parameter (`all_fields` items, rest-api.md §7.4): Buildbot's
/// `BaseParameter.getSpec()`.
pub fn force_parameter(p: &ForceParameter) -> Value {
    let mut m = spec_base(
        &p.name,
        Value::from(p.full_name.clone()),
        &p.label,
        p.kind.spec_type(),
        p.default.clone(),
    );
    m.insert("required".into(), json!(p.required));
    m.insert("multiple".into(), json!(p.multiple));
    m.insert("regex".into(), json!(p.regex));
    m.insert("hide".into(), json!(p.hide));
    m.insert("maxsize".into(), json!(p.maxsize));
    m.insert("tooltip".into(), json!(p.tooltip));
    match p.kind {
        ForceParameterKind::String | ForceParameterKind::Int => {
            m.insert("size".into(), json!(p.size));
        }
        ForceParameterKind::Text => {
            m.insert("size".into(), json!(p.size));
            m.insert("cols".into(), json!(p.cols));
            m.insert("rows".into(), json!(p.rows));
        }
        ForceParameterKind::UserName => {
            m.insert("size".into(), json!(p.size));
            m.insert("need_email".into(), json!(p.need_email));
        }
        ForceParameterKind::ChoiceString => {
            m.insert("choices".into(), json!(p.choices));
            m.insert("strict".into(), json!(p.strict));
        }
        _ => {}
    }
    Value::Object(m)
}

fn spec_base(
    name: &str,
    full_name: Value,
    label: &str,
    ty: &str,
    default: Value,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("fullName".into(), full_name);
    m.insert("label".into(), json!(label));
    m.insert("tablabel".into(), json!(label));
    m.insert("type".into(), json!(ty));
    m.insert("default".into(), default);
    m.insert("required".into(), json!(false));
    m.insert("multiple".into(), json!(false));
    m.insert("regex".into(), Value::Null);
    m.insert("hide".into(), json!(false));
    m.insert("maxsize".into(), Value::Null);
    m.insert("autopopulate".into(), Value::Null);
    m.insert("tooltip".into(), json!(""));
    m
}

/// A `NestedParameter` of `fields`: two columns from four visible fields on, as Buildbot
/// lays them out.
fn nest(name: &str, label: &str, fields: Vec<Value>, visible: usize) -> Value {
    let full_name = if name.is_empty() {
        Value::Null
    } else {
        Value::from(name)
    };
    let mut m = spec_base(name, full_name, label, "nested", json!(""));
    m.insert("layout".into(), json!("vertical"));
    m.insert("columns".into(), json!(if visible >= 4 { 2 } else { 1 }));
    m.insert("fields".into(), Value::Array(fields));
    Value::Object(m)
}

fn codebase_nest(cb: &ForceCodebase) -> Value {
    let fields: Vec<Value> = cb.fields.iter().map(|(_, p)| force_parameter(p)).collect();
    let visible = cb.fields.iter().filter(|(_, p)| !p.hide).count();
    nest(&cb.name, &cb.label, fields, visible)
}

/// `all_fields` of a force scheduler: the anonymous nest of `username`, `reason` and
/// `priority`, one nest per codebase, then the extra parameters.
pub fn force_all_fields(f: &ForceSchedulerConfig) -> Value {
    let first = [&f.username, &f.reason, &f.priority];
    let visible = first.iter().filter(|p| !p.hide).count();
    let mut all = vec![nest(
        "",
        "",
        first.iter().map(|p| force_parameter(p)).collect(),
        visible,
    )];
    all.extend(f.codebases.iter().map(codebase_nest));
    all.extend(f.properties.iter().map(force_parameter));
    Value::Array(all)
}

/// A `forcescheduler` entity (`None`: not a `ForceScheduler`).
pub fn forcescheduler(s: &SchedulerConfig, enabled: bool) -> Option<Value> {
    let SchedulerKind::Force(f) = &s.kind else {
        return None;
    };
    Some(json!({
        "all_fields": force_all_fields(f),
        "builder_names": s.builder_names,
        "button_name": f.button_name,
        "enabled": enabled,
        "label": f.label,
        "name": s.name,
    }))
}
