//! Raw flags → validated options, in one place.

use std::path::PathBuf;
use std::time::Duration;

use buildbot_core::daemon;
use buildbot_core::daemon::ui::{CliError, ErrorKind};

use crate::cli::{self, Command, PROGRAM};
use crate::tac::{MASTER_MARKER, MasterTac};

/// A validated command.
#[derive(Debug)]
pub enum Cmd {
    Version,
    Create(Box<CreateOptions>),
    Start(StartOptions),
    Stop(StopOptions),
    Restart(StartOptions),
    Reconfig(ReconfigOptions),
    Upgrade(UpgradeOptions),
    CheckConfig(CheckConfigOptions),
    CleanupDb(CleanupDbOptions),
    Demo(DemoOptions),
    SendChange(Box<cli::SendChangeFlags>),
    User(cli::UserFlags),
    Retired(&'static str, &'static str),
}

#[derive(Debug)]
pub struct CreateOptions {
    pub quiet: bool,
    pub force: bool,
    pub basedir: PathBuf,
    pub tac: MasterTac,
    pub db_url: String,
}

#[derive(Debug, Clone)]
pub struct StartOptions {
    pub quiet: bool,
    pub nodaemon: bool,
    /// `--clean` of `restart`.
    pub clean: bool,
    pub start_timeout: Option<Duration>,
    /// `buildbot -v`: debug lines in twistd.log.
    pub verbose: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct StopOptions {
    pub quiet: bool,
    pub clean: bool,
    pub no_wait: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct ReconfigOptions {
    pub quiet: bool,
    pub progress_timeout: Duration,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct UpgradeOptions {
    pub quiet: bool,
    pub replace: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct CheckConfigOptions {
    pub quiet: bool,
    pub target: PathBuf,
}

#[derive(Debug)]
pub struct CleanupDbOptions {
    pub quiet: bool,
    pub force: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct DemoOptions {
    pub once: bool,
    pub dir: Option<PathBuf>,
}

const COMMANDS: &str = "create-master, start, stop, restart, reconfig, upgrade-master, checkconfig, cleanupdb, sendchange, user, demo";

/// Resolves the parsed command line.
pub fn resolve(opts: cli::Opts) -> Result<Cmd, CliError> {
    if opts.version {
        return Ok(Cmd::Version);
    }
    let verbose = opts.verbose;
    let Some(cmd) = opts.cmd else {
        return Err(CliError::new(
            ErrorKind::Usage,
            format!("must specify a command ({COMMANDS}); see 'buildbot --help'"),
        ));
    };
    Ok(match cmd {
        Command::CreateMaster(f) => Cmd::Create(Box::new(resolve_create(f)?)),
        Command::Start(f) => Cmd::Start(StartOptions {
            quiet: f.quiet,
            nodaemon: f.nodaemon,
            clean: false,
            start_timeout: match f.start_timeout {
                None => None,
                Some(s) => Some(seconds("start", "start_timeout", &s)?),
            },
            verbose,
            basedir: PROGRAM.basedir("start", &f.basedir)?,
        }),
        Command::Restart(f) => Cmd::Restart(StartOptions {
            quiet: f.quiet,
            nodaemon: f.nodaemon,
            clean: f.clean,
            start_timeout: None,
            verbose,
            basedir: PROGRAM.basedir("restart", &f.basedir)?,
        }),
        Command::Stop(f) => Cmd::Stop(StopOptions {
            quiet: f.quiet,
            clean: f.clean,
            no_wait: f.no_wait,
            basedir: PROGRAM.basedir("stop", &f.basedir)?,
        }),
        Command::Reconfig(f) => Cmd::Reconfig(ReconfigOptions {
            quiet: f.quiet,
            progress_timeout: seconds("reconfig", "progress_timeout", &f.progress_timeout)?,
            basedir: PROGRAM.basedir("reconfig", &f.basedir)?,
        }),
        Command::UpgradeMaster(f) => Cmd::Upgrade(UpgradeOptions {
            quiet: f.quiet,
            replace: f.replace,
            basedir: PROGRAM.basedir("upgrade-master", &f.basedir)?,
        }),
        Command::CheckConfig(f) => Cmd::CheckConfig(CheckConfigOptions {
            quiet: f.quiet,
            target: PROGRAM.basedir("checkconfig", &f.target)?,
        }),
        Command::CleanupDb(f) => Cmd::CleanupDb(CleanupDbOptions {
            quiet: f.quiet,
            force: f.force,
            basedir: PROGRAM.basedir("cleanupdb", &f.basedir)?,
        }),
        Command::Demo(f) => Cmd::Demo(DemoOptions {
            once: f.once,
            dir: match f.dir {
                None => None,
                Some(d) => {
                    Some(daemon::expand_basedir(Some(&d)).map_err(|e| PROGRAM.usage("demo", e))?)
                }
            },
        }),
        Command::SendChange(f) => Cmd::SendChange(Box::new(f)),
        Command::User(f) => Cmd::User(f),
        Command::Statuslog(_) => Cmd::Retired(
            "statuslog",
            "the web UI and the REST API (/api/v2/, with server-sent events for live updates) replace it",
        ),
        Command::Statusgui(_) => Cmd::Retired(
            "statusgui",
            "the web UI (http://MASTER:8010/) and the REST API (/api/v2/) replace it",
        ),
        Command::Debugclient(_) => Cmd::Retired(
            "debugclient",
            "use `buildbot reconfig` to reload the configuration and the web UI or the REST API (/api/v2/) to force builds",
        ),
    })
}

fn seconds(sub: &str, name: &str, v: &str) -> Result<Duration, CliError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            PROGRAM.usage(
                sub,
                format!("{name} parameter needs to be a number of seconds"),
            )
        })
}

const CREATE: &str = "create-master";

/// Checks the shape of a database URL without connecting (S26).
pub fn check_db_url(url: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "could not parse database URL '{}'",
            buildbot_db::mask_password(url)
        )
    };
    let Some((scheme, rest)) = url.trim().split_once(':') else {
        return Err(bad());
    };
    let base = scheme
        .split('+')
        .next()
        .unwrap_or(scheme)
        .to_ascii_lowercase();
    match base.as_str() {
        "sqlite" => {
            if rest.is_empty() || rest == "//" || rest.starts_with("///") || rest == ":memory:" {
                Ok(())
            } else {
                Err(bad())
            }
        }
        "postgresql" | "postgres" | "mysql" | "mariadb" => {
            let rest = rest.strip_prefix("//").ok_or_else(bad)?;
            let main = rest.split('?').next().unwrap_or("");
            let (authority, db) = main.split_once('/').ok_or_else(bad)?;
            if db.is_empty() || db.contains('/') {
                return Err(bad());
            }
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if hostport.is_empty() {
                return Err(bad());
            }
            if let Some((_, port)) = hostport.rsplit_once(':')
                && !hostport.ends_with(']')
                && port.parse::<u16>().is_err()
            {
                return Err(bad());
            }
            Ok(())
        }
        _ => Err(bad()),
    }
}

fn resolve_create(f: cli::CreateMasterFlags) -> Result<CreateOptions, CliError> {
    let log_size = f
        .log_size
        .trim()
        .parse::<u64>()
        .map_err(|_| PROGRAM.usage(CREATE, "log-size parameter needs to be an int"))?;
    let log_count = PROGRAM.log_count(CREATE, &f.log_count)?;
    if f.config.is_empty() {
        return Err(PROGRAM.usage(CREATE, "config parameter must not be empty"));
    }
    check_db_url(&f.db).map_err(|m| CliError::new(ErrorKind::Database, m))?;
    let basedir = PROGRAM.basedir(CREATE, &f.basedir)?;
    let tac = MasterTac {
        application: MASTER_MARKER.to_owned(),
        basedir: if f.relocatable {
            ".".to_owned()
        } else {
            basedir.display().to_string()
        },
        configfile: f.config,
        db_url: Some(f.db.clone()),
        umask: None,
        rotate_length: (!f.no_logrotate).then_some(log_size),
        max_rotated_files: if f.no_logrotate { None } else { log_count },
        log_file: None,
    };
    Ok(CreateOptions {
        quiet: f.quiet,
        force: f.force,
        basedir,
        tac,
        db_url: f.db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls() {
        for ok in [
            "sqlite:///state.sqlite",
            "sqlite:////abs/x.sqlite",
            "sqlite://",
            "postgresql://u:p@h:5432/db",
            "postgresql+psycopg2://h/db",
            "mysql://root@127.0.0.1/bb?max_idle=300",
        ] {
            assert!(check_db_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "nonsense",
            "foo://h/db",
            "postgresql://h",
            "postgresql://u:secret@h:x/db",
        ] {
            let e = check_db_url(bad).unwrap_err();
            assert!(e.starts_with("could not parse database URL"), "{e}");
            assert!(!e.contains("secret"));
        }
    }
}
