//! `buildslave`: create, start, stop, restart and upgrade a Buildbot slave (worker).
//!
//! Thin: parses the command line, resolves it into validated options and calls
//! `buildbot_core` (the worker runtime and the `daemon` utilities).

mod cli;
mod create;
mod error;
mod options;
mod start;
mod stop;
mod tac;
mod ui;
mod upgrade;

use std::process::ExitCode;

use structopt::StructOpt;

/// Size of async-std's executor pool (unless the user sets `ASYNC_STD_THREAD_COUNT`, which
/// is still honoured): the slave's tasks are I/O-bound (process output is read by plain
/// threads), and every executor thread costs memory (stack, malloc arena) while idle. One
/// thread also behaves like the Python worker's single reactor thread.
const EXECUTOR_THREADS: usize = 1;

fn main() -> ExitCode {
    // Configures the executor that async-std starts lazily on its first use (the first
    // configuration wins), without changing the environment that build commands inherit.
    async_global_executor::init_with_config(
        async_global_executor::GlobalExecutorConfig::default()
            .with_env_var("ASYNC_STD_THREAD_COUNT")
            .with_min_threads(EXECUTOR_THREADS)
            .with_thread_name_fn(|| "async-std/runtime".to_owned()),
    );
    let opts = match cli::Opts::from_iter_safe(std::env::args_os()) {
        Ok(opts) => opts,
        Err(e) => return ui::clap_error(&e),
    };
    match run(opts) {
        Ok(code) => code,
        Err(e) => {
            ui::error(&format!("{e:#}"));
            ExitCode::from(error::exit_code(&e))
        }
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
