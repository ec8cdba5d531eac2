//! Field paths: where a node is in a tree, with list items known by their
//! `name` where they have one (`/spec/containers[web]/image`), so a path
//! still finds its node when items are inserted above it (a revision, an
//! overlay, a strategic-merge patch).

use super::{Node, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    /// A list item: its index, and its `name` when it has one (strategic
    /// merge patches and resource files are matched by name).
    Item {
        index: usize,
        name: Option<String>,
    },
}

/// A field path, and whether the finding points at the last key rather
/// than at its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    pub steps: Vec<Step>,
    pub on_key: bool,
}

impl FieldPath {
    /// The path of the deepest node that holds all of `span` (a finding
    /// about a whole mapping is about the mapping, not its first key).
    pub fn covering(root: &Node, span: &std::ops::Range<usize>) -> FieldPath {
        let holds = |outer: &std::ops::Range<usize>| {
            outer.start <= span.start && span.end <= outer.end && outer.start < outer.end
        };
        let mut steps = Vec::new();
        let mut node = root;
        loop {
            match &node.value {
                Value::Map(entries) => {
                    if let Some(entry) = entries.iter().find(|e| holds(&e.key_span)) {
                        steps.push(Step::Key(entry.key.clone()));
                        return FieldPath {
                            steps,
                            on_key: true,
                        };
                    }
                    let Some(entry) = entries.iter().find(|e| holds(&e.value.span)) else {
                        break;
                    };
                    steps.push(Step::Key(entry.key.clone()));
                    node = &entry.value;
                }
                Value::Seq(items) => {
                    let Some((index, item)) =
                        items.iter().enumerate().find(|(_, item)| holds(&item.span))
                    else {
                        break;
                    };
                    steps.push(Step::Item {
                        index,
                        name: item.get_str("name").map(str::to_owned),
                    });
                    node = item;
                }
                _ => break,
            }
        }
        // An empty span (a position) falls back to the node at that offset.
        if span.is_empty() {
            return FieldPath::at(root, span.start);
        }
        FieldPath {
            steps,
            on_key: false,
        }
    }

    /// The path of the deepest node at `offset` in `root`.
    pub fn at(root: &Node, offset: usize) -> FieldPath {
        let mut steps = Vec::new();
        let mut node = root;
        loop {
            match &node.value {
                Value::Map(entries) => {
                    let Some(entry) = entries.iter().find(|e| {
                        e.key_span.contains(&offset)
                            || (e.value.span.start <= offset && offset < e.value.span.end)
                    }) else {
                        return FieldPath {
                            steps,
                            on_key: false,
                        };
                    };
                    steps.push(Step::Key(entry.key.clone()));
                    if entry.key_span.contains(&offset) {
                        return FieldPath {
                            steps,
                            on_key: true,
                        };
                    }
                    node = &entry.value;
                }
                Value::Seq(items) => {
                    let Some((index, item)) = items.iter().enumerate().find(|(_, item)| {
                        item.span.start <= offset && offset < item.span.end.max(item.span.start + 1)
                    }) else {
                        return FieldPath {
                            steps,
                            on_key: false,
                        };
                    };
                    steps.push(Step::Item {
                        index,
                        name: item.get_str("name").map(str::to_owned),
                    });
                    node = item;
                }
                _ => {
                    return FieldPath {
                        steps,
                        on_key: false,
                    };
                }
            }
        }
    }

    pub fn keys(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(k.as_str()),
                Step::Item { .. } => None,
            })
            .collect()
    }

    pub fn key(&self, i: usize) -> Option<&str> {
        match self.steps.get(i)? {
            Step::Key(k) => Some(k),
            Step::Item { .. } => None,
        }
    }
}

impl FieldPath {
    /// `/spec/template/…` with list items by name (`[web]`) where they have one.
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            match step {
                Step::Key(k) => {
                    out.push('/');
                    out.push_str(&super::pointer::escape(k));
                }
                Step::Item {
                    name: Some(name), ..
                } => out.push_str(&format!("[{name}]")),
                Step::Item { index, name: None } => out.push_str(&format!("/{index}")),
            }
        }
        out
    }

    /// The path's shape: its keys, and `[]` for each list item.
    pub fn shape(&self) -> Vec<&str> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Key(k) => k.as_str(),
                Step::Item { .. } => "[]",
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse_stream};

    #[test]
    fn a_span_is_about_the_deepest_node_that_holds_all_of_it() {
        let text = "spec:\n  chart:\n    spec: {chart: podinfo}\n  containers:\n  - name: web\n    image: nginx\n";
        let root = parse_stream(text, &Limits::default()).documents.remove(0).1;
        let chart = root.lookup_pointer("/spec/chart").unwrap().0.span.clone();
        let path = FieldPath::covering(&root, &chart);
        assert_eq!(
            (path.pointer(), path.on_key),
            ("/spec/chart".to_owned(), false)
        );
        // The same start, as an offset, is the mapping's first key.
        let at = FieldPath::at(&root, chart.start);
        assert_eq!(
            (at.pointer(), at.on_key),
            ("/spec/chart/spec".to_owned(), true)
        );
        let image = text.find("nginx").unwrap();
        let path = FieldPath::covering(&root, &(image..image + 5));
        assert_eq!(path.pointer(), "/spec/containers[web]/image");
        let key = text.find("containers").unwrap();
        let path = FieldPath::covering(&root, &(key..key + 10));
        assert_eq!(
            (path.pointer(), path.on_key),
            ("/spec/containers".to_owned(), true)
        );
        // A position falls back to the node there.
        assert_eq!(
            FieldPath::covering(&root, &(image..image)).pointer(),
            "/spec/containers[web]/image"
        );
    }
}
