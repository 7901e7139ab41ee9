//! Buildbot's two JSON output formats (Python's `json.dumps` spacing, pretty and on one
//! line) and field selection; the entity shapes are `buildbot_core::master::rest`.

use std::io;

use serde_json::Value;

/// Keeps only `fields` of an entity object.
pub(crate) fn select_fields(v: Value, fields: Option<&[String]>) -> Value {
    match (v, fields) {
        (Value::Object(m), Some(f)) => {
            Value::Object(m.into_iter().filter(|(k, _)| f.contains(k)).collect())
        }
        (v, _) => v,
    }
}

/// Python's `json.dumps(v, indent=2, sort_keys=True)`: legacy `", "` item separator (a
/// trailing space at the end of every item line) and `": "`.
struct Py {
    indent: usize,
    has_value: bool,
}

impl Py {
    /// Opens an array or object with `bracket`.
    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// Closes an array or object with `bracket` (on a line of its own unless empty).
    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            newline(w, self.indent)?;
        }
        self.has_value = true;
        w.write_all(bracket)
    }

    /// Starts an array item or object key on a line of its own.
    fn item<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        separator(w, first)?;
        newline(w, self.indent)
    }
}

impl serde_json::ser::Formatter for Py {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Python's item separator `", "`, before every item but the first.
fn separator<W: ?Sized + io::Write>(w: &mut W, first: bool) -> io::Result<()> {
    if first { Ok(()) } else { w.write_all(b", ") }
}

fn newline<W: ?Sized + io::Write>(w: &mut W, indent: usize) -> io::Result<()> {
    w.write_all(b"\n")?;
    for _ in 0..indent {
        w.write_all(b"  ")?;
    }
    Ok(())
}

/// Python-style pretty JSON (keys sorted: `serde_json::Map` is ordered).
pub(crate) fn pretty(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        Py {
            indent: 0,
            has_value: false,
        },
    );
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `json.dumps(v)` with default separators (`", "` and `": "`), on one line; with
/// `ascii`, non-ASCII characters are escaped as `\uXXXX` (Python's `ensure_ascii`).
struct PyLine {
    ascii: bool,
}

impl serde_json::ser::Formatter for PyLine {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(w, first)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        separator(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if !self.ascii || fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for u in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `json.dumps(v)` as Python writes it (error bodies), non-ASCII characters as they are.
pub(crate) fn py_line(v: &Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyLine { ascii: false });
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `json.dumps(v)` to `w` as Python writes it by default (`ensure_ascii`: non-ASCII
/// characters as `\uXXXX`; Buildbot's SSE events).
pub(crate) fn write_py_line_ascii<W: io::Write>(w: W, v: &Value) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, PyLine { ascii: true });
    serde::Serialize::serialize(v, &mut ser)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_line_matches_python() {
        let v = json!({"error": {"code": -32600, "message": "x"}, "id": [1, 2]});
        assert_eq!(
            py_line(&v),
            r#"{"error": {"code": -32600, "message": "x"}, "id": [1, 2]}"#
        );
    }

    #[test]
    fn ascii_line_matches_python() {
        let v = json!({"key": ["a", "1"], "message": {"s": ["é", 2]}});
        let mut out = Vec::new();
        write_py_line_ascii(&mut out, &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"key": ["a", "1"], "message": {"s": ["\u00e9", 2]}}"#
        );
        assert_eq!(
            py_line(&v),
            r#"{"key": ["a", "1"], "message": {"s": ["é", 2]}}"#
        );
    }

    #[test]
    fn pretty_matches_python() {
        let v = json!({"b": [1, 2], "a": {}, "c": [], "d": {"x": null}});
        assert_eq!(
            pretty(&v),
            "{\n  \"a\": {}, \n  \"b\": [\n    1, \n    2\n  ], \n  \"c\": [], \n  \"d\": {\n    \"x\": null\n  }\n}"
        );
    }
}
