//! The registry of component types: `type = "..."` names → factories.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use super::args::ComponentArgs;
use super::components::{self as c, ChangeSourceKind, ReporterKind, SchedulerKind};
use super::steps::{self as s, StepKind};

/// Makes a step from its table; records problems in the [`ComponentArgs`] and returns
/// `None` when the step cannot be built. The common `BuildStep` arguments (`name`,
/// `haltOnFailure`, `locks`, ...) are read by the loader, not by the factory.
pub type StepFactory = Arc<dyn Fn(&mut ComponentArgs<'_>) -> Option<StepKind> + Send + Sync>;
/// Makes a scheduler kind from its table (`name`, `builderNames`, `properties`, `codebases`
/// and `priority` are read by the loader).
pub type SchedulerFactory =
    Arc<dyn Fn(&mut ComponentArgs<'_>) -> Option<SchedulerKind> + Send + Sync>;
/// Makes a change source kind from its table (`name` is read by the loader).
pub type ChangeSourceFactory =
    Arc<dyn Fn(&mut ComponentArgs<'_>) -> Option<ChangeSourceKind> + Send + Sync>;
/// Makes a reporter kind from its table (`name` is read by the loader).
pub type ReporterFactory =
    Arc<dyn Fn(&mut ComponentArgs<'_>) -> Option<ReporterKind> + Send + Sync>;

/// Component types by their Buildbot class name. [`Registry::new`] has the built-in types;
/// an embedder adds its own so that `master.cfg` can use them.
///
/// ```
/// use buildbot_core::master::config::{CustomComponent, Registry, StepKind, parse_config};
///
/// let mut reg = Registry::new();
/// reg.register_step("Hello", |args| {
///     let who = args.req_str("who")?;
///     Some(StepKind::Custom(CustomComponent::new("Hello", args.to_json(), who)))
/// });
/// let cfg = r#"
/// [protocols.msgpack]
/// port = 9989
/// [[workers]]
/// name = "w1"
/// password = "pw"
/// [[builders]]
/// name = "b1"
/// workernames = ["w1"]
/// steps = [{ type = "Hello", who = "world" }]
/// [[schedulers]]
/// type = "ForceScheduler"
/// name = "force"
/// builderNames = ["b1"]
/// "#;
/// let loaded = parse_config(cfg, "master.cfg", &reg).expect("valid");
/// let step = &loaded.config.builders[0].steps[0];
/// let StepKind::Custom(c) = &step.kind else { panic!() };
/// assert_eq!(c.downcast::<String>().map(String::as_str), Some("world"));
/// assert_eq!(step.common.name, "Hello");
/// ```
#[derive(Clone)]
pub struct Registry {
    pub(crate) steps: BTreeMap<String, StepFactory>,
    pub(crate) schedulers: BTreeMap<String, SchedulerFactory>,
    pub(crate) change_sources: BTreeMap<String, ChangeSourceFactory>,
    pub(crate) reporters: BTreeMap<String, ReporterFactory>,
    pub(crate) strategies: BTreeSet<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("steps", &self.steps.keys().collect::<Vec<_>>())
            .field("schedulers", &self.schedulers.keys().collect::<Vec<_>>())
            .field(
                "change_sources",
                &self.change_sources.keys().collect::<Vec<_>>(),
            )
            .field("reporters", &self.reporters.keys().collect::<Vec<_>>())
            .field("strategies", &self.strategies)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// A registry with no types at all.
    pub fn empty() -> Self {
        Registry {
            steps: BTreeMap::new(),
            schedulers: BTreeMap::new(),
            change_sources: BTreeMap::new(),
            reporters: BTreeMap::new(),
            strategies: BTreeSet::new(),
        }
    }

    /// A registry with every built-in type.
    pub fn new() -> Self {
        let mut r = Self::empty();
        r.register_step("ShellCommand", s::shell_command);
        r.register_step("Configure", s::configure);
        r.register_step("Compile", s::compile);
        r.register_step("Test", s::test);
        r.register_step("SetPropertyFromCommand", s::set_property_from_command);
        r.register_step("FileUpload", s::file_upload);
        r.register_step("DirectoryUpload", s::directory_upload);
        r.register_step("FileDownload", s::file_download);
        r.register_step("StringDownload", s::string_download);
        r.register_step("MakeDirectory", s::make_directory);
        r.register_step("RemoveDirectory", s::remove_directory);
        r.register_step("MasterShellCommand", s::master_shell_command);
        r.register_step("SetProperty", s::set_property);
        r.register_step("Trigger", s::trigger);
        r.register_step("Git", super::source_steps::git);
        r.register_step("Mercurial", super::source_steps::mercurial);
        r.register_step("SVN", super::source_steps::svn);
        r.register_scheduler("ForceScheduler", c::force_scheduler);
        r.register_scheduler("SingleBranchScheduler", c::single_branch);
        r.register_scheduler("AnyBranchScheduler", c::any_branch);
        r.register_scheduler("Periodic", c::periodic);
        r.register_scheduler("Nightly", c::nightly);
        r.register_scheduler("Triggerable", c::triggerable);
        r.register_scheduler("Dependent", c::dependent);
        r.register_change_source("GitPoller", c::git_poller);
        r.register_change_source("HgPoller", c::hg_poller);
        r.register_change_source("SVNPoller", c::svn_poller);
        r.register_change_source("PBChangeSource", c::pb_change_source);
        r.register_reporter("MailNotifier", c::mail_notifier);
        r.register_reporter("IRC", c::irc);
        r.register_reporter("HttpStatusPush", c::http_status_push);
        r
    }

    /// Adds (or replaces) a step type.
    pub fn register_step(
        &mut self,
        name: impl Into<String>,
        factory: impl Fn(&mut ComponentArgs<'_>) -> Option<StepKind> + Send + Sync + 'static,
    ) -> &mut Self {
        self.steps.insert(name.into(), Arc::new(factory));
        self
    }

    /// Adds (or replaces) a scheduler type.
    pub fn register_scheduler(
        &mut self,
        name: impl Into<String>,
        factory: impl Fn(&mut ComponentArgs<'_>) -> Option<SchedulerKind> + Send + Sync + 'static,
    ) -> &mut Self {
        self.schedulers.insert(name.into(), Arc::new(factory));
        self
    }

    /// Adds (or replaces) a change source type.
    pub fn register_change_source(
        &mut self,
        name: impl Into<String>,
        factory: impl Fn(&mut ComponentArgs<'_>) -> Option<ChangeSourceKind> + Send + Sync + 'static,
    ) -> &mut Self {
        self.change_sources.insert(name.into(), Arc::new(factory));
        self
    }

    /// Adds (or replaces) a reporter type.
    pub fn register_reporter(
        &mut self,
        name: impl Into<String>,
        factory: impl Fn(&mut ComponentArgs<'_>) -> Option<ReporterKind> + Send + Sync + 'static,
    ) -> &mut Self {
        self.reporters.insert(name.into(), Arc::new(factory));
        self
    }

    /// Declares a builder strategy name usable as `canStartBuild`, `nextWorker` or
    /// `nextBuild` (the engine maps the name to code).
    pub fn register_strategy(&mut self, name: impl Into<String>) -> &mut Self {
        self.strategies.insert(name.into());
        self
    }

    /// Registered step type names.
    pub fn step_types(&self) -> impl Iterator<Item = &str> {
        self.steps.keys().map(String::as_str)
    }

    /// Registered scheduler type names.
    pub fn scheduler_types(&self) -> impl Iterator<Item = &str> {
        self.schedulers.keys().map(String::as_str)
    }

    /// Registered change source type names.
    pub fn change_source_types(&self) -> impl Iterator<Item = &str> {
        self.change_sources.keys().map(String::as_str)
    }

    /// Registered reporter type names.
    pub fn reporter_types(&self) -> impl Iterator<Item = &str> {
        self.reporters.keys().map(String::as_str)
    }
}
