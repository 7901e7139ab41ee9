//! A minimal Perspective Broker client: what `buildbot sendchange` needs to log in to a
//! Buildbot change port and call `addChange` (Twisted's Banana encoding, the `pb` dialect,
//! jelly for plain data, and the `UsernamePassword` challenge/response login).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use md5::{Digest, Md5};

/// One Banana value as sent on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Sexp {
    List(Vec<Sexp>),
    Int(i64),
    Str(Vec<u8>),
    Float(f64),
}

/// Jelly of Python values, for arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    None,
    Bytes(Vec<u8>),
    Str(String),
    Float(f64),
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

fn s(b: &str) -> Sexp {
    Sexp::Str(b.as_bytes().to_vec())
}

impl Py {
    fn jelly(&self) -> Sexp {
        match self {
            Py::None => Sexp::List(vec![s("None")]),
            Py::Bytes(b) => Sexp::Str(b.clone()),
            Py::Str(t) => Sexp::List(vec![s("unicode"), Sexp::Str(t.as_bytes().to_vec())]),
            Py::Float(f) => Sexp::Float(*f),
            Py::List(items) => Sexp::List(
                std::iter::once(s("list"))
                    .chain(items.iter().map(Py::jelly))
                    .collect(),
            ),
            Py::Tuple(items) => Sexp::List(
                std::iter::once(s("tuple"))
                    .chain(items.iter().map(Py::jelly))
                    .collect(),
            ),
            Py::Dict(kv) => Sexp::List(
                std::iter::once(s("dictionary"))
                    .chain(
                        kv.iter()
                            .map(|(k, v)| Sexp::List(vec![k.jelly(), v.jelly()])),
                    )
                    .collect(),
            ),
        }
    }
}

const VOCAB: [&str; 31] = [
    "None",
    "class",
    "dereference",
    "reference",
    "dictionary",
    "function",
    "instance",
    "list",
    "module",
    "persistent",
    "tuple",
    "unpersistable",
    "copy",
    "cache",
    "cached",
    "remote",
    "local",
    "lcache",
    "version",
    "login",
    "password",
    "challenge",
    "logged_in",
    "not_logged_in",
    "cachemessage",
    "message",
    "answer",
    "error",
    "decref",
    "decache",
    "uncache",
];

fn b128(mut n: u64, out: &mut Vec<u8>) {
    if n == 0 {
        out.push(0);
        return;
    }
    while n > 0 {
        out.push((n & 0x7f) as u8);
        n >>= 7;
    }
}

/// Banana-encodes one value.
pub fn encode(x: &Sexp, out: &mut Vec<u8>) {
    match x {
        Sexp::List(items) => {
            b128(items.len() as u64, out);
            out.push(0x80);
            for i in items {
                encode(i, out);
            }
        }
        Sexp::Int(i) if *i >= 0 => {
            b128(*i as u64, out);
            out.push(if *i <= i64::from(i32::MAX) {
                0x81
            } else {
                0x85
            });
        }
        Sexp::Int(i) => {
            b128(i.unsigned_abs(), out);
            out.push(if *i >= -i64::from(i32::MAX) {
                0x83
            } else {
                0x86
            });
        }
        Sexp::Str(b) => {
            b128(b.len() as u64, out);
            out.push(0x82);
            out.extend_from_slice(b);
        }
        Sexp::Float(f) => {
            out.push(0x84);
            out.extend_from_slice(&f.to_be_bytes());
        }
    }
}

/// Decodes one complete value from the front of `buf`; `None` when more bytes are needed.
pub fn decode(buf: &[u8]) -> Result<Option<(Sexp, usize)>, String> {
    let mut pos = 0;
    let mut stack: Vec<(usize, Vec<Sexp>)> = Vec::new();
    loop {
        let start = pos;
        while pos < buf.len() && buf[pos] < 0x80 {
            pos += 1;
        }
        if pos >= buf.len() {
            return Ok(None);
        }
        if pos - start > 64 {
            return Err("banana: prefix too long".into());
        }
        let mut n: u64 = 0;
        for (i, b) in buf[start..pos].iter().enumerate() {
            n |= u64::from(*b) << (7 * i as u32);
        }
        let ty = buf[pos];
        pos += 1;
        let item = match ty {
            0x80 => {
                if n > 640 * 1024 {
                    return Err("banana: list too long".into());
                }
                stack.push((n as usize, Vec::new()));
                None
            }
            0x81 | 0x85 => Some(Sexp::Int(n as i64)),
            0x83 | 0x86 => Some(Sexp::Int(-(n as i64))),
            0x82 => {
                let n = n as usize;
                if buf.len() < pos + n {
                    return Ok(None);
                }
                let b = buf[pos..pos + n].to_vec();
                pos += n;
                Some(Sexp::Str(b))
            }
            0x84 => {
                if buf.len() < pos + 8 {
                    return Ok(None);
                }
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[pos..pos + 8]);
                pos += 8;
                Some(Sexp::Float(f64::from_be_bytes(a)))
            }
            0x87 => {
                let word = VOCAB
                    .get((n as usize).wrapping_sub(1))
                    .ok_or_else(|| format!("banana: unknown vocabulary entry {n}"))?;
                Some(s(word))
            }
            other => return Err(format!("banana: unknown type byte {other:#x}")),
        };
        let mut next = item;
        loop {
            match stack.last_mut() {
                Some((want, items)) if items.len() == *want && next.is_none() => {
                    let (_, items) = stack.pop().unwrap_or_default();
                    next = Some(Sexp::List(items));
                }
                Some((_, items)) => {
                    if let Some(x) = next.take() {
                        items.push(x);
                        continue;
                    }
                    break;
                }
                None => {
                    if let Some(x) = next {
                        return Ok(Some((x, pos)));
                    }
                    break;
                }
            }
        }
    }
}

fn md5(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// Twisted's `pb.respond(challenge, password)`.
pub fn respond(challenge: &[u8], password: &[u8]) -> Vec<u8> {
    md5(&[&md5(&[password]), challenge])
}

/// A logged-in PB connection.
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    next_id: i64,
    perspective: Sexp,
}

fn is_str(x: &Sexp, want: &str) -> bool {
    matches!(x, Sexp::Str(b) if b == want.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banana_round_trip() {
        let x = Sexp::List(vec![
            s("message"),
            Sexp::Int(300),
            Sexp::Int(-5),
            Sexp::Int(1 << 40),
            Sexp::Float(1.5),
            Sexp::List(vec![]),
            Sexp::Str(vec![0xff, 0x00]),
        ]);
        let mut out = Vec::new();
        encode(&x, &mut out);
        // 300 = 0b10_0101100 -> [0x2c, 0x02] INT
        assert_eq!(&out[..2], &[7, 0x80]);
        let (back, used) = decode(&out).unwrap().unwrap();
        assert_eq!(back, x);
        assert_eq!(used, out.len());
        assert_eq!(decode(&out[..out.len() - 1]).unwrap(), None);
        // vocabulary: 11 = "tuple"
        assert_eq!(
            decode(&[1, 0x80, 11, 0x87]).unwrap().unwrap().0,
            Sexp::List(vec![s("tuple")])
        );
    }

    #[test]
    fn challenge_response() {
        // twisted: respond(b"abc", b"pw") == md5(md5(b"pw").digest() + b"abc").digest()
        let r = respond(b"abc", b"pw");
        let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "2f779462f93924d25b212d0250aa9b50");
        assert_eq!(r.len(), 16);
    }
}
