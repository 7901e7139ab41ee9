//! [`ComponentArgs`]: typed access to one table of the config file (a worker, a builder, a
//! step, a scheduler, ...) that records every problem with its location.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ConfigIssue;
use super::node::{Entry, Node, Pos, Val};
use crate::master::properties::{Interpolate, Properties, Renderable};

/// Collects issues and warnings while loading.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub file: String,
    pub issues: Vec<ConfigIssue>,
    pub warnings: Vec<ConfigIssue>,
}

impl Sink {
    fn issue(&self, pos: Pos, path: &str, message: String, hint: Option<String>) -> ConfigIssue {
        ConfigIssue {
            file: self.file.clone(),
            line: pos.line,
            column: pos.col,
            key_path: path.to_owned(),
            message,
            hint,
        }
    }

    pub fn error(&mut self, pos: Pos, path: &str, message: String, hint: Option<String>) {
        let i = self.issue(pos, path, message, hint);
        self.issues.push(i);
    }

    pub fn warn(&mut self, pos: Pos, path: &str, message: String, hint: Option<String>) {
        let i = self.issue(pos, path, message, hint);
        self.warnings.push(i);
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The closest known name, for "did you mean" hints.
pub(crate) fn suggest<'k>(
    unknown: &str,
    known: impl IntoIterator<Item = &'k str>,
) -> Option<String> {
    let lower = unknown.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        if k.to_lowercase() == lower {
            return Some(k.to_owned());
        }
        let d = strsim::damerau_levenshtein(&lower, &k.to_lowercase());
        let limit = (k.chars().count().max(unknown.chars().count()) / 3).max(2);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| k.to_owned())
}

/// Reader for one config table, handed to the factories of the [`Registry`](super::Registry).
///
/// Every getter records a problem (with file, line, column and key path) when the value has
/// the wrong type, and remembers the key as known; keys nobody asked for are reported as
/// unknown, with a "did you mean" hint, when the loader is done with the table.
pub struct ComponentArgs<'a> {
    node: &'a Node,
    path: String,
    label: String,
    sink: &'a mut Sink,
    asked: Vec<String>,
    aliases: Vec<(String, String)>,
}

impl<'a> ComponentArgs<'a> {
    pub(crate) fn new(node: &'a Node, path: String, label: String, sink: &'a mut Sink) -> Self {
        ComponentArgs {
            node,
            path,
            label,
            sink,
            asked: Vec::new(),
            aliases: Vec::new(),
        }
    }

    /// The key path of this table (`builders[0].steps[2]`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What this table is, for messages (`ShellCommand`, `worker 'w1'`).
    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn set_label(&mut self, label: String) {
        self.label = label;
    }

    fn entry(&self, key: &str) -> Option<&'a Entry> {
        if let Some(e) = self.node.get(key) {
            return Some(e);
        }
        let node: &'a Node = self.node;
        self.aliases
            .iter()
            .filter(|(_, new)| new == key)
            .find_map(|(old, _)| node.get(old))
    }

    fn mark(&mut self, key: &str) {
        if !self.asked.iter().any(|k| k == key) {
            self.asked.push(key.to_owned());
        }
    }

    fn get(&mut self, key: &str) -> Option<&'a Entry> {
        self.mark(key);
        self.entry(key)
    }

    /// Accepts `old` as a deprecated spelling of `new`, with a warning naming the replacement.
    pub fn deprecated_alias(&mut self, old: &str, new: &str) {
        self.mark(old);
        let Some(e) = self.node.get(old) else { return };
        let path = join(&self.path, old);
        if self.node.get(new).is_some() {
            self.sink.error(
                e.key_pos,
                &path,
                format!("both '{old}' and '{new}' are given"),
                Some(format!(
                    "'{old}' is the deprecated name of '{new}'; remove it"
                )),
            );
        } else {
            self.sink.warn(
                e.key_pos,
                &path,
                format!("'{old}' is deprecated, use '{new}' instead"),
                None,
            );
            self.aliases.push((old.to_owned(), new.to_owned()));
        }
    }

    /// Whether the key is present.
    pub fn has(&mut self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Records a problem at `key` (at the table itself if the key is absent).
    pub fn error(&mut self, key: &str, message: impl Into<String>, hint: Option<String>) {
        let pos = self.entry(key).map(|e| e.node.pos).unwrap_or(self.node.pos);
        let path = join(&self.path, key);
        self.sink.error(pos, &path, message.into(), hint);
    }

    /// Refuses `key` when it is given: the option is known (Buildbot has it) but this master
    /// does not carry it out, so accepting it would silently do nothing. `why` says what to
    /// do instead.
    pub fn not_supported(&mut self, key: &str, why: &str) {
        if self.has(key) {
            let who = self.who();
            self.error(
                key,
                format!("{who}'{key}' is not supported by this master"),
                Some(why.to_owned()),
            );
        }
    }

    /// The start of a message about this table's keys: `"<label>: "`, or nothing for
    /// top-level keys (which have no label).
    pub(crate) fn who(&self) -> String {
        if self.label.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.label)
        }
    }

    /// A table of strings (`{ k = "v" }`; other values are written as JSON), e.g. `git -c`
    /// settings or HTTP headers. `None` (an error recorded) when it is not a table.
    pub fn string_map(&mut self, key: &str) -> Option<BTreeMap<String, String>> {
        match self.json(key)? {
            Value::Object(o) => Some(
                o.into_iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        (k, v)
                    })
                    .collect(),
            ),
            _ => {
                let msg = format!("{}: '{key}' must be a table", self.label());
                self.error(key, msg, None);
                None
            }
        }
    }

    /// Records a warning at `key` (at the table itself if the key is absent).
    pub fn warn(&mut self, key: &str, message: impl Into<String>, hint: Option<String>) {
        let pos = self.entry(key).map(|e| e.key_pos).unwrap_or(self.node.pos);
        let path = join(&self.path, key);
        self.sink.warn(pos, &path, message.into(), hint);
    }

    /// Records a problem about the table as a whole.
    pub fn error_here(&mut self, message: impl Into<String>, hint: Option<String>) {
        let (pos, path) = (self.node.pos, self.path.clone());
        self.sink.error(pos, &path, message.into(), hint);
    }

    fn type_error(&mut self, e: &Entry, expected: &str) {
        let path = join(&self.path, &e.key);
        self.sink.error(
            e.node.pos,
            &path,
            format!(
                "{}: '{}' must be {expected}, not {}",
                self.label,
                e.key,
                e.node.type_name()
            ),
            None,
        );
    }

    fn missing(&mut self, key: &str) {
        let (pos, path) = (self.node.pos, join(&self.path, key));
        self.sink.error(
            pos,
            &path,
            format!("{}: missing required argument '{key}'", self.label),
            None,
        );
    }

    /// An optional string.
    pub fn str(&mut self, key: &str) -> Option<String> {
        let e = self.get(key)?;
        match &e.node.val {
            Val::Str(s) => Some(s.clone()),
            _ => {
                self.type_error(e, "a string");
                None
            }
        }
    }

    /// A required string (an empty string counts as missing).
    pub fn req_str(&mut self, key: &str) -> Option<String> {
        if self.entry(key).is_none() {
            self.mark(key);
            self.missing(key);
            return None;
        }
        self.str(key)
    }

    /// A boolean with a default.
    pub fn bool(&mut self, key: &str, default: bool) -> bool {
        self.opt_bool(key).unwrap_or(default)
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        let e = self.get(key)?;
        match &e.node.val {
            Val::Bool(b) => Some(*b),
            _ => {
                self.type_error(e, "true or false");
                None
            }
        }
    }

    /// An optional integer.
    pub fn int(&mut self, key: &str) -> Option<i64> {
        let e = self.get(key)?;
        match &e.node.val {
            Val::Int(i) => Some(*i),
            _ => {
                self.type_error(e, "an integer");
                None
            }
        }
    }

    /// An optional non-negative integer.
    pub fn uint(&mut self, key: &str) -> Option<u64> {
        let i = self.int(key)?;
        match u64::try_from(i) {
            Ok(u) => Some(u),
            Err(_) => {
                self.error(
                    key,
                    format!("{}: '{key}' must not be negative, got {i}", self.label),
                    None,
                );
                None
            }
        }
    }

    /// An optional TCP port (0–65535).
    pub fn port(&mut self, key: &str) -> Option<u16> {
        let e = self.get(key)?;
        let i = match &e.node.val {
            Val::Int(i) => *i,
            Val::Str(s) => match s.strip_prefix("tcp:").unwrap_or(s).parse::<i64>() {
                Ok(i) => i,
                Err(_) => {
                    self.error(
                        key,
                        format!("{}: '{key}' must be a port number, got '{s}'", self.label),
                        Some("use an integer between 1 and 65535".into()),
                    );
                    return None;
                }
            },
            _ => {
                self.type_error(e, "a port number");
                return None;
            }
        };
        match u16::try_from(i) {
            Ok(p) => Some(p),
            Err(_) => {
                self.error(
                    key,
                    format!("{}: port {i} is out of range", self.label),
                    Some("use an integer between 1 and 65535".into()),
                );
                None
            }
        }
    }

    /// A list of strings; a single string counts as a one-element list.
    pub fn str_list(&mut self, key: &str) -> Option<Vec<String>> {
        let e = self.get(key)?;
        match &e.node.val {
            Val::Str(s) => Some(vec![s.clone()]),
            Val::Array(items) => {
                let mut out = Vec::new();
                for (i, n) in items.iter().enumerate() {
                    match &n.val {
                        Val::Str(s) => out.push(s.clone()),
                        _ => {
                            let path = format!("{}[{i}]", join(&self.path, key));
                            self.sink.error(
                                n.pos,
                                &path,
                                format!(
                                    "{}: '{key}' must be a list of strings, but item {i} is {}",
                                    self.label,
                                    n.type_name()
                                ),
                                None,
                            );
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.type_error(e, "a list of strings");
                None
            }
        }
    }

    /// One of a fixed set of strings.
    pub fn choice(&mut self, key: &str, choices: &[&str]) -> Option<String> {
        let s = self.str(key)?;
        if choices.contains(&s.as_str()) {
            return Some(s);
        }
        let hint = suggest(&s, choices.iter().copied())
            .map(|c| format!("did you mean '{c}'?"))
            .unwrap_or_else(|| format!("one of {}", quote_list(choices)));
        self.error(
            key,
            format!(
                "{}: '{key}' must be {}, not '{s}'",
                self.label,
                or_list(choices)
            ),
            Some(hint),
        );
        None
    }

    /// Any value as JSON (for opaque settings).
    pub fn json(&mut self, key: &str) -> Option<Value> {
        self.get(key).map(|e| e.node.to_json())
    }

    /// A renderable: strings with `%(` are `Interpolate`s, `{ property = ... }` tables are
    /// `Property`, lists and tables are rendered element-wise.
    pub fn renderable(&mut self, key: &str) -> Option<Renderable> {
        let e = self.get(key)?;
        let path = join(&self.path, key);
        node_renderable(&e.node, &path, &self.label, self.sink)
    }

    /// A required renderable.
    pub fn req_renderable(&mut self, key: &str) -> Option<Renderable> {
        if self.entry(key).is_none() {
            self.mark(key);
            self.missing(key);
            return None;
        }
        self.renderable(key)
    }

    /// A renderable that must be a string (or a renderable producing one).
    pub fn renderable_str(&mut self, key: &str) -> Option<Renderable> {
        let e = self.get(key)?;
        match &e.node.val {
            Val::Str(_) | Val::Table(_) => self.renderable(key),
            _ => {
                self.type_error(e, "a string");
                None
            }
        }
    }

    /// A table of renderables (`env = { PATH = "..." }`).
    pub fn renderable_map(&mut self, key: &str) -> Option<BTreeMap<String, Renderable>> {
        let e = self.get(key)?;
        let Some(entries) = e.node.entries() else {
            self.type_error(e, "a table");
            return None;
        };
        let path = join(&self.path, key);
        let mut out = BTreeMap::new();
        for en in entries {
            if let Some(r) =
                node_renderable(&en.node, &join(&path, &en.key), &self.label, self.sink)
            {
                out.insert(en.key.clone(), r);
            }
        }
        Some(out)
    }

    /// A table of plain values as properties with one source.
    pub fn properties(&mut self, key: &str, source: &str) -> Properties {
        let mut p = Properties::new();
        let Some(e) = self.get(key) else { return p };
        match e.node.entries() {
            Some(entries) => {
                for en in entries {
                    p.set(en.key.clone(), en.node.to_json(), source);
                }
            }
            None => self.type_error(e, "a table"),
        }
        p
    }

    /// A nested table, read with its own [`ComponentArgs`]; unknown keys inside are reported
    /// when `f` returns.
    pub fn table<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut ComponentArgs<'_>) -> T,
    ) -> Option<T> {
        let e = self.get(key)?;
        if e.node.entries().is_none() {
            self.type_error(e, "a table");
            return None;
        }
        let path = join(&self.path, key);
        // sections of the file are named by their path (`www`, `protocols.msgpack`);
        // tables inside a component keep the component's label
        let label = if self.path.is_empty() || self.label == self.path {
            path.clone()
        } else {
            self.label.clone()
        };
        let mut sub = ComponentArgs::new(&e.node, path, label, self.sink);
        let out = f(&mut sub);
        sub.finish();
        Some(out)
    }

    /// Each element of an array of tables, read with its own [`ComponentArgs`].
    pub fn tables<T>(
        &mut self,
        key: &str,
        mut f: impl FnMut(&mut ComponentArgs<'_>) -> Option<T>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        let Some(e) = self.get(key) else { return out };
        let items: Vec<&Node> = match &e.node.val {
            Val::Array(items) => items.iter().collect(),
            Val::Table(_) => vec![&e.node],
            _ => {
                self.type_error(e, "an array of tables");
                return out;
            }
        };
        let base = join(&self.path, key);
        for (i, n) in items.into_iter().enumerate() {
            let path = format!("{base}[{i}]");
            if n.entries().is_none() {
                self.sink.error(
                    n.pos,
                    &path,
                    format!(
                        "{}: each item of '{key}' must be a table, not {}",
                        self.label,
                        n.type_name()
                    ),
                    None,
                );
                continue;
            }
            let label = self.label.clone();
            let mut sub = ComponentArgs::new(n, path, label, self.sink);
            if let Some(v) = f(&mut sub) {
                out.push(v);
            }
            sub.finish();
        }
        out
    }

    /// A list whose items are either strings (mapped with `from_str`) or tables (read with
    /// `f`), e.g. `locks = ["l1", { name = "l2", access = "exclusive" }]`.
    pub fn tables_or_strings<T>(
        &mut self,
        key: &str,
        mut f: impl FnMut(&mut ComponentArgs<'_>) -> Option<T>,
        from_str: impl Fn(String) -> T,
    ) -> Vec<T> {
        let mut out = Vec::new();
        let Some(e) = self.get(key) else { return out };
        let Val::Array(items) = &e.node.val else {
            self.type_error(e, "a list");
            return out;
        };
        let base = join(&self.path, key);
        for (i, n) in items.iter().enumerate() {
            let path = format!("{base}[{i}]");
            match &n.val {
                Val::Str(s) => out.push(from_str(s.clone())),
                Val::Table(_) => {
                    let label = self.label.clone();
                    let mut sub = ComponentArgs::new(n, path, label, self.sink);
                    if let Some(v) = f(&mut sub) {
                        out.push(v);
                    }
                    sub.finish();
                }
                _ => self.sink.error(
                    n.pos,
                    &path,
                    format!(
                        "{}: items of '{key}' must be names or tables, not {}",
                        self.label,
                        n.type_name()
                    ),
                    None,
                ),
            }
        }
        out
    }

    /// The whole table as JSON (for custom components).
    pub fn to_json(&self) -> Value {
        self.node.to_json()
    }

    /// Marks every present key as known (for components that accept anything).
    pub fn accept_all(&mut self) {
        if let Some(entries) = self.node.entries() {
            for e in entries {
                self.mark(&e.key);
            }
        }
    }

    /// Reports keys nobody asked for.
    pub(crate) fn finish(&mut self) {
        let Some(entries) = self.node.entries() else {
            return;
        };
        for e in entries {
            if self.asked.iter().any(|k| k == &e.key) {
                continue;
            }
            let hint = suggest(&e.key, self.asked.iter().map(String::as_str))
                .map(|k| format!("did you mean '{k}'?"));
            let path = join(&self.path, &e.key);
            let message = if self.path.is_empty() {
                format!("unknown configuration key '{}'", e.key)
            } else {
                format!("{}: unknown argument '{}'", self.label, e.key)
            };
            self.sink.error(e.key_pos, &path, message, hint);
        }
        // everything is reported once
        self.accept_all();
    }
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("'{one}'"),
        [init @ .., last] => format!("{} or '{last}'", quote_list(init)),
    }
}

pub(crate) fn node_renderable(
    node: &Node,
    path: &str,
    label: &str,
    sink: &mut Sink,
) -> Option<Renderable> {
    match &node.val {
        Val::Str(s) => match Renderable::parse_str(s) {
            Ok(r) => Some(r),
            Err(e) => {
                sink.error(
                    node.pos,
                    path,
                    format!("{label}: {e} in \"{s}\""),
                    Some("write %% for a literal %".into()),
                );
                None
            }
        },
        Val::Array(items) => {
            let mut out = Vec::new();
            for (i, n) in items.iter().enumerate() {
                out.push(node_renderable(n, &format!("{path}[{i}]"), label, sink)?);
            }
            Some(Renderable::List(out))
        }
        Val::Table(entries) => {
            let get = |k: &str| entries.iter().find(|e| e.key == k);
            if let Some(p) = get("property") {
                let Val::Str(name) = &p.node.val else {
                    sink.error(
                        p.node.pos,
                        &join(path, "property"),
                        format!("{label}: 'property' must be a property name"),
                        None,
                    );
                    return None;
                };
                for e in entries {
                    if !["property", "default", "defaultWhenFalse"].contains(&e.key.as_str()) {
                        sink.error(
                            e.key_pos,
                            &join(path, &e.key),
                            format!("{label}: unknown argument '{}' of Property", e.key),
                            Some(
                                "Property takes 'property', 'default' and 'defaultWhenFalse'"
                                    .into(),
                            ),
                        );
                    }
                }
                let default = match get("default") {
                    Some(d) => node_renderable(&d.node, &join(path, "default"), label, sink)?,
                    None => Renderable::Value(Value::Null),
                };
                let dwf = match get("defaultWhenFalse").map(|e| &e.node.val) {
                    None => true,
                    Some(Val::Bool(b)) => *b,
                    Some(_) => {
                        sink.error(
                            node.pos,
                            &join(path, "defaultWhenFalse"),
                            format!("{label}: 'defaultWhenFalse' must be true or false"),
                            None,
                        );
                        true
                    }
                };
                return Some(Renderable::Property {
                    name: name.clone(),
                    default: Box::new(default),
                    default_when_false: dwf,
                });
            }
            if let Some(i) = get("interpolate") {
                let Val::Str(fmt) = &i.node.val else {
                    sink.error(
                        i.node.pos,
                        &join(path, "interpolate"),
                        format!("{label}: 'interpolate' must be a string"),
                        None,
                    );
                    return None;
                };
                let mut kw = BTreeMap::new();
                if let Some(k) = get("kw") {
                    let kpath = join(path, "kw");
                    match k.node.entries() {
                        Some(es) => {
                            for e in es {
                                let r =
                                    node_renderable(&e.node, &join(&kpath, &e.key), label, sink)?;
                                kw.insert(e.key.clone(), r);
                            }
                        }
                        None => {
                            sink.error(
                                k.node.pos,
                                &kpath,
                                format!("{label}: 'kw' must be a table"),
                                None,
                            );
                            return None;
                        }
                    }
                }
                return match Interpolate::with_kwargs(fmt, kw) {
                    Ok(i) => Some(Renderable::Interpolate(i)),
                    Err(e) => {
                        sink.error(
                            i.node.pos,
                            &join(path, "interpolate"),
                            format!("{label}: {e} in \"{fmt}\""),
                            None,
                        );
                        None
                    }
                };
            }
            let mut m = BTreeMap::new();
            for e in entries {
                m.insert(
                    e.key.clone(),
                    node_renderable(&e.node, &join(path, &e.key), label, sink)?,
                );
            }
            Some(Renderable::Map(m))
        }
        _ => Some(Renderable::Value(node.to_json())),
    }
}
