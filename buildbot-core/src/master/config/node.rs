//! A TOML document as a tree of nodes that remember their line and column.

use std::ops::Range;

use serde_json::Value;
use toml_edit::{Item, Table};

/// 1-based line and column; `line == 0` means unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

pub(crate) struct LineIndex<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    pub fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        let col = self
            .text
            .get(start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - start);
        Pos { line, col: col + 1 }
    }

    fn span(&self, span: Option<Range<usize>>) -> Pos {
        span.map(|s| self.pos(s.start)).unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub val: Val,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.val {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a float",
            Val::Bool(_) => "a boolean",
            Val::Datetime(_) => "a date-time",
            Val::Array(_) => "an array",
            Val::Table(_) => "a table",
        }
    }

    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.val {
            Val::Table(e) => Some(e),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries()?.iter().find(|e| e.key == key)
    }

    pub fn to_json(&self) -> Value {
        match &self.val {
            Val::Str(s) | Val::Datetime(s) => Value::String(s.clone()),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => Value::from(*f),
            Val::Bool(b) => Value::Bool(*b),
            Val::Array(a) => Value::Array(a.iter().map(Node::to_json).collect()),
            Val::Table(t) => Value::Object(
                t.iter()
                    .map(|e| (e.key.clone(), e.node.to_json()))
                    .collect(),
            ),
        }
    }
}

fn value_node(v: &toml_edit::Value, idx: &LineIndex<'_>) -> Node {
    use toml_edit::Value as V;
    let pos = idx.span(v.span());
    let val = match v {
        V::String(s) => Val::Str(s.value().clone()),
        V::Integer(i) => Val::Int(*i.value()),
        V::Float(f) => Val::Float(*f.value()),
        V::Boolean(b) => Val::Bool(*b.value()),
        V::Datetime(d) => Val::Datetime(d.value().to_string()),
        V::Array(a) => Val::Array(a.iter().map(|v| value_node(v, idx)).collect()),
        V::InlineTable(t) => Val::Table(
            t.iter()
                .map(|(k, v)| {
                    let key_pos = t.key(k).map(|key| idx.span(key.span())).unwrap_or(pos);
                    Entry {
                        key: k.to_owned(),
                        key_pos,
                        node: value_node(v, idx),
                    }
                })
                .collect(),
        ),
    };
    Node { pos, val }
}

fn table_node(t: &Table, idx: &LineIndex<'_>, fallback: Pos) -> Node {
    let mut entries = Vec::new();
    for (k, item) in t.iter() {
        let key_pos = t
            .key(k)
            .map(|key| idx.span(key.span()))
            .filter(|p| p.line > 0)
            .unwrap_or(fallback);
        if let Some(node) = item_node(item, idx, key_pos) {
            entries.push(Entry {
                key: k.to_owned(),
                key_pos,
                node,
            });
        }
    }
    let mut pos = idx.span(t.span());
    if pos.line == 0 {
        pos = entries.first().map(|e| e.key_pos).unwrap_or(fallback);
    }
    Node {
        pos,
        val: Val::Table(entries),
    }
}

fn item_node(item: &Item, idx: &LineIndex<'_>, fallback: Pos) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(value_node(v, idx)),
        Item::Table(t) => Some(table_node(t, idx, fallback)),
        Item::ArrayOfTables(a) => {
            let nodes: Vec<Node> = a.iter().map(|t| table_node(t, idx, fallback)).collect();
            let pos = nodes.first().map(|n| n.pos).unwrap_or(fallback);
            Some(Node {
                pos,
                val: Val::Array(nodes),
            })
        }
    }
}

/// Parses TOML text; `Err((pos, message))` on a syntax error.
pub(crate) fn parse(text: &str) -> Result<Node, (Pos, String)> {
    let idx = LineIndex::new(text);
    match toml_edit::ImDocument::parse(text) {
        Ok(doc) => Ok(table_node(doc.as_table(), &idx, Pos { line: 1, col: 1 })),
        Err(e) => {
            let pos = e
                .span()
                .map(|s| idx.pos(s.start))
                .unwrap_or(Pos { line: 1, col: 1 });
            let msg = e.message().trim().to_owned();
            Err((pos, msg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_values_and_tables() {
        let text = "a = 1\n[t]\nb = \"x\"\n[[arr]]\nc = [1, { d = 2 }]\n";
        let n = parse(text).unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(
            (a.key_pos, a.node.pos),
            (Pos { line: 1, col: 1 }, Pos { line: 1, col: 5 })
        );
        let t = n.get("t").unwrap();
        assert_eq!(t.node.pos.line, 2);
        assert_eq!(t.node.get("b").unwrap().node.pos, Pos { line: 3, col: 5 });
        let arr = n.get("arr").unwrap();
        let Val::Array(items) = &arr.node.val else {
            panic!()
        };
        assert_eq!(items[0].pos.line, 4);
        let c = items[0].get("c").unwrap();
        let Val::Array(cs) = &c.node.val else {
            panic!()
        };
        assert_eq!(cs[1].get("d").unwrap().key_pos, Pos { line: 5, col: 11 });
        let e = parse("x = \n").unwrap_err();
        assert_eq!(e.0.line, 1);
    }
}
