//! `buildslave`: create, start, stop, restart and upgrade a Buildbot slave (worker).
//!
//! Thin: parses the command line, resolves it into validated options and calls
//! `buildbot_core` (the slave runtime and the `daemon` utilities).

mod cli;
mod create;
mod options;
mod start;
mod stop;
mod tac;
mod upgrade;

use std::process::ExitCode;

use buildbot_core::daemon::ui;
use structopt::StructOpt;

fn main() -> ExitCode {
    match cli::Opts::from_iter_safe(std::env::args_os()) {
        Ok(opts) => ui::finish(run(opts)),
        Err(e) => ui::parse_failed(&e.message, cli::is_help(&e)),
    }
}

/// Runs one command; the error (if any) is printed once by `main`.
fn run(opts: cli::Opts) -> anyhow::Result<ExitCode> {
    let cmd = options::resolve(opts)?;
    match cmd {
        options::Cmd::Version => {
            ui::say(false, &cli::version_text());
            Ok(ExitCode::SUCCESS)
        }
        options::Cmd::Create(o) => create::create_slave(&o),
        options::Cmd::Start(o) => start::start(&o),
        options::Cmd::Stop(o) => stop::stop(&o),
        options::Cmd::Restart(o) => stop::restart(&o),
        options::Cmd::Upgrade(o) => upgrade::upgrade_slave(&o),
    }
}
