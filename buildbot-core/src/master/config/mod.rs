//! The master configuration: typed values, the TOML loader (`master.cfg`), the registry of
//! component types, cross-checks and reconfig diffs.
//!
//! `master.cfg` is TOML whose names are Buildbot's own: top-level keys are the keys of
//! Buildbot's `c = BuildmasterConfig = {}`, component `type`s are Buildbot class names and
//! their keys are Buildbot's argument names, so Buildbot's documentation is the reference.
//! Strings containing `%(` are `Interpolate` renderables; `{ property = "name", default =
//! ... }` is `Property(...)`.
//!
//! The loader reports every problem at once with `file:line:col: message (hint)`, and returns
//! deprecation warnings (0.8 names such as `slavenames`) with the config. An embedder builds
//! the same [`MasterConfig`] in code with [`MasterConfig::builder`]; both run the same
//! cross-checks.
//!
//! The full shape:
//!
//! ```
//! use buildbot_core::master::config::{Registry, StepKind, SchedulerKind, parse_config};
//!
//! let text = r#"
//! title = "Hello World CI"
//! titleURL = "https://example.org/hello"
//! buildbotURL = "http://localhost:8010/"
//! multiMaster = false
//! collapseRequests = true
//! logCompressionMethod = "zstd"
//! logEncoding = "utf-8"
//! changeHorizon = 1000                   # changes kept; older ones pruned hourly
//! properties = { team = "core" }
//!
//! [db]
//! db_url = "sqlite:///state.sqlite"        # or postgresql://… / mysql://…
//!
//! [protocols.msgpack]                      # worker listener (msgpack over WebSocket)
//! port = 9989
//! [protocols.pb]                           # `buildbot sendchange`
//! port = 9990
//!
//! [www]
//! port = 8010
//! listen = "127.0.0.1"
//! auth = { type = "UserPasswordAuth", users = { admin = "secret" } }
//!
//! [[workers]]
//! name = "example-slave"
//! password = "pass"
//! max_builds = 1
//! properties = { os = "linux" }
//!
//! [[locks]]
//! type = "WorkerLock"
//! name = "compile"
//! maxCount = 2
//!
//! [[change_source]]
//! type = "GitPoller"
//! repourl = "https://example.org/hello.git"
//! branches = ["main"]
//! pollInterval = 300
//!
//! [[change_source]]
//! type = "PBChangeSource"
//!
//! [[schedulers]]
//! type = "SingleBranchScheduler"
//! name = "all"
//! change_filter = { branch = "main" }
//! treeStableTimer = 10
//! builderNames = ["runtests"]
//!
//! [[schedulers]]
//! type = "ForceScheduler"
//! name = "force"
//! builderNames = ["runtests"]
//! [[schedulers.properties]]
//! type = "ChoiceStringParameter"
//! name = "flavour"
//! choices = ["debug", "release"]
//!
//! [[schedulers]]
//! type = "Nightly"
//! name = "nightly"
//! builderNames = ["runtests"]
//! hour = 3
//! minute = 30
//!
//! [[builders]]
//! name = "runtests"
//! workernames = ["example-slave"]
//! tags = ["ci"]
//! env = { LANG = "C" }
//!
//! [[builders.steps]]
//! type = "Git"
//! repourl = "https://example.org/hello.git"
//! mode = "incremental"
//!
//! [[builders.steps]]
//! type = "Compile"
//! locks = [{ name = "compile", access = "counting" }]
//!
//! [[builders.steps]]
//! type = "ShellCommand"
//! name = "test"
//! command = ["make", "test", "BRANCH=%(prop:branch:-main)s"]
//! haltOnFailure = true
//! timeout = 600
//!
//! [[builders.steps]]
//! type = "FileUpload"
//! workersrc = "build/report.html"
//! masterdest = "public_html/report-%(prop:buildnumber)s.html"
//! mode = 0o644
//! "#;
//!
//! let loaded = parse_config(text, "master.cfg", &Registry::new()).expect("a valid config");
//! assert!(loaded.warnings.is_empty());
//! let cfg = &loaded.config;
//! assert_eq!(cfg.protocols.msgpack.as_ref().map(|p| p.port), Some(9989));
//! assert_eq!(cfg.builders[0].steps.len(), 4);
//! assert!(matches!(cfg.builders[0].steps[2].kind, StepKind::ShellCommand(_)));
//! assert!(matches!(cfg.schedulers[1].kind, SchedulerKind::Force { .. }));
//! ```
//!
//! The same configuration (in part) built in code:
//!
//! ```
//! use buildbot_core::master::config::*;
//!
//! let cfg = MasterConfig::builder()
//!     .title("Hello World CI")
//!     .worker_port(9989)
//!     .www_port(8010)
//!     .worker(WorkerConfig::new("example-slave", "pass").max_builds(1))
//!     .builder(
//!         BuilderConfig::builder("runtests")
//!             .workername("example-slave")
//!             .step(StepConfig::shell_argv(&["make", "test"]).name("test"))
//!             .build()?,
//!     )
//!     .scheduler(SchedulerConfig::force("force", ["runtests"]))
//!     .build()?;
//! assert_eq!(cfg.builders[0].builddir, "runtests");
//! # Ok::<(), ConfigError>(())
//! ```

mod args;
mod change_filters;
mod components;
mod diff;
mod error;
mod force;
mod loader;
mod model;
mod node;
mod pollers;
mod registry;
mod source_steps;
mod steps;
mod validate;

pub use args::ComponentArgs;
pub use change_filters::{ChangeFilter, FieldFilter, FileImportance, Importance};
pub use components::{
    ChangeSourceConfig, ChangeSourceKind, CodebaseConfig, CronField, MAIL_MODES, ReporterConfig,
    ReporterKind, SchedulerConfig, SchedulerKind,
};
pub use diff::{ConfigDiff, NamedChanges, diff, restart_required};
pub use error::{ConfigError, ConfigIssue};
pub use force::{
    ForceCodebase, ForceParameter, ForceParameterKind, ForceSchedulerConfig, RESERVED_FORCE_FIELDS,
    SourceStampField,
};
pub use loader::{LoadedConfig, check_config, load_config, parse_config};
pub use model::{
    BuilderConfig, BuilderConfigBuilder, DEFAULT_BUILDBOT_URL, DEFAULT_DB_URL, DbConfig,
    LockConfig, LockKind, LogCompression, MasterConfig, MasterConfigBuilder, PortConfig,
    ProtocolsConfig, UserManagerConfig, WorkerConfig, WwwConfig, WwwLimits, safe_translate,
};
pub use pollers::{
    GitBranches, GitPollerConfig, HgPollerConfig, PollTiming, SshKey, SvnPollerConfig, SvnSplit,
};
pub use registry::{ChangeSourceFactory, Registry, ReporterFactory, SchedulerFactory, StepFactory};
pub use steps::{
    CustomComponent, DirectoryUploadConfig, FileDownloadConfig, FileUploadConfig, GitConfig,
    LockAccess, LockMode, MercurialConfig, ShellCommandConfig, SourceArgs, StepCommon, StepConfig,
    StepKind, StringDownloadConfig, SvnConfig, TriggerConfig, WarningCountingConfig,
};
pub use validate::is_identifier;

#[cfg(test)]
mod tests;
