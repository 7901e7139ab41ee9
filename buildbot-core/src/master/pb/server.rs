//! The master's PB change port: the small Perspective Broker subset Python's
//! `buildbot sendchange` uses (login with `UsernamePassword` + `addChange`), served for every
//! `PBChangeSource` on its port (default `[protocols.pb] port`), and for every
//! `[[user_managers]]` entry (`CommandlineUserManager`) the `commandline` perspective
//! `buildbot user` calls. Several accounts may share one port, as with Buildbot's PB manager.

use crate::util::log_text;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task::JoinHandle;
use buildbot_db::NewChange;

use super::codec::{Py, Sexp, challenge, decode, encode, failure, is_str, respond, s};
use crate::master::config::{ChangeSourceKind, MasterConfig};
use crate::master::{MasterError, MasterHandle};

/// A connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// Largest unanswered input kept per connection.
const MAX_BUFFER: usize = 16 * 1024 * 1024;

/// The ports the change sources and user managers of `cfg` listen on, with the interface
/// to bind.
pub fn change_port_addrs(cfg: &MasterConfig) -> Vec<String> {
    let pb = cfg.protocols.pb.as_ref();
    let iface = pb
        .and_then(|p| p.interface.clone())
        .unwrap_or_else(|| "0.0.0.0".into());
    let mut addrs: Vec<String> = Vec::new();
    for c in &cfg.change_sources {
        if let ChangeSourceKind::PBChangeSource { port, .. } = &c.kind {
            match port.or(pb.map(|p| p.port)) {
                Some(p) => {
                    let a = format!("{iface}:{p}");
                    if !addrs.contains(&a) {
                        addrs.push(a);
                    }
                }
                None => log::warn!(
                    "change source '{}' has no port and [protocols.pb] has none either: not listening",
                    c.name
                ),
            }
        }
    }
    for um in &cfg.user_managers {
        let a = format!("{iface}:{}", um.port);
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    addrs
}

/// Binds the PB port of every `PBChangeSource` and user manager of `cfg` and serves it
/// with `handle`;
/// returns the accept tasks (cancel them to close the ports).
pub async fn start_change_ports(
    handle: &MasterHandle,
    cfg: &MasterConfig,
) -> Result<Vec<JoinHandle<()>>, MasterError> {
    let mut tasks = Vec::new();
    for addr in change_port_addrs(cfg) {
        let listener = match TcpListener::bind(addr.as_str()).await {
            Ok(l) => l,
            Err(source) => {
                for t in tasks {
                    JoinHandle::cancel(t).await;
                }
                return Err(MasterError::ChangePort { addr, source });
            }
        };
        let port = listener.local_addr().map_or(0, |a| a.port());
        log::info!("PBChangeSource listening on {addr}");
        let h = handle.clone();
        tasks.push(async_std::task::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let h = h.clone();
                        async_std::task::spawn(async move {
                            if let Err(e) = serve(stream, &h, port).await {
                                log::info!("change port connection from {peer} closed: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        log::warn!("change port {port}: accept failed: {e}");
                        async_std::task::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    Ok(tasks)
}

/// The objects a connection has handed out, by local id.
enum Obj {
    Challenger {
        user: String,
        challenge: Vec<u8>,
    },
    Perspective {
        user: String,
    },
    /// A `CommandlineUserManager` login.
    Users,
}

/// Who may log in on a port.
enum Account {
    /// A `PBChangeSource`: password, file prefix.
    Change(String, Option<String>),
    /// A `CommandlineUserManager`: password.
    Users(String),
}

impl Account {
    fn passwd(&self) -> &str {
        match self {
            Account::Change(p, _) | Account::Users(p) => p,
        }
    }
}

struct Conn<'a> {
    stream: TcpStream,
    handle: &'a MasterHandle,
    port: u16,
    objects: HashMap<i64, Obj>,
    next_id: i64,
}

impl Conn<'_> {
    async fn send(&mut self, x: &Sexp) -> std::io::Result<()> {
        let mut out = Vec::new();
        encode(x, &mut out);
        self.stream.write_all(&out).await
    }

    async fn answer(
        &mut self,
        id: i64,
        result: Result<Sexp, (String, String)>,
    ) -> std::io::Result<()> {
        match result {
            Ok(v) => {
                self.send(&Sexp::List(vec![s("answer"), Sexp::Int(id), v]))
                    .await
            }
            Err((ty, msg)) => {
                self.send(&Sexp::List(vec![
                    s("error"),
                    Sexp::Int(id),
                    failure(&ty, &msg),
                ]))
                .await
            }
        }
    }

    /// The account named `user` on this port: a `PBChangeSource`'s or a user manager's.
    fn account(&self, user: &str) -> Option<Account> {
        let cfg = self.handle.config();
        let default = cfg.protocols.pb.as_ref().map(|p| p.port);
        cfg.change_sources
            .iter()
            .find_map(|c| match &c.kind {
                ChangeSourceKind::PBChangeSource {
                    user: u,
                    passwd,
                    port,
                    prefix,
                } if u == user && port.or(default) == Some(self.port) => {
                    Some(Account::Change(passwd.clone(), prefix.clone()))
                }
                _ => None,
            })
            .or_else(|| {
                cfg.user_managers
                    .iter()
                    .find(|u| u.username == user && u.port == self.port)
                    .map(|u| Account::Users(u.passwd.clone()))
            })
    }

    async fn call(
        &mut self,
        object: &Sexp,
        method: &str,
        args: Vec<Py>,
    ) -> Result<Sexp, (String, String)> {
        let no_method = || {
            (
                "twisted.spread.flavors.NoSuchMethod".to_owned(),
                format!("No such method: {method}"),
            )
        };
        if is_str(object, "root") {
            if method != "login" {
                return Err(no_method());
            }
            let user = args.first().and_then(Py::text).unwrap_or_default();
            let ch = challenge();
            self.next_id += 1;
            let id = self.next_id;
            self.objects.insert(
                id,
                Obj::Challenger {
                    user,
                    challenge: ch.clone(),
                },
            );
            return Ok(Sexp::List(vec![
                s("tuple"),
                Sexp::Str(ch),
                Sexp::List(vec![s("remote"), Sexp::Int(id)]),
            ]));
        }
        let Sexp::Int(oid) = object else {
            return Err(no_method());
        };
        match self.objects.get(oid) {
            Some(Obj::Challenger { user, challenge }) if method == "respond" => {
                let (user, challenge) = (user.clone(), challenge.clone());
                self.objects.remove(oid);
                let given = match args.first() {
                    Some(Py::Bytes(b)) => b.clone(),
                    _ => Vec::new(),
                };
                let account = self
                    .account(&user)
                    .filter(|a| respond(&challenge, a.passwd().as_bytes()) == given);
                let Some(account) = account else {
                    log::warn!(
                        "change port {}: login as '{}' refused (unknown user or wrong password)",
                        self.port,
                        log_text(&user)
                    );
                    return Err((
                        "twisted.cred.error.UnauthorizedLogin".into(),
                        format!("Unauthorized login as '{user}'"),
                    ));
                };
                self.next_id += 1;
                let id = self.next_id;
                let obj = match account {
                    Account::Change(..) => Obj::Perspective { user },
                    Account::Users(_) => {
                        log::info!("user port {}: '{}' logged in", self.port, log_text(&user));
                        Obj::Users
                    }
                };
                self.objects.insert(id, obj);
                Ok(Sexp::List(vec![s("remote"), Sexp::Int(id)]))
            }
            Some(Obj::Users) if method == "commandline" => {
                let db = self.handle.db();
                match commandline(db, args).await {
                    Ok(text) => Ok(Py::Str(text).jelly()),
                    Err(e) => {
                        log::warn!("user port {}: {}", self.port, log_text(&e));
                        Err(("builtins.RuntimeError".into(), e))
                    }
                }
            }
            Some(Obj::Perspective { user }) if method == "addChange" => {
                let prefix = match self.account(user) {
                    Some(Account::Change(_, p)) => p,
                    _ => None,
                };
                let Some(Py::Dict(d)) = args.into_iter().next() else {
                    return Err(("builtins.TypeError".into(), "addChange needs a dict".into()));
                };
                let change = new_change(d, prefix.as_deref());
                match self.handle.add_change(&change).await {
                    Ok(id) => {
                        log::info!(
                            "change port {}: added change {} by '{}'",
                            self.port,
                            id.0,
                            log_text(&change.author)
                        );
                        Ok(Py::None.jelly())
                    }
                    Err(e) => {
                        log::warn!("change port {}: cannot add change: {e}", self.port);
                        Err(("builtins.RuntimeError".into(), e.to_string()))
                    }
                }
            }
            _ => Err(no_method()),
        }
    }
}

/// Buildbot's `CommandlineUserManagerPerspective.perspective_commandline(op, bb_username,
/// bb_password, ids, info)`: the database work of `buildbot user`, answered as the text
/// Buildbot's `formatResults` prints. `bb_password` arrives hashed by the client.
async fn commandline(db: &buildbot_db::Db, args: Vec<Py>) -> Result<String, String> {
    let mut it = args.into_iter();
    let op = it.next().and_then(|p| p.text()).unwrap_or_default();
    let bb_username = it.next().and_then(|p| p.text());
    let bb_password = it.next().and_then(|p| p.text());
    let list = |p: Option<Py>| match p {
        Some(Py::List(x) | Py::Tuple(x)) => x,
        _ => Vec::new(),
    };
    let ids: Vec<String> = list(it.next()).iter().filter_map(Py::text).collect();
    let info: Vec<Vec<(String, String)>> = list(it.next())
        .into_iter()
        .filter_map(|d| match d {
            Py::Dict(kv) => Some(
                kv.into_iter()
                    .filter_map(|(k, v)| Some((k.text()?, v.text()?)))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    if !["add", "update", "remove", "get"].contains(&op.as_str()) {
        return Err(format!("unknown user operation '{op}'"));
    }
    log::info!("perspective_commandline called: op {op}");
    let dberr = |e: buildbot_db::DbError| format!("user {op} failed: {e}");
    let mut out = String::new();
    match op.as_str() {
        "add" => out.push_str("user(s) added:\n"),
        "remove" => out.push_str("user(s) removed:\n"),
        "update" => out.push_str("user(s) updated:\n"),
        _ => out.push_str("user(s) found:\n"),
    }
    if !ids.is_empty() {
        for ident in &ids {
            let uid = db.identifier_to_uid(ident).await.map_err(dberr)?;
            let Some(uid) = uid else {
                log::info!("Unable to find uid for identifier {}", log_text(ident));
                if op == "get" {
                    out.push_str("no match found\n");
                }
                continue;
            };
            match op.as_str() {
                "remove" => {
                    db.remove_user(uid).await.map_err(dberr)?;
                    out.push_str(&format!("identifier: {ident}\n"));
                }
                "get" => match db.get_user(uid).await.map_err(dberr)? {
                    Some(u) => {
                        out.push_str(&format!(
                            "uid: {}\nidentifier: {}\nbb_username: {}\n",
                            u.uid.0,
                            u.identifier,
                            u.bb_username.as_deref().unwrap_or("None")
                        ));
                        if !u.attributes.is_empty() {
                            out.push_str("attributes:\n");
                            for (k, v) in &u.attributes {
                                out.push_str(&format!("\t{k}: {v}\n"));
                            }
                            out.push('\n');
                        }
                    }
                    None => out.push_str("no match found\n"),
                },
                // add/update take --info, not --ids (the client refuses that)
                _ => {}
            }
        }
        return Ok(out);
    }
    for mut user in info {
        let Some(pos) = user.iter().position(|(k, _)| k == "identifier") else {
            return Err("each info entry needs an identifier".into());
        };
        let (_, ident) = user.remove(pos);
        let mut uid = db.identifier_to_uid(&ident).await.map_err(dberr)?;
        if user.is_empty() {
            // only an identifier: update the web credentials
            match uid {
                Some(uid) => {
                    db.update_user(
                        uid,
                        Some(&ident),
                        bb_username.as_deref(),
                        bb_password.as_deref(),
                        None,
                    )
                    .await
                    .map_err(dberr)?;
                    out.push_str(&format!("identifier: {ident}\n"));
                }
                None => log::info!("Unable to find uid for identifier {}", log_text(&ident)),
            }
            continue;
        }
        let mut once_through = false;
        for (attr_type, attr_data) in &user {
            let mut added = None;
            if op == "update" || once_through {
                match uid {
                    Some(uid) => db
                        .update_user(
                            uid,
                            Some(&ident),
                            bb_username.as_deref(),
                            bb_password.as_deref(),
                            Some((attr_type, attr_data)),
                        )
                        .await
                        .map_err(dberr)?,
                    None => log::info!("Unable to find uid for identifier {}", log_text(&ident)),
                }
            } else if op == "add" {
                let id = db
                    .find_user_by_attr(&ident, attr_type, attr_data)
                    .await
                    .map_err(dberr)?;
                added = Some(id);
                once_through = true;
            }
            out.push_str(&format!("identifier: {ident}\n"));
            if let Some(id) = added {
                out.push_str(&format!("uid: {}\n\n", id.0));
                uid = Some(id);
            }
        }
    }
    Ok(out)
}

/// A `NewChange` from `addChange`'s dict, as Buildbot's `ChangePerspective` reads it.
fn new_change(d: Vec<(Py, Py)>, prefix: Option<&str>) -> NewChange {
    let map: BTreeMap<String, Py> = d
        .into_iter()
        .filter_map(|(k, v)| Some((k.text()?, v)))
        .collect();
    let text = |k: &str| map.get(k).and_then(Py::text);
    let nonempty = |k: &str| text(k).filter(|t| !t.is_empty());
    let files = match map.get("files") {
        Some(Py::List(f) | Py::Tuple(f)) => f.iter().filter_map(Py::text).collect(),
        _ => Vec::new(),
    };
    let files: Vec<String> = files
        .into_iter()
        .filter_map(|f: String| match prefix {
            Some(p) if !p.is_empty() => f.strip_prefix(p).map(str::to_owned),
            _ => Some(f),
        })
        .collect();
    let when = map
        .get("when_timestamp")
        .or_else(|| map.get("when"))
        .and_then(|w| match w {
            Py::Int(i) => Some(*i),
            Py::Float(f) if f.is_finite() => Some(*f as i64),
            _ => None,
        });
    let properties = match map.get("properties") {
        Some(Py::Dict(p)) => p
            .iter()
            .filter_map(|(k, v)| Some((k.text()?, to_json(v))))
            .collect(),
        _ => BTreeMap::new(),
    };
    let mut ch = NewChange::new(
        &text("author").or_else(|| text("who")).unwrap_or_default(),
        &text("comments").unwrap_or_default(),
    );
    ch.committer = nonempty("committer");
    ch.files = files;
    ch.revision = nonempty("revision");
    ch.when_timestamp = when;
    ch.branch = nonempty("branch");
    ch.category = nonempty("category");
    ch.revlink = text("revlink");
    ch.properties = properties;
    ch.repository = text("repository").unwrap_or_default();
    ch.codebase = text("codebase").unwrap_or_default();
    ch.project = text("project").unwrap_or_default();
    ch.src = nonempty("src");
    ch
}

fn to_json(v: &Py) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Py::None => Value::Null,
        Py::Bool(b) => Value::Bool(*b),
        Py::Int(i) => Value::from(*i),
        Py::Float(f) => Value::from(*f),
        Py::Bytes(_) | Py::Str(_) => Value::String(v.text().unwrap_or_default()),
        Py::List(x) | Py::Tuple(x) => Value::Array(x.iter().map(to_json).collect()),
        Py::Dict(kv) => Value::Object(
            kv.iter()
                .filter_map(|(k, v)| Some((k.text()?, to_json(v))))
                .collect(),
        ),
    }
}

async fn serve(stream: TcpStream, handle: &MasterHandle, port: u16) -> Result<(), String> {
    let mut c = Conn {
        stream,
        handle,
        port,
        objects: HashMap::new(),
        next_id: 0,
    };
    let io = |e: std::io::Error| e.to_string();
    // offer the dialects; the client answers with its choice
    c.send(&Sexp::List(vec![s("pb"), s("none")]))
        .await
        .map_err(io)?;
    let mut buf: Vec<u8> = Vec::new();
    let mut dialect = false;
    loop {
        let x = loop {
            if let Some((x, used)) = decode(&buf)? {
                buf.drain(..used);
                break x;
            }
            if buf.len() > MAX_BUFFER {
                return Err("message too large".into());
            }
            let mut chunk = [0u8; 8192];
            let n = async_std::io::timeout(IDLE, c.stream.read(&mut chunk))
                .await
                .map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        if !dialect {
            if !is_str(&x, "pb") {
                return Err("the client does not speak the 'pb' dialect".into());
            }
            dialect = true;
            c.send(&Sexp::List(vec![s("version"), Sexp::Int(6)]))
                .await
                .map_err(io)?;
            continue;
        }
        let Sexp::List(items) = x else { continue };
        match items.first() {
            Some(h) if is_str(h, "message") && items.len() >= 7 => {
                let Sexp::Int(id) = items[1] else { continue };
                let method = match &items[3] {
                    Sexp::Str(m) => String::from_utf8_lossy(m).into_owned(),
                    _ => continue,
                };
                let answer_required = items[4] != Sexp::Int(0);
                let result = match Py::unjelly(&items[5]) {
                    Ok(Py::Tuple(args) | Py::List(args)) => c.call(&items[2], &method, args).await,
                    Ok(_) => Err((
                        "builtins.TypeError".into(),
                        "arguments must be a tuple".into(),
                    )),
                    Err(e) => Err(("twisted.spread.jelly.InsecureJelly".into(), e)),
                };
                if answer_required {
                    c.answer(id, result).await.map_err(io)?;
                }
            }
            Some(h) if is_str(h, "decref") => {
                if let Some(Sexp::Int(oid)) = items.get(1) {
                    c.objects.remove(oid);
                }
            }
            // version, uncache, answers to calls we never make: nothing to do
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn change_dict_as_python_sendchange_sends_it() {
        let k = |t: &str| Py::Str(t.into());
        let d = vec![
            (k("who"), k("alice")),
            (
                k("files"),
                Py::List(vec![k("src/a.c"), Py::Bytes(b"doc/b".to_vec())]),
            ),
            (k("comments"), k("msg")),
            (k("branch"), Py::None),
            (k("revision"), k("")),
            (k("when"), Py::Float(1_700_000_000.5)),
            (
                k("properties"),
                Py::Dict(vec![(k("p"), k("v")), (k("n"), Py::Int(3))]),
            ),
            (k("repository"), k("r")),
            (k("src"), k("git")),
        ];
        let ch = new_change(d.clone(), None);
        assert_eq!(ch.author, "alice");
        assert_eq!(ch.files, ["src/a.c", "doc/b"]);
        assert_eq!(ch.branch, None);
        assert_eq!(ch.revision, None);
        assert_eq!(ch.when_timestamp, Some(1_700_000_000));
        assert_eq!(ch.properties["n"], serde_json::json!(3));
        assert_eq!(ch.src.as_deref(), Some("git"));
        let ch = new_change(d, Some("src/"));
        assert_eq!(ch.files, ["a.c"]);
    }
}
