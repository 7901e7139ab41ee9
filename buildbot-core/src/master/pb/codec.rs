//! Twisted's Banana encoding with the `pb` dialect, the jelly of plain Python data, and the
//! `UsernamePassword` challenge/response: what a Buildbot change port and its clients
//! (`buildbot sendchange`, `buildbot user`) exchange.

use md5::{Digest, Md5};

/// One Banana value as sent on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Sexp {
    /// A list.
    List(Vec<Sexp>),
    /// An integer (Banana's INT, NEG, LONGINT and LONGNEG).
    Int(i64),
    /// A byte string (also what vocabulary tokens decode to).
    Str(Vec<u8>),
    /// A float.
    Float(f64),
}

/// A plain Python value, as jelly carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `str`.
    Str(String),
    /// `float`.
    Float(f64),
    /// `list` (also sets when decoding).
    List(Vec<Py>),
    /// `tuple`.
    Tuple(Vec<Py>),
    /// `dict`, in wire order.
    Dict(Vec<(Py, Py)>),
}

/// A Banana byte string of `b`.
pub fn s(b: &str) -> Sexp {
    Sexp::Str(b.as_bytes().to_vec())
}

/// Whether `x` is the byte string `want`.
pub fn is_str(x: &Sexp, want: &str) -> bool {
    matches!(x, Sexp::Str(b) if b == want.as_bytes())
}

impl Py {
    /// Jelly of this value.
    pub fn jelly(&self) -> Sexp {
        let tagged = |tag: &str, items: &[Py]| {
            Sexp::List(
                std::iter::once(s(tag))
                    .chain(items.iter().map(Py::jelly))
                    .collect(),
            )
        };
        match self {
            Py::None => Sexp::List(vec![s("None")]),
            Py::Bool(b) => Sexp::List(vec![s("boolean"), s(if *b { "true" } else { "false" })]),
            Py::Int(i) => Sexp::Int(*i),
            Py::Bytes(b) => Sexp::Str(b.clone()),
            Py::Str(t) => Sexp::List(vec![s("unicode"), Sexp::Str(t.as_bytes().to_vec())]),
            Py::Float(f) => Sexp::Float(*f),
            Py::List(items) => tagged("list", items),
            Py::Tuple(items) => tagged("tuple", items),
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

    /// The value of a jelly expression holding plain data; an error names what is not.
    pub fn unjelly(x: &Sexp) -> Result<Py, String> {
        let list = |items: &[Sexp]| items.iter().map(Py::unjelly).collect::<Result<Vec<_>, _>>();
        Ok(match x {
            Sexp::Int(i) => Py::Int(*i),
            Sexp::Float(f) => Py::Float(*f),
            Sexp::Str(b) => Py::Bytes(b.clone()),
            Sexp::List(items) => {
                let Some(Sexp::Str(tag)) = items.first() else {
                    return Err("jelly: a list without a type name".into());
                };
                let rest = &items[1..];
                match tag.as_slice() {
                    b"None" => Py::None,
                    b"boolean" => Py::Bool(rest.first().is_some_and(|x| is_str(x, "true"))),
                    b"unicode" => match rest.first() {
                        Some(Sexp::Str(b)) => Py::Str(String::from_utf8_lossy(b).into_owned()),
                        _ => return Err("jelly: bad unicode".into()),
                    },
                    b"list" | b"set" | b"frozenset" => Py::List(list(rest)?),
                    b"tuple" => Py::Tuple(list(rest)?),
                    b"dictionary" => Py::Dict(
                        rest.iter()
                            .map(|kv| match kv {
                                Sexp::List(p) if p.len() == 2 => {
                                    Ok((Py::unjelly(&p[0])?, Py::unjelly(&p[1])?))
                                }
                                _ => Err("jelly: bad dictionary item".to_owned()),
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    // an object referenced twice: its first occurrence carries it
                    b"reference" if rest.len() == 2 => Py::unjelly(&rest[1])?,
                    other => {
                        return Err(format!(
                            "jelly: unsupported type '{}'",
                            String::from_utf8_lossy(other)
                        ));
                    }
                }
            }
        })
    }

    /// The text of a `str` or (UTF-8, lossy) `bytes` value.
    pub fn text(&self) -> Option<String> {
        match self {
            Py::Str(t) => Some(t.clone()),
            Py::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// PB's vocabulary: token `n` (1-based) stands for `VOCAB[n - 1]`.
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

/// Longest list a peer may announce.
const MAX_LIST: u64 = 640 * 1024;

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

/// Decodes one complete value from the front of `buf`: `Ok(None)` when more bytes are
/// needed, otherwise the value and how many bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Sexp, usize)>, String> {
    let mut pos = 0;
    let mut stack: Vec<(usize, Vec<Sexp>)> = Vec::new();
    loop {
        let start = pos;
        while pos < buf.len() && buf[pos] < 0x80 {
            pos += 1;
            if pos - start > 9 {
                return Err("banana: prefix too long".into());
            }
        }
        if pos >= buf.len() {
            return Ok(None);
        }
        let mut n: u64 = 0;
        for (i, b) in buf[start..pos].iter().enumerate() {
            n |= u64::from(*b) << (7 * i as u32);
        }
        let ty = buf[pos];
        pos += 1;
        let item = match ty {
            0x80 => {
                if n > MAX_LIST {
                    return Err("banana: list too long".into());
                }
                if n == 0 {
                    Some(Sexp::List(Vec::new()))
                } else {
                    stack.push((n as usize, Vec::new()));
                    None
                }
            }
            0x81 | 0x85 => Some(Sexp::Int(
                i64::try_from(n).map_err(|_| "banana: integer too large")?,
            )),
            0x83 | 0x86 => Some(Sexp::Int(
                -i64::try_from(n).map_err(|_| "banana: integer too large")?,
            )),
            0x82 => {
                let n = usize::try_from(n).map_err(|_| "banana: string too long")?;
                if buf.len() - pos < n {
                    return Ok(None);
                }
                let b = buf[pos..pos + n].to_vec();
                pos += n;
                Some(Sexp::Str(b))
            }
            0x84 => {
                if buf.len() - pos < 8 {
                    return Ok(None);
                }
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[pos..pos + 8]);
                pos += 8;
                Some(Sexp::Float(f64::from_be_bytes(a)))
            }
            0x87 => {
                let word = usize::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| VOCAB.get(i))
                    .ok_or_else(|| format!("banana: unknown vocabulary entry {n}"))?;
                Some(s(word))
            }
            other => return Err(format!("banana: unknown type byte {other:#x}")),
        };
        // attach the finished value to its list, closing every list it completes
        let Some(mut value) = item else { continue };
        loop {
            match stack.last_mut() {
                None => return Ok(Some((value, pos))),
                Some((want, items)) => {
                    items.push(value);
                    if items.len() < *want {
                        break;
                    }
                    let Some((_, done)) = stack.pop() else { break };
                    value = Sexp::List(done);
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

/// Twisted's `pb.respond(challenge, password)`: `md5(md5(password) + challenge)`.
pub fn respond(challenge: &[u8], password: &[u8]) -> Vec<u8> {
    md5(&[&md5(&[password]), challenge])
}

/// A fresh login challenge (16 bytes, as Twisted's `pb.challenge()`).
pub fn challenge() -> Vec<u8> {
    let seed: [u8; 16] = rand::random();
    md5(&[&seed])
}

/// The jelly of a `twisted.spread.pb.CopyableFailure` for exception `type_name` with
/// message `value`, as a PB `error` answer carries it.
pub fn failure(type_name: &str, value: &str) -> Sexp {
    let k = |t: &str| Py::Str(t.to_owned());
    let state = Py::Dict(vec![
        (k("value"), Py::Str(value.to_owned())),
        (k("type"), Py::Bytes(type_name.as_bytes().to_vec())),
        (
            k("parents"),
            Py::List(vec![k(type_name), k("builtins.Exception")]),
        ),
        (k("traceback"), k("Traceback unavailable\n")),
        (k("tb"), Py::None),
        (k("frames"), Py::List(Vec::new())),
        (k("stack"), Py::List(Vec::new())),
        (k("count"), Py::Int(0)),
        (k("pickled"), Py::Int(0)),
    ]);
    Sexp::List(vec![s("twisted.spread.pb.CopyableFailure"), state.jelly()])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
            Sexp::List(vec![Sexp::List(vec![s("x")])]),
            Sexp::Str(vec![0xff, 0x00]),
        ]);
        let mut out = Vec::new();
        encode(&x, &mut out);
        assert_eq!(&out[..2], &[8, 0x80]);
        let (back, used) = decode(&out).unwrap().unwrap();
        assert_eq!(back, x);
        assert_eq!(used, out.len());
        for cut in 0..out.len() {
            assert_eq!(decode(&out[..cut]).unwrap(), None, "cut at {cut}");
        }
        // vocabulary: 11 = "tuple"
        assert_eq!(
            decode(&[1, 0x80, 11, 0x87]).unwrap().unwrap().0,
            Sexp::List(vec![s("tuple")])
        );
        assert!(decode(&[0x40, 0x87]).is_err());
        assert!(decode(&[0x7f; 12]).is_err());
    }

    #[test]
    fn jelly_round_trip() {
        let v = Py::Tuple(vec![Py::Dict(vec![
            (Py::Str("who".into()), Py::Str("a".into())),
            (
                Py::Str("files".into()),
                Py::List(vec![Py::Bytes(b"f".to_vec())]),
            ),
            (Py::Str("when".into()), Py::None),
            (Py::Str("n".into()), Py::Int(-3)),
            (Py::Str("ok".into()), Py::Bool(true)),
        ])]);
        assert_eq!(Py::unjelly(&v.jelly()).unwrap(), v);
        assert!(Py::unjelly(&Sexp::List(vec![s("instance")])).is_err());
    }

    #[test]
    fn challenge_response() {
        // twisted: respond(b"abc", b"pw") == md5(md5(b"pw").digest() + b"abc").digest()
        let r = respond(b"abc", b"pw");
        let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "2f779462f93924d25b212d0250aa9b50");
        assert_ne!(challenge(), challenge());
    }
}
