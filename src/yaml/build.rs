//! Builds [`Node`] trees from parser events, one document at a time.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Options, Parser, ScalarStyle, Span};

use super::node::{Entry, Node, Value};

/// Resource limits of the loader. The defaults are far above what real
/// manifests need and far below what a hostile file could make us allocate.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of collections in one document.
    pub max_depth: usize,
    /// Nodes that aliases may add to one document by expansion.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 100,
            max_alias_nodes: 100_000,
        }
    }
}

/// What went wrong in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The parser rejected the text; the rest of the document is skipped.
    Syntax,
    /// Nesting deeper than [`Limits::max_depth`]; the document is skipped.
    TooDeep,
    /// Alias expansion beyond [`Limits::max_alias_nodes`]; the document is skipped.
    AliasBomb,
    /// A mapping key that is itself a mapping or sequence (not JSON); the entry is dropped.
    ComplexKey,
    /// A key that appears twice in one mapping; `first` is its first occurrence.
    DuplicateKey { first: Range<usize> },
}

impl ProblemKind {
    /// Whether the document could not be loaded at all.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Syntax | Self::TooDeep | Self::AliasBomb)
    }
}

/// A problem found while loading, at a byte range of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub span: Range<usize>,
    pub message: String,
    /// Index of the document in its file (0-based).
    pub document: usize,
}

/// The documents of one stream and the problems met on the way. A document
/// with a fatal problem is absent from `documents`.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `(index in the file, root node)` of every loaded, non-empty document.
    pub documents: Vec<(usize, Node)>,
    pub problems: Vec<Problem>,
}

/// Parses every document of a YAML (or JSON) stream.
pub fn parse_stream(text: &str, limits: &Limits) -> Parsed {
    let mut options = Options::default();
    options.block_nesting_limit = limits.max_depth + 1;
    options.flow_nesting_limit = limits.max_depth + 1;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut out = Parsed::default();
    let mut builder = Builder::new(text, limits);
    let mut document = 0usize;
    let mut last_error_at = None;

    loop {
        let step = match parser.next() {
            None => break,
            Some(Ok((event, span))) => builder.event(event, span),
            Some(Err(err)) => {
                let mut offset = err
                    .marker()
                    .byte_offset()
                    .unwrap_or_else(|| char_to_byte(text, err.marker().index()));
                let message = err.info();
                // The scanner reports a tab at the start of the token it was
                // reading; point at the tab itself.
                if message.contains("found a tab") {
                    // The window must end on a character boundary.
                    let mut end = text.len().min(offset + 256);
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    let window = text.get(offset..end).unwrap_or_default();
                    if let Some(tab) = window.find('\t') {
                        offset += tab;
                    }
                }
                Err(Problem {
                    kind: ProblemKind::Syntax,
                    span: offset..next_char_boundary(text, offset),
                    message,
                    document,
                })
            }
        };
        match step {
            Ok(Step::Continue) => {}
            Ok(Step::DocumentDone(root)) => {
                out.problems.append(&mut builder.problems(document));
                if let Some(root) = root {
                    out.documents.push((document, root));
                }
                document += 1;
            }
            Err(mut problem) => {
                problem.document = document;
                // The same error twice at one place means recovery made no
                // progress; stop rather than loop.
                if last_error_at == Some(problem.span.start) {
                    break;
                }
                last_error_at = Some(problem.span.start);
                builder.problems(document); // a dropped document keeps only its fatal problem
                out.problems.push(problem);
                builder.reset();
                document += 1;
                match parser.proceed_next_document() {
                    Ok(true) => {}
                    Ok(false) | Err(_) => break,
                }
            }
        }
    }
    out
}

enum Step {
    Continue,
    /// A document ended; `None` when it was empty.
    DocumentDone(Option<Node>),
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        /// Key → index in `entries`, so duplicate checks stay linear on
        /// mappings with thousands of keys.
        keys: HashMap<String, usize>,
        pending_key: Option<PendingKey>,
        merges: Vec<Node>,
    },
}

/// A mapping key waiting for its value.
enum PendingKey {
    /// The key text, its span, and whether it was a plain scalar.
    Key(String, Range<usize>, bool),
    /// A collection used as a key (reported); its entry is dropped.
    Invalid,
}

struct Builder<'t> {
    text: &'t str,
    limits: &'t Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    problems: Vec<Problem>,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str, limits: &'t Limits) -> Self {
        Builder {
            text,
            limits,
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            root: None,
            problems: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.anchors.clear();
        self.alias_nodes = 0;
        self.root = None;
    }

    fn problems(&mut self, document: usize) -> Vec<Problem> {
        let mut problems = std::mem::take(&mut self.problems);
        for p in &mut problems {
            p.document = document;
        }
        problems
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<Step, Problem> {
        let range = span.byte_range().unwrap_or(0..0);
        match event {
            // Stream markers, anchor names and (non-exhaustive) future events
            // carry nothing the tree needs.
            Event::StreamStart | Event::StreamEnd | Event::Anchor(..) => {}
            Event::DocumentStart(..) => self.reset(),
            Event::DocumentEnd => {
                let root = self.root.take().filter(|n| n.value != Value::Null);
                self.reset();
                return Ok(Step::DocumentDone(root));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let tag_suffix = tag
                    .as_ref()
                    .and_then(|t| t.core_suffix().map(str::to_owned));
                let value = resolve_scalar(&text, plain, tag_suffix.as_deref());
                let node = Node {
                    span: range,
                    value,
                    plain: plain && tag.is_none(),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(Frame::Seq {
                    start: range.start,
                    anchor,
                    items: Vec::new(),
                })?;
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(Frame::Map {
                    start: range.start,
                    anchor,
                    entries: Vec::new(),
                    keys: HashMap::new(),
                    pending_key: None,
                    merges: Vec::new(),
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                // A flow collection ends at its bracket; a block collection's
                // end event sits wherever the next token is (after blank
                // lines and comments), so it ends at its last child instead.
                let flow = !range.is_empty();
                let empty_end = self.trim_end(range.end);
                let text = self.text;
                let end = |children_end: Option<usize>| match (flow, children_end) {
                    (true, _) => range.end,
                    // A block scalar's span takes in its line break; stop before it.
                    (false, Some(end)) => text[..end.min(text.len())].trim_end().len(),
                    (false, None) => empty_end,
                };
                let node = match self.stack.pop() {
                    Some(Frame::Seq {
                        start,
                        anchor,
                        items,
                    }) => {
                        let end = end(items.iter().map(|n| n.span.end).max());
                        (
                            anchor,
                            Node {
                                span: start..end.max(start),
                                value: Value::Seq(items),
                                plain: false,
                            },
                        )
                    }
                    Some(Frame::Map {
                        start,
                        anchor,
                        entries,
                        merges,
                        ..
                    }) => {
                        let end = end(entries.iter().map(|e| self.entry_end(e)).max());
                        (
                            anchor,
                            Node {
                                span: start..end.max(start),
                                value: Value::Map(apply_merges(entries, merges)),
                                plain: false,
                            },
                        )
                    }
                    None => return Ok(Step::Continue),
                };
                let (anchor, node) = node;
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Ok(Step::Continue);
                };
                self.alias_nodes += target.count();
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(Problem {
                        kind: ProblemKind::AliasBomb,
                        span: range,
                        message: format!(
                            "aliases expand to more than {} nodes in this document (a YAML alias bomb?)",
                            self.limits.max_alias_nodes
                        ),
                        document: 0,
                    });
                }
                let mut node = target.clone();
                node.span = range;
                self.push(node)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(Problem {
                    kind: ProblemKind::Syntax,
                    span: range,
                    message: format!("unknown anchor `{name}`"),
                    document: 0,
                });
            }
            _ => {}
        }
        Ok(Step::Continue)
    }

    fn open(&mut self, frame: Frame) -> Result<(), Problem> {
        if self.stack.len() >= self.limits.max_depth {
            let start = match &frame {
                Frame::Seq { start, .. } | Frame::Map { start, .. } => *start,
            };
            return Err(Problem {
                kind: ProblemKind::TooDeep,
                span: start..next_char_boundary(self.text, start),
                message: format!(
                    "nesting deeper than {} levels; the document is not loaded",
                    self.limits.max_depth
                ),
                document: 0,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn push(&mut self, node: Node) -> Result<(), Problem> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                keys,
                pending_key,
                merges,
                ..
            }) => match pending_key.take() {
                None => {
                    let key = match &node.value {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                            self.text[node.span.clone()].to_owned()
                        }
                        Value::Seq(_) | Value::Map(_) => {
                            self.problems.push(Problem {
                                kind: ProblemKind::ComplexKey,
                                span: node.span.clone(),
                                message: "a mapping key must be a string, not a collection".into(),
                                document: 0,
                            });
                            *pending_key = Some(PendingKey::Invalid);
                            return Ok(());
                        }
                    };
                    *pending_key = Some(PendingKey::Key(key, node.span, node.plain));
                }
                Some(PendingKey::Invalid) => {}
                Some(PendingKey::Key(key, key_span, key_plain)) => {
                    if key == "<<" && key_plain {
                        merges.push(node);
                        return Ok(());
                    }
                    let entry = Entry {
                        key,
                        key_span,
                        value: node,
                    };
                    match keys.get(&entry.key) {
                        Some(&i) => {
                            self.problems.push(Problem {
                                kind: ProblemKind::DuplicateKey {
                                    first: entries[i].key_span.clone(),
                                },
                                message: format!("duplicate key `{}`", entry.key),
                                span: entry.key_span.clone(),
                                document: 0,
                            });
                            // The last value wins, as in lenient readers.
                            entries[i] = entry;
                        }
                        None => {
                            keys.insert(entry.key.clone(), entries.len());
                            entries.push(entry);
                        }
                    }
                }
            },
        }
        Ok(())
    }

    /// Where an entry's text ends: its value, or for `key:` with no value,
    /// the colon.
    fn entry_end(&self, entry: &Entry) -> usize {
        if !entry.value.span.is_empty() {
            return entry.value.span.end.max(entry.key_span.end);
        }
        let end = entry.key_span.end.min(self.text.len());
        let rest = &self.text[end..];
        let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[blanks..].starts_with(':') {
            end + blanks + 1
        } else {
            end
        }
    }

    /// An empty block collection: pull its end back over whitespace.
    fn trim_end(&self, end: usize) -> usize {
        let end = end.min(self.text.len());
        let trimmed = self.text[..end].trim_end();
        trimmed.len()
    }
}

/// YAML merge keys (`<<: *base`): entries of the merged mappings that the
/// mapping does not set itself, earlier merges winning over later ones.
fn apply_merges(mut entries: Vec<Entry>, merges: Vec<Node>) -> Vec<Entry> {
    if merges.is_empty() {
        return entries;
    }
    let mut present: std::collections::HashSet<String> =
        entries.iter().map(|e| e.key.clone()).collect();
    for merge in merges {
        let sources: Vec<Node> = match merge.value {
            Value::Seq(items) => items,
            _ => vec![merge],
        };
        for source in sources {
            if let Value::Map(merged) = source.value {
                for entry in merged {
                    if present.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }
    entries
}

/// Resolves a scalar with the YAML 1.2 core schema (what JSON-minded
/// Kubernetes tooling expects); quoted and block scalars are strings.
fn resolve_scalar(text: &str, plain: bool, tag: Option<&str>) -> Value {
    match tag {
        Some("str" | "binary" | "timestamp") => return Value::String(text.to_owned()),
        Some("null") => return Value::Null,
        Some("bool") => {
            if let Some(b) = parse_bool(text) {
                return Value::Bool(b);
            }
        }
        Some("int") => {
            if let Some(v) = parse_int(text) {
                return v;
            }
        }
        Some("float") => {
            if let Some(v) = parse_float(text).or_else(|| parse_int(text)) {
                return match v {
                    Value::Int(i) => Value::Float(i as f64),
                    v => v,
                };
            }
        }
        _ => {}
    }
    if !plain || tag.is_some() {
        return Value::String(text.to_owned());
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    parse_int(text)
        .or_else(|| parse_float(text))
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(text: &str) -> Option<Value> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'-' => (-1i64, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let parsed = if let Some(hex) = digits.strip_prefix("0x") {
        (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| i64::from_str_radix(hex, 16).ok())?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (!oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)))
            .then(|| i64::from_str_radix(oct, 8).ok())?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        match digits.parse::<i64>() {
            Ok(v) => Some(v),
            // Too large for i64: JSON decoders read it as a float.
            Err(_) => {
                return digits
                    .parse::<f64>()
                    .ok()
                    .map(|f| Value::Float(sign as f64 * f));
            }
        }
    } else {
        return None;
    };
    parsed.map(|v| Value::Int(sign.saturating_mul(v)))
}

fn parse_float(text: &str) -> Option<Value> {
    let unsigned = text.trim_start_matches(['-', '+']);
    let negative = text.starts_with('-');
    match unsigned {
        ".inf" | ".Inf" | ".INF" if text.len() - unsigned.len() <= 1 => {
            return Some(Value::Float(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }));
        }
        ".nan" | ".NaN" | ".NAN" if text == unsigned => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    // The core schema's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let bytes = unsigned.as_bytes();
    if text.len() - unsigned.len() > 1 || bytes.is_empty() {
        return None;
    }
    let mut i = 0;
    let int_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().map(Value::Float)
}

fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

fn next_char_boundary(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[offset..]
        .chars()
        .next()
        .map_or(offset, |c| offset + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Parsed {
        parse_stream(text, &Limits::default())
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "metadata:\n  annotations:\n    sidecar.istio.io/inject: \"true\"\n";
        let parsed = parse(text);
        let (_, root) = &parsed.documents[0];
        let entry = root
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.entry("sidecar.istio.io/inject"))
            .unwrap();
        assert_eq!(&text[entry.key_span.clone()], "sidecar.istio.io/inject");
        assert_eq!(&text[entry.value.span.clone()], "\"true\"");
        assert_eq!(entry.value.as_str(), Some("true"));
        assert!(!entry.value.plain);
    }

    #[test]
    fn a_broken_document_does_not_stop_the_next() {
        let parsed = parse("a: [1, 2\n---\nb: 2\n---\nc: 3\n");
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].kind, ProblemKind::Syntax);
        let keys: Vec<_> = parsed
            .documents
            .iter()
            .map(|(i, n)| (*i, n.as_map().unwrap()[0].key.clone()))
            .collect();
        assert_eq!(keys, vec![(1, "b".into()), (2, "c".into())]);
    }

    #[test]
    fn core_schema_scalars() {
        let parsed = parse("a: 1\nb: 0x1f\nc: 1.5e3\nd: ~\ne: yes\nf: \"1\"\ng: .inf\nh: 1_000\n");
        let root = &parsed.documents[0].1;
        assert_eq!(root.get("a").unwrap().value, Value::Int(1));
        assert_eq!(root.get("b").unwrap().value, Value::Int(31));
        assert_eq!(root.get("c").unwrap().value, Value::Float(1500.0));
        assert_eq!(root.get("d").unwrap().value, Value::Null);
        assert_eq!(root.get("e").unwrap().as_str(), Some("yes"));
        assert_eq!(root.get("f").unwrap().as_str(), Some("1"));
        assert_eq!(root.get("g").unwrap().value, Value::Float(f64::INFINITY));
        assert_eq!(root.get("h").unwrap().as_str(), Some("1_000"));
    }

    #[test]
    fn duplicate_keys_are_problems_and_the_last_wins() {
        let text = "a: 1\nb: 2\na: 3\n";
        let parsed = parse(text);
        let p = &parsed.problems[0];
        assert_eq!(p.kind, ProblemKind::DuplicateKey { first: 0..1 });
        assert_eq!(p.span, 10..11);
        assert_eq!(parsed.documents[0].1.get("a").unwrap().value, Value::Int(3));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        text.push_str("---\nok: 1\n");
        let parsed = parse(&text);
        assert_eq!(parsed.problems[0].kind, ProblemKind::AliasBomb);
        assert_eq!(parsed.documents.len(), 1);
    }

    #[test]
    fn deep_nesting_is_stopped() {
        let text = format!("{}{}\n---\nok: 1\n", "[".repeat(5000), "]".repeat(5000));
        let parsed = parse(&text);
        assert!(parsed.problems[0].kind.is_fatal());
        assert_eq!(parsed.documents.len(), 1);
        let text = (0..500).fold(String::new(), |mut s, i| {
            s.push_str(&" ".repeat(i));
            s.push_str("k:\n");
            s
        });
        assert!(parse(&text).problems[0].kind.is_fatal());
    }

    #[test]
    fn block_collections_end_at_their_last_child() {
        let text = "a:\n  b: 1\n  c:\n\n# trailing comment\nd: [1, 2]  # flow\ne:\n  - x\n\n";
        let root = &parse(text).documents[0].1;
        assert_eq!(&text[root.get("a").unwrap().span.clone()], "b: 1\n  c:");
        assert_eq!(&text[root.get("d").unwrap().span.clone()], "[1, 2]");
        assert_eq!(&text[root.get("e").unwrap().span.clone()], "- x");
        assert!(text[root.span.clone()].ends_with("- x"));
    }

    #[test]
    fn collection_keys_are_dropped_with_a_problem() {
        let parsed = parse("? [a, b]\n: 1\nok: 2\n");
        assert_eq!(parsed.problems[0].kind, ProblemKind::ComplexKey);
        let root = &parsed.documents[0].1;
        assert_eq!(root.as_map().unwrap().len(), 1);
        assert_eq!(root.get("ok").unwrap().value, Value::Int(2));
    }

    #[test]
    fn merge_keys_merge() {
        let parsed = parse("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n");
        let d = parsed.documents[0].1.get("d").unwrap();
        assert_eq!(d.get("x").unwrap().value, Value::Int(1));
        assert_eq!(d.get("y").unwrap().value, Value::Int(3));
    }

    #[test]
    fn tab_errors_next_to_multibyte_characters_do_not_panic() {
        // Found by fuzzing (`fuzz/`, target `loader`): the window searched
        // for the tab ended 256 bytes after the error, inside a character.
        for shift in 0..4 {
            let text = format!(
                "a:\n  b: word\n\tmore {}{}\n",
                "x".repeat(shift),
                "🚀".repeat(100)
            );
            let parsed = parse(&text);
            let problem = &parsed.problems[0];
            assert!(problem.message.contains("found a tab"), "{problem:?}");
            assert_eq!(problem.span.start, text.find('\t').unwrap());
            assert!(text.is_char_boundary(problem.span.start));
            assert!(text.is_char_boundary(problem.span.end));
        }
    }

    #[test]
    fn json_parses() {
        let parsed = parse("{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"name\": \"a\"}]}}");
        let root = &parsed.documents[0].1;
        assert_eq!(root.get_str("kind"), Some("Pod"));
        let (node, key) = root.lookup_pointer("/spec/containers/0/name").unwrap();
        assert_eq!(node.as_str(), Some("a"));
        assert!(key.is_some());
    }
}
