//! Forcing builds (`ForceScheduler`), with Buildbot's semantics.
//!
//! * [`ForceRequest`] is what a force asks for: builders, owner, reason, the extra
//!   parameters' values, a source stamp per codebase, a priority.
//! * [`ForceRequest::from_fields`] turns the fields a force form or a JSON-RPC `force` call
//!   posts (by each parameter's `fullName`: `reason`, `username`, `priority`, `branch`,
//!   `<codebase>_revision`, custom names, `builderNames` / `builderid`) into a request,
//!   checking every field as the scheduler's parameter says (required, `regex`,
//!   `maxsize`, integer, choices, e-mail) and reporting all bad fields at once.
//! * [`MasterHandle::force`] submits it: one buildset with the scheduler's source stamps
//!   overlaid by the request's, the properties `owner`, `reason` (source `Force Build
//!   Form`), the parameters' and `scheduler`, the reason from `reasonString`, and the
//!   request's priority.

use std::collections::BTreeMap;

use buildbot_db::{BuildRequestId, BuilderId, BuildsetId, NewBuildset, SourceStampSpec};
use serde_json::{Map, Value};

use crate::master::config::{
    ForceParameter, ForceParameterKind, ForceSchedulerConfig, MasterConfig, RESERVED_FORCE_FIELDS,
    SchedulerConfig, SchedulerKind, SourceStampField,
};
use crate::master::properties::{Properties, python_str};
use crate::util::lock;

use super::{MasterError, MasterHandle};

/// The source stamp a force asks for in one codebase (empty strings: Buildbot's defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForceSourceStamp {
    /// `branch`.
    pub branch: String,
    /// `revision`.
    pub revision: String,
    /// `repository`.
    pub repository: String,
    /// `project`.
    pub project: String,
}

impl ForceSourceStamp {
    fn set(&mut self, f: SourceStampField, v: String) {
        match f {
            SourceStampField::Branch => self.branch = v,
            SourceStampField::Revision => self.revision = v,
            SourceStampField::Repository => self.repository = v,
            SourceStampField::Project => self.project = v,
        }
    }
}

/// A force request (what the force-build form sends), checked by [`MasterHandle::force`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ForceRequest {
    /// Builders to build, by name (with [`ForceRequest::builder_ids`] empty too: all
    /// builders of the scheduler).
    pub builder_names: Vec<String>,
    /// Builders to build, by id.
    pub builder_ids: Vec<BuilderId>,
    /// `reason` field.
    pub reason: String,
    /// `owner` (the user).
    pub owner: String,
    /// Values of the scheduler's extra parameters (`properties`), by name.
    pub properties: BTreeMap<String, Value>,
    /// The source stamp asked for in each codebase; codebases of the scheduler that are
    /// not named get empty fields (or the values its form fixes).
    pub sourcestamps: BTreeMap<String, ForceSourceStamp>,
    /// Priority of the build requests (`None`: the scheduler's `priority` field default).
    pub priority: Option<i64>,
}

impl ForceRequest {
    /// A request by `owner` with `reason`, for all builders of the scheduler.
    pub fn new(owner: impl Into<String>, reason: impl Into<String>) -> Self {
        ForceRequest {
            owner: owner.into(),
            reason: reason.into(),
            ..Default::default()
        }
    }

    /// Restricts to these builders.
    pub fn builders(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.builder_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Restricts to these builders, by id.
    pub fn builder_ids(mut self, ids: impl IntoIterator<Item = BuilderId>) -> Self {
        self.builder_ids = ids.into_iter().collect();
        self
    }

    /// Sets a parameter value.
    pub fn property(mut self, name: impl Into<String>, value: Value) -> Self {
        self.properties.insert(name.into(), value);
        self
    }

    /// Sets the source stamp of `codebase`.
    pub fn sourcestamp(mut self, codebase: impl Into<String>, ss: ForceSourceStamp) -> Self {
        self.sourcestamps.insert(codebase.into(), ss);
        self
    }

    /// Builds `branch` (of the default codebase `""`).
    pub fn branch(mut self, branch: impl Into<String>) -> Self {
        self.sourcestamps.entry(String::new()).or_default().branch = branch.into();
        self
    }

    /// Builds `revision` (of the default codebase `""`).
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.sourcestamps.entry(String::new()).or_default().revision = revision.into();
        self
    }

    /// Sets the priority of the build requests.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The request a force form or JSON-RPC `force` call with these `fields` makes of
    /// scheduler `sched` (Buildbot's `ForceScheduler.force`).
    ///
    /// `owner` is the logged-in user; without one (or `"anonymous"`), the `username` field
    /// is the owner. Each field is read by its parameter's `fullName`; absent, empty or
    /// white-space-only values take the parameter's default. `builderNames` (a list of
    /// names) or `builderid` (an integer) choose the builders; `owner` is the caller's
    /// business and ignored. A field the form does not have is refused. Every bad field is
    /// reported, by name, in one [`MasterError::InvalidForceFields`].
    pub fn from_fields(
        sched: &ForceSchedulerConfig,
        owner: Option<&str>,
        fields: &Map<String, Value>,
    ) -> Result<ForceRequest, MasterError> {
        let mut errors = BTreeMap::new();
        let mut field = |p: &ForceParameter| match parse_field(p, fields.get(&p.full_name)) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.insert(p.full_name.clone(), e);
                None
            }
        };
        let reason = field(&sched.reason).map(|v| python_str(&v));
        let owner = match owner {
            Some(o) if o != "anonymous" => Some(o.to_owned()),
            _ => field(&sched.username).map(|v| python_str(&v)),
        };
        let priority = field(&sched.priority).and_then(|v| v.as_i64());
        let mut sourcestamps = BTreeMap::new();
        for cb in &sched.codebases {
            let mut ss = ForceSourceStamp::default();
            for (f, p) in &cb.fields {
                if let Some(v) = field(p) {
                    ss.set(*f, python_str(&v));
                }
            }
            sourcestamps.insert(cb.codebase.clone(), ss);
        }
        let mut properties = BTreeMap::new();
        for p in &sched.properties {
            if let Some(v) = field(p) {
                properties.insert(p.name.clone(), v);
            }
        }
        let mut req = ForceRequest {
            reason: reason.unwrap_or_default(),
            owner: owner.unwrap_or_default(),
            properties,
            sourcestamps,
            priority,
            ..Default::default()
        };
        match fields.get("builderNames") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                req.builder_names = a.iter().filter_map(Value::as_str).map(Into::into).collect();
            }
            Some(other) => {
                errors.insert(
                    "builderNames".into(),
                    format!("must be a list of builder names, not {other}"),
                );
            }
        }
        match fields.get("builderid") {
            None | Some(Value::Null) => {}
            Some(v) => match integer(v) {
                Some(id) => req.builder_ids = vec![BuilderId(id)],
                None => {
                    errors.insert(
                        "builderid".into(),
                        format!("must be a builder id (an integer), not {v}"),
                    );
                }
            },
        }
        for k in fields.keys() {
            let known = RESERVED_FORCE_FIELDS.contains(&k.as_str())
                || sched.all_parameters().any(|p| &p.full_name == k);
            if !known {
                errors.insert(k.clone(), "the force form has no such field".into());
            }
        }
        if errors.is_empty() {
            Ok(req)
        } else {
            Err(MasterError::InvalidForceFields(errors))
        }
    }
}

/// A JSON integer, or a string holding one (as Python's `int()` reads it).
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Python's `re.match`: a match at the start.
fn matches_from_start(re: &str, s: &str) -> bool {
    regex::Regex::new(&format!("^(?:{re})")).is_ok_and(|r| r.is_match(s))
}

/// Buildbot's `VALID_EMAIL_ADDR`, searched anywhere in the value.
fn has_email(s: &str) -> bool {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\S+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+\.?").ok()
    });
    RE.as_ref().is_some_and(|r| r.is_match(s))
}

/// Python's `repr` of a list of strings (`['a', 'b']`), as error messages show choices.
fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")))
        .collect();
    format!("[{}]", inner.join(", "))
}

/// The value of parameter `p` given `given` (Buildbot's `getFromKwargs`): its default when
/// absent or blank, else the given value(s) checked and converted; `Err` is the message
/// Buildbot gives.
pub(crate) fn parse_field(p: &ForceParameter, given: Option<&Value>) -> Result<Value, String> {
    if p.kind == ForceParameterKind::Fixed {
        return Ok(p.default.clone());
    }
    if p.kind == ForceParameterKind::Boolean {
        return Ok(match given {
            None | Some(Value::Null) => p.default.clone(),
            Some(Value::Bool(b)) => Value::Bool(*b),
            Some(Value::String(s)) => {
                Value::Bool(matches!(s.trim(), "true" | "True" | "1" | "on" | "yes"))
            }
            Some(Value::Number(n)) => Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
            Some(other) => return Err(format!("{}: {other} is not a boolean", p.label)),
        });
    }
    // the given values, as Buildbot's kwargs lists, without blank strings
    let mut args: Vec<Value> = match given {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if p.multiple => a.clone(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => {
            return Err(format!("{}: a single value is expected", p.label));
        }
        Some(v) => vec![v.clone()],
    };
    args.retain(|a| !matches!(a, Value::String(s) if s.trim().is_empty()) && !a.is_null());
    if args.is_empty() {
        if p.required {
            return Err(format!("'{}' needs to be specified", p.label));
        }
        args = match &p.default {
            Value::Array(a) if p.multiple => a.clone(),
            d => vec![d.clone()],
        };
    }
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let text = match &a {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => python_str(&a),
            other => return Err(format!("{}: {other} is not a text value", p.label)),
        };
        if let Some(re) = &p.regex
            && !matches_from_start(re, &text)
        {
            return Err(format!(
                "{}:'{text}' does not match pattern '{re}'",
                p.label
            ));
        }
        if let Some(max) = p.maxsize
            && text.chars().count() as u64 > max
        {
            return Err(format!(
                "{}: is too large {} > {max}",
                p.label,
                text.chars().count()
            ));
        }
        out.push(match p.kind {
            ForceParameterKind::Int => match &a {
                Value::Number(n) if n.is_i64() => a.clone(),
                _ => text
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| format!("invalid literal for int() with base 10: '{text}'"))?,
            },
            ForceParameterKind::ChoiceString => {
                if p.strict && !p.choices.contains(&text) {
                    return Err(format!(
                        "'{text}' does not belong to list of available choices '{}'",
                        py_list(&p.choices)
                    ));
                }
                Value::from(text)
            }
            ForceParameterKind::UserName => {
                if p.need_email && !text.is_empty() && !has_email(&text) {
                    return Err(format!(
                        "{}: please fill in email address in the form 'User <email@email.com>'",
                        p.name
                    ));
                }
                Value::from(text)
            }
            _ => Value::from(text),
        });
    }
    if p.multiple {
        Ok(Value::Array(out))
    } else {
        Ok(out.into_iter().next().unwrap_or_default())
    }
}

/// Buildbot's `reasonString % {'owner': ..., 'reason': ...}`.
fn reason_text(template: &str, owner: &str, reason: &str) -> String {
    template
        .replace("%%", "\u{0}")
        .replace("%(owner)s", owner)
        .replace("%(reason)s", reason)
        .replace('\u{0}', "%")
}

/// The `ForceScheduler` named `name`, with its common settings.
fn force_scheduler<'c>(
    cfg: &'c MasterConfig,
    name: &str,
) -> Result<(&'c SchedulerConfig, &'c ForceSchedulerConfig), MasterError> {
    let sched = cfg
        .scheduler(name)
        .ok_or_else(|| MasterError::NoForceScheduler(name.into()))?;
    match &sched.kind {
        SchedulerKind::Force(f) => Ok((sched, f)),
        _ => Err(MasterError::NoForceScheduler(name.into())),
    }
}

impl MasterHandle {
    /// The request that force form or JSON-RPC `fields` make of `ForceScheduler`
    /// `scheduler` ([`ForceRequest::from_fields`] with the current configuration).
    pub fn force_request(
        &self,
        scheduler: &str,
        owner: Option<&str>,
        fields: &Map<String, Value>,
    ) -> Result<ForceRequest, MasterError> {
        let cfg = self.inner.config();
        let (_, f) = force_scheduler(&cfg, scheduler)?;
        ForceRequest::from_fields(f, owner, fields)
    }

    /// Runs `ForceScheduler` `scheduler`: checks the request against the scheduler (its
    /// builders, its parameters) and submits a buildset with the reason its `reasonString`
    /// makes (`A build was forced by '<owner>': <reason>`).
    pub async fn force(
        &self,
        scheduler: &str,
        req: ForceRequest,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        let cfg = self.inner.config();
        let (sched, force) = force_scheduler(&cfg, scheduler)?;
        let builderids = self.forced_builders(sched, &req)?;
        let mut props = Properties::new();
        for (k, v, s) in sched.properties.iter() {
            props.set(k, v.clone(), s);
        }
        let mut errors = BTreeMap::new();
        for p in &force.properties {
            match parse_field(p, req.properties.get(&p.name)) {
                Ok(v) => props.set(&p.name, v, "Force Build Form"),
                Err(e) => {
                    errors.insert(p.name.clone(), e);
                }
            }
        }
        for k in req.properties.keys() {
            if !force.properties.iter().any(|p| &p.name == k) {
                errors.insert(
                    k.clone(),
                    format!("scheduler '{scheduler}' has no such parameter"),
                );
            }
        }
        if !errors.is_empty() {
            return Err(MasterError::InvalidForceFields(errors));
        }
        props.set("owner", Value::from(req.owner.clone()), "Force Build Form");
        props.set(
            "reason",
            Value::from(req.reason.clone()),
            "Force Build Form",
        );
        props.set("scheduler", Value::from(scheduler), "Scheduler");
        let (ssids, ss_rows) = self.forced_sourcestamps(force, &req).await?;
        let reason = reason_text(&force.reason_string, &req.owner, &req.reason);
        let mut bs = NewBuildset::new(&reason, ssids, builderids);
        bs.properties = props.as_map().clone();
        bs.priority = req
            .priority
            .or_else(|| force.priority.default.as_i64())
            .unwrap_or(sched.priority);
        self.submit(bs, scheduler, Some(ss_rows)).await
    }

    /// The builders a force asks for: by name (each must be one of the scheduler's), by
    /// id, or all of the scheduler's.
    fn forced_builders(
        &self,
        sched: &SchedulerConfig,
        req: &ForceRequest,
    ) -> Result<Vec<BuilderId>, MasterError> {
        let st = lock(&self.inner.state);
        let unknown = |builder: String| MasterError::UnknownBuilder {
            scheduler: sched.name.clone(),
            builder,
        };
        let served = |name: &str| {
            sched
                .builder_names
                .iter()
                .any(|b| b == name)
                .then(|| st.builders.get(name).map(|b| b.id))
                .flatten()
        };
        let mut ids = Vec::new();
        for n in &req.builder_names {
            ids.push(served(n).ok_or_else(|| unknown(n.clone()))?);
        }
        for id in &req.builder_ids {
            let entry = st.builders.values().find(|b| b.id == *id);
            match entry.and_then(|b| served(&b.config.name)) {
                Some(id) => ids.push(id),
                None => return Err(unknown(format!("#{}", id.0))),
            }
        }
        if req.builder_names.is_empty() && req.builder_ids.is_empty() {
            ids = sched
                .builder_names
                .iter()
                .filter_map(|n| served(n))
                .collect();
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Err(unknown(String::new()));
        }
        Ok(ids)
    }

    /// The source stamps of a force: one per codebase of the scheduler (its form's fixed
    /// values, overlaid by the request's), plus any other codebase the request names.
    async fn forced_sourcestamps(
        &self,
        force: &ForceSchedulerConfig,
        req: &ForceRequest,
    ) -> Result<
        (
            Vec<buildbot_db::SourceStampId>,
            Vec<buildbot_db::SourceStampRow>,
        ),
        MasterError,
    > {
        let mut wanted: BTreeMap<String, ForceSourceStamp> = BTreeMap::new();
        for cb in &force.codebases {
            let mut ss = ForceSourceStamp::default();
            for (f, p) in &cb.fields {
                if p.kind == ForceParameterKind::Fixed {
                    ss.set(*f, python_str(&p.default));
                }
            }
            wanted.insert(cb.codebase.clone(), ss);
        }
        for (cb, ss) in &req.sourcestamps {
            let fixed = wanted.remove(cb).unwrap_or_default();
            let pick = |given: &str, fixed: String| {
                if given.is_empty() {
                    fixed
                } else {
                    given.to_owned()
                }
            };
            wanted.insert(
                cb.clone(),
                ForceSourceStamp {
                    branch: pick(&ss.branch, fixed.branch),
                    revision: pick(&ss.revision, fixed.revision),
                    repository: pick(&ss.repository, fixed.repository),
                    project: pick(&ss.project, fixed.project),
                },
            );
        }
        let mut ids = Vec::new();
        let mut rows = Vec::new();
        for (codebase, ss) in wanted {
            let row = if codebase.is_empty() && ss == ForceSourceStamp::default() {
                self.empty_force_sourcestamp().await?
            } else {
                let mut spec =
                    SourceStampSpec::new(Some(&ss.branch), Some(&ss.revision), &ss.repository);
                spec.project = ss.project;
                spec.codebase = codebase;
                self.sourcestamp_row(&spec).await?
            };
            ids.push(row.ssid);
            rows.push(row);
        }
        Ok((ids, rows))
    }

    /// The stamp of a force with every field empty in codebase `""` (the common case: kept
    /// once found, source stamps are never deleted).
    async fn empty_force_sourcestamp(&self) -> Result<buildbot_db::SourceStampRow, MasterError> {
        if let Some(r) = lock(&self.inner.force_ss).clone() {
            return Ok(r);
        }
        let spec = SourceStampSpec::new(Some(""), Some(""), "");
        let row = self.sourcestamp_row(&spec).await?;
        *lock(&self.inner.force_ss) = Some(row.clone());
        Ok(row)
    }

    async fn sourcestamp_row(
        &self,
        spec: &SourceStampSpec,
    ) -> Result<buildbot_db::SourceStampRow, MasterError> {
        let db = &self.inner.db;
        let ssid = db.find_or_create_sourcestamp(spec).await?;
        db.get_sourcestamp(ssid)
            .await?
            .ok_or(MasterError::NotFound {
                what: "sourcestamp",
                id: ssid.0,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_read_as_buildbots_parameters_read_them() {
        let user = ForceParameter::username();
        assert_eq!(parse_field(&user, None), Ok(json!("")));
        assert_eq!(
            parse_field(&user, Some(&json!("Tess <t@example.com>"))),
            Ok(json!("Tess <t@example.com>"))
        );
        assert_eq!(
            parse_field(&user, Some(&json!("tess"))),
            Err(
                "username: please fill in email address in the form 'User <email@email.com>'"
                    .into()
            )
        );
        let mut pick = ForceParameter::new(ForceParameterKind::ChoiceString, "os");
        pick.choices = vec!["linux".into(), "mac".into()];
        pick.multiple = true;
        pick.default = json!(["linux"]);
        assert_eq!(parse_field(&pick, None), Ok(json!(["linux"])));
        assert_eq!(
            parse_field(&pick, Some(&json!(["mac", " ", "linux"]))),
            Ok(json!(["mac", "linux"]))
        );
        assert_eq!(
            parse_field(&pick, Some(&json!(["bsd"]))),
            Err("'bsd' does not belong to list of available choices '['linux', 'mac']'".into())
        );
        let flag = ForceParameter::new(ForceParameterKind::Boolean, "clean");
        assert_eq!(parse_field(&flag, Some(&json!("on"))), Ok(json!(true)));
        assert_eq!(parse_field(&flag, None), Ok(json!(false)));
        assert!(parse_field(&flag, Some(&json!([true]))).is_err());
        let jobs = ForceParameter::new(ForceParameterKind::Int, "jobs");
        assert_eq!(parse_field(&jobs, Some(&json!(" 12 "))), Ok(json!(12)));
        assert_eq!(parse_field(&jobs, Some(&json!(""))), Ok(json!(0)));
        assert!(parse_field(&jobs, Some(&json!(1.5))).is_err());
        let fixed =
            ForceParameter::new(ForceParameterKind::Fixed, "branch").default_value(json!("rel"));
        assert_eq!(parse_field(&fixed, Some(&json!("other"))), Ok(json!("rel")));
    }

    #[test]
    fn reason_string_fills_owner_and_reason() {
        assert_eq!(
            reason_text("A build was forced by '%(owner)s': %(reason)s", "me", "why"),
            "A build was forced by 'me': why"
        );
        assert_eq!(reason_text("100%% %(reason)s", "me", "sure"), "100% sure");
    }
}
