//! Entities as Buildbot's JSON, and Buildbot's two output formats.

use std::io;

use buildbot_db::{
    BuildRequestRow, BuildRow, BuilderRow, BuildsetRow, LogRow, MasterRow, SourceStampRow, StepRow,
};
use serde_json::{Value, json};

pub(crate) use buildbot_core::master::engine::json::{change, sourcestamp};

pub(crate) const BUILD_FIELDS: &[&str] = &[
    "builderid",
    "buildid",
    "buildrequestid",
    "complete",
    "complete_at",
    "locks_duration_s",
    "masterid",
    "number",
    "properties",
    "results",
    "started_at",
    "state_string",
    "workerid",
];

pub(crate) fn build(b: &BuildRow) -> Value {
    json!({
        "builderid": b.builderid.0,
        "buildid": b.buildid.0,
        "buildrequestid": b.buildrequestid.0,
        "complete": b.complete_at.is_some(),
        "complete_at": b.complete_at,
        "locks_duration_s": b.locks_duration_s,
        "masterid": b.masterid.0,
        "number": b.number,
        "properties": {},
        "results": b.results,
        "started_at": b.started_at,
        "state_string": b.state_string,
        "workerid": b.workerid.map(|w| w.0),
    })
}

pub(crate) const BUILDER_FIELDS: &[&str] = &[
    "builderid",
    "description",
    "description_format",
    "description_html",
    "masterids",
    "name",
    "projectid",
    "tags",
];

pub(crate) fn builder(b: &BuilderRow) -> Value {
    json!({
        "builderid": b.builderid.0,
        "description": b.description,
        "description_format": b.description_format,
        "description_html": b.description_html,
        "masterids": b.masterids.iter().map(|m| m.0).collect::<Vec<_>>(),
        "name": b.name,
        "projectid": b.projectid.map(|p| p.0),
        "tags": b.tags,
    })
}

pub(crate) const WORKER_FIELDS: &[&str] = &[
    "configured_on",
    "connected_to",
    "graceful",
    "name",
    "pause_reason",
    "paused",
    "workerid",
    "workerinfo",
];

/// A worker row as JSON (a macro: `WorkerRow` is not exported by buildbot-db).
macro_rules! worker_json {
    ($w:expr) => {{
        let w = $w;
        serde_json::json!({
            "configured_on": w.configured_on.iter()
                .map(|(m, b)| serde_json::json!({"builderid": b.0, "masterid": m.0}))
                .collect::<Vec<_>>(),
            "connected_to": w.connected_to.iter()
                .map(|m| serde_json::json!({"masterid": m.0}))
                .collect::<Vec<_>>(),
            "graceful": w.graceful,
            "name": w.name,
            "pause_reason": w.pause_reason,
            "paused": w.paused,
            "workerid": w.workerid.0,
            "workerinfo": w.workerinfo,
        })
    }};
}
pub(crate) use worker_json;

pub(crate) const STEP_FIELDS: &[&str] = &[
    "buildid",
    "complete",
    "complete_at",
    "hidden",
    "locks_acquired_at",
    "name",
    "number",
    "results",
    "started_at",
    "state_string",
    "stepid",
    "urls",
];

pub(crate) fn step(s: &StepRow) -> Value {
    json!({
        "buildid": s.buildid.0,
        "complete": s.complete_at.is_some(),
        "complete_at": s.complete_at,
        "hidden": s.hidden,
        "locks_acquired_at": s.locks_acquired_at,
        "name": s.name,
        "number": s.number,
        "results": s.results,
        "started_at": s.started_at,
        "state_string": s.state_string,
        "stepid": s.stepid.0,
        "urls": s.urls.iter()
            .map(|(n, u)| json!({"name": n, "url": u}))
            .collect::<Vec<_>>(),
    })
}

pub(crate) const LOG_FIELDS: &[&str] = &[
    "complete",
    "logid",
    "name",
    "num_lines",
    "slug",
    "stepid",
    "type",
];

pub(crate) fn log(l: &LogRow) -> Value {
    json!({
        "complete": l.complete,
        "logid": l.logid.0,
        "name": l.name,
        "num_lines": l.num_lines,
        "slug": l.slug,
        "stepid": l.stepid.0,
        "type": l.log_type,
    })
}

pub(crate) const BUILDREQUEST_FIELDS: &[&str] = &[
    "builderid",
    "buildrequestid",
    "buildsetid",
    "claimed",
    "claimed_at",
    "claimed_by_masterid",
    "complete",
    "complete_at",
    "priority",
    "properties",
    "results",
    "submitted_at",
    "waited_for",
];

pub(crate) fn buildrequest(r: &BuildRequestRow) -> Value {
    json!({
        "builderid": r.builderid.0,
        "buildrequestid": r.buildrequestid.0,
        "buildsetid": r.buildsetid.0,
        "claimed": r.claimed,
        "claimed_at": r.claimed_at,
        "claimed_by_masterid": r.claimed_by_masterid.map(|m| m.0),
        "complete": r.complete,
        "complete_at": r.complete_at,
        "priority": r.priority,
        "properties": null,
        "results": r.results,
        "submitted_at": r.submitted_at,
        "waited_for": r.waited_for,
    })
}

pub(crate) const BUILDSET_FIELDS: &[&str] = &[
    "bsid",
    "complete",
    "complete_at",
    "external_idstring",
    "parent_buildid",
    "parent_relationship",
    "reason",
    "rebuilt_buildid",
    "results",
    "sourcestamps",
    "submitted_at",
];

pub(crate) fn buildset(b: &BuildsetRow, sourcestamps: &[SourceStampRow]) -> Value {
    json!({
        "bsid": b.bsid.0,
        "complete": b.complete,
        "complete_at": b.complete_at,
        "external_idstring": b.external_idstring,
        "parent_buildid": b.parent_buildid.map(|i| i.0),
        "parent_relationship": b.parent_relationship,
        "reason": b.reason,
        "rebuilt_buildid": b.rebuilt_buildid.map(|i| i.0),
        "results": b.results,
        "sourcestamps": sourcestamps.iter().map(sourcestamp).collect::<Vec<_>>(),
        "submitted_at": b.submitted_at,
    })
}

pub(crate) const MASTER_FIELDS: &[&str] = &["active", "last_active", "masterid", "name"];

pub(crate) fn master(m: &MasterRow) -> Value {
    json!({
        "active": m.active,
        "last_active": m.last_active,
        "masterid": m.masterid.0,
        "name": m.name,
    })
}

pub(crate) const CHANGE_FIELDS: &[&str] = &[
    "author",
    "branch",
    "category",
    "changeid",
    "codebase",
    "comments",
    "committer",
    "files",
    "parent_changeids",
    "project",
    "properties",
    "repository",
    "revision",
    "revlink",
    "sourcestamp",
    "when_timestamp",
];

pub(crate) const FORCESCHEDULER_FIELDS: &[&str] = &[
    "all_fields",
    "builder_names",
    "button_name",
    "enabled",
    "label",
    "name",
];

/// Keeps only `fields` of an entity object.
pub(crate) fn project(v: Value, fields: Option<&[String]>) -> Value {
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
