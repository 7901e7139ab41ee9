//! The TOML loader: `master.cfg` text → [`MasterConfig`], or every problem at once.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::args::{ComponentArgs, Sink, join, suggest};
use super::components::{
    self as comp, ChangeSourceConfig, ChangeSourceKind, ReporterConfig, ReporterKind,
    SchedulerConfig,
};
use super::error::{ConfigError, ConfigIssue};
use super::model::{
    BuilderConfig, LockConfig, LockKind, LogCompression, MasterConfig, PortConfig, WorkerConfig,
    safe_translate,
};
use super::node::{self, Node, Pos, Val};
use super::registry::Registry;
use super::steps::{self, CustomComponent, StepConfig, StepKind};
use crate::master::properties::sources;

/// A loaded configuration and the warnings (deprecations) found while loading it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadedConfig {
    /// The configuration.
    pub config: MasterConfig,
    /// Warnings, e.g. deprecated keys with their replacement.
    pub warnings: Vec<ConfigIssue>,
}

/// Reads and checks a config file.
pub fn load_config(path: &Path, registry: &Registry) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_config(&text, &path.display().to_string(), registry)
}

/// `buildbot checkconfig`: reads and checks a config file. Nothing is started, no port is
/// opened, no database is touched (loading never does any of that; this name says so).
pub fn check_config(path: &Path, registry: &Registry) -> Result<LoadedConfig, ConfigError> {
    load_config(path, registry)
}

/// Keys aliased at every level: 0.8 name → current name.
const DEPRECATED_KEYS: [(&str, &str); 4] = [
    ("slaves", "workers"),
    ("slavenames", "workernames"),
    ("slavename", "workername"),
    ("slavebuilddir", "workerbuilddir"),
];

fn python_marker(text: &str) -> Option<usize> {
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.contains("BuildmasterConfig")
            || l.starts_with("from buildbot")
            || l.starts_with("import buildbot")
        {
            return Some(i + 1);
        }
    }
    None
}

fn index_positions(node: &Node, path: &str, out: &mut HashMap<String, Pos>) {
    out.insert(path.to_owned(), node.pos);
    match &node.val {
        Val::Table(entries) => {
            for e in entries {
                let p = join(path, &e.key);
                index_positions(&e.node, &p, out);
                if let Some((_, new)) = DEPRECATED_KEYS.iter().find(|(old, _)| *old == e.key) {
                    index_positions(&e.node, &join(path, new), out);
                }
            }
        }
        Val::Array(items) => {
            for (i, n) in items.iter().enumerate() {
                index_positions(n, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn locate(issue: &mut ConfigIssue, file: &str, index: &HashMap<String, Pos>) {
    issue.file = file.to_owned();
    let mut p = issue.key_path.as_str();
    loop {
        if let Some(pos) = index.get(p).filter(|pos| pos.line > 0) {
            issue.line = pos.line;
            issue.column = pos.col;
            return;
        }
        match p.rfind(['.', '[']) {
            Some(i) => p = &p[..i],
            None => break,
        }
    }
    // no better place: the top of the file
    issue.line = 1;
    issue.column = 1;
}

/// Parses and checks config text; `file_name` is used in messages.
pub fn parse_config(
    text: &str,
    file_name: &str,
    registry: &Registry,
) -> Result<LoadedConfig, ConfigError> {
    let one =
        |line: usize, col: usize, message: String, hint: Option<String>| ConfigError::Invalid {
            issues: vec![ConfigIssue {
                file: file_name.to_owned(),
                line,
                column: col,
                key_path: String::new(),
                message,
                hint,
            }],
        };
    if let Some(line) = python_marker(text) {
        return Err(one(
            line,
            1,
            "this is a Python Buildbot config; this master reads TOML, not Python".into(),
            Some("translate it key by key: c['workers'] becomes [[workers]], c['builders'] becomes [[builders]]; see the migration guide".into()),
        ));
    }
    let root = match node::parse(text) {
        Ok(r) => r,
        Err((pos, msg)) => {
            let msg = msg
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(one(
                pos.line,
                pos.col,
                format!("TOML syntax error: {msg}"),
                None,
            ));
        }
    };
    let mut sink = Sink {
        file: file_name.to_owned(),
        ..Sink::default()
    };
    let source_name = Path::new(file_name)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| sources::MASTER_CONFIG.to_owned());
    let config = {
        let mut a = ComponentArgs::new(&root, String::new(), "master.cfg".into(), &mut sink);
        let c = read_master(&mut a, registry, &source_name);
        a.finish();
        c
    };
    let mut index = HashMap::new();
    index_positions(&root, "", &mut index);
    let (errors, warnings) = super::validate::check(&config);
    for mut e in errors {
        // one problem per key: a value already reported while parsing is not re-reported
        if sink.issues.iter().any(|i| i.key_path == e.key_path) {
            continue;
        }
        locate(&mut e, file_name, &index);
        sink.issues.push(e);
    }
    for mut w in warnings {
        locate(&mut w, file_name, &index);
        sink.warnings.push(w);
    }
    let by_pos = |i: &ConfigIssue| (i.line == 0, i.line, i.column);
    sink.warnings.sort_by_key(by_pos);
    if sink.issues.is_empty() {
        Ok(LoadedConfig {
            config,
            warnings: sink.warnings,
        })
    } else {
        sink.issues.sort_by_key(by_pos);
        Err(ConfigError::Invalid {
            issues: sink.issues,
        })
    }
}

fn read_master(a: &mut ComponentArgs<'_>, registry: &Registry, source_name: &str) -> MasterConfig {
    let mut c = MasterConfig::default();
    a.deprecated_alias("slaves", "workers");
    a.deprecated_alias("status", "services");
    if let Some(t) = a.str("title") {
        c.title = t;
    }
    if let Some(t) = a.str("titleURL") {
        c.title_url = t;
    }
    if let Some(t) = a.str("buildbotURL") {
        if !t.ends_with('/') {
            a.error(
                "buildbotURL",
                "buildbotURL must end with a /",
                Some(format!("buildbotURL = \"{t}/\"")),
            );
        }
        c.buildbot_url = t;
    }
    a.json("buildbotNetUsageData");

    // [db]
    let top_db_url = if a.has("db_url") {
        let url = a.str("db_url");
        let pos_path = "db_url";
        if a.has("db") {
            a.error(
                pos_path,
                "both 'db_url' and [db] are given",
                Some("'db_url' is the deprecated name of [db] db_url; remove it".into()),
            );
        } else {
            warn_at(
                a,
                pos_path,
                "'db_url' is deprecated, use [db] db_url instead",
            );
        }
        url
    } else {
        None
    };
    let db = a.table("db", |d| {
        let url = d.str("db_url");
        let url2 = d.str("url");
        if url.is_some() && url2.is_some() {
            d.error(
                "url",
                "both 'db_url' and 'url' are given in [db]",
                Some("keep one".into()),
            );
        }
        d.json("engine_kwargs");
        url.or(url2)
    });
    c.db.db_url = db.flatten().or(top_db_url);

    // [protocols]
    let slave_port = if a.has("slavePortnum") {
        warn_at(
            a,
            "slavePortnum",
            "'slavePortnum' is deprecated, use [protocols.msgpack] port instead",
        );
        a.port("slavePortnum")
    } else {
        None
    };
    let protos = a.table("protocols", |p| {
        let read = |t: &mut ComponentArgs<'_>| {
            let port = t.port("port");
            if port.is_none() && !t.has("port") {
                t.error_here(
                    format!("{}: missing required argument 'port'", t.path()),
                    None,
                );
            }
            let interface = t.str("interface");
            port.map(|port| PortConfig { port, interface })
        };
        let mut msgpack = p.table("msgpack", read).flatten();
        if let Some(v7) = p.table("msgpack_experimental_v7", read).flatten() {
            if msgpack.is_some() {
                p.error(
                    "msgpack_experimental_v7",
                    "both [protocols.msgpack] and [protocols.msgpack_experimental_v7] are given",
                    Some("they are the same listener; keep one".into()),
                );
            }
            msgpack = Some(v7);
        }
        let pb = p.table("pb", read).flatten();
        p.table("null", |_| ());
        (msgpack, pb)
    });
    if let Some((m, pb)) = protos {
        c.protocols.msgpack = m;
        c.protocols.pb = pb;
    }
    if let Some(port) = slave_port {
        if c.protocols.msgpack.is_some() {
            a.error(
                "slavePortnum",
                "both 'slavePortnum' and [protocols.msgpack] port are given",
                Some("remove 'slavePortnum'".into()),
            );
        } else {
            c.protocols.msgpack = Some(PortConfig::new(port));
        }
    }

    // [www]
    if let Some(w) = a.table("www", |w| {
        let mut www = super::model::WwwConfig {
            port: w.port("port"),
            listen: w.str("listen"),
            auth: w.json("auth"),
            authz: w.json("authz"),
            limits: read_www_limits(w),
            ..Default::default()
        };
        for k in [
            "plugins",
            "change_hook_dialects",
            "change_hook_auth",
            "logfileName",
            "logRotateLength",
            "maxRotatedFiles",
            "versions",
            "custom_templates_dir",
            "debug",
            "json_cache_seconds",
            "cookie_expiration_time",
            "theme",
            "ui_default_config",
            "rest_minimum_version",
            "avatar_methods",
            "default_page",
        ] {
            if let Some(v) = w.json(k) {
                www.extra.insert(k.to_owned(), v);
            }
        }
        // origins allowed besides this site and buildbotURL's (glob patterns; a string is a
        // list of one)
        if let Some(origins) = w.str_list("allowed_origins") {
            www.extra
                .insert("allowed_origins".to_owned(), Value::from(origins));
        }
        // limits of live updates (`/ws`, `/sse`): buildbot-web's `live` module has their
        // defaults; 0 turns a limit off
        for k in [
            "live_max_connections",
            "live_max_connections_per_address",
            "live_max_subscriptions",
            "live_max_subscriptions_per_client",
            "live_max_pending_events",
            "ws_max_message_size",
            "ws_message_timeout",
        ] {
            if let Some(n) = w.uint(k) {
                www.extra.insert(k.to_owned(), Value::from(n));
            }
        }
        www
    }) {
        c.www = w;
    }

    // [[workers]]
    c.workers = a.tables("workers", |w| {
        w.set_label("worker".into());
        let name = w.req_str("name");
        if let Some(n) = &name {
            w.set_label(format!("worker '{n}'"));
        }
        let password = w.req_str("password");
        let mut wc = WorkerConfig::new(
            name.clone().unwrap_or_default(),
            password.unwrap_or_default(),
        );
        wc.max_builds = w
            .uint("max_builds")
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        wc.properties = w.properties("properties", sources::WORKER);
        wc.keepalive_interval = w.uint("keepalive_interval");
        // the missing-worker mail needs a mail reporter, which this master does not run yet
        const NO_MAIL: &str = "the missing-worker mail needs a MailNotifier, which this master does not run yet; remove it";
        w.not_supported("notify_on_missing", NO_MAIL);
        w.not_supported("missing_timeout", NO_MAIL);
        name.map(|_| wc)
    });

    // [[locks]]
    c.locks = a.tables("locks", |l| {
        l.set_label("lock".into());
        let kind = match l.choice("type", &["MasterLock", "WorkerLock"]).as_deref() {
            Some("MasterLock") => LockKind::Master,
            Some("WorkerLock") => LockKind::Worker,
            _ => {
                if !l.has("type") {
                    l.error_here(
                        "lock: missing required argument 'type'",
                        Some("type = \"MasterLock\" or \"WorkerLock\"".into()),
                    );
                }
                l.accept_all();
                return None;
            }
        };
        let name = l.req_str("name")?;
        let mut lc = match kind {
            LockKind::Master => LockConfig::master(name),
            LockKind::Worker => LockConfig::worker(name),
        };
        if let Some(m) = l.uint("maxCount") {
            lc.max_count = u32::try_from(m).unwrap_or(u32::MAX);
        }
        if kind == LockKind::Worker
            && let Some(Value::Object(o)) = l.json("maxCountForWorker")
        {
            for (k, v) in o {
                match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => {
                        lc.max_count_for_worker.insert(k, n);
                    }
                    None => l.error(
                        "maxCountForWorker",
                        format!(
                            "lock '{}': maxCountForWorker values must be counts",
                            lc.name
                        ),
                        None,
                    ),
                }
            }
        }
        Some(lc)
    });

    // [[builders]]
    c.builders = a.tables("builders", |b| read_builder(b, registry));

    // [[schedulers]]
    c.schedulers = a.tables("schedulers", |s| {
        s.set_label("scheduler".into());
        let (type_name, factory) = component_type(s, "scheduler", &registry.schedulers)?;
        s.set_label(type_name.clone());
        let (name, builder_names, properties, codebases, priority) =
            comp::scheduler_common(s, &type_name);
        let kind = factory(s)?;
        Some(SchedulerConfig {
            name: name?,
            builder_names,
            properties,
            codebases,
            priority,
            kind,
        })
    });

    // [[change_source]]
    c.change_sources = a.tables("change_source", |s| {
        s.set_label("change source".into());
        let (type_name, factory) = component_type(s, "change source", &registry.change_sources)?;
        s.set_label(type_name.clone());
        let name = s.str("name");
        let kind = factory(s)?;
        let name = name.unwrap_or_else(|| match &kind {
            ChangeSourceKind::GitPoller(g) => g.repourl.clone(),
            ChangeSourceKind::HgPoller(h) => h.default_name.clone(),
            ChangeSourceKind::SVNPoller(s) => s.repourl.clone(),
            ChangeSourceKind::PBChangeSource { port, .. } => format!(
                "PBChangeSource:{}",
                port.map(|p| p.to_string()).unwrap_or_else(|| "None".into())
            ),
            _ => type_name.clone(),
        });
        Some(ChangeSourceConfig { name, kind })
    });

    // [[user_managers]]
    c.user_managers = a.tables("user_managers", |s| {
        s.set_label("user manager".into());
        let ty = s.req_str("type");
        if let Some(t) = &ty
            && t != "CommandlineUserManager"
        {
            s.error(
                "type",
                format!("unknown user manager type '{t}'"),
                Some("known types: CommandlineUserManager".into()),
            );
        }
        let known = ty.as_deref() == Some("CommandlineUserManager");
        let username = s.req_str("username");
        let passwd = s.req_str("passwd");
        let port = s.port("port");
        if !s.has("port") {
            s.error("port", "CommandlineUserManager needs a port", None);
        }
        if !known {
            return None;
        }
        Some(super::model::UserManagerConfig {
            username: username?,
            passwd: passwd?,
            port: port?,
        })
    });

    // [[services]]
    let mut services: Vec<ReporterConfig> = a.tables("services", |s| {
        s.set_label("service".into());
        let (type_name, factory) = component_type(s, "reporter", &registry.reporters)?;
        s.set_label(type_name.clone());
        let name = s.str("name");
        let kind = factory(s)?;
        if !matches!(kind, ReporterKind::Custom(_)) {
            // parsed (so its own mistakes are named too) but refused: nothing would run it
            s.error_here(
                format!("{type_name}: reporters are not supported by this master yet"),
                Some(
                    "remove it; an embedding program can register and run its own reporter type"
                        .into(),
                ),
            );
            return None;
        }
        Some(ReporterConfig {
            name: name.unwrap_or_default(),
            kind,
        })
    });
    let mut used: std::collections::BTreeSet<String> = services
        .iter()
        .filter(|r| !r.name.is_empty())
        .map(|r| r.name.clone())
        .collect();
    for r in services.iter_mut().filter(|r| r.name.is_empty()) {
        let base = r.type_name().to_owned();
        let mut name = base.clone();
        let mut n = 1;
        while used.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        used.insert(name.clone());
        r.name = name;
    }
    c.services = services;

    c.properties = a.properties("properties", source_name);
    if let Some(v) = a.json("collapseRequests") {
        match v {
            Value::Bool(b) => c.collapse_requests = b,
            _ => a.error(
                "collapseRequests",
                "collapseRequests must be a callable, True, or False",
                Some("in TOML: true or false".into()),
            ),
        }
    }
    a.not_supported(
        "buildHorizon",
        "Buildbot 4.x has no build horizon either; remove it",
    );
    a.not_supported(
        "logHorizon",
        "old logs are not deleted by the master yet; remove it",
    );
    c.change_horizon = a.uint("changeHorizon");
    if a.has("logCompressionMethod")
        && let Some(m) = a.choice(
            "logCompressionMethod",
            &["raw", "bz2", "gz", "lz4", "zstd", "br"],
        )
    {
        c.log_compression_method = LogCompression::ALL
            .into_iter()
            .find(|l| l.name() == m)
            .unwrap_or_default();
    }
    if let Some(l) = a.uint("logCompressionLimit") {
        c.log_compression_limit = l;
    }
    if let Some(e) = log_encoding(a, "logEncoding") {
        c.log_encoding = e;
    }
    const NO_MAX: &str = "Buildbot 4.3 ignores it too; bound a step's output with its max_lines";
    a.not_supported("logMaxSize", NO_MAX);
    a.not_supported("logMaxTailSize", NO_MAX);
    c.multi_master = a.bool("multiMaster", false);
    match a.json("secretsProviders") {
        None => {}
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(Value::Array(_)) => a.not_supported(
            "secretsProviders",
            "secrets are not read by this master yet; remove it and the %(secret:...)s it serves",
        ),
        Some(_) => a.error(
            "secretsProviders",
            "c['secretsProviders'] must be a list",
            None,
        ),
    }
    c
}

/// `[www]`'s limits: positive integers (seconds for the timeouts, bytes for sizes).
fn read_www_limits(w: &mut ComponentArgs<'_>) -> super::model::WwwLimits {
    use std::time::Duration;
    let mut positive = |key: &str, max: u64| -> Option<u64> {
        let n = w.uint(key)?;
        if n == 0 || n > max {
            w.error(
                key,
                format!("www: '{key}' must be between 1 and {max}, got {n}"),
                None,
            );
            return None;
        }
        Some(n)
    };
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    super::model::WwwLimits {
        max_connections: positive("max_connections", 1 << 20).map(count),
        max_connections_per_ip: positive("max_connections_per_ip", 1 << 20).map(count),
        header_timeout: positive("header_timeout", 86_400).map(Duration::from_secs),
        body_timeout: positive("body_timeout", 86_400).map(Duration::from_secs),
        change_hook_max_body: positive("change_hook_max_body", 1 << 32),
    }
}

fn warn_at(a: &mut ComponentArgs<'_>, key: &str, msg: &str) {
    a.warn(key, msg, None);
}

fn component_type<F: Clone>(
    a: &mut ComponentArgs<'_>,
    what: &str,
    table: &std::collections::BTreeMap<String, F>,
) -> Option<(String, F)> {
    let Some(t) = a.str("type") else {
        if !a.has("type") {
            a.error_here(
                format!("{what}: missing required argument 'type'"),
                Some(format!(
                    "type = one of {}",
                    table.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            );
        }
        a.accept_all();
        return None;
    };
    match table.get(&t) {
        Some(f) => Some((t, f.clone())),
        None => {
            let hint = suggest(&t, table.keys().map(String::as_str))
                .map(|s| format!("did you mean '{s}'?"))
                .unwrap_or_else(|| {
                    format!(
                        "known types: {}",
                        table.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                });
            a.error("type", format!("unknown {what} type '{t}'"), Some(hint));
            a.accept_all();
            None
        }
    }
}

fn read_builder(b: &mut ComponentArgs<'_>, registry: &Registry) -> Option<BuilderConfig> {
    b.set_label("builder".into());
    for (old, new) in &DEPRECATED_KEYS[1..] {
        b.deprecated_alias(old, new);
    }
    let name = b.req_str("name");
    if let Some(n) = &name {
        b.set_label(format!("builder '{n}'"));
    }
    let mut workernames = b.str_list("workernames").unwrap_or_default();
    if let Some(w) = b.str("workername") {
        workernames.push(w);
    }
    if b.has("factory") {
        b.error(
            "factory",
            format!("{}: 'factory' is Python's BuildFactory", b.label()),
            Some("list the steps as [[builders.steps]] tables".into()),
        );
    }
    let builddir = b.str("builddir");
    let workerbuilddir = b.str("workerbuilddir");
    let tags = b.str_list("tags").unwrap_or_default();
    let description = b.str("description");
    b.str("description_format");
    let project = b.str("project");
    let properties = b.properties("properties", sources::BUILDER);
    let env = b.renderable_map("env").unwrap_or_default();
    let collapse_requests = b.opt_bool("collapseRequests");
    let priority = b.int("priority").unwrap_or(0);
    let mut strategy = |key: &str| -> Option<String> {
        let s = b.str(key)?;
        if !registry.strategies.contains(&s) {
            let hint = if registry.strategies.is_empty() {
                "no strategies are registered; embedders add them with Registry::register_strategy"
                    .to_owned()
            } else {
                format!(
                    "registered: {}",
                    registry
                        .strategies
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let label = b.label().to_owned();
            b.error(
                key,
                format!("{label}: {key} '{s}' is not a registered strategy"),
                Some(hint),
            );
        }
        Some(s)
    };
    let can_start_build = strategy("canStartBuild");
    let next_worker = strategy("nextWorker");
    let next_build = strategy("nextBuild");
    let locks = steps::parse_locks(b);
    let builder_label = b.label().to_owned();
    let step_list = b.tables("steps", |s| {
        s.set_label(format!("{builder_label}: step"));
        read_step(s, registry)
    });
    let name = name?;
    let builddir = builddir.unwrap_or_else(|| safe_translate(&name));
    Some(BuilderConfig {
        workerbuilddir: workerbuilddir.unwrap_or_else(|| builddir.clone()),
        builddir,
        name,
        workernames,
        tags,
        description,
        project,
        properties,
        env,
        collapse_requests,
        priority,
        can_start_build,
        next_worker,
        next_build,
        locks,
        steps: step_list,
    })
}

fn read_step(s: &mut ComponentArgs<'_>, registry: &Registry) -> Option<StepConfig> {
    let (type_name, factory) = component_type(s, "step", &registry.steps)?;
    s.set_label(type_name.clone());
    let kind = factory(s);
    let placeholder;
    let k = match &kind {
        Some(k) => k,
        None => {
            placeholder = StepKind::Custom(CustomComponent::new(type_name, Value::Null, ()));
            &placeholder
        }
    };
    let common = steps::parse_common(s, k);
    Some(StepConfig {
        common,
        kind: kind?,
    })
}

/// `logEncoding` (global or a step's): output is decoded as UTF-8 (invalid bytes replaced),
/// so UTF-8 is the one encoding accepted; another would be silently ignored.
pub(crate) fn log_encoding(a: &mut ComponentArgs<'_>, key: &str) -> Option<String> {
    let e = a.str(key)?;
    let norm = e.to_ascii_lowercase().replace(['-', '_'], "");
    if norm == "utf8" {
        Some(e)
    } else {
        let who = a.who();
        a.error(
            key,
            format!("{who}'{key}' = '{e}' is not supported: output is read as UTF-8"),
            Some("use \"utf-8\" or remove it".into()),
        );
        None
    }
}
