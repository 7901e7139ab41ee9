//! Cross-checks on a whole [`MasterConfig`], shared by the loader and the builders.
//! Messages follow Buildbot's own where it has one.

use std::collections::{BTreeMap, BTreeSet};

use super::components::SchedulerKind;
use super::error::ConfigIssue;
use super::model::{BuilderConfig, MasterConfig};
use super::steps::StepKind;

/// Buildbot's identifier rule (data-model §4.4): first char a letter, `_`, `-` or any char
/// ≥ U+00A0, then also digits.
pub fn is_identifier(s: &str, max_len: usize) -> bool {
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || c == '-' || c >= '\u{a0}';
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if ok_first(c) => {}
        _ => return false,
    }
    s.chars().count() <= max_len && chars.all(|c| ok_first(c) || c.is_ascii_digit())
}

fn err(path: String, msg: String) -> ConfigIssue {
    ConfigIssue::new(path, msg)
}

/// Checks one builder on its own.
pub(crate) fn check_builder(b: &BuilderConfig, path: &str, out: &mut Vec<ConfigIssue>) {
    if b.name.is_empty() {
        out.push(err(
            format!("{path}.name"),
            "builder's name is required".into(),
        ));
    } else if b.name.starts_with('_') {
        out.push(err(
            format!("{path}.name"),
            format!(
                "builder names must not start with an underscore: '{}'",
                b.name
            ),
        ));
    }
    if b.workernames.is_empty() {
        out.push(
            err(
                format!("{path}.workernames"),
                format!("builder '{}': at least one workername is required", b.name),
            )
            .with_hint("workernames = [\"<worker name>\"]"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, t) in b.tags.iter().enumerate() {
        if !seen.insert(t) {
            out.push(err(
                format!("{path}.tags[{i}]"),
                format!(
                    "builder '{}': tags list contains duplicate tags: {t}",
                    b.name
                ),
            ));
        }
    }
}

/// Every cross-check: returns (errors, warnings).
pub(crate) fn check(cfg: &MasterConfig) -> (Vec<ConfigIssue>, Vec<ConfigIssue>) {
    let mut out = Vec::new();
    let mut warn = Vec::new();

    // workers
    let mut worker_names = BTreeSet::new();
    for (i, w) in cfg.workers.iter().enumerate() {
        let p = format!("workers[{i}]");
        let n = &w.name;
        let hint = "a worker name is an identifier: letters, digits, '_' and '-', not starting with a digit";
        if ["debug", "change", "status"].contains(&n.as_str()) {
            out.push(err(
                format!("{p}.name"),
                format!("worker name '{n}' is reserved"),
            ));
        } else if n.is_empty() {
            out.push(err(
                format!("{p}.name"),
                format!("worker name '{n}' cannot be an empty string"),
            ));
        } else if n.chars().count() > 50 {
            out.push(err(
                format!("{p}.name"),
                format!("worker name '{n}' is longer than 50 characters"),
            ));
        } else if !is_identifier(n, 50) {
            out.push(
                err(
                    format!("{p}.name"),
                    format!("worker name '{n}' is not an identifier"),
                )
                .with_hint(hint),
            );
        }
        if w.password.is_empty() {
            out.push(
                err(
                    format!("{p}.password"),
                    format!("worker '{n}' has no password"),
                )
                .with_hint("password = \"...\" (the worker's buildbot.tac must use the same)"),
            );
        }
        if !worker_names.insert(n.as_str()) {
            out.push(err(
                format!("{p}.name"),
                format!("worker name '{n}' used multiple times"),
            ));
        }
    }

    // locks
    let mut locks = BTreeSet::new();
    for (i, l) in cfg.locks.iter().enumerate() {
        if !locks.insert(l.name.as_str()) {
            out.push(err(
                format!("locks[{i}].name"),
                format!("Two locks share the same name, '{}'", l.name),
            ));
        }
        if l.max_count == 0 {
            out.push(err(
                format!("locks[{i}].maxCount"),
                format!("lock '{}': maxCount must be at least 1", l.name),
            ));
        }
    }

    // schedulers
    let mut sched: BTreeMap<&str, &SchedulerKind> = BTreeMap::new();
    for (i, s) in cfg.schedulers.iter().enumerate() {
        if sched.contains_key(s.name.as_str()) {
            out.push(err(
                format!("schedulers[{i}].name"),
                format!("scheduler name '{}' used multiple times", s.name),
            ));
        } else {
            sched.insert(s.name.as_str(), &s.kind);
        }
    }

    // builders
    let builder_names: BTreeSet<&str> = cfg.builders.iter().map(|b| b.name.as_str()).collect();
    let mut seen_names = BTreeSet::new();
    let mut seen_dirs = BTreeSet::new();
    for (i, b) in cfg.builders.iter().enumerate() {
        let p = format!("builders[{i}]");
        check_builder(b, &p, &mut out);
        for (j, w) in b.workernames.iter().enumerate() {
            if !worker_names.contains(w.as_str()) {
                let hint = super::args::suggest(w, worker_names.iter().copied())
                    .map(|s| format!("did you mean '{s}'?"))
                    .unwrap_or_else(|| "declare it in [[workers]]".into());
                out.push(
                    err(
                        format!("{p}.workernames[{j}]"),
                        format!("builder '{}' uses unknown workers '{w}'", b.name),
                    )
                    .with_hint(hint),
                );
            }
        }
        if !seen_names.insert(b.name.as_str()) {
            out.push(err(
                format!("{p}.name"),
                format!("duplicate builder name '{}'", b.name),
            ));
        } else if !seen_dirs.insert(b.builddir.as_str()) {
            out.push(err(
                format!("{p}.builddir"),
                format!("duplicate builder builddir '{}'", b.builddir),
            ));
        }
        for (j, l) in b.locks.iter().enumerate() {
            if !locks.contains(l.name.as_str()) {
                out.push(
                    err(
                        format!("{p}.locks[{j}]"),
                        format!("builder '{}' uses unknown lock '{}'", b.name, l.name),
                    )
                    .with_hint("declare it in [[locks]]"),
                );
            }
        }
        for (k, st) in b.steps.iter().enumerate() {
            let sp = format!("{p}.steps[{k}]");
            for (j, l) in st.common.locks.iter().enumerate() {
                if !locks.contains(l.name.as_str()) {
                    out.push(
                        err(
                            format!("{sp}.locks[{j}]"),
                            format!(
                                "step '{}' of builder '{}' uses unknown lock '{}'",
                                st.common.name, b.name, l.name
                            ),
                        )
                        .with_hint("declare it in [[locks]]"),
                    );
                }
            }
            if let StepKind::Trigger(t) = &st.kind {
                for (j, n) in t.scheduler_names.iter().enumerate() {
                    let path = format!("{sp}.schedulerNames[{j}]");
                    match sched.get(n.as_str()) {
                        None => out.push(err(
                            path,
                            format!("Trigger step '{}' of builder '{}': unknown scheduler '{n}'", st.common.name, b.name),
                        )),
                        Some(SchedulerKind::Triggerable) => {}
                        Some(_) => out.push(
                            err(
                                path,
                                format!("Trigger step '{}' of builder '{}': scheduler '{n}' is not a Triggerable scheduler", st.common.name, b.name),
                            )
                            .with_hint("only Triggerable schedulers can be triggered"),
                        ),
                    }
                }
            }
        }
    }

    if !cfg.multi_master {
        for (i, s) in cfg.schedulers.iter().enumerate() {
            for (j, n) in s.builder_names.iter().enumerate() {
                if !builder_names.contains(n.as_str()) {
                    let mut e = err(
                        format!("schedulers[{i}].builderNames[{j}]"),
                        format!("Unknown builder '{n}' in scheduler '{}'", s.name),
                    );
                    if let Some(h) = super::args::suggest(n, builder_names.iter().copied()) {
                        e = e.with_hint(format!("did you mean '{h}'?"));
                    }
                    out.push(e);
                }
            }
            if let SchedulerKind::Dependent { upstream } = &s.kind
                && !sched.contains_key(upstream.as_str())
            {
                out.push(err(
                    format!("schedulers[{i}].upstream"),
                    format!(
                        "Dependent scheduler '{}': unknown upstream scheduler '{upstream}'",
                        s.name
                    ),
                ));
            }
        }
        // Buildbot makes these errors; they do not stop a master from working, so we warn.
        if cfg.workers.is_empty() {
            warn.push(err(String::new(), "no workers are configured".into()));
        }
        if cfg.builders.is_empty() {
            warn.push(err(String::new(), "no builders are configured".into()));
        }
        let scheduled: BTreeSet<&str> = cfg
            .schedulers
            .iter()
            .flat_map(|s| s.builder_names.iter().map(String::as_str))
            .collect();
        let unscheduled: Vec<&str> = cfg
            .builders
            .iter()
            .map(|b| b.name.as_str())
            .filter(|n| !scheduled.contains(n))
            .collect();
        if !unscheduled.is_empty() {
            warn.push(err(
                "builders".into(),
                format!(
                    "builder(s) {} have no schedulers to drive them",
                    unscheduled.join(", ")
                ),
            ));
        }
    }

    // ports
    let mut ports: Vec<(u16, &str)> = Vec::new();
    if let Some(p) = &cfg.protocols.msgpack {
        ports.push((p.port, "protocols.msgpack.port"));
    }
    if let Some(p) = &cfg.protocols.pb {
        if ports.iter().any(|(q, _)| *q == p.port && p.port != 0) {
            out.push(err(
                "protocols.pb.port".into(),
                "Some of ports in c['protocols'] duplicated".into(),
            ));
        }
        ports.push((p.port, "protocols.pb.port"));
    }
    for (i, um) in cfg.user_managers.iter().enumerate() {
        // user managers and change sources share PB ports (one PB manager); not msgpack's
        if let Some((_, other)) = ports
            .iter()
            .find(|(q, what)| *q == um.port && um.port != 0 && *what == "protocols.msgpack.port")
        {
            out.push(err(
                format!("user_managers[{i}].port"),
                format!("user manager port {} is also used by {other}", um.port),
            ));
        }
        ports.push((um.port, "a user manager port"));
    }
    if let Some(wp) = cfg.www.port
        && let Some((_, other)) = ports.iter().find(|(q, _)| *q == wp && wp != 0)
    {
        out.push(err(
            "www.port".into(),
            format!("www port {wp} is also used by {other}"),
        ));
    }
    if !cfg.workers.is_empty() && cfg.protocols.msgpack.is_none() && cfg.protocols.pb.is_none() {
        out.push(
            err(
                "protocols".into(),
                "workers are configured, but c['protocols'] not".into(),
            )
            .with_hint("add [protocols.msgpack] with port = 9989"),
        );
    }

    // services
    let mut svc = BTreeSet::new();
    for (i, r) in cfg.services.iter().enumerate() {
        if !svc.insert(r.name.as_str()) {
            out.push(err(
                format!("services[{i}].name"),
                format!("Duplicate service name '{}'", r.name),
            ));
        }
    }
    (out, warn)
}

/// Errors only (warnings are logged).
pub(crate) fn validate(cfg: &MasterConfig) -> Vec<ConfigIssue> {
    let (errors, warnings) = check(cfg);
    for w in warnings {
        log::warn!("config: {w}");
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("w1", 50));
        assert!(is_identifier("-x_y", 50));
        assert!(is_identifier("été", 50));
        assert!(!is_identifier("1w", 50));
        assert!(!is_identifier("a b", 50));
        assert!(!is_identifier("a.b", 50));
        assert!(!is_identifier("", 50));
        assert!(!is_identifier(&"a".repeat(51), 50));
    }
}
