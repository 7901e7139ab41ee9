//! Forcing builds: [`ForceRequest`] and the `ForceScheduler`'s parameters.

use std::collections::BTreeMap;

use buildbot_db::{BuildRequestId, BuilderId, BuildsetId, NewBuildset, SourceStampSpec};
use serde_json::Value;

use crate::master::config::{ForceParameterKind, SchedulerKind};
use crate::master::properties::Properties;
use crate::util::lock;

use super::{MasterError, MasterHandle};

/// A force request (what the force-build form sends).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ForceRequest {
    /// Builders to build (empty: all builders of the scheduler).
    pub builder_names: Vec<String>,
    /// `reason` field.
    pub reason: String,
    /// `owner` (the user).
    pub owner: String,
    /// Values of the scheduler's parameters, by name.
    pub properties: BTreeMap<String, Value>,
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

    /// Sets a parameter value.
    pub fn property(mut self, name: impl Into<String>, value: Value) -> Self {
        self.properties.insert(name.into(), value);
        self
    }
}

impl MasterHandle {
    /// Runs `ForceScheduler` `scheduler`: validates the parameters, and submits a buildset
    /// with reason `A build was forced by '<owner>': <reason>`.
    pub async fn force(
        &self,
        scheduler: &str,
        req: ForceRequest,
    ) -> Result<(BuildsetId, Vec<(BuilderId, BuildRequestId)>), MasterError> {
        let cfg = self.inner.config();
        let sched = cfg
            .scheduler(scheduler)
            .ok_or_else(|| MasterError::NoForceScheduler(scheduler.into()))?;
        let SchedulerKind::Force { parameters, .. } = &sched.kind else {
            return Err(MasterError::NoForceScheduler(scheduler.into()));
        };
        let names: Vec<String> = if req.builder_names.is_empty() {
            sched.builder_names.clone()
        } else {
            req.builder_names.clone()
        };
        let mut builderids = Vec::new();
        for n in &names {
            let id = if sched.builder_names.contains(n) {
                lock(&self.inner.state).builders.get(n).map(|b| b.id)
            } else {
                None
            };
            builderids.push(id.ok_or_else(|| MasterError::UnknownBuilder {
                scheduler: scheduler.into(),
                builder: n.clone(),
            })?);
        }
        let mut props = Properties::new();
        for (k, v, s) in sched.properties.iter() {
            props.set(k, v.clone(), s);
        }
        for p in parameters {
            let given = req.properties.get(&p.name).cloned();
            let v = check_parameter(p, given)?;
            props.set(&p.name, v, "Force Build Form");
        }
        for k in req.properties.keys() {
            if !parameters.iter().any(|p| &p.name == k) {
                return Err(MasterError::InvalidParameter {
                    name: k.clone(),
                    message: format!("scheduler '{scheduler}' has no such parameter"),
                });
            }
        }
        props.set("owner", Value::from(req.owner.clone()), "Force Build Form");
        props.set(
            "reason",
            Value::from(req.reason.clone()),
            "Force Build Form",
        );
        props.set("scheduler", Value::from(scheduler), "Scheduler");
        let cached = lock(&self.inner.force_ss).clone();
        let ss_row =
            match cached {
                Some(r) => r,
                None => {
                    let mut ss = SourceStampSpec::new(Some(""), Some(""), "");
                    ss.project = String::new();
                    ss.codebase = String::new();
                    let ssid = self.inner.db.find_or_create_sourcestamp(&ss).await?;
                    let row = self.inner.db.get_sourcestamp(ssid).await?.ok_or(
                        MasterError::NotFound {
                            what: "sourcestamp",
                            id: ssid.0,
                        },
                    )?;
                    *lock(&self.inner.force_ss) = Some(row.clone());
                    row
                }
            };
        let ssid = ss_row.ssid;
        let reason = format!("A build was forced by '{}': {}", req.owner, req.reason);
        let mut bs = NewBuildset::new(&reason, vec![ssid], builderids);
        bs.properties = props.as_map().clone();
        bs.priority = sched.priority;
        self.submit(bs, scheduler, Some(vec![ss_row])).await
    }
}

fn check_parameter(
    p: &crate::master::config::ForceParameter,
    given: Option<Value>,
) -> Result<Value, MasterError> {
    let bad = |m: String| MasterError::InvalidParameter {
        name: p.name.clone(),
        message: m,
    };
    let v = match (p.kind, given) {
        (ForceParameterKind::Fixed, _) | (_, None) => p.default.clone(),
        (_, Some(v)) => v,
    };
    let v = match p.kind {
        ForceParameterKind::Int => match &v {
            Value::Number(n) if n.is_i64() => v,
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| bad(format!("'{s}' is not an integer")))?,
            Value::Null => Value::from(0),
            other => return Err(bad(format!("{other} is not an integer"))),
        },
        ForceParameterKind::Boolean => match &v {
            Value::Bool(_) => v,
            Value::String(s) => Value::Bool(matches!(s.as_str(), "true" | "True" | "1" | "on")),
            Value::Null => Value::Bool(false),
            Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
            other => return Err(bad(format!("{other} is not a boolean"))),
        },
        ForceParameterKind::ChoiceString => {
            let picked: Vec<String> = match &v {
                Value::Array(a) => a.iter().map(crate::master::python_str).collect(),
                Value::Null => vec![],
                other => vec![crate::master::python_str(other)],
            };
            if p.strict {
                for x in &picked {
                    if !p.choices.contains(x) {
                        return Err(bad(format!("'{x}' is not one of {:?}", p.choices)));
                    }
                }
            }
            if p.multiple {
                Value::from(picked)
            } else {
                Value::from(picked.into_iter().next().unwrap_or_default())
            }
        }
        _ => match &v {
            Value::String(_) => v,
            Value::Null => Value::from(""),
            other => Value::from(crate::master::python_str(other)),
        },
    };
    if p.required && matches!(&v, Value::String(s) if s.is_empty()) {
        return Err(bad("a value is required".into()));
    }
    Ok(v)
}
