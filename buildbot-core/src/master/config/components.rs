//! Schedulers, change sources and reporters (`[[schedulers]]`, `[[change_source]]`,
//! `[[services]]`): built-in types as config values.

use std::collections::BTreeMap;

use serde_json::Value;

use super::args::ComponentArgs;
use super::change_filters::{ChangeFilter, Importance, change_filter, importance};
use super::force::ForceSchedulerConfig;
use super::pollers::{GitPollerConfig, HgPollerConfig, SvnPollerConfig};
use super::steps::CustomComponent;
use crate::master::properties::{Properties, sources};

/// One field of a `Nightly` schedule: `"*"` (any), a number or a list of numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CronField {
    /// `*`.
    #[default]
    Any,
    /// These values.
    Values(Vec<u32>),
}

/// What a scheduler does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SchedulerKind {
    /// `ForceScheduler`.
    Force(Box<ForceSchedulerConfig>),
    /// `SingleBranchScheduler`.
    SingleBranch {
        /// `change_filter`.
        change_filter: ChangeFilter,
        /// `treeStableTimer` seconds (`None`: build every change).
        tree_stable_timer: Option<u64>,
        /// `fileIsImportant`, `onlyImportant`.
        importance: Importance,
    },
    /// `AnyBranchScheduler`.
    AnyBranch {
        /// `change_filter`.
        change_filter: ChangeFilter,
        /// `treeStableTimer` seconds.
        tree_stable_timer: Option<u64>,
        /// `fileIsImportant`, `onlyImportant`.
        importance: Importance,
    },
    /// `Periodic`.
    Periodic {
        /// `periodicBuildTimer` seconds.
        periodic_build_timer: u64,
        /// `onlyIfChanged`.
        only_if_changed: bool,
    },
    /// `Nightly`.
    Nightly {
        /// `minute` (default 0).
        minute: CronField,
        /// `hour`.
        hour: CronField,
        /// `dayOfMonth`.
        day_of_month: CronField,
        /// `month`.
        month: CronField,
        /// `dayOfWeek` (0 = Monday, as in Buildbot).
        day_of_week: CronField,
        /// `branch`.
        branch: Option<String>,
        /// `onlyIfChanged`.
        only_if_changed: bool,
        /// `change_filter` (for `onlyIfChanged`).
        change_filter: ChangeFilter,
        /// `fileIsImportant`, `onlyImportant` (for `onlyIfChanged`: a turn needs an
        /// important change).
        importance: Importance,
    },
    /// `Triggerable`.
    Triggerable,
    /// `Dependent`.
    Dependent {
        /// `upstream`: name of the scheduler whose successful buildsets trigger this one.
        upstream: String,
    },
    /// A type registered by the embedder.
    Custom(CustomComponent),
}

impl SchedulerKind {
    /// Buildbot's class name.
    pub fn type_name(&self) -> &str {
        match self {
            SchedulerKind::Force(_) => "ForceScheduler",
            SchedulerKind::SingleBranch { .. } => "SingleBranchScheduler",
            SchedulerKind::AnyBranch { .. } => "AnyBranchScheduler",
            SchedulerKind::Periodic { .. } => "Periodic",
            SchedulerKind::Nightly { .. } => "Nightly",
            SchedulerKind::Triggerable => "Triggerable",
            SchedulerKind::Dependent { .. } => "Dependent",
            SchedulerKind::Custom(c) => &c.type_name,
        }
    }
}

/// The codebases a scheduler builds (`codebases = { "" = { repository = "...", branch =
/// "main" } }` or a list of names).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodebaseConfig {
    /// Repository URL.
    pub repository: String,
    /// Branch.
    pub branch: Option<String>,
    /// Revision.
    pub revision: Option<String>,
}

/// `[[schedulers]]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// `name`.
    pub name: String,
    /// `builderNames`.
    pub builder_names: Vec<String>,
    /// `properties` set on every buildset (source `Scheduler`).
    pub properties: Properties,
    /// `codebases` (empty: the default codebase `""`).
    pub codebases: BTreeMap<String, CodebaseConfig>,
    /// `priority` of the build requests.
    pub priority: i64,
    /// What kind of scheduler.
    pub kind: SchedulerKind,
}

impl SchedulerConfig {
    /// A scheduler of `kind` for `builder_names`.
    pub fn new(
        name: impl Into<String>,
        builder_names: impl IntoIterator<Item = impl Into<String>>,
        kind: SchedulerKind,
    ) -> Self {
        SchedulerConfig {
            name: name.into(),
            builder_names: builder_names.into_iter().map(Into::into).collect(),
            properties: Properties::new(),
            codebases: BTreeMap::new(),
            priority: 0,
            kind,
        }
    }

    /// A `ForceScheduler` with Buildbot's defaults.
    pub fn force(
        name: impl Into<String>,
        builder_names: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let name = name.into();
        let kind = SchedulerKind::Force(Box::new(ForceSchedulerConfig::new(&name)));
        Self::new(name, builder_names, kind)
    }
}

/// What a change source does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ChangeSourceKind {
    /// `GitPoller`.
    GitPoller(Box<GitPollerConfig>),
    /// `HgPoller`.
    HgPoller(Box<HgPollerConfig>),
    /// `SVNPoller`.
    SVNPoller(Box<SvnPollerConfig>),
    /// `PBChangeSource`: accepts `buildbot sendchange`.
    PBChangeSource {
        /// `user` (default `change`).
        user: String,
        /// `passwd` (default `changepw`).
        passwd: String,
        /// `port` (default: `[protocols.pb] port`).
        port: Option<u16>,
        /// `prefix` stripped from file names.
        prefix: Option<String>,
    },
    /// A type registered by the embedder.
    Custom(CustomComponent),
}

/// `[[change_source]]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ChangeSourceConfig {
    /// `name` (default derived from the type and its main argument, as Buildbot does).
    pub name: String,
    /// What it does.
    pub kind: ChangeSourceKind,
}

impl ChangeSourceConfig {
    /// Buildbot's class name.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            ChangeSourceKind::GitPoller(_) => "GitPoller",
            ChangeSourceKind::HgPoller(_) => "HgPoller",
            ChangeSourceKind::SVNPoller(_) => "SVNPoller",
            ChangeSourceKind::PBChangeSource { .. } => "PBChangeSource",
            ChangeSourceKind::Custom(c) => &c.type_name,
        }
    }
}

/// Mail modes accepted by `MailNotifier`.
pub const MAIL_MODES: [&str; 8] = [
    "change",
    "failing",
    "passing",
    "problem",
    "warnings",
    "exception",
    "cancelled",
    "all",
];

/// What a reporter does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ReporterKind {
    /// `MailNotifier`.
    MailNotifier {
        /// `fromaddr`.
        fromaddr: String,
        /// `sendToInterestedUsers` (default true).
        send_to_interested_users: bool,
        /// `extraRecipients`.
        extra_recipients: Vec<String>,
        /// `mode` (default `failing`, `passing`, `warnings`).
        mode: Vec<String>,
        /// `builders` to report on (`None`: all).
        builders: Option<Vec<String>>,
        /// `tags` to report on.
        tags: Option<Vec<String>>,
        /// `relayhost` (default `localhost`).
        relayhost: String,
        /// `smtpPort` (default 25).
        smtp_port: u16,
        /// `useTls` (STARTTLS).
        use_tls: bool,
        /// `useSmtps` (TLS from the start).
        use_smtps: bool,
        /// `smtpUser`.
        smtp_user: Option<String>,
        /// `smtpPassword` (may be `%(secret:...)s`).
        smtp_password: Option<String>,
    },
    /// `IRC`.
    Irc {
        /// `host`.
        host: String,
        /// `nick`.
        nick: String,
        /// `channels` (names, or `{channel, password}` tables).
        channels: Vec<String>,
        /// `port` (default 6667).
        port: u16,
        /// `password` (NickServ).
        password: Option<String>,
        /// `useSSL`.
        use_ssl: bool,
        /// `notify_events`.
        notify_events: Vec<String>,
    },
    /// `HttpStatusPush`.
    HttpStatusPush {
        /// `serverUrl`.
        server_url: String,
        /// `auth` `[user, password]`.
        auth: Option<(String, String)>,
        /// `headers`.
        headers: BTreeMap<String, String>,
        /// `verify` TLS certificates (default true).
        verify: bool,
    },
    /// A type registered by the embedder.
    Custom(CustomComponent),
}

/// `[[services]]`: a reporter.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReporterConfig {
    /// `name` (default: the type name, made unique by the loader).
    pub name: String,
    /// What it does.
    pub kind: ReporterKind,
}

impl ReporterConfig {
    /// Buildbot's class name.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            ReporterKind::MailNotifier { .. } => "MailNotifier",
            ReporterKind::Irc { .. } => "IRC",
            ReporterKind::HttpStatusPush { .. } => "HttpStatusPush",
            ReporterKind::Custom(c) => &c.type_name,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

pub(crate) fn force_scheduler(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    super::force::force_scheduler(a).map(|f| SchedulerKind::Force(Box::new(f)))
}

fn stable_timer(a: &mut ComponentArgs<'_>) -> Option<u64> {
    a.uint("treeStableTimer")
}

pub(crate) fn single_branch(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    let importance = importance(a);
    let mut filter = a.table("change_filter", change_filter);
    if let Some(b) = a.str("branch") {
        if filter.is_some() {
            a.error(
                "branch",
                "SingleBranchScheduler: give either 'branch' or 'change_filter', not both",
                None,
            );
        }
        filter = Some(ChangeFilter::branch(b));
    }
    if filter.is_none() {
        a.error_here(
            "SingleBranchScheduler: the 'change_filter' argument is required",
            Some("e.g. change_filter = { branch = \"main\" }".into()),
        );
    }
    Some(SchedulerKind::SingleBranch {
        change_filter: filter.unwrap_or_default(),
        tree_stable_timer: stable_timer(a),
        importance,
    })
}

pub(crate) fn any_branch(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    let importance = importance(a);
    let filter = a.table("change_filter", change_filter).unwrap_or_default();
    Some(SchedulerKind::AnyBranch {
        change_filter: filter,
        tree_stable_timer: stable_timer(a),
        importance,
    })
}

pub(crate) fn periodic(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    let t = a.uint("periodicBuildTimer");
    if t.is_none_or(|t| t == 0) {
        a.error(
            "periodicBuildTimer",
            "Periodic: periodicBuildTimer must be positive",
            Some("seconds between builds, e.g. periodicBuildTimer = 3600".into()),
        );
    }
    Some(SchedulerKind::Periodic {
        only_if_changed: a.bool("onlyIfChanged", false),
        periodic_build_timer: t?,
    })
}

fn cron(a: &mut ComponentArgs<'_>, key: &str, range: (u32, u32), default: CronField) -> CronField {
    let Some(v) = a.json(key) else { return default };
    let check = |a: &mut ComponentArgs<'_>, n: &Value| -> Option<u32> {
        let x = n
            .as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .filter(|x| *x >= range.0 && *x <= range.1);
        if x.is_none() {
            a.error(
                key,
                format!(
                    "Nightly: '{key}' value {n} is out of range {}-{}",
                    range.0, range.1
                ),
                None,
            );
        }
        x
    };
    match v {
        Value::String(s) if s == "*" => CronField::Any,
        Value::Number(_) => CronField::Values(check(a, &v).into_iter().collect()),
        Value::Array(items) => {
            CronField::Values(items.iter().filter_map(|n| check(a, n)).collect())
        }
        _ => {
            a.error(
                key,
                format!("Nightly: '{key}' must be \"*\", a number or a list of numbers"),
                None,
            );
            default
        }
    }
}

pub(crate) fn nightly(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    let importance = importance(a);
    let minute = cron(a, "minute", (0, 59), CronField::Values(vec![0]));
    let hour = cron(a, "hour", (0, 23), CronField::Any);
    let day_of_month = cron(a, "dayOfMonth", (1, 31), CronField::Any);
    let month = cron(a, "month", (1, 12), CronField::Any);
    let day_of_week = cron(a, "dayOfWeek", (0, 6), CronField::Any);
    let branch = a.str("branch");
    let only_if_changed = a.bool("onlyIfChanged", false);
    let change_filter = a.table("change_filter", change_filter).unwrap_or_default();
    Some(SchedulerKind::Nightly {
        minute,
        hour,
        day_of_month,
        month,
        day_of_week,
        branch,
        only_if_changed,
        change_filter,
        importance,
    })
}

pub(crate) fn triggerable(_a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    Some(SchedulerKind::Triggerable)
}

pub(crate) fn dependent(a: &mut ComponentArgs<'_>) -> Option<SchedulerKind> {
    Some(SchedulerKind::Dependent {
        upstream: a.req_str("upstream")?,
    })
}

/// Common scheduler keys, then the type's own.
pub(crate) type SchedulerCommon = (
    Option<String>,
    Vec<String>,
    Properties,
    BTreeMap<String, CodebaseConfig>,
    i64,
);

/// Common scheduler keys (`name`, `builderNames`, `properties`, `codebases`, `priority`).
pub(crate) fn scheduler_common(a: &mut ComponentArgs<'_>, type_name: &str) -> SchedulerCommon {
    let name = a.req_str("name");
    if let Some(n) = &name {
        let label = format!("{} '{n}'", a.label());
        a.set_label(label);
    }
    let builder_names = a.str_list("builderNames");
    if builder_names.is_none() {
        a.error_here(
            format!("{}: missing required argument 'builderNames'", a.label()),
            None,
        );
    }
    // ForceScheduler's `properties` is its list of form parameters
    let properties = if type_name == "ForceScheduler" {
        Properties::new()
    } else {
        a.properties("properties", sources::SCHEDULER)
    };
    let mut codebases = BTreeMap::new();
    // ForceScheduler's `codebases` are form fields (`force::ForceCodebase`)
    let given = if type_name == "ForceScheduler" {
        None
    } else {
        a.json("codebases")
    };
    match given {
        None => {}
        Some(Value::Array(names)) => {
            for n in names {
                match n.as_str() {
                    Some(s) => {
                        codebases.insert(s.to_owned(), CodebaseConfig::default());
                    }
                    None => a.error(
                        "codebases",
                        "codebases must be a list of names or a table",
                        None,
                    ),
                }
            }
        }
        Some(Value::Object(_)) => {
            let _ = a.table("codebases", |t| {
                t.accept_all();
                if let Value::Object(o) = t.to_json() {
                    for (cb, v) in o {
                        let repository = v
                            .get("repository")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        let branch = v.get("branch").and_then(Value::as_str).map(str::to_owned);
                        let revision = v.get("revision").and_then(Value::as_str).map(str::to_owned);
                        codebases.insert(
                            cb,
                            CodebaseConfig {
                                repository,
                                branch,
                                revision,
                            },
                        );
                    }
                }
            });
        }
        Some(_) => a.error(
            "codebases",
            "codebases must be a list of names or a table",
            None,
        ),
    }
    // ForceScheduler's `priority` is a form field (`force::ForceSchedulerConfig`)
    let priority = if type_name == "ForceScheduler" {
        0
    } else {
        a.int("priority").unwrap_or(0)
    };
    (
        name,
        builder_names.unwrap_or_default(),
        properties,
        codebases,
        priority,
    )
}

pub(crate) fn git_poller(a: &mut ComponentArgs<'_>) -> Option<ChangeSourceKind> {
    super::pollers::git_poller(a).map(|g| ChangeSourceKind::GitPoller(Box::new(g)))
}

pub(crate) fn hg_poller(a: &mut ComponentArgs<'_>) -> Option<ChangeSourceKind> {
    super::pollers::hg_poller(a).map(|g| ChangeSourceKind::HgPoller(Box::new(g)))
}

pub(crate) fn svn_poller(a: &mut ComponentArgs<'_>) -> Option<ChangeSourceKind> {
    super::pollers::svn_poller(a).map(|g| ChangeSourceKind::SVNPoller(Box::new(g)))
}

pub(crate) fn pb_change_source(a: &mut ComponentArgs<'_>) -> Option<ChangeSourceKind> {
    Some(ChangeSourceKind::PBChangeSource {
        user: a.str("user").unwrap_or_else(|| "change".into()),
        passwd: a.str("passwd").unwrap_or_else(|| "changepw".into()),
        port: a.port("port"),
        prefix: a.str("prefix"),
    })
}

pub(crate) fn mail_notifier(a: &mut ComponentArgs<'_>) -> Option<ReporterKind> {
    let fromaddr = a.req_str("fromaddr");
    let mode = match a.json("mode") {
        None => vec!["failing".into(), "passing".into(), "warnings".into()],
        Some(_) => {
            let m = a.str_list("mode").unwrap_or_default();
            for x in &m {
                if !MAIL_MODES.contains(&x.as_str()) {
                    let hint = super::args::suggest(x, MAIL_MODES)
                        .map(|s| format!("did you mean '{s}'?"))
                        .or_else(|| Some(format!("modes are {}", MAIL_MODES.join(", "))));
                    a.error(
                        "mode",
                        format!("MailNotifier: mode {x} is not a valid mode"),
                        hint,
                    );
                }
            }
            if m.iter().any(|x| x == "all") {
                vec![
                    "failing".into(),
                    "passing".into(),
                    "warnings".into(),
                    "exception".into(),
                    "cancelled".into(),
                ]
            } else {
                m
            }
        }
    };
    let use_tls = a.bool("useTls", false);
    let use_smtps = a.bool("useSmtps", false);
    if use_tls && use_smtps {
        a.error(
            "useSmtps",
            "MailNotifier: useTls and useSmtps cannot both be true",
            None,
        );
    }
    let smtp_user = a.str("smtpUser");
    let smtp_password = a.str("smtpPassword");
    if smtp_user.is_some() != smtp_password.is_some() {
        a.error_here("MailNotifier: smtpUser and smtpPassword go together", None);
    }
    Some(ReporterKind::MailNotifier {
        send_to_interested_users: a.bool("sendToInterestedUsers", true),
        extra_recipients: a.str_list("extraRecipients").unwrap_or_default(),
        mode,
        builders: a.str_list("builders"),
        tags: a.str_list("tags"),
        relayhost: a.str("relayhost").unwrap_or_else(|| "localhost".into()),
        smtp_port: a.port("smtpPort").unwrap_or(25),
        use_tls,
        use_smtps,
        smtp_user,
        smtp_password,
        fromaddr: fromaddr?,
    })
}

pub(crate) fn irc(a: &mut ComponentArgs<'_>) -> Option<ReporterKind> {
    let host = a.req_str("host");
    let nick = a.req_str("nick");
    let channels = a.tables_or_strings(
        "channels",
        |t| {
            let c = t.req_str("channel");
            t.str("password");
            c
        },
        |s| s,
    );
    let notify_events = match a.json("notify_events") {
        Some(Value::Object(o)) => o
            .into_iter()
            .filter(|(_, v)| v.as_bool().unwrap_or(true))
            .map(|(k, _)| k)
            .collect(),
        Some(_) => a.str_list("notify_events").unwrap_or_default(),
        None => Vec::new(),
    };
    Some(ReporterKind::Irc {
        channels,
        port: a.port("port").unwrap_or(6667),
        password: a.str("password"),
        use_ssl: a.bool("useSSL", false),
        notify_events,
        host: host?,
        nick: nick?,
    })
}

pub(crate) fn http_status_push(a: &mut ComponentArgs<'_>) -> Option<ReporterKind> {
    let server_url = a.req_str("serverUrl");
    let auth = match a.str_list("auth") {
        None => None,
        Some(v) if v.len() == 2 => Some((v[0].clone(), v[1].clone())),
        Some(_) => {
            a.error(
                "auth",
                "HttpStatusPush: 'auth' must be [user, password]",
                None,
            );
            None
        }
    };
    let headers = a.string_map("headers").unwrap_or_default();
    Some(ReporterKind::HttpStatusPush {
        auth,
        headers,
        verify: a.bool("verify", true),
        server_url: server_url?,
    })
}
