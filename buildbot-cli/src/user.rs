//! `buildbot user`: add, update, remove or show users in a master's database through its
//! `CommandlineUserManager` PB service, with Buildbot 4.3's argument rules and messages.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use buildbot_core::daemon::ui::{self, CliError, ErrorKind};

use crate::cli::{PROGRAM, UserFlags};
use crate::pb::{Client, Py, Sexp};

const SUB: &str = "user";
const TYPES: [&str; 9] = [
    "identifier",
    "email",
    "git",
    "svn",
    "hg",
    "cvs",
    "darcs",
    "bzr",
    "fossil",
];

/// One `--info` value: `type=value,...`, `id:type=value,...`, or a bare identifier.
fn parse_info(option: &str) -> Vec<(String, String)> {
    let items: Vec<&str> = option.split(',').collect();
    if items.len() == 1 && !items[0].contains('=') {
        return vec![("identifier".into(), items[0].to_owned())];
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items {
        let (mut k, v) = item.split_once('=').unwrap_or((item, ""));
        if let Some((id, t)) = k.split_once(':') {
            set(&mut out, "identifier", id);
            k = t;
        }
        set(&mut out, k, v);
    }
    out
}

fn set(m: &mut Vec<(String, String)>, k: &str, v: &str) {
    match m.iter_mut().find(|(key, _)| key == k) {
        Some(e) => e.1 = v.to_owned(),
        None => m.push((k.to_owned(), v.to_owned())),
    }
}

/// Buildbot's `users.encrypt`: 8 random bytes as hex salt, then sha1(password + salt).
fn encrypt(password: &str) -> anyhow::Result<String> {
    let mut raw = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    let salt: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(buildbot_db::hash_password(password, &salt))
}

fn usage(msg: &str) -> anyhow::Error {
    PROGRAM.usage(SUB, msg).into()
}

pub fn user(f: UserFlags) -> anyhow::Result<ExitCode> {
    let master = f
        .master
        .clone()
        .ok_or_else(|| usage("--master is required"))?;
    let port_ok = master
        .split_once(':')
        .is_some_and(|(_, p)| !p.contains(':') && p.parse::<u16>().is_ok());
    if !port_ok {
        return Err(usage("master must have the form 'hostname:port'"));
    }
    let op =
        f.op.clone()
            .ok_or_else(|| usage("you must specify an operation: add, remove, update, get"))?;
    if !["add", "remove", "update", "get"].contains(&op.as_str()) {
        return Err(usage(&format!(
            "bad op '{op}', use 'add', 'remove', 'update', or 'get'"
        )));
    }
    let (Some(username), Some(passwd)) = (f.username.clone(), f.passwd.clone()) else {
        return Err(usage("A username and password must be given"));
    };
    if f.bb_username.is_some() || f.bb_password.is_some() {
        if op != "update" {
            return Err(usage("bb_username and bb_password only work with update"));
        }
        if f.bb_username.is_none() || f.bb_password.is_none() {
            return Err(usage(
                "Must specify both bb_username and bb_password or neither.",
            ));
        }
    }
    let ids: Vec<String> = f
        .ids
        .iter()
        .flat_map(|i| i.split(','))
        .map(str::to_owned)
        .collect();
    let mut info: Vec<Vec<(String, String)>> = f.info.iter().map(|i| parse_info(i)).collect();
    if info.is_empty() && ids.is_empty() {
        return Err(usage("must specify either --ids or --info"));
    }
    if op == "add" || op == "update" {
        if !ids.is_empty() {
            return Err(usage("cannot use --ids with 'add' or 'update'"));
        }
        for u in &info {
            if u.iter().any(|(k, _)| !TYPES.contains(&k.as_str())) {
                return Err(usage(&format!(
                    "Type not a valid attr_type, must be in: {}",
                    TYPES.join(", ")
                )));
            }
            let has_id = u.iter().any(|(k, _)| k == "identifier");
            if op == "update" && !has_id {
                return Err(usage(
                    "no ids found in update info; use: --info=id:type=value,type=value,..",
                ));
            }
            if op == "add" && has_id {
                return Err(usage(
                    "identifier found in add info, use: --info=type=value,type=value,..",
                ));
            }
        }
    }
    if (op == "remove" || op == "get") && !info.is_empty() {
        return Err(usage("cannot use --info with 'remove' or 'get'"));
    }
    if op == "add" {
        for u in &mut info {
            let mut values: Vec<String> = u.iter().map(|(_, v)| v.clone()).collect();
            values.sort();
            if let Some(first) = values.first().cloned() {
                u.push(("identifier".into(), first));
            }
        }
    }
    let bb_password = match &f.bb_password {
        Some(p) => Some(encrypt(p)?),
        None => None,
    };
    let opt = |v: Option<String>| v.map_or(Py::None, Py::Str);
    let args = vec![
        Py::Str(op),
        opt(f.bb_username.clone()),
        opt(bb_password),
        Py::List(ids.into_iter().map(Py::Str).collect()),
        Py::List(
            info.into_iter()
                .map(|u| {
                    Py::Dict(
                        u.into_iter()
                            .map(|(k, v)| (Py::Str(k), Py::Str(v)))
                            .collect(),
                    )
                })
                .collect(),
        ),
    ];
    let answer = Client::login(&master, &username, &passwd, Duration::from_secs(30))
        .and_then(|mut c| c.call_perspective("commandline", args))
        .map_err(|e| CliError::new(ErrorKind::Failure, format!("user command failed: {e}")))?;
    if let Sexp::List(items) = &answer
        && let [Sexp::Str(tag), Sexp::Str(text)] = items.as_slice()
        && tag == b"unicode"
    {
        ui::say(false, String::from_utf8_lossy(text).trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    #[test]
    fn info_forms() {
        assert_eq!(
            parse_info("alice"),
            vec![("identifier".to_owned(), "alice".to_owned())]
        );
        assert_eq!(
            parse_info("a:git=A <a@x>,email=a@x"),
            vec![
                ("identifier".to_owned(), "a".to_owned()),
                ("git".to_owned(), "A <a@x>".to_owned()),
                ("email".to_owned(), "a@x".to_owned())
            ]
        );
    }

    #[test]
    fn encrypted_password_shape() {
        let e = encrypt("secret").unwrap();
        assert_eq!(e.len(), 16 + 40);
        let mut h = Sha1::new();
        h.update(b"secret");
        h.update(&e.as_bytes()[..16]);
        let d: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&e[16..], d);
        assert!(buildbot_db::check_password(&e, "secret"));
    }
}
