//! Step configurations (`[[builders.steps]]`): the common `BuildStep` arguments and the
//! built-in step types with Buildbot's argument names, defaults and checks.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use buildbot_db::Results;
use serde_json::Value;

use super::args::ComponentArgs;
pub use super::source_steps::{GitConfig, MercurialConfig, SourceArgs, SvnConfig};
use crate::master::properties::Renderable;
use crate::master::results::{ResultFlags, StepDescription};

/// How a lock is taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Shared, up to the lock's `maxCount` (Buildbot's default access).
    #[default]
    Counting,
    /// Alone.
    Exclusive,
}

/// A use of a named lock by a builder or step (`locks = ["l"]` or
/// `locks = [{ name = "l", access = "exclusive", count = 1 }]`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockAccess {
    /// Name of a `[[locks]]` entry.
    pub name: String,
    /// Counting or exclusive.
    pub mode: LockMode,
    /// How many units a counting access takes (default 1).
    pub count: u32,
}

impl LockAccess {
    /// Counting access to `name`.
    pub fn counting(name: impl Into<String>) -> Self {
        LockAccess {
            name: name.into(),
            mode: LockMode::Counting,
            count: 1,
        }
    }

    /// Exclusive access to `name`.
    pub fn exclusive(name: impl Into<String>) -> Self {
        LockAccess {
            mode: LockMode::Exclusive,
            ..Self::counting(name)
        }
    }
}

/// A component type registered by an embedder: its type name, its table as JSON, and the
/// value its factory made of it.
#[derive(Clone)]
pub struct CustomComponent {
    /// The `type = "..."` name.
    pub type_name: String,
    /// The table as written (for comparisons at reconfig and for display).
    pub args: Value,
    /// What the factory built.
    pub value: Arc<dyn Any + Send + Sync>,
}

impl CustomComponent {
    /// Wraps a factory's value.
    pub fn new(type_name: impl Into<String>, args: Value, value: impl Any + Send + Sync) -> Self {
        CustomComponent {
            type_name: type_name.into(),
            args,
            value: Arc::new(value),
        }
    }

    /// The factory's value, if it has type `T`.
    pub fn downcast<T: Any>(&self) -> Option<&T> {
        self.value.downcast_ref()
    }
}

impl fmt::Debug for CustomComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomComponent")
            .field("type_name", &self.type_name)
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CustomComponent {
    fn eq(&self, other: &Self) -> bool {
        self.type_name == other.type_name && self.args == other.args
    }
}

/// Arguments every step takes (Buildbot's `BuildStep` parameters).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepCommon {
    /// `name` (default: the type's Buildbot name, e.g. `shell`); made unique within a build
    /// by the engine.
    pub name: String,
    /// `haltOnFailure`, `flunkOnFailure`, `warnOnFailure`, `warnOnWarnings`,
    /// `flunkOnWarnings` (defaults depend on the type, as in Buildbot).
    pub flags: ResultFlags,
    /// `alwaysRun`: run even after a halting failure.
    pub always_run: bool,
    /// `doStepIf`: `true`, `false` or a renderable whose truthiness decides.
    pub do_step_if: Renderable,
    /// `hideStepIf`: like `doStepIf`, hides the finished step.
    pub hide_step_if: Renderable,
    /// `description`, `descriptionDone`, `descriptionSuffix`.
    pub description: StepDescription,
    /// `locks`.
    pub locks: Vec<LockAccess>,
    /// `updateBuildSummaryPolicy`, resolved (`true` = all results, `false` = none, default
    /// from the flags).
    pub update_build_summary_policy: Vec<Results>,
    /// `logEncoding`.
    pub log_encoding: Option<String>,
    /// `workdir` (`None`: the build's workdir, `build`).
    pub workdir: Option<Renderable>,
}

/// A `ShellCommand`'s arguments (shared by `Configure`, `Compile`, `Test`,
/// `SetPropertyFromCommand`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ShellCommandConfig {
    /// `command`: a string (run by the shell) or a list of words.
    pub command: Renderable,
    /// `env`.
    pub env: BTreeMap<String, Renderable>,
    /// `want_stdout` (default true).
    pub want_stdout: bool,
    /// `want_stderr` (default true).
    pub want_stderr: bool,
    /// `timeout`: seconds without output before the command is killed (default 1200).
    pub timeout: Option<u64>,
    /// `maxTime`: total seconds before the command is killed.
    pub max_time: Option<u64>,
    /// `max_lines`.
    pub max_lines: Option<u64>,
    /// `sigtermTime`: seconds between SIGTERM and the kill signal.
    pub sigterm_time: Option<u64>,
    /// `interruptSignal` (default `KILL`).
    pub interrupt_signal: String,
    /// `usePTY` (`None`: the worker's default).
    pub use_pty: Option<bool>,
    /// `logEnviron` (default true).
    pub log_environ: bool,
    /// `initialStdin`.
    pub initial_stdin: Option<Renderable>,
    /// `logfiles`: log name → file on the worker (or a `{filename, follow}` table).
    pub logfiles: BTreeMap<String, Value>,
    /// `lazylogfiles`.
    pub lazylogfiles: bool,
    /// `decodeRC`: exit code → result (default `{0: SUCCESS}`, anything else FAILURE).
    pub decode_rc: BTreeMap<i64, Results>,
}

impl ShellCommandConfig {
    /// A command with Buildbot's defaults.
    pub fn new(command: impl Into<Renderable>) -> Self {
        ShellCommandConfig {
            command: command.into(),
            env: BTreeMap::new(),
            want_stdout: true,
            want_stderr: true,
            timeout: Some(1200),
            max_time: None,
            max_lines: None,
            sigterm_time: None,
            interrupt_signal: "KILL".into(),
            use_pty: None,
            log_environ: true,
            initial_stdin: None,
            logfiles: BTreeMap::new(),
            lazylogfiles: false,
            decode_rc: BTreeMap::from([(0, Results::Success)]),
        }
    }
}

/// `Compile`/`Test` (Buildbot's `WarningCountingShellCommand`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WarningCountingConfig {
    /// The shell command.
    pub shell: ShellCommandConfig,
    /// `warningPattern` (a regular expression; Buildbot's default `'^.*warning[: ].*'`).
    pub warning_pattern: String,
    /// `maxWarnCount`: more warnings than this fail the step.
    pub max_warn_count: Option<u64>,
}

/// `FileUpload`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FileUploadConfig {
    /// `workersrc`.
    pub workersrc: Renderable,
    /// `masterdest`.
    pub masterdest: Renderable,
    /// `mode` (octal permissions).
    pub mode: Option<u32>,
    /// `maxsize`.
    pub maxsize: Option<u64>,
    /// `blocksize` (default 256 KiB).
    pub blocksize: u64,
    /// `keepstamp`.
    pub keepstamp: bool,
    /// `url` added to the step.
    pub url: Option<Renderable>,
    /// `urlText`.
    pub url_text: Option<String>,
}

/// `DirectoryUpload`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DirectoryUploadConfig {
    /// `workersrc`.
    pub workersrc: Renderable,
    /// `masterdest`.
    pub masterdest: Renderable,
    /// `compress`: `gz` or `bz2`.
    pub compress: Option<String>,
    /// `maxsize`.
    pub maxsize: Option<u64>,
    /// `blocksize` (default 16 KiB).
    pub blocksize: u64,
    /// `url`.
    pub url: Option<Renderable>,
    /// `urlText`.
    pub url_text: Option<String>,
}

/// `FileDownload`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FileDownloadConfig {
    /// `mastersrc`.
    pub mastersrc: Renderable,
    /// `workerdest`.
    pub workerdest: Renderable,
    /// `mode`.
    pub mode: Option<u32>,
    /// `maxsize`.
    pub maxsize: Option<u64>,
    /// `blocksize` (default 16 KiB).
    pub blocksize: u64,
}

/// `StringDownload`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StringDownloadConfig {
    /// `s`: the text.
    pub s: Renderable,
    /// `workerdest`.
    pub workerdest: Renderable,
    /// `mode`.
    pub mode: Option<u32>,
    /// `maxsize`.
    pub maxsize: Option<u64>,
    /// `blocksize` (default 16 KiB).
    pub blocksize: u64,
}

/// `Trigger`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TriggerConfig {
    /// `schedulerNames`: Triggerable schedulers to trigger.
    pub scheduler_names: Vec<String>,
    /// `waitForFinish`.
    pub wait_for_finish: bool,
    /// `set_properties`.
    pub set_properties: BTreeMap<String, Renderable>,
    /// `alwaysUseLatest`.
    pub always_use_latest: bool,
    /// `updateSourceStamp` (`None`: true unless `alwaysUseLatest`).
    pub update_source_stamp: Option<bool>,
    /// `parent_relationship` (default `Triggered from`).
    pub parent_relationship: String,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StepKind {
    /// `ShellCommand`.
    ShellCommand(ShellCommandConfig),
    /// `Configure`.
    Configure(ShellCommandConfig),
    /// `Compile`.
    Compile(WarningCountingConfig),
    /// `Test`.
    Test(WarningCountingConfig),
    /// `SetPropertyFromCommand` (`property`, `strip`).
    SetPropertyFromCommand {
        /// The command.
        shell: ShellCommandConfig,
        /// `property`: where the output goes.
        property: Renderable,
        /// `strip` (default true).
        strip: bool,
    },
    /// `FileUpload`.
    FileUpload(FileUploadConfig),
    /// `DirectoryUpload`.
    DirectoryUpload(DirectoryUploadConfig),
    /// `FileDownload`.
    FileDownload(FileDownloadConfig),
    /// `StringDownload`.
    StringDownload(StringDownloadConfig),
    /// `MakeDirectory`.
    MakeDirectory {
        /// `dir`.
        dir: Renderable,
    },
    /// `RemoveDirectory`.
    RemoveDirectory {
        /// `dir`.
        dir: Renderable,
    },
    /// `MasterShellCommand` (runs on the master).
    MasterShellCommand {
        /// `command`.
        command: Renderable,
        /// `env`.
        env: BTreeMap<String, Renderable>,
    },
    /// `SetProperty`.
    SetProperty {
        /// `property`.
        property: Renderable,
        /// `value`.
        value: Renderable,
    },
    /// `Trigger`.
    Trigger(TriggerConfig),
    /// `Git`.
    Git(GitConfig),
    /// `Mercurial`.
    Mercurial(MercurialConfig),
    /// `SVN`.
    Svn(SvnConfig),
    /// A type registered by the embedder.
    Custom(CustomComponent),
}

impl StepKind {
    /// Buildbot's class name (the `type = "..."`).
    pub fn type_name(&self) -> &str {
        match self {
            StepKind::ShellCommand(_) => "ShellCommand",
            StepKind::Configure(_) => "Configure",
            StepKind::Compile(_) => "Compile",
            StepKind::Test(_) => "Test",
            StepKind::SetPropertyFromCommand { .. } => "SetPropertyFromCommand",
            StepKind::FileUpload(_) => "FileUpload",
            StepKind::DirectoryUpload(_) => "DirectoryUpload",
            StepKind::FileDownload(_) => "FileDownload",
            StepKind::StringDownload(_) => "StringDownload",
            StepKind::MakeDirectory { .. } => "MakeDirectory",
            StepKind::RemoveDirectory { .. } => "RemoveDirectory",
            StepKind::MasterShellCommand { .. } => "MasterShellCommand",
            StepKind::SetProperty { .. } => "SetProperty",
            StepKind::Trigger(_) => "Trigger",
            StepKind::Git(_) => "Git",
            StepKind::Mercurial(_) => "Mercurial",
            StepKind::Svn(_) => "SVN",
            StepKind::Custom(c) => &c.type_name,
        }
    }

    /// Buildbot's default step name for the type.
    pub fn default_name(&self) -> &str {
        match self {
            StepKind::ShellCommand(_) => "shell",
            StepKind::Configure(_) => "configure",
            StepKind::Compile(_) => "compile",
            StepKind::Test(_) => "test",
            StepKind::SetPropertyFromCommand { .. } => "setproperty",
            StepKind::FileUpload(_) | StepKind::DirectoryUpload(_) => "upload",
            StepKind::FileDownload(_) => "download",
            StepKind::StringDownload(_) => "string_download",
            StepKind::Trigger(_) => "trigger",
            StepKind::Git(_) => "git",
            StepKind::Mercurial(_) => "hg",
            StepKind::Svn(_) => "svn",
            other => other.type_name(),
        }
    }

    /// The type's default result flags (Buildbot's class attributes).
    pub fn default_flags(&self) -> ResultFlags {
        let halt = ResultFlags {
            halt_on_failure: true,
            ..ResultFlags::default()
        };
        match self {
            StepKind::Configure(_)
            | StepKind::Compile(_)
            | StepKind::FileUpload(_)
            | StepKind::DirectoryUpload(_)
            | StepKind::FileDownload(_)
            | StepKind::StringDownload(_)
            | StepKind::MakeDirectory { .. }
            | StepKind::RemoveDirectory { .. }
            | StepKind::MasterShellCommand { .. }
            | StepKind::Git(_)
            | StepKind::Mercurial(_)
            | StepKind::Svn(_) => halt,
            StepKind::Test(_) => ResultFlags {
                warn_on_failure: true,
                ..ResultFlags::default()
            },
            _ => ResultFlags::default(),
        }
    }

    /// The shell command of shell-based steps.
    pub fn shell(&self) -> Option<&ShellCommandConfig> {
        match self {
            StepKind::ShellCommand(s) | StepKind::Configure(s) => Some(s),
            StepKind::Compile(w) | StepKind::Test(w) => Some(&w.shell),
            StepKind::SetPropertyFromCommand { shell, .. } => Some(shell),
            _ => None,
        }
    }
}

/// One configured step.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepConfig {
    /// Arguments every step has.
    pub common: StepCommon,
    /// What the step does.
    pub kind: StepKind,
}

impl StepConfig {
    /// A step of `kind` with the type's default name and flags.
    pub fn new(kind: StepKind) -> Self {
        let flags = kind.default_flags();
        StepConfig {
            common: StepCommon {
                name: kind.default_name().to_owned(),
                update_build_summary_policy: flags.default_summary_policy(),
                flags,
                always_run: false,
                do_step_if: Renderable::Value(Value::Bool(true)),
                hide_step_if: Renderable::Value(Value::Bool(false)),
                description: StepDescription::default(),
                locks: Vec::new(),
                log_encoding: None,
                workdir: None,
            },
            kind,
        }
    }

    /// A `ShellCommand` running `command` (a string for the shell, or a list of words).
    pub fn shell(command: impl Into<Renderable>) -> Self {
        Self::new(StepKind::ShellCommand(ShellCommandConfig::new(command)))
    }

    /// A `ShellCommand` running a list of words.
    pub fn shell_argv(argv: &[&str]) -> Self {
        Self::shell(Renderable::List(
            argv.iter().map(|w| Renderable::from(*w)).collect(),
        ))
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.common.name = name.into();
        self
    }

    /// Sets the result flags (and the default summary policy that follows from them).
    pub fn flags(mut self, flags: ResultFlags) -> Self {
        self.common.flags = flags;
        self.common.update_build_summary_policy = flags.default_summary_policy();
        self
    }

    /// Sets `alwaysRun`.
    pub fn always_run(mut self, on: bool) -> Self {
        self.common.always_run = on;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Parsing from the config file

const RESULT_NAMES: [&str; 7] = [
    "success",
    "warnings",
    "failure",
    "skipped",
    "exception",
    "retry",
    "cancelled",
];

fn result_from_node(v: &Value) -> Option<Results> {
    match v {
        Value::Number(n) => n.as_i64().and_then(Results::from_code),
        Value::String(s) => Results::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s)),
        _ => None,
    }
}

fn words(a: &mut ComponentArgs<'_>, key: &str) -> Option<Vec<String>> {
    a.str_list(key)
}

pub(crate) fn parse_locks(a: &mut ComponentArgs<'_>) -> Vec<LockAccess> {
    a.tables_or_strings(
        "locks",
        |sub| {
            let name = sub.req_str("name")?;
            let mode = match sub.choice("access", &["counting", "exclusive"]).as_deref() {
                Some("exclusive") => LockMode::Exclusive,
                _ => LockMode::Counting,
            };
            let count = sub.uint("count").unwrap_or(1);
            Some(LockAccess {
                name,
                mode,
                count: u32::try_from(count).unwrap_or(u32::MAX),
            })
        },
        LockAccess::counting,
    )
}

/// Parses the common `BuildStep` arguments after the type's factory ran.
pub(crate) fn parse_common(a: &mut ComponentArgs<'_>, kind: &StepKind) -> StepCommon {
    let d = kind.default_flags();
    let name = a
        .str("name")
        .unwrap_or_else(|| kind.default_name().to_owned());
    let flags = ResultFlags {
        halt_on_failure: a.bool("haltOnFailure", d.halt_on_failure),
        flunk_on_failure: a.bool("flunkOnFailure", d.flunk_on_failure),
        warn_on_failure: a.bool("warnOnFailure", d.warn_on_failure),
        warn_on_warnings: a.bool("warnOnWarnings", d.warn_on_warnings),
        flunk_on_warnings: a.bool("flunkOnWarnings", d.flunk_on_warnings),
    };
    let always_run = a.bool("alwaysRun", false);
    let do_step_if = cond(a, "doStepIf", true);
    let hide_step_if = cond(a, "hideStepIf", false);
    let description = StepDescription {
        description: words(a, "description"),
        description_done: words(a, "descriptionDone"),
        description_suffix: words(a, "descriptionSuffix"),
    };
    let locks = parse_locks(a);
    let policy = match a.json("updateBuildSummaryPolicy") {
        None => flags.default_summary_policy(),
        Some(Value::Bool(true)) => Results::ALL.to_vec(),
        Some(Value::Bool(false)) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for it in &items {
                match result_from_node(it) {
                    Some(r) => out.push(r),
                    None => a.error(
                        "updateBuildSummaryPolicy",
                        format!("BuildStep updateBuildSummaryPolicy: {it} is not a result"),
                        Some(format!(
                            "use result names ({}) or codes 0-6",
                            RESULT_NAMES.join(", ")
                        )),
                    ),
                }
            }
            out
        }
        Some(_) => {
            a.error(
                "updateBuildSummaryPolicy",
                "BuildStep updateBuildSummaryPolicy must be a list of result ids or boolean",
                None,
            );
            flags.default_summary_policy()
        }
    };
    let log_encoding = super::loader::log_encoding(a, "logEncoding");
    let workdir = a.renderable_str("workdir");
    StepCommon {
        name,
        flags,
        always_run,
        do_step_if,
        hide_step_if,
        description,
        locks,
        update_build_summary_policy: policy,
        log_encoding,
        workdir,
    }
}

fn cond(a: &mut ComponentArgs<'_>, key: &str, default: bool) -> Renderable {
    match a.json(key) {
        None => Renderable::Value(Value::Bool(default)),
        Some(Value::Bool(b)) => Renderable::Value(Value::Bool(b)),
        Some(Value::String(_)) | Some(Value::Object(_)) => a
            .renderable(key)
            .unwrap_or(Renderable::Value(Value::Bool(default))),
        Some(_) => {
            a.error(
                key,
                format!(
                    "{}: '{key}' must be true, false or a renderable string",
                    a.label()
                ),
                Some(format!("e.g. {key} = \"%(prop:run_tests:#?|yes|)s\"")),
            );
            Renderable::Value(Value::Bool(default))
        }
    }
}

fn mode(a: &mut ComponentArgs<'_>) -> Option<u32> {
    let m = a.uint("mode")?;
    if m > 0o7777 {
        a.error(
            "mode",
            format!("{}: 'mode' {m} is not a file mode", a.label()),
            Some("use an octal literal such as 0o644".into()),
        );
        return None;
    }
    u32::try_from(m).ok()
}

fn blocksize(a: &mut ComponentArgs<'_>, default: u64) -> u64 {
    match a.uint("blocksize") {
        Some(0) => {
            a.error(
                "blocksize",
                format!("{}: 'blocksize' must be positive", a.label()),
                None,
            );
            default
        }
        Some(b) if b > crate::protocol::MAX_TRANSFER_BLOCK => {
            a.error(
                "blocksize",
                format!(
                    "{}: 'blocksize' may be at most {} bytes (8 MiB), not {b}",
                    a.label(),
                    crate::protocol::MAX_TRANSFER_BLOCK
                ),
                None,
            );
            default
        }
        Some(b) => b,
        None => default,
    }
}

fn parse_shell(a: &mut ComponentArgs<'_>, default: Option<&[&str]>) -> Option<ShellCommandConfig> {
    let command = match default {
        Some(words) if !a.has("command") => Some(Renderable::List(
            words.iter().map(|w| Renderable::from(*w)).collect(),
        )),
        _ => a.req_renderable("command"),
    };
    if let Some(Renderable::Value(v)) = &command
        && !(v.is_string() || v.is_array())
    {
        a.error(
            "command",
            format!(
                "{}: 'command' must be a string or a list of strings",
                a.label()
            ),
            None,
        );
    }
    let mut s = ShellCommandConfig::new(command.clone().unwrap_or(Renderable::Value(Value::Null)));
    s.env = a.renderable_map("env").unwrap_or_default();
    s.want_stdout = a.bool("want_stdout", true);
    s.want_stderr = a.bool("want_stderr", true);
    if let Some(t) = a.uint("timeout") {
        s.timeout = Some(t);
    }
    s.max_time = a.uint("maxTime");
    s.max_lines = a.uint("max_lines");
    s.sigterm_time = a.uint("sigtermTime");
    if let Some(sig) = a.str("interruptSignal") {
        s.interrupt_signal = sig;
    }
    s.use_pty = a.opt_bool("usePTY");
    s.log_environ = a.bool("logEnviron", true);
    s.initial_stdin = a.renderable("initialStdin");
    if let Some(Value::Object(m)) = a.json("logfiles") {
        s.logfiles = m.into_iter().collect();
    } else if a.has("logfiles") {
        a.error(
            "logfiles",
            format!(
                "{}: 'logfiles' must be a table of log name = file name",
                a.label()
            ),
            None,
        );
    }
    s.lazylogfiles = a.bool("lazylogfiles", false);
    if let Some(v) = a.json("decodeRC") {
        let mut m = BTreeMap::new();
        match v {
            Value::Object(o) => {
                for (k, r) in o {
                    match (k.parse::<i64>(), result_from_node(&r)) {
                        (Ok(code), Some(res)) => {
                            m.insert(code, res);
                        }
                        _ => a.error(
                            "decodeRC",
                            format!(
                                "{}: decodeRC entry \"{k}\" = {r} is not exit code = result",
                                a.label()
                            ),
                            Some(
                                "e.g. decodeRC = { \"0\" = \"success\", \"1\" = \"warnings\" }"
                                    .into(),
                            ),
                        ),
                    }
                }
            }
            _ => a.error(
                "decodeRC",
                format!("{}: 'decodeRC' must be a table", a.label()),
                None,
            ),
        }
        s.decode_rc = m;
    }
    command.map(|_| s)
}

fn parse_warning_counting(
    a: &mut ComponentArgs<'_>,
    default: &[&str],
) -> Option<WarningCountingConfig> {
    let shell = parse_shell(a, Some(default));
    let warning_pattern = a
        .str("warningPattern")
        .unwrap_or_else(|| "^.*warning[: ].*".to_owned());
    if let Err(e) = regex::Regex::new(&warning_pattern) {
        let msg = format!(
            "{}: 'warningPattern' is not a valid regular expression: {e}",
            a.label()
        );
        a.error("warningPattern", msg, None);
    }
    let max_warn_count = a.uint("maxWarnCount");
    const NO_SUPPRESSION: &str = "warnings are counted without suppressions; remove it";
    a.not_supported("suppressionFile", NO_SUPPRESSION);
    a.not_supported("suppressionList", NO_SUPPRESSION);
    Some(WarningCountingConfig {
        warning_pattern,
        max_warn_count,
        shell: shell?,
    })
}

pub(crate) fn shell_command(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    parse_shell(a, None).map(StepKind::ShellCommand)
}

pub(crate) fn configure(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    parse_shell(a, Some(&["./configure"])).map(StepKind::Configure)
}

pub(crate) fn compile(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    parse_warning_counting(a, &["make", "all"]).map(StepKind::Compile)
}

pub(crate) fn test(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    parse_warning_counting(a, &["make", "test"]).map(StepKind::Test)
}

pub(crate) fn set_property_from_command(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    if a.has("extract_fn") {
        a.error(
            "extract_fn",
            "SetPropertyFromCommand: 'extract_fn' is a Python callable and cannot be written in TOML",
            Some("use 'property' (the command's output becomes the property value)".into()),
        );
    }
    let shell = parse_shell(a, None);
    let property = a.req_renderable("property");
    let strip = a.bool("strip", true);
    Some(StepKind::SetPropertyFromCommand {
        strip,
        shell: shell?,
        property: property?,
    })
}

pub(crate) fn file_upload(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let workersrc = a.req_renderable("workersrc");
    let masterdest = a.req_renderable("masterdest");
    let cfg = FileUploadConfig {
        mode: mode(a),
        maxsize: a.uint("maxsize"),
        blocksize: blocksize(a, 256 * 1024),
        keepstamp: a.bool("keepstamp", false),
        url: a.renderable_str("url"),
        url_text: a.str("urlText"),
        workersrc: workersrc?,
        masterdest: masterdest?,
    };
    Some(StepKind::FileUpload(cfg))
}

pub(crate) fn directory_upload(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let workersrc = a.req_renderable("workersrc");
    let masterdest = a.req_renderable("masterdest");
    let compress = a.choice("compress", &["gz", "bz2"]);
    let cfg = DirectoryUploadConfig {
        compress,
        maxsize: a.uint("maxsize"),
        blocksize: blocksize(a, 16 * 1024),
        url: a.renderable_str("url"),
        url_text: a.str("urlText"),
        workersrc: workersrc?,
        masterdest: masterdest?,
    };
    Some(StepKind::DirectoryUpload(cfg))
}

pub(crate) fn file_download(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let mastersrc = a.req_renderable("mastersrc");
    let workerdest = a.req_renderable("workerdest");
    let cfg = FileDownloadConfig {
        mode: mode(a),
        maxsize: a.uint("maxsize"),
        blocksize: blocksize(a, 16 * 1024),
        mastersrc: mastersrc?,
        workerdest: workerdest?,
    };
    Some(StepKind::FileDownload(cfg))
}

pub(crate) fn string_download(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let s = a.req_renderable("s");
    let workerdest = a.req_renderable("workerdest");
    let cfg = StringDownloadConfig {
        mode: mode(a),
        maxsize: a.uint("maxsize"),
        blocksize: blocksize(a, 16 * 1024),
        s: s?,
        workerdest: workerdest?,
    };
    Some(StepKind::StringDownload(cfg))
}

pub(crate) fn make_directory(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    Some(StepKind::MakeDirectory {
        dir: a.req_renderable("dir")?,
    })
}

pub(crate) fn remove_directory(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    Some(StepKind::RemoveDirectory {
        dir: a.req_renderable("dir")?,
    })
}

pub(crate) fn master_shell_command(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let command = a.req_renderable("command");
    let env = a.renderable_map("env").unwrap_or_default();
    Some(StepKind::MasterShellCommand {
        env,
        command: command?,
    })
}

pub(crate) fn set_property(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let property = a.req_renderable("property");
    let value = a.req_renderable("value");
    Some(StepKind::SetProperty {
        property: property?,
        value: value?,
    })
}

pub(crate) fn trigger(a: &mut ComponentArgs<'_>) -> Option<StepKind> {
    let names = a.str_list("schedulerNames");
    if names.as_ref().is_none_or(Vec::is_empty) {
        a.error(
            "schedulerNames",
            "Trigger: You must specify a scheduler to trigger",
            Some("schedulerNames = [\"<name of a Triggerable scheduler>\"]".into()),
        );
    }
    if a.has("copy_properties") {
        a.error(
            "copy_properties",
            "Trigger: 'copy_properties' was removed from Buildbot",
            Some("use set_properties = { name = \"%(prop:name)s\" }".into()),
        );
    }
    let cfg = TriggerConfig {
        scheduler_names: names.unwrap_or_default(),
        wait_for_finish: a.bool("waitForFinish", false),
        set_properties: a.renderable_map("set_properties").unwrap_or_default(),
        always_use_latest: a.bool("alwaysUseLatest", false),
        update_source_stamp: a.opt_bool("updateSourceStamp"),
        parent_relationship: a
            .str("parent_relationship")
            .unwrap_or_else(|| "Triggered from".into()),
    };
    if cfg.always_use_latest && cfg.update_source_stamp == Some(true) {
        a.error(
            "updateSourceStamp",
            "Trigger: You can't set both alwaysUseLatest and updateSourceStamp",
            None,
        );
    }
    Some(StepKind::Trigger(cfg))
}
