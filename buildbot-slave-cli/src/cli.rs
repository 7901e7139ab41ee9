//! Raw command-line flags, as structopt parses them (validated in `options`).

use buildbot_core::daemon::ui::{EXIT_STATUS_HELP, Program};
use buildbot_core::protocol::WIRE_PROTOCOL;
use structopt::StructOpt;
use structopt::clap::{self, AppSettings};

/// `buildslave --version` text: 0.8's first line, then what replaces the Twisted line.
pub fn version_text() -> String {
    format!(
        "Buildslave version: {}\nImplementation: rust (buildbot-rs); wire protocol: {WIRE_PROTOCOL}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Synopsis of a subcommand, for usage errors.
pub fn synopsis(subcommand: &str) -> &'static str {
    match subcommand {
        "create-slave" => "[options] BASEDIR MASTERHOST[:PORT] SLAVENAME PASSWORD",
        "upgrade-slave" => "[BASEDIR]",
        _ => "[options] [BASEDIR]",
    }
}

/// This program, for the command-line code it shares with the other one.
pub const PROGRAM: Program = Program {
    name: "buildslave",
    daemon: "buildslave",
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
    name = "buildslave",
    about = "Create and run a Buildbot slave (worker).",
    after_help = EXIT_STATUS_HELP,
    global_settings = &[AppSettings::DisableVersion, AppSettings::VersionlessSubcommands]
)]
pub struct Opts {
    /// Print the version and exit
    #[structopt(long)]
    pub version: bool,

    #[structopt(subcommand)]
    pub cmd: Option<Command>,
}

// parsed once per run: the size difference does not matter
#[allow(clippy::large_enum_variant)]
#[derive(Debug, StructOpt)]
pub enum Command {
    /// Create a new buildslave base directory
    #[structopt(name = "create-slave", alias = "create-worker")]
    CreateSlave(CreateSlaveFlags),
    /// Start a buildslave
    #[structopt(name = "start")]
    Start(StartFlags),
    /// Stop a buildslave
    #[structopt(name = "stop")]
    Stop(StopFlags),
    /// Restart a buildslave (stop if running, then start)
    #[structopt(name = "restart")]
    Restart(StartFlags),
    /// Convert an older (Python) buildbot.tac into the current format
    #[structopt(name = "upgrade-slave", alias = "upgrade-worker")]
    UpgradeSlave(UpgradeFlags),
}

#[derive(Debug, StructOpt)]
#[structopt(
    after_help = "ARGS are: BASEDIR MASTERHOST[:PORT] SLAVENAME PASSWORD\n\nThe name, password, host and port come from the master's administrator.\nPORT defaults to 9989; IPv6 addresses are written [addr]:port."
)]
pub struct CreateSlaveFlags {
    /// Do not emit the commands being run
    #[structopt(short, long)]
    pub quiet: bool,
    /// Re-use an existing directory (never overwrites buildbot.tac or info files)
    #[structopt(short, long)]
    pub force: bool,
    /// Create a relocatable buildbot.tac
    #[structopt(short, long)]
    pub relocatable: bool,
    /// Do not rotate twistd.log ourselves (leave it to logrotate)
    #[structopt(short = "n", long = "no-logrotate")]
    pub no_logrotate: bool,
    /// Interval at which keepalives should be sent (in seconds); 0 disables them
    #[structopt(short = "k", long, default_value = "600")]
    pub keepalive: String,
    /// Maximum time between connection attempts (in seconds)
    #[structopt(long, default_value = "300")]
    pub maxdelay: String,
    /// Umask of the slave process (octal, e.g. 022 or 0o22), or None
    #[structopt(long, default_value = "None")]
    pub umask: String,
    /// (deprecated) run commands in a pseudo-terminal when the step does not say: 0 or 1
    #[structopt(long)]
    pub usepty: Option<String>,
    /// Size at which to rotate twistd.log (bytes)
    #[structopt(short = "s", long = "log-size", default_value = "10000000")]
    pub log_size: String,
    /// Number of rotated twistd.log files to keep, or None for all
    #[structopt(short = "l", long = "log-count", default_value = "10")]
    pub log_count: String,
    /// Allow the slave to initiate a graceful shutdown: 'signal' (SIGHUP) or 'file' (shutdown.stamp)
    #[structopt(short = "a", long = "allow-shutdown")]
    pub allow_shutdown: Option<String>,
    /// Give up and exit after this many failed connection attempts, or None
    #[structopt(long, default_value = "None")]
    pub maxretries: String,
    /// Number of CPUs reported to the master, or None to detect
    #[structopt(long, default_value = "None")]
    pub numcpus: String,
    /// Use TLS to connect to the master
    #[structopt(long = "use-tls")]
    pub use_tls: bool,
    /// Delete directories that the master does not need when connecting
    #[structopt(long = "delete-leftover-dirs")]
    pub delete_leftover_dirs: bool,
    /// Protocol to use (only msgpack, i.e. msgpack_experimental_v7)
    #[structopt(long, default_value = "msgpack")]
    pub protocol: String,
    /// Endpoint string (tcp:host=H:port=P) overriding MASTERHOST[:PORT]
    #[structopt(long = "connection-string")]
    pub connection_string: Option<String>,
    /// HTTP proxy to tunnel through (tcp:host=H:port=P)
    #[structopt(long = "proxy-connection-string")]
    pub proxy_connection_string: Option<String>,
    /// BASEDIR MASTERHOST[:PORT] SLAVENAME PASSWORD
    #[structopt(name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct StartFlags {
    /// Do not wait for the slave to connect; print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Run in the foreground (logs also go to stderr)
    #[structopt(long)]
    pub nodaemon: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct StopFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Return right after sending SIGTERM
    #[structopt(long = "no-wait")]
    pub no_wait: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}

#[derive(Debug, StructOpt)]
pub struct UpgradeFlags {
    /// Print nothing on success
    #[structopt(short, long)]
    pub quiet: bool,
    /// Base directory (default: the current directory)
    #[structopt(name = "BASEDIR")]
    pub basedir: Vec<String>,
}
