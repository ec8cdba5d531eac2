//! The tree: YAML nodes with byte spans, and lookups by field path.

use std::ops::Range;

/// A YAML node and where it is in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Byte range in the file (for collections: first to last character).
    pub span: Range<usize>,
    pub value: Value,
    /// A plain (unquoted) scalar: its type came from its spelling, which
    /// matters where YAML 1.1 readers (the API server) disagree with 1.2.
    pub plain: bool,
}

/// The value of a node, resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One mapping entry; keys are always strings (Kubernetes objects are JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment<'a> {
    Key(&'a str),
    Index(usize),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entry for `key` in a mapping (the last one, should a key repeat,
    /// as JSON decoders keep it).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().rev().find(|e| e.key == key)
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// A string field, e.g. `kind`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// Follows `path` from this node. Returns the node found and, when the
    /// last step was a mapping key, that key's span (diagnostics about a
    /// field point at its key).
    pub fn lookup<'n, 'p>(
        &'n self,
        path: impl IntoIterator<Item = PathSegment<'p>>,
    ) -> Option<(&'n Node, Option<Range<usize>>)> {
        let mut node = self;
        let mut key_span = None;
        for segment in path {
            match segment {
                PathSegment::Key(key) => {
                    let entry = node.entry(key)?;
                    key_span = Some(entry.key_span.clone());
                    node = &entry.value;
                }
                PathSegment::Index(i) => {
                    node = node.as_seq()?.get(i)?;
                    key_span = None;
                }
            }
        }
        Some((node, key_span))
    }

    /// A tree of `json` without positions (every span is empty): for objects
    /// that arrive as JSON, such as an admission request's pod.
    pub fn from_json(json: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(Node::from_json).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(key, value)| Entry {
                        key: key.clone(),
                        key_span: 0..0,
                        value: Node::from_json(value),
                    })
                    .collect(),
            ),
        };
        Node {
            span: 0..0,
            value,
            plain: false,
        }
    }

    /// Converts to JSON, as the API server would see this node.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Number of nodes in this subtree (for the alias-expansion budget).
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|e| 1 + e.value.count()).sum(),
            _ => 0,
        }
    }
}

impl Node {
    /// Follows a JSON pointer, treating a segment as an index where the node
    /// is a sequence and as a key where it is a mapping.
    pub fn lookup_pointer(&self, pointer: &str) -> Option<(&Node, Option<Range<usize>>)> {
        let mut node = self;
        let mut key_span = None;
        for segment in super::pointer::segments(pointer) {
            match &node.value {
                Value::Seq(items) => {
                    node = items.get(segment.parse::<usize>().ok()?)?;
                    key_span = None;
                }
                Value::Map(_) => {
                    let entry = node.entry(&segment)?;
                    key_span = Some(entry.key_span.clone());
                    node = &entry.value;
                }
                _ => return None,
            }
        }
        Some((node, key_span))
    }
}
