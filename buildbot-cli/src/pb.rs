//! A minimal Perspective Broker client: what `buildbot sendchange` and `buildbot user` need
//! to log in to a Buildbot change port and call a perspective method. The wire codec is
//! `buildbot_core::master::pb::codec`, shared with the master's change port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub use buildbot_core::master::pb::codec::{Py, Sexp};
use buildbot_core::master::pb::codec::{decode, encode, is_str, respond, s};

/// A logged-in PB connection.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    next_id: i64,
    perspective: Sexp,
}

impl Client {
    fn send(&mut self, x: &Sexp) -> Result<(), String> {
        let mut out = Vec::new();
        encode(x, &mut out);
        self.stream
            .write_all(&out)
            .map_err(|e| format!("cannot send: {e}"))
    }

    fn recv(&mut self) -> Result<Sexp, String> {
        loop {
            if let Some((x, used)) = decode(&self.buf)? {
                self.buf.drain(..used);
                return Ok(x);
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("no answer from the master: {e}"))?;
            if n == 0 {
                return Err("the master closed the connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Calls `method` on remote object `object` and waits for its answer.
    fn call(&mut self, object: Sexp, method: &str, args: Vec<Py>) -> Result<Sexp, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = Sexp::List(vec![
            s("message"),
            Sexp::Int(id),
            object,
            s(method),
            Sexp::Int(1),
            Py::Tuple(args).jelly(),
            Py::Dict(Vec::new()).jelly(),
        ]);
        self.send(&msg)?;
        loop {
            let Sexp::List(items) = self.recv()? else {
                return Err("unexpected message from the master".into());
            };
            let Some(head) = items.first() else { continue };
            if is_str(head, "answer") && items.get(1) == Some(&Sexp::Int(id)) {
                return Ok(items.get(2).cloned().unwrap_or(Sexp::List(vec![])));
            }
            if is_str(head, "error") && items.get(1) == Some(&Sexp::Int(id)) {
                return Err(describe_error(items.get(2)));
            }
            // version, decref, ... : nothing to do
        }
    }

    /// Connects, negotiates the `pb` dialect and logs in with `user`/`password`.
    pub fn login(
        addr: &str,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Client, String> {
        use std::net::ToSocketAddrs;
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve '{addr}': {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve '{addr}'"))?;
        let stream = TcpStream::connect_timeout(&sock, timeout)
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let mut c = Client {
            stream,
            buf: Vec::new(),
            next_id: 0,
            perspective: Sexp::Int(0),
        };
        // the server offers its dialects; we pick "pb"
        match c.recv()? {
            Sexp::List(d) if d.iter().any(|x| is_str(x, "pb")) => {}
            _ => return Err(format!("{addr} does not speak Perspective Broker")),
        }
        c.send(&s("pb"))?;
        c.send(&Sexp::List(vec![s("version"), Sexp::Int(6)]))?;
        let answer = c.call(
            s("root"),
            "login",
            vec![Py::Bytes(user.as_bytes().to_vec())],
        )?;
        let (challenge, challenger) = match answer {
            Sexp::List(t) if t.len() == 3 && is_str(&t[0], "tuple") => match (&t[1], &t[2]) {
                (Sexp::Str(ch), Sexp::List(r)) if r.len() == 2 && is_str(&r[0], "remote") => {
                    (ch.clone(), r[1].clone())
                }
                _ => return Err("unexpected login challenge".into()),
            },
            _ => return Err("unexpected login challenge".into()),
        };
        let resp = respond(&challenge, password.as_bytes());
        let avatar = c
            .call(challenger, "respond", vec![Py::Bytes(resp), Py::None])
            .map_err(|e| {
                let hint = if e.contains("Unauthorized") {
                    " (wrong user name or password)"
                } else {
                    ""
                };
                format!("login as '{user}' failed: {e}{hint}")
            })?;
        match avatar {
            Sexp::List(r) if r.len() == 2 && is_str(&r[0], "remote") => {
                c.perspective = r[1].clone()
            }
            _ => return Err(format!("login as '{user}' failed")),
        }
        Ok(c)
    }

    /// Calls `method` on the logged-in perspective.
    pub fn call_perspective(&mut self, method: &str, args: Vec<Py>) -> Result<Sexp, String> {
        let p = self.perspective.clone();
        self.call(p, method, args)
    }
}

/// A readable text for a PB error answer (a jellied Failure or a string).
fn describe_error(x: Option<&Sexp>) -> String {
    fn strings(x: &Sexp, out: &mut Vec<String>) {
        match x {
            Sexp::Str(b) => out.push(String::from_utf8_lossy(b).into_owned()),
            Sexp::List(items) => items.iter().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    if let Some(x) = x {
        strings(x, &mut all);
    }
    // a Failure carries its value's repr; prefer what names an error
    all.iter()
        .find(|t| t.contains("Error") || t.contains("Unauthorized") || t.contains("denied"))
        .or_else(|| all.iter().rev().find(|t| t.len() > 3))
        .cloned()
        .unwrap_or_else(|| "the master answered with an error".into())
}
