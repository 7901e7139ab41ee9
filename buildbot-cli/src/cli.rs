//! Raw command-line flags, as structopt parses them (validated in `options`).

use buildbot_core::daemon::ui::{EXIT_STATUS_HELP, Program};
use structopt::StructOpt;
use structopt::clap::{self, AppSettings};

/// Synopsis of a subcommand, for usage errors.
pub fn synopsis(subcommand: &str) -> &'static str {
    match subcommand {
        "checkconfig" => "[options] [FILE|BASEDIR]",
        "demo" => "[--once] [--dir DIR]",
        "sendchange" => "--master HOST:PORT --who AUTHOR [options] [FILES...]",
        "user" => "--master HOST:PORT --username U --passwd P --op add|update|remove|get [options]",
        _ => "[options] [BASEDIR]",
    }
}

/// This program, for the command-line code it shares with the other one.
pub const PROGRAM: Program = Program {
    name: "buildbot",
    daemon: "buildmaster",
    synopsis,
};

/// Whether a command line that did not parse asked for `--help` (which is no failure).
pub fn is_help(e: &clap::Error) -> bool {
    matches!(
        e.kind,
        clap::ErrorKind::HelpDisplayed | clap::ErrorKind::VersionDisplayed
    )
}

#[derive(Debug, StructOpt)]
#[structopt(
    name = "buildbot",
    about = "Create, run and maintain a Buildbot master.",
    after_help = EXIT_STATUS_HELP,
    global_settings = &[AppSettings::DisableVersion, AppSettings::VersionlessSubcommands]
)]
pub struct Opts {
    /// Print the version and exit
    #[structopt(long)]
    pub version: bool,
    /// Show more detail (debug log lines of the commands that log)
    #[structopt(short, long)]
    pub verbose: bool,

    #[structopt(subcommand)]
    pub cmd: Option<Command>,
}

// the retired commands' arguments are accepted and ignored; parsed once per run, so the
// size difference of the variants does not matter
#[allow(dead_code, clippy::large_enum_variant)]
#[derive(Debug, StructOpt)]
pub enum Command {
    /// Create a new buildmaster base directory
    #[structopt(name = "create-master")]
    CreateMaster(CreateMasterFlags),
    /// Start a buildmaster
    #[structopt(name = "start")]
    Start(StartFlags),
    /// Stop a buildmaster
    #[structopt(name = "stop")]
    Stop(StopFlags),
    /// Restart a buildmaster (stop if running, then start)
    #[structopt(name = "restart")]
    Restart(RestartFlags),
    /// Make a running buildmaster re-read its configuration (SIGHUP)
    #[structopt(name = "reconfig", alias = "sighup")]
    Reconfig(ReconfigFlags),
    /// Upgrade a buildmaster directory and its database to this version
    #[structopt(name = "upgrade-master")]
    UpgradeMaster(UpgradeFlags),
    /// Check a master configuration file for errors
    #[structopt(name = "checkconfig")]
    CheckConfig(CheckConfigFlags),
    /// Compact the database of a stopped master (re-pack logs, VACUUM)
    #[structopt(name = "cleanupdb")]
    CleanupDb(CleanupDbFlags),
    /// Send a change to a master's change port (PBChangeSource)
    #[structopt(name = "sendchange")]
    SendChange(SendChangeFlags),
    /// Manage users in a master's database (CommandlineUserManager)
    #[structopt(name = "user")]
    User(UserFlags),
    /// Run a throw-away master and slave, force a build and show its log
    #[structopt(name = "demo")]
    Demo(DemoFlags),
    /// (retired) use the web UI or the REST API instead
    #[structopt(name = "statuslog", setting = AppSettings::Hidden)]
    Statuslog(RetiredArgs),
    /// (retired) use the web UI instead
    #[structopt(name = "statusgui", setting = AppSettings::Hidden)]
    Statusgui(RetiredArgs),
    /// (retired) use `buildbot reconfig` and the web UI instead
    #[structopt(name = "debugclient", setting = AppSettings::Hidden)]
    Debugclient(RetiredArgs),
}

#[derive(Debug, StructOpt)]
#[structopt(settings = &[AppSettings::TrailingVarArg, AppSettings::AllowLeadingHyphen])]
pub struct RetiredArgs {
    /// Ignored: the command is retired.
    #[allow(dead_code)]
    #[structopt(name = "ARGS", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct CreateMasterFlags {
    /// Do not emit the commands being run
    #[structopt(short, long)]
    pub quiet: bool,
    /// Create a relocatable buildbot.tac
    #[structopt(short, long)]
    pub relocatable: bool,
    /// Re-use an existing directory (never overwrites master.cfg or the database)
    #[structopt(short, long)]
    pub force: bool,
    /// Name of the config file, relative to BASEDIR or absolute
    #[structopt(short, long, default_value = "master.cfg")]
    pub config: String,
    /// Size at which to rotate twistd.log (bytes)
    #[structopt(short = "s", long = "log-size", default_value = "10000000")]
    pub log_size: String,
    /// Number of rotated twistd.log files to keep, or None for all
    #[structopt(short = "l", long = "log-count", default_value = "10")]
    pub log_count: String,
    /// Do not rotate twistd.log ourselves (leave it to logrotate)
    #[structopt(short = "n", long = "no-logrotate")]
    pub no_logrotate: bool,
    /// Database URL (sqlite:///state.sqlite, postgresql://user:pass@host/db, mysql://...)
    #[structopt(long, default_value = "sqlite:///state.sqlite")]
    pub db: String,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct StartFlags {
    /// Do not wait for the master to start; print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Run in the foreground (logs also go to stderr)
    #[structopt(long)]
    pub nodaemon: bool,
    /// Seconds to wait for the master to report that it runs (default 10, or $START_TIMEOUT)
    #[structopt(long = "start_timeout", alias = "start-timeout")]
    pub start_timeout: Option<String>,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct StopFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Clean shutdown: let running builds finish (SIGUSR1), waiting with no time limit
    #[structopt(long)]
    pub clean: bool,
    /// Return right after sending the signal
    #[structopt(long = "no-wait")]
    pub no_wait: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct RestartFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Run in the foreground after the stop
    #[structopt(long)]
    pub nodaemon: bool,
    /// Clean shutdown: let running builds finish before restarting
    #[structopt(long)]
    pub clean: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct ReconfigFlags {
    /// Send the signal and return
    #[structopt(short, long)]
    pub quiet: bool,
    /// Give up when the log shows no progress for this many seconds
    #[structopt(
        long = "progress_timeout",
        alias = "progress-timeout",
        default_value = "10"
    )]
    pub progress_timeout: String,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct UpgradeFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Overwrite edited stock files (instead of writing FILE.new beside them)
    #[structopt(short, long)]
    pub replace: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct CheckConfigFlags {
    /// Print nothing when the config is good (errors still go to stderr)
    #[structopt(short, long)]
    pub quiet: bool,
    /// A config file, or a master directory (its tac's configfile); default: .
    #[structopt(name = "FILE|BASEDIR")]
    pub target: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct CleanupDbFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Re-compress every log, not only the ones with small chunks
    #[structopt(short, long)]
    pub force: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct DemoFlags {
    /// Force one build, print it, stop everything; exit 0 when it succeeded
    #[structopt(long)]
    pub once: bool,
    /// Directory for the demo master and slave (default: a new temporary directory)
    #[structopt(long)]
    pub dir: Option<String>,
}

#[derive(Debug, StructOpt)]
pub struct SendChangeFlags {
    /// Location of the master's change port, HOST:PORT
    #[structopt(short, long)]
    pub master: Option<String>,
    /// Authentication USER:PASS for the change source (USER alone: prompt for the password)
    #[structopt(short, long)]
    pub auth: Option<String>,
    /// Author of the commit
    #[structopt(short = "W", long)]
    pub who: Option<String>,
    /// Repository specifier
    #[structopt(short = "R", long, default_value = "")]
    pub repository: String,
    /// Type of VC: cvs, svn, darcs, hg, bzr, git, mtn, p4
    #[structopt(short = "s", long)]
    pub vc: Option<String>,
    /// Project specifier
    #[structopt(short = "P", long, default_value = "")]
    pub project: String,
    /// Branch specifier
    #[structopt(short, long)]
    pub branch: Option<String>,
    /// Category of the change
    #[structopt(short = "C", long)]
    pub category: Option<String>,
    /// Codebase of the change
    #[structopt(long)]
    pub codebase: Option<String>,
    /// Revision specifier
    #[structopt(short, long)]
    pub revision: Option<String>,
    /// Read the revision from this file
    #[structopt(long = "revision_file", alias = "revision-file")]
    pub revision_file: Option<String>,
    /// A property for the change, NAME:VALUE (repeatable)
    #[structopt(short = "p", long = "property")]
    pub property: Vec<String>,
    /// Log message
    #[structopt(short, long)]
    pub comments: Option<String>,
    /// Read the log message from this file (- for stdin)
    #[structopt(short = "F", long)]
    pub logfile: Option<String>,
    /// Timestamp of the change, seconds since the epoch
    #[structopt(short, long)]
    pub when: Option<String>,
    /// Revision link (URL)
    #[structopt(short = "l", long, default_value = "")]
    pub revlink: String,
    /// Encoding of the other arguments
    #[structopt(short, long, default_value = "utf8")]
    pub encoding: String,
    /// Files changed
    #[structopt(name = "FILES")]
    pub files: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct UserFlags {
    /// Location of the buildmaster's user service (host:port)
    #[structopt(short, long)]
    pub master: Option<String>,
    /// Username for PB authentication
    #[structopt(short, long)]
    pub username: Option<String>,
    /// Password for PB authentication
    #[structopt(short, long)]
    pub passwd: Option<String>,
    /// User management operation: add, remove, update, get
    #[structopt(long)]
    pub op: Option<String>,
    /// Username to set for a given user (update only, with --bb_password)
    #[structopt(long = "bb_username")]
    pub bb_username: Option<String>,
    /// Password to set for a given user (update only, with --bb_username)
    #[structopt(long = "bb_password")]
    pub bb_password: Option<String>,
    /// User identifiers, for remove and get (--ids=id1,id2; repeatable)
    #[structopt(long)]
    pub ids: Vec<String>,
    /// User information TYPE=VALUE,... for add; ID:TYPE=VALUE,... for update (repeatable)
    #[structopt(long)]
    pub info: Vec<String>,
}
