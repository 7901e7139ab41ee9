//! Issue 19: the `master.cfg` loader and the force-form fields under random input. No
//! panic, no hang; every rejection is a clear error (each config problem located as
//! `master.cfg:LINE:COL`). The number of cases follows `PROPTEST_CASES`.

use buildbot_core::master::ForceRequest;
use buildbot_core::master::MasterError;
use buildbot_core::master::config::{Registry, SchedulerKind, parse_config};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The sample `buildbot create-master` writes.
const SAMPLE: &str = include_str!("../../../buildbot-cli/assets/master.cfg.sample");

/// Keys any component may be asked for, and some that none takes.
const KEYS: &[&str] = &[
    "type",
    "name",
    "command",
    "workdir",
    "env",
    "haltOnFailure",
    "flunkOnFailure",
    "alwaysRun",
    "doStepIf",
    "hideStepIf",
    "locks",
    "timeout",
    "maxTime",
    "repourl",
    "mode",
    "method",
    "branch",
    "branches",
    "builderNames",
    "workernames",
    "treeStableTimer",
    "change_filter",
    "codebases",
    "properties",
    "reason",
    "username",
    "priority",
    "port",
    "password",
    "max_builds",
    "blocksize",
    "maxsize",
    "mastersrc",
    "workerdest",
    "s",
    "schedulerNames",
    "waitForFinish",
    "minute",
    "hour",
    "dayOfWeek",
    "periodicBuildTimer",
    "upstream",
    "regex",
    "choices",
    "default",
    "label",
    "nosuchkey",
    "",
];

/// A random TOML value, well-formed or not.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-zA-Z0-9 %():._-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("[]".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("{ type = \"StringParameter\", name = \"x\" }".to_owned()),
        Just("\"%(prop:".to_owned()),
        Just("1e400".to_owned()),
        Just("\"\\u{0}\"".to_owned()),
        ".{0,8}",
    ]
}

/// The sample with random edits: lines removed, duplicated or replaced by `key = value`.
fn mutated_sample() -> impl Strategy<Value = String> {
    let lines: Vec<String> = SAMPLE.lines().map(str::to_owned).collect();
    let n = lines.len();
    prop::collection::vec(
        (0..n, 0..3u8, prop::sample::select(KEYS), toml_value()),
        1..6,
    )
    .prop_map(move |edits| {
        let mut l = lines.clone();
        for (at, kind, key, value) in edits {
            let at = at.min(l.len().saturating_sub(1));
            match kind {
                0 if !l.is_empty() => {
                    l.remove(at);
                }
                1 if !l.is_empty() => {
                    let dup = l[at].clone();
                    l.insert(at, dup);
                }
                _ => l.insert(at, format!("{key} = {value}")),
            }
        }
        l.join("\n")
    })
}

/// A component table of a random registered type with random arguments.
fn random_component(registry: &Registry) -> impl Strategy<Value = String> {
    let steps: Vec<String> = registry.step_types().map(str::to_owned).collect();
    let schedulers: Vec<String> = registry.scheduler_types().map(str::to_owned).collect();
    (
        prop::sample::select(steps),
        prop::sample::select(schedulers),
        prop::collection::vec((prop::sample::select(KEYS), toml_value()), 0..6),
    )
        .prop_map(|(step, sched, args)| {
            let args: String = args
                .iter()
                .filter(|(k, _)| !k.is_empty() && *k != "type")
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect();
            format!(
                "[[workers]]\nname = \"w\"\npassword = \"p\"\n\
                 [[builders]]\nname = \"b\"\nworkernames = [\"w\"]\n\
                 [[builders.steps]]\ntype = \"{step}\"\n{args}\
                 [[schedulers]]\ntype = \"{sched}\"\nname = \"s\"\nbuilderNames = [\"b\"]\n{args}"
            )
        })
}

fn check_config(text: &str) {
    let registry = Registry::new();
    if let Err(e) = parse_config(text, "master.cfg", &registry) {
        let issues = e.issues();
        assert!(!issues.is_empty(), "an error without issues for:\n{text}");
        for i in issues {
            let line = i.to_string();
            assert!(
                line.starts_with("master.cfg:") && line.len() > "master.cfg:".len() + 2,
                "an issue without a location: {line}\n{text}"
            );
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_text_is_loaded_or_refused_with_locations(text in ".{0,300}") {
        check_config(&text);
    }

    #[test]
    fn a_mutated_sample_is_loaded_or_refused_with_locations(text in mutated_sample()) {
        check_config(&text);
    }

    #[test]
    fn random_component_arguments_are_checked(text in random_component(&Registry::new())) {
        check_config(&text);
    }
}

/// The fields of a force form with several codebases and every parameter kind.
const FORCE: &str = r#"
[protocols.msgpack]
port = 0
[[workers]]
name = "w"
password = "p"
[[builders]]
name = "b"
workernames = ["w"]
steps = [{ type = "ShellCommand", command = ["true"] }]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b"]
codebases = ["", { codebase = "lib", branch = { type = "ChoiceStringParameter", choices = ["a", "b"], multiple = true, default = ["a"] } }]
reason = { required = true, maxsize = 20, regex = "[a-z ]+" }
[[schedulers.properties]]
type = "IntParameter"
name = "jobs"
[[schedulers.properties]]
type = "BooleanParameter"
name = "clean"
[[schedulers.properties]]
type = "TextParameter"
name = "notes"
[[schedulers.properties]]
type = "FixedParameter"
name = "fixed"
default = "f"
"#;

const FIELDS: &[&str] = &[
    "username",
    "reason",
    "priority",
    "branch",
    "revision",
    "repository",
    "project",
    "lib_branch",
    "lib_revision",
    "jobs",
    "clean",
    "notes",
    "fixed",
    "builderNames",
    "builderid",
    "owner",
    "scheduler",
    "bogus",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,30}".prop_map(Value::from),
        prop::sample::select(&["a", "b", "BB-1", " ", "1", "true", "on"][..]).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,4}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn force_fields_make_a_request_or_name_the_bad_fields(
        fields in prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..10),
        owner in prop::option::of(".{0,10}"),
    ) {
        let cfg = parse_config(FORCE, "master.cfg", &Registry::new())
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        let SchedulerKind::Force(f) = &cfg.schedulers[0].kind else { unreachable!() };
        let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        match ForceRequest::from_fields(f, owner.as_deref(), &map) {
            Ok(req) => {
                // what was accepted is what a build gets: typed values only
                if let Some(j) = req.properties.get("jobs") {
                    prop_assert!(j.is_i64());
                }
                if let Some(c) = req.properties.get("clean") {
                    prop_assert!(c.is_boolean());
                }
                prop_assert!(req.reason.len() <= 20);
            }
            Err(MasterError::InvalidForceFields(errors)) => {
                prop_assert!(!errors.is_empty());
                for (k, v) in &errors {
                    prop_assert!(map.contains_key(k) || k == "reason", "{k}");
                    prop_assert!(!v.is_empty());
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
