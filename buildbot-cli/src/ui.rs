//! Everything the program writes to the terminal goes through here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::process::ExitCode;

/// Progress text on stdout, unless quiet.
pub fn say(quiet: bool, msg: &str) {
    if !quiet {
        println!("{msg}");
        let _ = std::io::stdout().flush();
    }
}

/// Warnings and errors on stderr (never suppressed by `-q`).
pub fn error(msg: &str) {
    eprintln!("{msg}");
}

/// Reports a command-line parsing problem: help goes to stdout with status 0,
/// anything else is a usage error (status 1, as documented).
pub fn clap_error(e: &structopt::clap::Error) -> ExitCode {
    use structopt::clap::ErrorKind;
    match e.kind {
        ErrorKind::HelpDisplayed | ErrorKind::VersionDisplayed => {
            println!("{}", e.message);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{}", e.message);
            ExitCode::from(crate::error::ErrorKind::Usage.exit_code())
        }
    }
}
