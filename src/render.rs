//! Manual injection: the input files with every injected workload replaced
//! by its mutated form, everything else left byte for byte as it was.
//!
//! Only the mapping of an injected object (its root node's span) is
//! rewritten; comments, other documents, `---` separators, documents that
//! are not Kubernetes objects and documents that failed to parse are copied
//! from the input text. An object that came from a `List` rewrites the whole
//! `List` mapping. A JSON file gets JSON, a YAML file YAML.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::Value;

use crate::engine::{Simulation, WorkloadResult};
use crate::load::Workspace;
use crate::model::workload::pod_template_path;
use crate::source::{FileId, SourceFile};
use crate::yaml::{Limits, Node, parse_stream};

/// One input file, rendered.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub file: FileId,
    /// The file's display name (as in the source map).
    pub name: String,
    pub text: String,
    /// Whether any object of the file was replaced.
    pub changed: bool,
}

/// Renders every file of the workspace, in source-map order.
pub fn render(ws: &Workspace, simulation: &Simulation) -> Vec<RenderedFile> {
    let mut by_file: BTreeMap<FileId, Vec<&WorkloadResult>> = BTreeMap::new();
    for workload in &simulation.workloads {
        if workload.pod_after.is_some()
            && let Some(object) = ws.objects.get(workload.object)
        {
            by_file.entry(object.file).or_default().push(workload);
        }
    }
    ws.sources
        .iter()
        .map(|(id, source)| {
            let workloads = by_file.get(&id).map(Vec::as_slice).unwrap_or_default();
            let (text, changed) = render_file(ws, source, workloads);
            RenderedFile {
                file: id,
                name: source.name.clone(),
                text,
                changed,
            }
        })
        .collect()
}

/// The text of `source` with the objects of `workloads` (all injected, all
/// from this file) replaced. Returns the text and whether it changed.
pub fn render_file(
    ws: &Workspace,
    source: &SourceFile,
    workloads: &[&WorkloadResult],
) -> (String, bool) {
    let text: &str = &source.text;
    // Replacements keyed by span start: (span, new JSON of the mapping).
    let mut replacements: BTreeMap<usize, (Range<usize>, Value)> = BTreeMap::new();
    // List documents: document index → (span, JSON of the List).
    let mut lists: BTreeMap<usize, Option<(Range<usize>, Value)>> = BTreeMap::new();
    let mut reparsed: Option<Vec<(usize, Node)>> = None;

    for workload in workloads {
        let Some(object) = ws.objects.get(workload.object) else {
            continue;
        };
        let Some(pod_after) = &workload.pod_after else {
            continue;
        };
        let Some(mutated) = mutate(&object.root, &object.kind, pod_after) else {
            continue;
        };
        match object.list_item {
            None => {
                let span = object.root.span.clone();
                replacements.insert(span.start, (span, mutated));
            }
            Some(index) => {
                let documents = reparsed
                    .get_or_insert_with(|| parse_stream(text, &Limits::default()).documents);
                let list = lists.entry(object.document).or_insert_with(|| {
                    documents
                        .iter()
                        .find(|(i, _)| *i == object.document)
                        .map(|(_, root)| (root.span.clone(), root.to_json()))
                });
                if let Some((_, json)) = list
                    && let Some(item) = json.get_mut("items").and_then(|i| i.get_mut(index))
                {
                    *item = mutated;
                }
            }
        }
    }
    for (span, json) in lists.into_values().flatten() {
        replacements.insert(span.start, (span, json));
    }

    if replacements.is_empty() {
        return (text.to_owned(), false);
    }

    let json_file = is_json(source);
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut at = 0;
    for (span, json) in replacements.into_values() {
        if span.start < at || span.end > text.len() || span.start > span.end {
            // Overlapping or out of range: keep the input as it was.
            continue;
        }
        out.push_str(&text[at..span.start]);
        match serialise(text, &span, &json, json_file) {
            Some(block) => out.push_str(&block),
            None => out.push_str(&text[span.clone()]),
        }
        at = span.end;
    }
    out.push_str(&text[at..]);
    (out, true)
}

/// `root` as JSON with its pod template replaced by `pod_after`.
fn mutate(root: &Node, kind: &str, pod_after: &Value) -> Option<Value> {
    let path = pod_template_path(kind)?;
    let mut json = root.to_json();
    let slot = json.pointer_mut(path)?;
    *slot = pod_after.clone();
    Some(json)
}

/// Whether the file is JSON (by its name; stdin by its first character).
fn is_json(source: &SourceFile) -> bool {
    let name = source.name.to_ascii_lowercase();
    if name.ends_with(".json") {
        return true;
    }
    name == "<stdin>" && source.text.trim_start().starts_with('{')
}

/// The replacement text for `span` (which ends at the last character of
/// content): multi-line text lines up under the first line, and the text
/// after the span (its newline, comments, `---`) follows as before.
fn serialise(text: &str, span: &Range<usize>, json: &Value, json_file: bool) -> Option<String> {
    let body = if json_file {
        serde_json::to_string_pretty(json).ok()?
    } else if json.as_object().is_some_and(|m| m.is_empty()) {
        "{}".to_owned()
    } else {
        let yaml = serde_saphyr::to_string(json).ok()?;
        yaml.strip_prefix("---\n").unwrap_or(&yaml).to_owned()
    };
    let body = body.strip_suffix('\n').unwrap_or(&body);

    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line_start..span.start];
    let mut out = String::with_capacity(body.len() + 16);
    if prefix.chars().all(|c| c == ' ') {
        // Continuation lines line up under the first one.
        for (i, line) in body.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
                if !line.is_empty() {
                    out.push_str(prefix);
                }
            }
            out.push_str(line);
        }
    } else if json_file || !body.contains('\n') {
        out.push_str(body);
    } else {
        // Something else on the line (`--- {…}`): a block must start afresh.
        out.push('\n');
        out.push_str(body);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str, json: Value, json_file: bool) -> String {
        let parsed = parse_stream(text, &Limits::default());
        let (_, root) = &parsed.documents[0];
        let span = root.span.clone();
        let mut out = text[..span.start].to_owned();
        out.push_str(&serialise(text, &span, &json, json_file).unwrap());
        out.push_str(&text[span.end..]);
        out
    }

    #[test]
    fn a_block_at_column_zero_keeps_its_line_ending() {
        let text = "# head\napiVersion: v1\nkind: Pod\n# tail\n";
        let json = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {"a": [1]}});
        let out = rendered(text, json, false);
        assert!(out.starts_with("# head\napiVersion: v1\n"), "{out}");
        assert!(out.ends_with("\n# tail\n"), "{out}");
        assert!(!out.contains("\n\n"), "{out}");
        let again = parse_stream(&out, &Limits::default());
        assert!(again.problems.is_empty());
        assert_eq!(again.documents[0].1.get_str("kind"), Some("Pod"));
    }

    #[test]
    fn json_stays_json() {
        let text = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}\n";
        let json = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {}});
        let out = rendered(text, json.clone(), true);
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json);
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn object_spans_end_before_trailing_comments() {
        let cases = [
            ("a: 1\nb:\n  - {x: 1}\n  - y\n# The end.\n\n", "y"),
            ("a: |\n  x\n\n# c\n", "a: |\n  x"),
            ("a: 1\nb:\n# c\n", "b:"),
            ("b: [1]   # c\n# d\n", "[1]"),
        ];
        for (text, tail) in cases {
            let parsed = parse_stream(text, &Limits::default());
            let root = &parsed.documents[0].1;
            let end = root.span.end;
            assert!(text[..end].ends_with(tail), "{text:?}: {:?}", &text[..end]);
        }
    }

    #[test]
    fn trailing_comments_survive() {
        let text = "apiVersion: v1\nkind: Pod\nspec:\n  a: [1]\n# tail\n---\nb: 2\n";
        let json = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "spec": {"a": [1, 2]}});
        let out = rendered(text, json, false);
        assert!(out.ends_with("\n# tail\n---\nb: 2\n"), "{out}");
        assert!(!out.contains("\n\n"), "{out}");
    }
}
