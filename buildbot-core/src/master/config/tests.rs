//! Loader tests: valid configs, and the exact text of every kind of error.

use super::*;
use crate::master::properties::Renderable;
use buildbot_db::Results;
use serde_json::json;

const F1: &str = r#"
[[workers]]
name = "w1"
password = "pw"
[protocols.msgpack]
port = 9989
[www]
port = 8010
[[builders]]
name = "b1"
workernames = ["w1"]
steps = [{ type = "ShellCommand", command = ["sh", "-c", "echo hello"] }]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b1"]
"#;

fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
    parse_config(text, "master.cfg", &Registry::new())
}

/// The error lines, as `checkconfig` prints them.
fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("config unexpectedly valid"),
        Err(e) => e.issues().iter().map(ToString::to_string).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match load(text) {
        Ok(l) => l.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("config invalid: {e}"),
    }
}

#[test]
fn fixture_f1_loads() {
    let l = load(F1).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    assert_eq!(c.workers, vec![WorkerConfig::new("w1", "pw")]);
    assert_eq!(c.protocols.msgpack, Some(PortConfig::new(9989)));
    assert_eq!(c.www.port, Some(8010));
    let b = &c.builders[0];
    assert_eq!(
        (
            b.name.as_str(),
            b.builddir.as_str(),
            b.workerbuilddir.as_str()
        ),
        ("b1", "b1", "b1")
    );
    let st = &b.steps[0];
    assert_eq!(st.common.name, "shell");
    assert!(st.common.flags.flunk_on_failure && !st.common.flags.halt_on_failure);
    assert_eq!(
        st.common.update_build_summary_policy,
        [
            Results::Exception,
            Results::Retry,
            Results::Cancelled,
            Results::Failure
        ]
    );
    let StepKind::ShellCommand(sh) = &st.kind else {
        panic!()
    };
    assert_eq!(
        sh.command,
        Renderable::from_json(&json!(["sh", "-c", "echo hello"])).unwrap()
    );
    assert_eq!(sh.timeout, Some(1200));
    assert!(sh.log_environ);
    assert_eq!(c.schedulers[0].name, "force");
    assert!(
        matches!(&c.schedulers[0].kind, SchedulerKind::Force(f) if f.reason.default == "force build")
    );
    assert_eq!(c.db.db_url, None);
    assert_eq!(c.log_compression_method, LogCompression::Zstd);
}

#[test]
fn loader_and_builder_agree() {
    let built = MasterConfig::builder()
        .worker(WorkerConfig::new("w1", "pw"))
        .worker_port(9989)
        .www_port(8010)
        .builder(
            BuilderConfig::builder("b1")
                .workername("w1")
                .step(StepConfig::shell_argv(&["sh", "-c", "echo hello"]))
                .build()
                .unwrap(),
        )
        .scheduler(SchedulerConfig::force("force", ["b1"]))
        .build()
        .unwrap();
    assert_eq!(load(F1).unwrap().config, built);
}

#[test]
fn python_config_is_refused_clearly() {
    let py = "# -*- python -*-\nfrom buildbot.plugins import *\nc = BuildmasterConfig = {}\n";
    assert_eq!(
        errors(py),
        [
            "master.cfg:2:1: this is a Python Buildbot config; this master reads TOML, not Python (translate it key by key: c['workers'] becomes [[workers]], c['builders'] becomes [[builders]]; see the migration guide)"
        ]
    );
}

#[test]
fn toml_syntax_error() {
    assert_eq!(
        errors(&format!("{F1}bad =\n")),
        ["master.cfg:17:6: TOML syntax error: invalid string; expected `\"`, `'`"]
    );
}

#[test]
fn unknown_keys_have_did_you_mean_hints() {
    let text = format!("titel = \"x\"\n{F1}")
        .replace("command =", "comand =")
        .replace(
            "type = \"ShellCommand\"",
            "type = \"ShellCommand\", haltonfailure = true",
        );
    assert_eq!(
        errors(&text),
        [
            "master.cfg:1:1: unknown configuration key 'titel' (did you mean 'title'?)",
            "master.cfg:13:10: ShellCommand: missing required argument 'command'",
            "master.cfg:13:35: ShellCommand: unknown argument 'haltonfailure' (did you mean 'haltOnFailure'?)",
            "master.cfg:13:57: ShellCommand: unknown argument 'comand' (did you mean 'command'?)",
        ]
    );
}

#[test]
fn unknown_component_types() {
    let text = F1
        .replace("\"ShellCommand\"", "\"ShellComand\"")
        .replace("\"ForceScheduler\"", "\"Forced\"");
    assert_eq!(
        errors(&text),
        [
            "master.cfg:12:19: unknown step type 'ShellComand' (did you mean 'ShellCommand'?)",
            "master.cfg:14:8: unknown scheduler type 'Forced' (known types: AnyBranchScheduler, Dependent, ForceScheduler, Nightly, Periodic, SingleBranchScheduler, Triggerable)",
        ]
    );
}

#[test]
fn wrong_types_and_values() {
    let text = F1
        .replace("port = 8010", "port = 80100")
        .replace(
            "password = \"pw\"",
            "password = \"pw\"\nmax_builds = \"one\"",
        )
        .replace(
            "\"echo hello\"] }",
            "\"echo hello\"], timeout = -5, doStepIf = 3 }",
        );
    assert_eq!(
        errors(&text),
        [
            "master.cfg:5:14: worker 'w1': 'max_builds' must be an integer, not a string",
            "master.cfg:9:8: www: port 80100 is out of range (use an integer between 1 and 65535)",
            "master.cfg:13:83: ShellCommand: 'timeout' must not be negative, got -5",
            "master.cfg:13:98: ShellCommand: 'doStepIf' must be true, false or a renderable string (e.g. doStepIf = \"%(prop:run_tests:#?|yes|)s\")",
        ]
    );
}

#[test]
fn www_live_limits_and_allowed_origins() {
    let text = F1.replace(
        "port = 8010",
        "port = 8010\nallowed_origins = \"https://*.example.org\"\nlive_max_subscriptions_per_client = 16\nws_message_timeout = 0",
    );
    let w = load(&text).unwrap().config.www;
    assert_eq!(w.extra["allowed_origins"], json!(["https://*.example.org"]));
    assert_eq!(w.extra["live_max_subscriptions_per_client"], json!(16));
    assert_eq!(w.extra["ws_message_timeout"], json!(0));
    let text = F1.replace(
        "port = 8010",
        "port = 8010\nallowed_origins = [1]\nws_max_message_size = -1\nlive_max_connections = \"many\"",
    );
    assert_eq!(
        errors(&text),
        [
            "master.cfg:9:20: www: 'allowed_origins' must be a list of strings, but item 0 is an integer",
            "master.cfg:10:23: www: 'ws_max_message_size' must not be negative, got -1",
            "master.cfg:11:24: www: 'live_max_connections' must be an integer, not a string",
        ]
    );
}

#[test]
fn www_limits_load_and_are_checked() {
    let text = F1.replace(
        "port = 8010",
        "port = 8010\nmax_connections = 500\nmax_connections_per_ip = 20\nheader_timeout = 30\n\
         body_timeout = 10\nchange_hook_max_body = 26214400",
    );
    let l = load(&text).unwrap().config.www.limits;
    assert_eq!(l.max_connections, Some(500));
    assert_eq!(l.max_connections_per_ip, Some(20));
    assert_eq!(l.header_timeout, Some(std::time::Duration::from_secs(30)));
    assert_eq!(l.body_timeout, Some(std::time::Duration::from_secs(10)));
    assert_eq!(l.change_hook_max_body, Some(25 << 20));
    assert_eq!(load(F1).unwrap().config.www.limits, WwwLimits::default());
    let bad = F1.replace(
        "port = 8010",
        "port = 8010\nmax_connections = 0\nbody_timeout = \"30s\"\nmax_body = 5",
    );
    assert_eq!(
        errors(&bad),
        [
            "master.cfg:9:19: www: 'max_connections' must be between 1 and 1048576, got 0",
            "master.cfg:10:16: www: 'body_timeout' must be an integer, not a string",
            "master.cfg:11:1: www: unknown argument 'max_body'",
        ]
    );
}

#[test]
fn bad_interpolation_is_located() {
    let text = F1.replace("\"echo hello\"", "\"echo %(prop:x:*y)s\"");
    assert_eq!(
        errors(&text),
        [
            "master.cfg:12:58: ShellCommand: invalid Interpolate default type '*' in \"echo %(prop:x:*y)s\" (write %% for a literal %)"
        ]
    );
}

#[test]
fn cross_checks_report_everything_at_once() {
    let text = r#"
[protocols.msgpack]
port = 9989
[protocols.pb]
port = 9989
[[workers]]
name = "w1"
password = ""
[[workers]]
name = "w 2"
password = "x"
[[workers]]
name = "w1"
password = "y"
[[builders]]
name = "b1"
workernames = ["w1", "w3"]
locks = ["nolock"]
steps = [{ type = "Trigger", schedulerNames = ["force", "nothere"] }]
[[builders]]
name = "b1"
workernames = []
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b1", "b2"]
[[schedulers]]
type = "Triggerable"
name = "force"
builderNames = []
"#;
    assert_eq!(
        errors(text),
        [
            "master.cfg:5:8: Some of ports in c['protocols'] duplicated",
            "master.cfg:8:12: worker 'w1' has no password (password = \"...\" (the worker's buildbot.tac must use the same))",
            "master.cfg:10:8: worker name 'w 2' is not an identifier (a worker name is an identifier: letters, digits, '_' and '-', not starting with a digit)",
            "master.cfg:13:8: worker name 'w1' used multiple times",
            "master.cfg:17:22: builder 'b1' uses unknown workers 'w3' (did you mean 'w1'?)",
            "master.cfg:18:10: builder 'b1' uses unknown lock 'nolock' (declare it in [[locks]])",
            "master.cfg:19:48: Trigger step 'trigger' of builder 'b1': scheduler 'force' is not a Triggerable scheduler (only Triggerable schedulers can be triggered)",
            "master.cfg:19:57: Trigger step 'trigger' of builder 'b1': unknown scheduler 'nothere'",
            "master.cfg:21:8: duplicate builder name 'b1'",
            "master.cfg:22:15: builder 'b1': at least one workername is required (workernames = [\"<worker name>\"])",
            "master.cfg:26:23: Unknown builder 'b2' in scheduler 'force' (did you mean 'b1'?)",
            "master.cfg:29:8: scheduler name 'force' used multiple times",
        ]
    );
}

#[test]
fn missing_required_arguments() {
    let text = r#"
[protocols.msgpack]
port = 9989
[[workers]]
name = "w1"
[[builders]]
workernames = ["w1"]
[[builders.steps]]
type = "FileUpload"
workersrc = "a"
[[schedulers]]
name = "s"
builderNames = []
"#;
    assert_eq!(
        errors(text),
        [
            "master.cfg:4:1: worker 'w1': missing required argument 'password'",
            "master.cfg:6:1: builder: missing required argument 'name'",
            "master.cfg:8:1: FileUpload: missing required argument 'masterdest'",
            "master.cfg:11:1: scheduler: missing required argument 'type' (type = one of AnyBranchScheduler, Dependent, ForceScheduler, Nightly, Periodic, SingleBranchScheduler, Triggerable)",
        ]
    );
}

#[test]
fn deprecated_08_names_warn_and_work() {
    let text = r#"
slavePortnum = 9989
db_url = "sqlite:///state.sqlite"
[[slaves]]
name = "w1"
password = "pw"
[[builders]]
name = "b1"
slavenames = ["w1"]
slavebuilddir = "b1dir"
steps = [{ type = "ShellCommand", command = "make" }]
[[schedulers]]
type = "ForceScheduler"
name = "force"
builderNames = ["b1"]
"#;
    assert_eq!(
        warnings(text),
        [
            "master.cfg:2:1: 'slavePortnum' is deprecated, use [protocols.msgpack] port instead",
            "master.cfg:3:1: 'db_url' is deprecated, use [db] db_url instead",
            "master.cfg:4:3: 'slaves' is deprecated, use 'workers' instead",
            "master.cfg:9:1: 'slavenames' is deprecated, use 'workernames' instead",
            "master.cfg:10:1: 'slavebuilddir' is deprecated, use 'workerbuilddir' instead",
        ]
    );
    let c = load(text).unwrap().config;
    assert_eq!(c.protocols.msgpack.map(|p| p.port), Some(9989));
    assert_eq!(c.db.db_url.as_deref(), Some("sqlite:///state.sqlite"));
    assert_eq!(c.workers[0].name, "w1");
    assert_eq!(c.builders[0].workernames, ["w1"]);
    assert_eq!(c.builders[0].workerbuilddir, "b1dir");
    // old and new name together is an error
    let both = text.replace(
        "slavenames = [\"w1\"]",
        "slavenames = [\"w1\"]\nworkernames = [\"w1\"]",
    );
    assert_eq!(
        errors(&both),
        [
            "master.cfg:9:1: both 'slavenames' and 'workernames' are given ('slavenames' is the deprecated name of 'workernames'; remove it)"
        ]
    );
}

#[test]
fn worker_keepalive_and_refused_missing_mail_settings() {
    let text = F1.replace(
        "password = \"pw\"",
        "password = \"pw\"\nkeepalive_interval = 60",
    );
    let c = load(&text).unwrap().config;
    assert_eq!(c.workers[0].keepalive_interval, Some(60));
    // S76's missing-worker mail needs a mail reporter: refused until one runs
    let text = F1.replace(
        "password = \"pw\"",
        "password = \"pw\"\nmissing_timeout = 120\nnotify_on_missing = [\"admin@example.org\"]",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("worker 'w1': 'missing_timeout' is not supported by this master")
            && errs[1].contains("worker 'w1': 'notify_on_missing' is not supported by this master"),
        "{errs:?}"
    );
}

/// Issue 14 item 1: what the master would not carry out is refused, each naming itself and
/// its place in the file; what it does carry out loads.
#[test]
fn options_that_would_do_nothing_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "buildHorizon = 100\n",
            "'buildHorizon' is not supported by this master",
        ),
        (
            "logHorizon = 100\n",
            "'logHorizon' is not supported by this master",
        ),
        (
            "logMaxSize = 1000\n",
            "'logMaxSize' is not supported by this master",
        ),
        (
            "logMaxTailSize = 1000\n",
            "'logMaxTailSize' is not supported by this master",
        ),
        (
            "secretsProviders = [{ type = \"SecretInAFile\", dirname = \"/s\" }]\n",
            "'secretsProviders' is not supported by this master",
        ),
        (
            "logEncoding = \"latin-1\"\n",
            "'logEncoding' = 'latin-1' is not supported",
        ),
    ];
    for (line, want) in cases {
        let errs = errors(&format!("{line}{F1}"));
        assert_eq!(errs.len(), 1, "{line}: {errs:?}");
        assert!(errs[0].starts_with("master.cfg:1:"), "{errs:?}");
        assert!(errs[0].contains(want), "{line}: {errs:?}");
    }
    for reporter in [
        "type = \"MailNotifier\"\nfromaddr = \"bb@example.org\"",
        "type = \"IRC\"\nhost = \"irc.example.org\"\nnick = \"bb\"\nchannels = [\"#ci\"]",
        "type = \"HttpStatusPush\"\nserverUrl = \"http://127.0.0.1:1/push\"",
    ] {
        let errs = errors(&format!("{F1}[[services]]\n{reporter}\n"));
        let name = reporter.split('"').nth(1).unwrap();
        assert_eq!(
            errs.iter()
                .filter(|e| e.contains(&format!(
                    "{name}: reporters are not supported by this master yet"
                )))
                .count(),
            1,
            "{errs:?}"
        );
    }
    let step = |extra: &str| {
        F1.replace(
            "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
            &format!("steps = [{{ type = \"Compile\", command = [\"make\"]{extra} }}]"),
        )
    };
    for (extra, want) in [
        (
            ", suppressionFile = \"supp\"",
            "Compile: 'suppressionFile' is not supported",
        ),
        (
            ", suppressionList = []",
            "Compile: 'suppressionList' is not supported",
        ),
        (
            ", logEncoding = \"cp1252\"",
            "'logEncoding' = 'cp1252' is not supported",
        ),
        (
            ", warningPattern = \"warn(\"",
            "'warningPattern' is not a valid regular expression",
        ),
    ] {
        let errs = errors(&step(extra));
        assert_eq!(errs.len(), 1, "{extra}: {errs:?}");
        assert!(errs[0].contains(want), "{extra}: {errs:?}");
    }
    // carried out: these load
    let ok = format!(
        "secretsProviders = []\nlogEncoding = \"UTF-8\"\nchangeHorizon = 50\nlogCompressionLimit = 100\n{}",
        step(", logEncoding = \"utf8\", warningPattern = \"^W[0-9]+\"")
    );
    let c = load(&ok).unwrap().config;
    assert_eq!(c.change_horizon, Some(50));
    assert_eq!(c.log_compression_limit, 100);
    // fileIsImportant is a table of patterns, not a Python callable
    let sched = |v: &str| {
        format!(
            "{F1}[[schedulers]]\ntype = \"SingleBranchScheduler\"\nname = \"s\"\nbuilderNames = [\"b1\"]\nbranch = \"main\"\nfileIsImportant = {v}\n"
        )
    };
    let errs = errors(&sched("\"lambda c: True\""));
    assert!(
        errs.len() == 1 && errs[0].contains("here it is a table of path patterns"),
        "{errs:?}"
    );
    let errs = errors(&sched("{ includes = [\"src/*\"] }"));
    assert!(errs.len() == 1 && errs[0].contains("includes"), "{errs:?}");
    let c = load(&sched("{ include = [\"src/*\"], exclude = [\"*.md\"] }"))
        .unwrap()
        .config;
    let SchedulerKind::SingleBranch { importance, .. } = &c.schedulers[1].kind else {
        panic!()
    };
    assert!(importance.is_important(&["src/a.c"]));
    assert!(!importance.is_important(&["src/a.md", "doc/x"]));
    assert!(importance.is_important::<&str>(&[]));
}

#[test]
fn worker_name_too_long_and_reserved() {
    let long = "a".repeat(51);
    let text = F1
        .replace("name = \"w1\"", &format!("name = \"{long}\""))
        .replace("[\"w1\"]", &format!("[\"{long}\"]"));
    assert_eq!(
        errors(&text),
        [format!(
            "master.cfg:3:8: worker name '{long}' is longer than 50 characters"
        )]
    );
    let text = F1.replace("\"w1\"", "\"debug\"");
    assert_eq!(
        errors(&text),
        ["master.cfg:3:8: worker name 'debug' is reserved"]
    );
}

#[test]
fn builtin_steps_parse_with_buildbot_defaults() {
    let text = F1.replace(
        "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
        r#"
[[builders.steps]]
type = "Git"
repourl = "https://example.org/r.git"
mode = "full"
method = "clobber"
shallow = true
[[builders.steps]]
type = "Compile"
[[builders.steps]]
type = "Test"
command = "make check"
warnOnWarnings = true
[[builders.steps]]
type = "SetPropertyFromCommand"
command = "git rev-parse HEAD"
property = "rev"
[[builders.steps]]
type = "FileUpload"
workersrc = "out.tar"
masterdest = "~/out-%(prop:buildnumber)s.tar"
mode = 0o644
[[builders.steps]]
type = "DirectoryUpload"
workersrc = "docs"
masterdest = "public_html/docs"
compress = "gz"
[[builders.steps]]
type = "FileDownload"
mastersrc = "a"
workerdest = "b"
[[builders.steps]]
type = "StringDownload"
s = "hello %(prop:buildername)s"
workerdest = "greeting.txt"
[[builders.steps]]
type = "MakeDirectory"
dir = "build/x"
[[builders.steps]]
type = "RemoveDirectory"
dir = "build/x"
[[builders.steps]]
type = "MasterShellCommand"
command = "touch done"
[[builders.steps]]
type = "SetProperty"
property = "answer"
value = 42
doStepIf = "%(prop:run:#?|yes|)s"
updateBuildSummaryPolicy = ["failure", 4]
[[builders.steps]]
type = "Trigger"
schedulerNames = ["trg"]
waitForFinish = true
set_properties = { parent = "%(prop:buildnumber)s" }
locks = [{ name = "l", access = "exclusive" }]
"#,
    ) + "[[schedulers]]\ntype = \"Triggerable\"\nname = \"trg\"\nbuilderNames = [\"b1\"]\n[[locks]]\ntype = \"MasterLock\"\nname = \"l\"\n";
    let c = load(&text).unwrap().config;
    let steps = &c.builders[0].steps;
    let names: Vec<&str> = steps.iter().map(|s| s.common.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "git",
            "compile",
            "test",
            "setproperty",
            "upload",
            "upload",
            "download",
            "string_download",
            "MakeDirectory",
            "RemoveDirectory",
            "MasterShellCommand",
            "SetProperty",
            "trigger"
        ]
    );
    assert!(steps[0].common.flags.halt_on_failure);
    let StepKind::Git(g) = &steps[0].kind else {
        panic!()
    };
    assert_eq!(
        (
            g.source.mode.as_str(),
            g.source.method.as_deref(),
            g.shallow
        ),
        ("full", Some("clobber"), Some(1))
    );
    let StepKind::Compile(w) = &steps[1].kind else {
        panic!()
    };
    assert_eq!(
        w.shell.command,
        Renderable::from_json(&json!(["make", "all"])).unwrap()
    );
    assert!(steps[1].common.flags.halt_on_failure);
    assert!(steps[2].common.flags.warn_on_failure && steps[2].common.flags.warn_on_warnings);
    assert_eq!(
        steps[2].common.update_build_summary_policy.last(),
        Some(&Results::Warnings)
    );
    let StepKind::FileUpload(u) = &steps[4].kind else {
        panic!()
    };
    assert_eq!((u.mode, u.blocksize), (Some(0o644), 256 * 1024));
    assert!(matches!(&u.masterdest, Renderable::Interpolate(_)));
    let StepKind::DirectoryUpload(d) = &steps[5].kind else {
        panic!()
    };
    assert_eq!(
        (d.compress.as_deref(), d.blocksize),
        (Some("gz"), 16 * 1024)
    );
    assert!(matches!(
        steps[11].common.do_step_if,
        Renderable::Interpolate(_)
    ));
    assert_eq!(
        steps[11].common.update_build_summary_policy,
        [Results::Failure, Results::Exception]
    );
    let StepKind::Trigger(t) = &steps[12].kind else {
        panic!()
    };
    assert!(t.wait_for_finish);
    assert_eq!(steps[12].common.locks, [LockAccess::exclusive("l")]);
}

#[test]
fn step_argument_validation() {
    let text = F1.replace(
        "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
        r#"
[[builders.steps]]
type = "Git"
repourl = "x"
mode = "fulll"
[[builders.steps]]
type = "Git"
repourl = "x"
mode = "full"
method = "scrub"
[[builders.steps]]
type = "DirectoryUpload"
workersrc = "a"
masterdest = "b"
compress = "zip"
[[builders.steps]]
type = "SetPropertyFromCommand"
command = "x"
extract_fn = "f"
property = "p"
"#,
    );
    assert_eq!(
        errors(&text),
        [
            "master.cfg:16:8: Git: 'mode' must be 'incremental' or 'full', not 'fulll' (did you mean 'full'?)",
            "master.cfg:21:10: Git: invalid method for mode 'full'. (use 'clean', 'fresh', 'clobber' or 'copy')",
            "master.cfg:26:12: DirectoryUpload: 'compress' must be 'gz' or 'bz2', not 'zip' (one of 'gz', 'bz2')",
            "master.cfg:30:14: SetPropertyFromCommand: 'extract_fn' is a Python callable and cannot be written in TOML (use 'property' (the command's output becomes the property value))",
        ]
    );
}

#[test]
fn schedulers_change_sources_reporters() {
    let text = format!(
        "{F1}{}",
        r##"
[[schedulers]]
type = "SingleBranchScheduler"
name = "sbs"
change_filter = { branch = ["main", "dev"], repository_re = ".*hello.*" }
treeStableTimer = 5
builderNames = ["b1"]
[[schedulers]]
type = "Nightly"
name = "n"
builderNames = ["b1"]
hour = [1, 13]
dayOfWeek = 0
[[schedulers]]
type = "Periodic"
name = "p"
builderNames = ["b1"]
periodicBuildTimer = 3600
[[schedulers]]
type = "Dependent"
name = "d"
upstream = "sbs"
builderNames = ["b1"]
[[change_source]]
type = "GitPoller"
repourl = "https://example.org/r.git"
branches = true
[[change_source]]
type = "PBChangeSource"
port = 9999
"##
    );
    let c = load(&text).unwrap().config;
    let SchedulerKind::SingleBranch {
        change_filter,
        tree_stable_timer,
        ..
    } = &c.schedulers[1].kind
    else {
        panic!()
    };
    assert_eq!(
        change_filter.branch.eq.as_deref(),
        Some(&["main".to_owned(), "dev".to_owned()][..])
    );
    assert_eq!(change_filter.repository.re.as_deref(), Some(".*hello.*"));
    assert_eq!(*tree_stable_timer, Some(5));
    let SchedulerKind::Nightly {
        hour,
        minute,
        day_of_week,
        ..
    } = &c.schedulers[2].kind
    else {
        panic!()
    };
    assert_eq!(
        (hour, minute, day_of_week),
        (
            &CronField::Values(vec![1, 13]),
            &CronField::Values(vec![0]),
            &CronField::Values(vec![0])
        )
    );
    assert_eq!(c.change_sources[0].name, "https://example.org/r.git");
    assert!(matches!(
        &c.change_sources[0].kind,
        ChangeSourceKind::GitPoller(g) if g.branches == GitBranches::All && g.timing.interval == 600
    ));
    assert_eq!(c.change_sources[1].name, "PBChangeSource:9999");
    let bad = format!(
        "{F1}{}",
        r#"
[[schedulers]]
type = "Nightly"
name = "n"
builderNames = ["b1"]
hour = 25
[[schedulers]]
type = "Dependent"
name = "d"
upstream = "nope"
builderNames = ["b1"]
[[services]]
type = "MailNotifier"
fromaddr = "bb@example.org"
mode = ["failling"]
"#
    );
    assert_eq!(
        errors(&bad),
        [
            "master.cfg:22:8: Nightly: 'hour' value 25 is out of range 0-23",
            "master.cfg:26:12: Dependent scheduler 'd': unknown upstream scheduler 'nope'",
            "master.cfg:28:1: MailNotifier: reporters are not supported by this master yet (remove it; an embedding program can register and run its own reporter type)",
            "master.cfg:31:8: MailNotifier: mode failling is not a valid mode (did you mean 'failing'?)",
        ]
    );
}

#[test]
fn custom_types_and_strategies() {
    let mut reg = Registry::new();
    reg.register_step("Hello", |a| {
        let who = a.req_str("who")?;
        Some(StepKind::Custom(CustomComponent::new(
            "Hello",
            a.to_json(),
            who,
        )))
    });
    let text = F1
        .replace(
            "{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }",
            "{ type = \"Hello\", who = \"you\", haltOnFailure = true }",
        )
        .replace("name = \"b1\"", "name = \"b1\"\nnextWorker = \"fastest\"");
    let err = parse_config(&text, "master.cfg", &reg)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "master.cfg:11:14: builder 'b1': nextWorker 'fastest' is not a registered strategy (no strategies are registered; embedders add them with Registry::register_strategy)"
    );
    reg.register_strategy("fastest");
    let c = parse_config(&text, "master.cfg", &reg).unwrap().config;
    let st = &c.builders[0].steps[0];
    assert!(st.common.flags.halt_on_failure);
    let StepKind::Custom(cc) = &st.kind else {
        panic!()
    };
    assert_eq!(cc.downcast::<String>().map(String::as_str), Some("you"));
    assert_eq!(c.builders[0].next_worker.as_deref(), Some("fastest"));
}

#[test]
fn load_and_check_read_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("master.cfg");
    std::fs::write(&p, F1).unwrap();
    assert!(check_config(&p, &Registry::new()).is_ok());
    let missing = dir.path().join("nope.cfg");
    let e = load_config(&missing, &Registry::new()).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("cannot read config file {}", missing.display()))
    );
}

#[test]
fn builder_api_validates() {
    let e = BuilderConfig::builder("_b")
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "builders[0].name: builder names must not start with an underscore: '_b'\nbuilders[0].workernames: builder '_b': at least one workername is required (workernames = [\"<worker name>\"])"
    );
    let e = MasterConfig::builder()
        .worker(WorkerConfig::new("w1", "pw"))
        .builder(
            BuilderConfig::builder("b")
                .workername("w2")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "builders[0].workernames[0]: builder 'b' uses unknown workers 'w2' (did you mean 'w1'?)\nprotocols: workers are configured, but c['protocols'] not (add [protocols.msgpack] with port = 9989)"
    );
}

#[test]
fn restart_required_and_diff() {
    let old = load(F1).unwrap().config;
    let new = load(
        &F1.replace("port = 9989", "port = 9990")
            .replace("[www]", "[db]\ndb_url = \"postgresql://x/y\"\n[www]")
            .replace("echo hello", "echo bye")
            .replace(
                "password = \"pw\"",
                "password = \"pw\"\n[[workers]]\nname = \"w2\"\npassword = \"p\"",
            ),
    )
    .unwrap()
    .config;
    assert_eq!(
        restart_required(&old, &new),
        [
            "Cannot change [db] db_url after the master has started; use 'buildbot restart'",
            "Cannot change [protocols.msgpack] port after the master has started; use 'buildbot restart'",
        ]
    );
    let d = diff(&old, &new);
    assert_eq!(d.workers.added, ["w2"]);
    assert_eq!(d.builders.changed, ["b1"]);
    assert!(d.schedulers.is_empty() && !d.www_changed);
    assert!(diff(&old, &old).is_empty());
}

#[test]
fn missing_required_argument_does_not_hide_other_keys() {
    let text = F1.replace(
        "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
        "steps = [{ type = \"FileUpload\", masterdest = \"x\", mode = 0o644, blocksize = 1024 }]",
    ) + "[[services]]\ntype = \"MailNotifier\"\nrelayhost = \"smtp\"\nsmtpPort = 2525\n";
    assert_eq!(
        errors(&text),
        [
            "master.cfg:12:10: FileUpload: missing required argument 'workersrc'",
            "master.cfg:17:1: MailNotifier: missing required argument 'fromaddr'",
        ]
    );
}

#[test]
fn db_url_resolution_s39() {
    let none = DbConfig::default();
    assert_eq!(none.effective_url(None), (DEFAULT_DB_URL.to_owned(), None));
    assert_eq!(
        none.effective_url(Some("mysql://a/b")),
        ("mysql://a/b".to_owned(), None)
    );
    let c = load(&F1.replace(
        "[www]",
        "[db]\nurl = \"postgresql://bb:secret@h/bb\"\n[www]",
    ))
    .unwrap()
    .config;
    let (url, warn) = c.db.effective_url(Some("sqlite:///state.sqlite"));
    assert_eq!(url, "postgresql://bb:secret@h/bb");
    let warn = warn.unwrap();
    assert!(
        warn.contains("postgresql://bb:****@h/bb") && warn.contains("sqlite:///state.sqlite"),
        "{warn}"
    );
    assert!(!warn.contains("secret"));
}

#[test]
fn renderables_in_toml() {
    let text = F1
        .replace("port = 9989", "port = \"tcp:9989\"")
        .replace("[protocols.msgpack]", "[protocols.msgpack_experimental_v7]")
        .replace(
            "command = [\"sh\", \"-c\", \"echo hello\"]",
            "command = [\"echo\", { property = \"got_revision\", default = \"none\" }, \"100%% %(prop:x)s\"], env = { B = { interpolate = \"%(kw:b)s\", kw = { b = \"%(prop:branch)s\" } } }",
        );
    let c = load(&text).unwrap().config;
    assert_eq!(c.protocols.msgpack, Some(PortConfig::new(9989)));
    let StepKind::ShellCommand(sh) = &c.builders[0].steps[0].kind else {
        panic!()
    };
    let ctx = crate::master::properties::SimpleRenderContext::new()
        .with_property("x", json!("y"))
        .with_property("branch", json!("main"));
    assert_eq!(
        sh.command.render(&ctx).unwrap(),
        json!(["echo", "none", "100% y"])
    );
    assert_eq!(sh.env["B"].render(&ctx).unwrap(), json!("main"));

    let bad = F1.replace(
        "command = [\"sh\", \"-c\", \"echo hello\"]",
        "command = [\"echo\", { property = \"p\", dflt = 1 }]",
    );
    assert_eq!(
        errors(&bad),
        [
            "master.cfg:12:72: ShellCommand: unknown argument 'dflt' of Property (Property takes 'property', 'default' and 'defaultWhenFalse')"
        ]
    );
}

#[test]
fn git_retry_and_lock_counts() {
    let ok = F1.replace(
        "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
        r#"
[[builders.steps]]
type = "Git"
repourl = "x"
retry = [5, 2]
"#,
    );
    let c = load(&ok).unwrap().config;
    let StepKind::Git(g) = &c.builders[0].steps[0].kind else {
        panic!("not Git");
    };
    assert_eq!(g.source.retry, Some((5, 2)));
    assert!(c.builders[0].steps[0].common.flags.halt_on_failure);
    let bad = F1.replace(
        "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
        r#"
[[builders.steps]]
type = "Git"
repourl = "x"
retry = 5
"#,
    );
    assert_eq!(
        errors(&bad),
        ["master.cfg:16:9: Git: 'retry' must be [delay_seconds, repeats] (retry = [10, 3])"]
    );
}

#[test]
fn change_filter_regular_expressions_are_checked() {
    let text = format!(
        "{F1}{}",
        r#"
[[schedulers]]
type = "AnyBranchScheduler"
name = "any"
builderNames = ["b1"]
change_filter = { branch_re = "feat/(", project_not_re = "ok.*" }
"#
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains(": ChangeFilter: 'branch_re' is not a valid regular expression: ")
            && errs[0].starts_with("master.cfg:"),
        "{errs:?}"
    );
}

#[test]
fn force_scheduler_fields_as_buildbot_names_them() {
    let text = format!(
        "{F1}buttonName = \"Go\"\nreason = {{ default = \"why\", required = true }}\n\
         priority = 4\nusername = {{ need_email = false, label = \"Who:\" }}\n\
         codebases = [\"\", {{ codebase = \"lib\", branch = \"stable\", revision = false, \
         project = {{ type = \"ChoiceStringParameter\", choices = [\"a\", \"b\"] }} }}]\n\
         [[schedulers.properties]]\ntype = \"StringParameter\"\nname = \"ticket\"\nregex = \"[A-Z]+\"\n"
    );
    let cfg = load(&text).unwrap().config;
    let SchedulerKind::Force(f) = &cfg.schedulers[0].kind else {
        panic!("not a force scheduler")
    };
    assert_eq!(f.button_name, "Go");
    assert_eq!(f.label, "force");
    assert_eq!(
        (&f.reason.default, f.reason.required),
        (&json!("why"), true)
    );
    assert_eq!(f.reason.size, 20);
    assert_eq!(f.priority.default, json!(4));
    assert_eq!(
        (
            f.username.label.as_str(),
            f.username.need_email,
            f.username.size
        ),
        ("Who:", false, 30)
    );
    let posted: Vec<&str> = f.all_parameters().map(|p| p.full_name.as_str()).collect();
    assert_eq!(
        posted,
        [
            "username",
            "reason",
            "priority",
            "branch",
            "project",
            "repository",
            "revision",
            "lib_branch",
            "lib_project",
            "lib_repository",
            "ticket",
        ]
    );
    let lib = &f.codebases[1];
    assert_eq!(lib.label, "Codebase: lib");
    let branch = lib.field(SourceStampField::Branch).unwrap();
    assert_eq!(
        (branch.kind, &branch.default, branch.hide),
        (ForceParameterKind::Fixed, &json!("stable"), true)
    );
    assert!(lib.field(SourceStampField::Revision).is_none());
    assert_eq!(
        lib.field(SourceStampField::Project).unwrap().default,
        json!("a")
    );
    // the REST spec: anonymous nest, one nest per codebase (named ones prefix their
    // fields), then the properties
    let spec = crate::master::rest::force_all_fields(f);
    assert_eq!(spec[0]["fields"][0]["need_email"], false);
    assert_eq!(spec[1]["fullName"], json!(null));
    assert_eq!(spec[1]["columns"], 2);
    assert_eq!(spec[2]["fullName"], "lib");
    assert_eq!(spec[2]["label"], "Codebase: lib");
    assert_eq!(spec[2]["columns"], 1, "two visible fields: {}", spec[2]);
    assert_eq!(spec[2]["fields"][0]["fullName"], "lib_branch");
    assert_eq!(spec[2]["fields"][0]["type"], "fixed");
    assert_eq!(spec[3]["name"], "ticket");
    assert_eq!(spec[3]["regex"], "[A-Z]+");
}

#[test]
fn force_scheduler_mistakes_are_located() {
    let text = format!(
        "{F1}codebases = []\nreason = {{ type = \"IntParameter\" }}\n\
         [[schedulers.properties]]\ntype = \"FileParameter\"\nname = \"f\"\n\
         [[schedulers.properties]]\nname = \"owner\"\n\
         [[schedulers.properties]]\nname = \"t\"\nregex = \"([\"\nvalue = \"x\"\n"
    );
    let errs = errors(&text);
    let want = [
        "'codebases' cannot be empty",
        "'reason' must be one of StringParameter, TextParameter, ChoiceStringParameter, FixedParameter, not IntParameter",
        "unknown parameter type 'FileParameter' (did you mean 'FixedParameter'?)",
        "owner cannot be used as a parameter name, because it is reserved",
        "t: invalid regex",
        "use default = ... instead of value = ...",
    ];
    for w in want {
        assert!(
            errs.iter()
                .any(|e| e.contains(w) && e.starts_with("master.cfg:")),
            "{w}: {errs:#?}"
        );
    }
}

#[test]
fn git_ssh_options_are_checked() {
    let step = |extra: &str| {
        F1.replace(
            "steps = [{ type = \"ShellCommand\", command = [\"sh\", \"-c\", \"echo hello\"] }]",
            &format!("steps = [{{ type = \"Git\", repourl = \"ssh://h/r\"{extra} }}]"),
        )
    };
    let errs = errors(&step(", sshHostKey = \"k\""));
    assert!(
        errs.len() == 1
            && errs[0].contains("sshPrivateKey must be provided in order use sshHostKey"),
        "{errs:?}"
    );
    let errs = errors(&step(
        ", sshPrivateKey = \"p\", sshHostKey = \"k\", sshKnownHosts = \"h\"",
    ));
    assert!(
        errs.len() == 1 && errs[0].contains("only one of sshHostKey and sshKnownHosts"),
        "{errs:?}"
    );
    let c = load(&step(
        ", sshPrivateKey = \"p\", sshHostKey = \"ssh-ed25519 AAAA\"",
    ))
    .unwrap()
    .config;
    let StepKind::Git(g) = &c.builders[0].steps[0].kind else {
        panic!()
    };
    assert_eq!(g.ssh_known_hosts.as_deref(), Some("* ssh-ed25519 AAAA"));
}
