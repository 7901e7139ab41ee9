//! Raw flags → validated options, in one place.

use std::path::PathBuf;

use buildbot_core::daemon;
use buildbot_core::daemon::parse_octal;
use buildbot_core::daemon::ui::{CliError, ErrorKind};
use buildbot_core::protocol::WIRE_PROTOCOL;

use crate::cli::{self, Command, PROGRAM};
use crate::tac::{SLAVE_MARKER, SlaveTac};

/// A validated command.
#[derive(Debug)]
pub enum Cmd {
    Version,
    Create(Box<CreateOptions>),
    Start(StartOptions),
    Stop(StopOptions),
    Restart(StartOptions),
    Upgrade(UpgradeOptions),
}

#[derive(Debug)]
pub struct CreateOptions {
    pub quiet: bool,
    pub force: bool,
    pub basedir: PathBuf,
    /// The tac to write.
    pub tac: SlaveTac,
    /// `--usepty` was given (deprecated).
    pub usepty_given: bool,
}

#[derive(Debug)]
pub struct StartOptions {
    pub quiet: bool,
    pub nodaemon: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct StopOptions {
    pub quiet: bool,
    pub no_wait: bool,
    pub basedir: PathBuf,
}

#[derive(Debug)]
pub struct UpgradeOptions {
    pub quiet: bool,
    pub basedir: PathBuf,
}

/// Resolves the parsed command line.
pub fn resolve(opts: cli::Opts) -> Result<Cmd, CliError> {
    if opts.version {
        return Ok(Cmd::Version);
    }
    let Some(cmd) = opts.cmd else {
        return Err(CliError::new(
            ErrorKind::Usage,
            "must specify a command (create-slave, start, stop, restart, upgrade-slave); see 'buildslave --help'",
        ));
    };
    Ok(match cmd {
        Command::CreateSlave(f) => Cmd::Create(Box::new(resolve_create(f)?)),
        Command::Start(f) => Cmd::Start(StartOptions {
            quiet: f.quiet,
            nodaemon: f.nodaemon,
            basedir: PROGRAM.basedir("start", &f.basedir)?,
        }),
        Command::Restart(f) => Cmd::Restart(StartOptions {
            quiet: f.quiet,
            nodaemon: f.nodaemon,
            basedir: PROGRAM.basedir("restart", &f.basedir)?,
        }),
        Command::Stop(f) => Cmd::Stop(StopOptions {
            quiet: f.quiet,
            no_wait: f.no_wait,
            basedir: PROGRAM.basedir("stop", &f.basedir)?,
        }),
        Command::UpgradeSlave(f) => Cmd::Upgrade(UpgradeOptions {
            quiet: f.quiet,
            basedir: PROGRAM.basedir("upgrade-slave", &f.basedir)?,
        }),
    })
}

const CREATE: &str = "create-slave";

fn number(name: &str, v: &str) -> Result<u64, CliError> {
    v.trim()
        .parse::<u64>()
        .map_err(|_| PROGRAM.usage(CREATE, format!("{name} parameter needs to be a number")))
}

fn number_or_none(name: &str, v: &str) -> Result<Option<u32>, CliError> {
    if v == "None" {
        return Ok(None);
    }
    v.trim().parse::<u32>().map(Some).map_err(|_| {
        PROGRAM.usage(
            CREATE,
            format!("{name} parameter needs to be a number or None"),
        )
    })
}

/// Splits MASTERHOST[:PORT] (IPv6 as `[addr]:port`); the port defaults to 9989.
pub fn parse_master(arg: &str) -> Result<(String, u16), CliError> {
    let lower = arg.to_ascii_lowercase();
    if ["http:", "https:", "ws:", "wss:"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Err(PROGRAM.usage(CREATE, "<master> is not a URL - do not use URL"));
    }
    let (host, port) = if let Some(rest) = arg.strip_prefix('[') {
        let Some((addr, tail)) = rest.split_once(']') else {
            return Err(PROGRAM.usage(CREATE, format!("invalid <master> argument '{arg}'")));
        };
        match tail {
            "" => (addr, None),
            t => match t.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => {
                    return Err(PROGRAM.usage(CREATE, format!("invalid <master> argument '{arg}'")));
                }
            },
        }
    } else {
        match arg.matches(':').count() {
            0 => (arg, None),
            1 => {
                let (h, p) = arg.split_once(':').unwrap_or((arg, ""));
                (h, Some(p))
            }
            _ => {
                return Err(PROGRAM.usage(
                    CREATE,
                    format!(
                        "invalid <master> argument '{arg}', if it is an ipv6 address, it must be enclosed by []"
                    ),
                ));
            }
        }
    };
    if host.is_empty() {
        return Err(PROGRAM.usage(
            CREATE,
            format!("invalid <master> argument '{arg}': empty host"),
        ));
    }
    let port = match port {
        None => 9989,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            PROGRAM.usage(
                CREATE,
                format!("invalid master port '{p}', needs to be a number"),
            )
        })?,
    };
    Ok((host.to_owned(), port))
}

/// Reads `tcp:host=H:port=P` (Twisted endpoint syntax, the subset that names a host).
pub fn parse_endpoint(s: &str) -> Option<(String, u16)> {
    let mut parts = s.split(':');
    let kind = parts.next()?;
    if kind != "tcp" && kind != "tls" {
        return None;
    }
    let (mut host, mut port) = (None, None);
    for p in parts {
        match p.split_once('=') {
            Some(("host", h)) => host = Some(h.to_owned()),
            Some(("port", v)) => port = v.parse::<u16>().ok(),
            Some(_) => {}
            None => port = port.or_else(|| p.parse::<u16>().ok()),
        }
    }
    Some((host.filter(|h| !h.is_empty())?, port?))
}

fn resolve_create(f: cli::CreateSlaveFlags) -> Result<CreateOptions, CliError> {
    if f.args.len() != 4 {
        return Err(PROGRAM.usage(CREATE, "incorrect number of arguments"));
    }
    let (host, port) = parse_master(&f.args[1])?;
    let keepalive = number("keepalive", &f.keepalive)?;
    let maxdelay = number("maxdelay", &f.maxdelay)?;
    let log_size = number("log-size", &f.log_size)?;
    let log_count = PROGRAM.log_count(CREATE, &f.log_count)?;
    let maxretries = number_or_none("maxretries", &f.maxretries)?;
    let numcpus = number_or_none("numcpus", &f.numcpus)?;
    let umask = if f.umask == "None" {
        None
    } else {
        Some(parse_octal(&f.umask).ok_or_else(|| {
            PROGRAM.usage(
                CREATE,
                "umask parameter needs to be an octal number (e.g. 022 or 0o22) or None",
            )
        })?)
    };
    let usepty = match f.usepty.as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => {
            return Err(PROGRAM.usage(CREATE, "usepty parameter needs to be 0 or 1"));
        }
    };
    let allow_shutdown = match f.allow_shutdown.as_deref() {
        None => None,
        Some(a @ ("signal" | "file")) => Some(a.to_owned()),
        Some(_) => {
            return Err(PROGRAM.usage(
                CREATE,
                "allow-shutdown needs to be one of 'signal' or 'file'",
            ));
        }
    };
    let protocol = match f.protocol.as_str() {
        "msgpack" | WIRE_PROTOCOL => WIRE_PROTOCOL.to_owned(),
        other => {
            return Err(PROGRAM.usage(
                CREATE,
                format!(
                    "protocol '{other}' is not supported; this buildslave speaks msgpack ({WIRE_PROTOCOL})"
                ),
            ));
        }
    };
    if let Some(cs) = &f.connection_string
        && parse_endpoint(cs).is_none()
    {
        return Err(PROGRAM.usage(
            CREATE,
            format!("connection-string '{cs}' must look like tcp:host=HOST:port=PORT"),
        ));
    }
    let basedir = daemon::expand_basedir(Some(&f.args[0])).map_err(|e| PROGRAM.usage(CREATE, e))?;
    let (buildmaster_host, port) = match &f.connection_string {
        Some(_) => (None, None),
        None => (Some(host), Some(port)),
    };
    let tac = SlaveTac {
        application: SLAVE_MARKER.to_owned(),
        basedir: if f.relocatable {
            ".".to_owned()
        } else {
            basedir.display().to_string()
        },
        buildmaster_host,
        port,
        connection_string: f.connection_string,
        slavename: f.args[2].clone(),
        passwd: f.args[3].clone(),
        protocol,
        use_tls: f.use_tls,
        proxy_connection_string: f.proxy_connection_string,
        path: None,
        keepalive,
        maxdelay,
        maxretries,
        usepty,
        umask,
        allow_shutdown,
        unicode_encoding: None,
        numcpus,
        delete_leftover_dirs: f.delete_leftover_dirs,
        rotate_length: (!f.no_logrotate).then_some(log_size),
        max_rotated_files: if f.no_logrotate { None } else { log_count },
        log_file: None,
        connect_timeout: None,
    };
    Ok(CreateOptions {
        quiet: f.quiet,
        force: f.force,
        basedir,
        tac,
        usepty_given: f.usepty.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_argument() {
        assert_eq!(parse_master("h").unwrap(), ("h".into(), 9989));
        assert_eq!(parse_master("h:1234").unwrap(), ("h".into(), 1234));
        assert_eq!(parse_master("[::1]:99").unwrap(), ("::1".into(), 99));
        assert_eq!(parse_master("[::1]").unwrap(), ("::1".into(), 9989));
        assert!(
            parse_master("http://h:1")
                .unwrap_err()
                .message
                .contains("is not a URL")
        );
        assert!(parse_master(":1").is_err());
        assert!(
            parse_master("h:x")
                .unwrap_err()
                .message
                .contains("invalid master port 'x'")
        );
        assert!(parse_master("::1:5").is_err());
    }

    #[test]
    fn endpoints() {
        assert_eq!(parse_endpoint("tcp:host=m:port=1"), Some(("m".into(), 1)));
        assert_eq!(parse_endpoint("tcp:m"), None);
        assert_eq!(parse_endpoint("unix:/x"), None);
    }
}
