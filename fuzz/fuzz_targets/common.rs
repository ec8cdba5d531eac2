//! Checks shared by the fuzz targets. Every violated invariant is an
//! `assert!`, so libFuzzer reports it as a crash with the input.

#![allow(dead_code)]

use std::ops::Range;
use std::path::PathBuf;

use kubectl_inject::diagnostic::Diagnostic;
use kubectl_inject::load::{Input, LoadOptions, Workspace, load, load_inputs};
use kubectl_inject::rules::reading::load_finding;
use kubectl_inject::source::{SourceFile, SourceMap};
use kubectl_inject::yaml::{Node, PathSegment, Value};

/// A span lies within `text`, is not inverted, and starts and ends on
/// character boundaries.
pub fn check_span(text: &str, span: &Range<usize>, what: &str) {
    assert!(
        span.start <= span.end,
        "{what}: inverted span {span:?} (text length {})",
        text.len()
    );
    assert!(
        span.end <= text.len(),
        "{what}: span {span:?} past the end of the text (length {})",
        text.len()
    );
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: span {span:?} not on character boundaries"
    );
}

/// Byte offset → line/column → byte offset is the identity on character
/// boundaries.
pub fn check_line_col(file: &SourceFile, offset: usize) {
    let lc = file.line_col(offset);
    let back = file.offset_of(lc.line, lc.column);
    assert_eq!(
        back, offset,
        "line_col({offset}) = {lc:?}, but offset_of gives {back}"
    );
}

/// Loads `data` the way `kubectl-inject lint -` does: the whole per-file
/// path (NUL and UTF-8 checks, parse, objects, loader findings), in memory.
pub fn load_bytes(data: &[u8]) -> Workspace {
    load(&[PathBuf::from("-")], &LoadOptions::default(), data).expect("loading stdin cannot fail")
}

/// Loads `data` as one object read from a cluster (`simulate --live`): the
/// same parse, but findings must name the object instead of a position.
pub fn load_live(data: &[u8]) -> Workspace {
    load_inputs(
        vec![Input::Live {
            name: "Pod/default/fuzz".to_owned(),
            json: String::from_utf8_lossy(data).into_owned(),
        }],
        Vec::new(),
        &LoadOptions::default(),
    )
}

/// Every span of every diagnostic (primary and labels) is valid in its file.
pub fn check_diagnostics(sources: &SourceMap, diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        let spans =
            d.at.iter()
                .map(|at| (at, "primary"))
                .chain(d.labels.iter().map(|l| (&l.at, "label")));
        for (at, which) in spans {
            assert!(
                (at.file.0 as usize) < sources.len(),
                "{}: {which} span in unknown file {:?}",
                d.rule.id,
                at.file
            );
            let file = sources.get(at.file);
            check_span(
                &file.text,
                &at.span,
                &format!("{} {which} ({})", d.rule.id, d.message),
            );
            check_line_col(file, at.span.start);
            check_line_col(file, at.span.end);
        }
    }
}

/// Loader-level consistency of a workspace loaded from one input.
pub fn check_workspace(ws: &Workspace, data: &[u8]) {
    assert_eq!(ws.sources.len(), 1);
    assert_eq!(ws.files, 1);
    let file = ws.sources.get(kubectl_inject::source::FileId(0));
    if !data[..data.len().min(8192)].contains(&0)
        && let Ok(text) = std::str::from_utf8(data)
    {
        // Terminal control characters are kept as `?`, one per byte, so
        // offsets hold and a snippet cannot drive the terminal.
        let shown: String = text
            .chars()
            .flat_map(|c| {
                let control = c.is_control() && !matches!(c, '\n' | '\t' | '\r');
                let width = if control { c.len_utf8() } else { 0 };
                (width == 0)
                    .then_some(c)
                    .into_iter()
                    .chain(std::iter::repeat_n('?', width))
            })
            .collect();
        assert_eq!(&*file.text, shown, "the source map holds the input as read");
    }
    // Not `objects + skipped <= documents`: a `List` item that is not an
    // object counts as skipped but not as a document (see README).
    assert!(
        ws.objects.len() <= ws.documents,
        "objects {} > documents {}",
        ws.objects.len(),
        ws.documents
    );
    let findings: Vec<Diagnostic> = ws.problems.iter().map(load_finding).collect();
    check_diagnostics(&ws.sources, &findings);
    for object in &ws.objects {
        check_span(&file.text, &object.kind_span(), "kind_span");
        check_span(&file.text, &object.name_span(), "name_span");
        let mut budget = 20_000;
        check_tree(&file.text, &object.root, &mut budget);
    }
}

/// Every node and key span of a tree is valid (visits at most `budget` nodes).
pub fn check_tree(text: &str, node: &Node, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    check_span(text, &node.span, "node");
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                check_tree(text, item, budget);
            }
        }
        Value::Map(entries) => {
            for entry in entries {
                check_span(text, &entry.key_span, "key");
                check_tree(text, &entry.value, budget);
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Paths to (up to `limit`) nodes of a tree, with the nodes.
pub fn paths<'n>(root: &'n Node, limit: usize) -> Vec<(Vec<Seg>, &'n Node)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), root)];
    while let Some((path, node)) = stack.pop() {
        if out.len() >= limit {
            break;
        }
        match &node.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate().take(64) {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    stack.push((p, item));
                }
            }
            Value::Map(entries) => {
                for entry in entries.iter().take(64) {
                    let mut p = path.clone();
                    p.push(Seg::Key(entry.key.clone()));
                    stack.push((p, &entry.value));
                }
            }
            _ => {}
        }
        out.push((path, node));
    }
    out
}

/// The JSON pointer of a path (RFC 6901 escapes).
pub fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// `lookup` and `lookup_pointer` find exactly the node a path was made from.
pub fn check_lookups(root: &Node) {
    for (path, node) in paths(root, 256) {
        let ptr = pointer(&path);
        let (found, key_span) = root
            .lookup_pointer(&ptr)
            .unwrap_or_else(|| panic!("lookup_pointer({ptr:?}) found nothing"));
        assert!(
            std::ptr::eq(found, node),
            "lookup_pointer({ptr:?}) found another node"
        );
        assert_eq!(
            key_span.is_some(),
            matches!(path.last(), Some(Seg::Key(_))),
            "lookup_pointer({ptr:?}): key span"
        );
        let segments = path.iter().map(|s| match s {
            Seg::Key(k) => PathSegment::Key(k),
            Seg::Index(i) => PathSegment::Index(*i),
        });
        let (found, _) = root
            .lookup(segments)
            .unwrap_or_else(|| panic!("lookup({ptr:?}) found nothing"));
        assert!(
            std::ptr::eq(found, node),
            "lookup({ptr:?}) found another node"
        );
    }
}
