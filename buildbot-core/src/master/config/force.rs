//! `ForceScheduler` (`type = "ForceScheduler"`): the force form's fields with Buildbot's
//! names, defaults and checks — `username`, `reason`, `priority`, the source-stamp fields
//! of each of its `codebases`, and the extra `properties` parameters.
//!
//! ```toml
//! [[schedulers]]
//! type = "ForceScheduler"
//! name = "force"
//! builderNames = ["runtests"]
//! buttonName = "Build"
//! reason = { default = "nightly check", required = true }
//! priority = { default = 5 }          # or `priority = 5`
//! # one codebase "": branch / revision / repository / project fields (the default);
//! # a string fixes a field, false removes it, a table makes it any parameter type
//! codebases = [{ codebase = "", branch = { type = "ChoiceStringParameter",
//!     choices = ["main", "dev"] }, project = false }]
//!
//! [[schedulers.properties]]
//! type = "BooleanParameter"
//! name = "clean"
//! ```

use serde_json::Value;

use super::args::{ComponentArgs, suggest};

/// Kind of a force-form parameter (Buildbot's parameter class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForceParameterKind {
    /// `StringParameter`.
    String,
    /// `TextParameter` (multi-line).
    Text,
    /// `IntParameter`.
    Int,
    /// `BooleanParameter`.
    Boolean,
    /// `ChoiceStringParameter`.
    ChoiceString,
    /// `FixedParameter` (not editable).
    Fixed,
    /// `UserNameParameter` (a name, by default with an e-mail address).
    UserName,
}

impl ForceParameterKind {
    const NAMES: [(&'static str, ForceParameterKind); 7] = [
        ("StringParameter", ForceParameterKind::String),
        ("TextParameter", ForceParameterKind::Text),
        ("IntParameter", ForceParameterKind::Int),
        ("BooleanParameter", ForceParameterKind::Boolean),
        ("ChoiceStringParameter", ForceParameterKind::ChoiceString),
        ("FixedParameter", ForceParameterKind::Fixed),
        ("UserNameParameter", ForceParameterKind::UserName),
    ];

    /// Buildbot's class name.
    pub fn type_name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("StringParameter")
    }

    /// The `type` of the parameter's spec (`text`, `textarea`, `int`, `bool`, `list`,
    /// `fixed`, `username`), as the web UI knows it.
    pub fn spec_type(self) -> &'static str {
        match self {
            ForceParameterKind::String => "text",
            ForceParameterKind::Text => "textarea",
            ForceParameterKind::Int => "int",
            ForceParameterKind::Boolean => "bool",
            ForceParameterKind::ChoiceString => "list",
            ForceParameterKind::Fixed => "fixed",
            ForceParameterKind::UserName => "username",
        }
    }
}

/// One field of a force form (Buildbot's `BaseParameter` and its subclasses).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ForceParameter {
    /// Parameter type.
    pub kind: ForceParameterKind,
    /// Property (or source-stamp attribute) name.
    pub name: String,
    /// The name the form posts: `<codebase>_<name>` inside a named codebase, else the name.
    pub full_name: String,
    /// Form label (default: the name).
    pub label: String,
    /// Default value.
    pub default: Value,
    /// Must be filled in.
    pub required: bool,
    /// Choices of a `ChoiceStringParameter`.
    pub choices: Vec<String>,
    /// `strict`: only the choices are accepted (default true).
    pub strict: bool,
    /// `multiple`: several values may be given (the value is a list).
    pub multiple: bool,
    /// `regex`: every value must match it (from the start, as Python's `re.match`).
    pub regex: Option<String>,
    /// `maxsize`: the longest value accepted, in characters.
    pub maxsize: Option<u64>,
    /// `hide`: not shown on the form (a `FixedParameter` always is).
    pub hide: bool,
    /// `tooltip`.
    pub tooltip: String,
    /// `size` of a one-line field (`StringParameter`/`IntParameter`: 10; `reason`: 20;
    /// `UserNameParameter`: 30).
    pub size: u64,
    /// `cols` and `rows` of a `TextParameter` (80 × 20).
    pub cols: u64,
    /// See [`ForceParameter::cols`].
    pub rows: u64,
    /// `need_email` of a `UserNameParameter` (default true): a non-empty name must contain
    /// an e-mail address.
    pub need_email: bool,
}

impl ForceParameter {
    /// A parameter of `kind` named `name` with Buildbot's defaults for that kind.
    pub fn new(kind: ForceParameterKind, name: impl Into<String>) -> Self {
        let name = name.into();
        let default = match kind {
            ForceParameterKind::Int => Value::from(0),
            ForceParameterKind::Boolean => Value::Bool(false),
            _ => Value::from(""),
        };
        ForceParameter {
            kind,
            full_name: name.clone(),
            label: name.clone(),
            name,
            default,
            required: false,
            choices: Vec::new(),
            strict: true,
            multiple: false,
            regex: None,
            maxsize: None,
            hide: kind == ForceParameterKind::Fixed,
            tooltip: String::new(),
            size: if kind == ForceParameterKind::UserName {
                30
            } else {
                10
            },
            cols: 80,
            rows: 20,
            need_email: true,
        }
    }

    /// Sets the default value.
    pub fn default_value(mut self, v: Value) -> Self {
        self.default = v;
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The default `username` field: `UserNameParameter(label="Your name:")`.
    pub fn username() -> Self {
        Self::new(ForceParameterKind::UserName, "username").label("Your name:")
    }

    /// The default `reason` field: `StringParameter("reason", default="force build",
    /// size=20)`.
    pub fn reason() -> Self {
        let mut p = Self::new(ForceParameterKind::String, "reason")
            .default_value(Value::from("force build"));
        p.size = 20;
        p
    }

    /// The default `priority` field: `IntParameter("priority", default=0)`.
    pub fn priority() -> Self {
        Self::new(ForceParameterKind::Int, "priority")
    }
}

/// The source-stamp fields of one codebase on a force form (`CodebaseParameter`): each of
/// `branch`, `revision`, `repository` and `project` is a parameter, or absent.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ForceCodebase {
    /// The codebase (`""`: the default one).
    pub codebase: String,
    /// Prefix of its fields' names (`<name>_branch`; default the codebase; `""`: none).
    pub name: String,
    /// Label of its group on the form (default `Codebase: <codebase>`, none for `""`).
    pub label: String,
    /// Its fields, in Buildbot's (alphabetical) order: branch, project, repository,
    /// revision.
    pub fields: Vec<(SourceStampField, ForceParameter)>,
}

/// A source-stamp attribute a force form can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SourceStampField {
    /// `branch`.
    Branch,
    /// `project`.
    Project,
    /// `repository`.
    Repository,
    /// `revision`.
    Revision,
}

impl SourceStampField {
    /// All four, in the order Buildbot lists them.
    pub const ALL: [SourceStampField; 4] = [
        SourceStampField::Branch,
        SourceStampField::Project,
        SourceStampField::Repository,
        SourceStampField::Revision,
    ];

    /// The attribute's name.
    pub fn name(self) -> &'static str {
        match self {
            SourceStampField::Branch => "branch",
            SourceStampField::Project => "project",
            SourceStampField::Repository => "repository",
            SourceStampField::Revision => "revision",
        }
    }
}

impl ForceCodebase {
    /// Codebase `codebase` with its four default fields (`StringParameter`s labelled
    /// `Branch:`, `Project:`, ...).
    pub fn new(codebase: impl Into<String>) -> Self {
        let codebase = codebase.into();
        let mut cb = ForceCodebase {
            label: if codebase.is_empty() {
                String::new()
            } else {
                format!("Codebase: {codebase}")
            },
            name: codebase.clone(),
            codebase,
            fields: Vec::new(),
        };
        for f in SourceStampField::ALL {
            let p = ForceParameter::new(ForceParameterKind::String, f.name())
                .label(format!("{}:", capitalize(f.name())));
            cb.set_field(f, Some(p));
        }
        cb
    }

    /// Replaces (or with `None` removes) one field; its posted name follows the codebase's.
    pub fn set_field(&mut self, f: SourceStampField, p: Option<ForceParameter>) {
        self.fields.retain(|(k, _)| *k != f);
        if let Some(mut p) = p {
            p.full_name = full_name(&self.name, &p.name);
            self.fields.push((f, p));
            self.fields.sort_by_key(|(k, _)| *k);
        }
    }

    /// The parameter of one field, if the form has it.
    pub fn field(&self, f: SourceStampField) -> Option<&ForceParameter> {
        self.fields.iter().find(|(k, _)| *k == f).map(|(_, p)| p)
    }
}

/// What a `ForceScheduler` adds to the common scheduler settings.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ForceSchedulerConfig {
    /// `username`: the owner of a build forced without a logged-in user.
    pub username: ForceParameter,
    /// `reason`.
    pub reason: ForceParameter,
    /// `priority` of the build requests.
    pub priority: ForceParameter,
    /// `reasonString`: the buildset's reason, with `%(owner)s` and `%(reason)s`.
    pub reason_string: String,
    /// `buttonName` (default: the scheduler's name).
    pub button_name: String,
    /// `label` (default: the scheduler's name).
    pub label: String,
    /// `codebases` (default: the one codebase `""`).
    pub codebases: Vec<ForceCodebase>,
    /// `properties`: the extra form fields, each setting the build property of its name.
    pub properties: Vec<ForceParameter>,
}

impl ForceSchedulerConfig {
    /// Buildbot's defaults for a scheduler named `name`.
    pub fn new(name: &str) -> Self {
        ForceSchedulerConfig {
            username: ForceParameter::username(),
            reason: ForceParameter::reason(),
            priority: ForceParameter::priority(),
            reason_string: "A build was forced by '%(owner)s': %(reason)s".into(),
            button_name: name.to_owned(),
            label: name.to_owned(),
            codebases: vec![ForceCodebase::new("")],
            properties: Vec::new(),
        }
    }

    /// Every field of the form, as posted: the three standard ones, the codebases' and the
    /// extra properties.
    pub fn all_parameters(&self) -> impl Iterator<Item = &ForceParameter> {
        [&self.username, &self.reason, &self.priority]
            .into_iter()
            .chain(
                self.codebases
                    .iter()
                    .flat_map(|c| c.fields.iter().map(|(_, p)| p)),
            )
            .chain(self.properties.iter())
    }
}

/// Names a force form may not use for a field: the JSON-RPC `force` call's own arguments,
/// and the field that names the scheduler on our pages.
pub const RESERVED_FORCE_FIELDS: [&str; 4] = ["owner", "builderNames", "builderid", "scheduler"];

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn full_name(parent: &str, name: &str) -> String {
    match (parent.is_empty(), name.is_empty()) {
        (false, false) => format!("{parent}_{name}"),
        (true, _) => name.to_owned(),
        (false, true) => parent.to_owned(),
    }
}

/// Reads one parameter table; `slot` gives the default type and name (`reason`,
/// `username`, ...), `None` for an entry of `properties` (type and name required).
fn parameter(
    p: &mut ComponentArgs<'_>,
    slot: Option<(ForceParameterKind, &str)>,
    base: Option<&ForceParameter>,
) -> Option<ForceParameter> {
    let kind = match p.str("type") {
        None => match slot {
            Some((k, _)) => k,
            None => ForceParameterKind::String,
        },
        Some(tname) => match ForceParameterKind::NAMES.iter().find(|(n, _)| *n == tname) {
            Some((_, k)) => *k,
            None => {
                let hint = suggest(&tname, ForceParameterKind::NAMES.iter().map(|(n, _)| *n))
                    .map(|s| format!("did you mean '{s}'?"))
                    .or_else(|| {
                        Some(format!(
                            "known types: {}",
                            ForceParameterKind::NAMES
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    });
                p.error(
                    "type",
                    format!("ForceScheduler: unknown parameter type '{tname}'"),
                    hint,
                );
                p.accept_all();
                return None;
            }
        },
    };
    let pname = match slot {
        Some((_, n)) => p.str("name").unwrap_or_else(|| n.to_owned()),
        None => p.req_str("name")?,
    };
    if slot.is_none() && RESERVED_FORCE_FIELDS.contains(&pname.as_str()) {
        p.error(
            "name",
            format!("{pname} cannot be used as a parameter name, because it is reserved"),
            None,
        );
    }
    if p.has("value") {
        p.error(
            "value",
            "use default = ... instead of value = ... to give a default parameter value",
            None,
        );
    }
    // a slot's own defaults (the reason's `force build`, the username's label) hold when
    // the table keeps the slot's type
    let mut out = match base {
        Some(b) if b.kind == kind => b.clone(),
        _ => ForceParameter::new(kind, &pname),
    };
    out.name = pname.clone();
    out.full_name = pname.clone();
    if let Some(l) = p.str("label") {
        out.label = l;
    } else if base.is_none_or(|b| b.kind != kind) {
        out.label = pname.clone();
    }
    out.required = p.bool("required", out.required);
    out.choices = p.str_list("choices").unwrap_or(out.choices);
    out.strict = p.bool("strict", out.strict);
    out.multiple = p.bool("multiple", out.multiple);
    out.hide = p.bool("hide", out.hide);
    out.need_email = p.bool("need_email", out.need_email);
    if let Some(t) = p.str("tooltip") {
        out.tooltip = t;
    }
    for (key, slot) in [
        ("size", &mut out.size),
        ("cols", &mut out.cols),
        ("rows", &mut out.rows),
    ] {
        if let Some(v) = p.uint(key) {
            *slot = v;
        }
    }
    out.maxsize = p.uint("maxsize").or(out.maxsize);
    if let Some(re) = p.str("regex") {
        match regex::Regex::new(&re) {
            Ok(_) => out.regex = Some(re),
            Err(e) => p.error("regex", format!("{pname}: invalid regex: {e}"), None),
        }
    }
    match p.json("default") {
        Some(v) => out.default = v,
        None if kind == ForceParameterKind::ChoiceString && !out.choices.is_empty() => {
            out.default = Value::from(out.choices[0].clone());
        }
        None => {}
    }
    let ok = match kind {
        ForceParameterKind::Int => out.default.is_i64(),
        ForceParameterKind::Boolean => out.default.is_boolean(),
        _ => out.default.is_string() || (out.multiple && out.default.is_array()),
    };
    if !ok {
        p.error(
            "default",
            format!(
                "{pname}: default {} does not fit a {}",
                out.default,
                kind.type_name()
            ),
            None,
        );
    }
    if kind == ForceParameterKind::ChoiceString && out.choices.is_empty() {
        p.error(
            "choices",
            format!("{pname}: a ChoiceStringParameter needs 'choices'"),
            None,
        );
    }
    Some(out)
}

/// A standard field (`reason`, `username`, `priority`): a table, or (`reason` only) a string
/// giving its default.
fn standard_field(
    a: &mut ComponentArgs<'_>,
    key: &str,
    base: ForceParameter,
    allowed: &[ForceParameterKind],
) -> ForceParameter {
    match a.json(key) {
        None => base,
        Some(Value::String(s)) if key == "reason" => base.default_value(Value::from(s)),
        Some(Value::Number(n)) if key == "priority" && n.is_i64() => {
            base.default_value(Value::Number(n))
        }
        Some(Value::Object(_)) => {
            let slot = (base.kind, key);
            let p = a
                .table(key, |t| parameter(t, Some(slot), Some(&base)))
                .flatten();
            match p {
                Some(p) if allowed.contains(&p.kind) => p,
                Some(p) => {
                    a.error(
                        key,
                        format!(
                            "ForceScheduler: '{key}' must be one of {}, not {}",
                            allowed
                                .iter()
                                .map(|k| k.type_name())
                                .collect::<Vec<_>>()
                                .join(", "),
                            p.kind.type_name()
                        ),
                        None,
                    );
                    base
                }
                None => base,
            }
        }
        Some(other) => {
            a.error(
                key,
                format!("ForceScheduler: '{key}' must be a parameter table, not {other}"),
                None,
            );
            base
        }
    }
}

/// One entry of `codebases`: a name, or a `CodebaseParameter` table.
fn codebase_entry(t: &mut ComponentArgs<'_>) -> Option<ForceCodebase> {
    let codebase = t.req_str("codebase")?;
    let mut cb = ForceCodebase::new(&codebase);
    if let Some(n) = t.str("name") {
        cb.name = n;
    }
    if let Some(l) = t.str("label") {
        cb.label = l;
    }
    for f in SourceStampField::ALL {
        let key = f.name();
        let p = match t.json(key) {
            None => cb.field(f).cloned(),
            Some(Value::Bool(false)) | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                ForceParameter::new(ForceParameterKind::Fixed, key).default_value(Value::from(s)),
            ),
            Some(Value::Object(_)) => {
                let base = cb.field(f).cloned();
                t.table(key, |p| {
                    parameter(p, Some((ForceParameterKind::String, key)), base.as_ref())
                })
                .flatten()
            }
            Some(other) => {
                t.error(
                    key,
                    format!(
                        "CodebaseParameter: '{key}' must be a parameter table, a fixed value or false, not {other}"
                    ),
                    None,
                );
                cb.field(f).cloned()
            }
        };
        cb.set_field(f, p);
    }
    Some(cb)
}

/// Reads a `ForceScheduler`'s own keys.
pub(crate) fn force_scheduler(a: &mut ComponentArgs<'_>) -> Option<ForceSchedulerConfig> {
    let name = a.str("name").unwrap_or_default();
    let mut f = ForceSchedulerConfig::new(&name);
    f.reason = standard_field(
        a,
        "reason",
        f.reason,
        &[
            ForceParameterKind::String,
            ForceParameterKind::Text,
            ForceParameterKind::ChoiceString,
            ForceParameterKind::Fixed,
        ],
    );
    f.username = standard_field(
        a,
        "username",
        f.username,
        &[
            ForceParameterKind::UserName,
            ForceParameterKind::String,
            ForceParameterKind::Fixed,
        ],
    );
    f.priority = standard_field(
        a,
        "priority",
        f.priority,
        &[ForceParameterKind::Int, ForceParameterKind::Fixed],
    );
    if let Some(s) = a.str("reasonString") {
        f.reason_string = s;
    }
    if let Some(s) = a.str("buttonName") {
        f.button_name = s;
    }
    if let Some(s) = a.str("label") {
        f.label = s;
    }
    if a.has("codebases") {
        let cbs = a.tables_or_strings("codebases", codebase_entry, ForceCodebase::new);
        if cbs.is_empty() {
            a.error(
                "codebases",
                format!(
                    "ForceScheduler '{name}': 'codebases' cannot be empty; use [{{ codebase = \"\", branch = false, revision = false, repository = false, project = false }}] if needed"
                ),
                None,
            );
        } else {
            f.codebases = cbs;
        }
    }
    f.properties = a.tables("properties", |p| parameter(p, None, None));
    let mut seen: Vec<&str> = Vec::new();
    for p in f.all_parameters() {
        if seen.contains(&p.full_name.as_str()) {
            a.error_here(
                format!(
                    "ForceScheduler '{name}': two fields are named '{}'",
                    p.full_name
                ),
                None,
            );
        }
        seen.push(&p.full_name);
    }
    Some(f)
}
