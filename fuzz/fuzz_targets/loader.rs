//! `loader`: bytes → the span-aware YAML loader.
//!
//! - `parse_stream` with the default limits and with tiny ones (so the depth
//!   and alias limits trip): no panic, no hang; every problem, node and key
//!   span inside the text and on character boundaries; document indices
//!   increasing; `lookup`/`lookup_pointer` find exactly the node a path was
//!   made from; `to_json` serialises; arbitrary pointers (lines of the input)
//!   never panic;
//! - `Object::from_root` and its accessors on every document;
//! - `load` on the bytes as stdin (the whole per-file path, in memory):
//!   loader findings' spans valid, counts consistent.

#![no_main]

mod common;

use kubectl_inject::model::Object;
use kubectl_inject::source::{FileId, SourceFile};
use kubectl_inject::yaml::{Limits, ProblemKind, parse_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ws = common::load_bytes(data);
    common::check_workspace(&ws, data);

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = SourceFile::new("fuzz.yaml", text);
    let tiny = Limits {
        max_depth: 4,
        max_alias_nodes: 32,
    };
    for limits in [Limits::default(), tiny] {
        let parsed = parse_stream(text, &limits);
        for problem in &parsed.problems {
            common::check_span(text, &problem.span, &format!("problem {:?}", problem.kind));
            common::check_line_col(&file, problem.span.start);
            if let ProblemKind::DuplicateKey { first } = &problem.kind {
                common::check_span(text, first, "duplicate key's first");
            }
        }
        let mut last = None;
        for (index, root) in &parsed.documents {
            assert!(last < Some(*index), "document indices not increasing");
            last = Some(*index);
            let mut budget = 50_000;
            common::check_tree(text, root, &mut budget);
            common::check_line_col(&file, root.span.start);
            common::check_line_col(&file, root.span.end);
            common::check_lookups(root);
            let json = root.to_json();
            serde_json::to_string(&json).expect("JSON of a node serialises");
            for line in text.lines().take(8) {
                let _ = root.lookup_pointer(line);
                let _ = root.lookup_pointer(&format!("/{line}"));
            }

            if let Some(object) = Object::from_root(FileId(0), *index, root.clone()) {
                common::check_span(text, &object.kind_span(), "kind_span");
                common::check_span(text, &object.name_span(), "name_span");
                let _ = object.pod_template();
                let _ = object.object_ref("default");
                let _ = (object.group(), object.version(), object.is_own());
                let mut skipped = 0;
                for item in object.expand_list(&mut skipped) {
                    common::check_span(text, &item.name_span(), "list item name_span");
                    let _ = item.pod_template();
                }
            }
        }
    }
});
