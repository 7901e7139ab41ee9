//! `buildbot`: create, run, reconfigure and upgrade a Buildbot master.
//!
//! Thin: parses the command line, resolves it into validated options and calls
//! `buildbot_core` (config, daemon utilities, engine) and `buildbot_db`.

mod assets;
mod checkconfig;
mod cleanupdb;
mod cli;
mod create;
mod demo;
mod engine;
mod options;
mod pb;
mod reconfig;
mod sendchange;
mod start;
mod stop;
mod tac;
mod upgrade;
mod user;

use std::process::ExitCode;

use buildbot_core::daemon::ui;
use structopt::StructOpt;

fn main() -> ExitCode {
    match cli::Opts::from_iter_safe(std::env::args_os()) {
        Ok(opts) => ui::finish(run(opts)),
        Err(e) => ui::parse_failed(&e.message, cli::is_help(&e)),
    }
}

/// `buildbot --version` text: 0.8's first line, then what replaces the Twisted line.
fn version_text() -> String {
    let sqlite = async_std::task::block_on(start::sqlite_version())
        .map_or_else(String::new, |v| format!("; SQLite version {v} (bundled)"));
    format!(
        "Buildbot version: {}\nImplementation: rust (buildbot-rs); wire protocol: {}{sqlite}",
        env!("CARGO_PKG_VERSION"),
        buildbot_core::protocol::WIRE_PROTOCOL
    )
}

/// Runs one command; the error (if any) is printed once by `main`.
fn run(opts: cli::Opts) -> anyhow::Result<ExitCode> {
    let verbose = opts.verbose;
    let cmd = options::resolve(opts)?;
    if verbose && !matches!(cmd, options::Cmd::Start(_) | options::Cmd::Restart(_)) {
        let _ = buildbot_core::daemon::init_logging(
            buildbot_core::daemon::LogTarget::Stderr,
            Some("debug"),
        );
    }
    match cmd {
        options::Cmd::Version => {
            ui::say(false, &version_text());
            Ok(ExitCode::SUCCESS)
        }
        options::Cmd::Create(o) => create::create_master(&o),
        options::Cmd::Start(o) => start::start(&o),
        options::Cmd::Stop(o) => stop::stop(&o),
        options::Cmd::Restart(o) => stop::restart(&o),
        options::Cmd::Reconfig(o) => reconfig::reconfig(&o),
        options::Cmd::Upgrade(o) => upgrade::upgrade_master(&o),
        options::Cmd::CheckConfig(o) => checkconfig::checkconfig(&o),
        options::Cmd::CleanupDb(o) => cleanupdb::cleanupdb(&o),
        options::Cmd::Demo(o) => demo::demo(&o),
        options::Cmd::SendChange(f) => sendchange::sendchange(*f),
        options::Cmd::User(f) => user::user(f),
        options::Cmd::Retired(name, instead) => Err(ui::CliError::new(
            ui::ErrorKind::Retired,
            format!("`buildbot {name}` was retired (it spoke the 0.8 status port): {instead}"),
        )
        .into()),
    }
}
