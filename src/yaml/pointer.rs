//! JSON pointers (RFC 6901) into a [`Node`] tree: the one escaper, the one
//! splitter, and the readable form that names list items.

use super::{Node, Value};

/// Escapes one pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Undoes [`escape`].
pub fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Splits a JSON pointer (`/metadata/annotations/a~1b`) into segments;
/// numeric segments are indices only where the node is a sequence, so the
/// caller resolves them with [`Node::lookup_pointer`].
pub fn segments(pointer: &str) -> Vec<String> {
    pointer.split('/').skip(1).map(unescape).collect()
}

/// `pointer` with its sequence indices replaced by item names where the
/// items have them (`/spec/containers[web]/image`); the steps past what
/// `root` holds are kept as written.
pub fn named(root: &Node, pointer: &str) -> String {
    let mut path = String::new();
    let mut node = Some(root);
    for segment in segments(pointer) {
        let key_step = |path: &mut String| {
            path.push('/');
            path.push_str(&escape(&segment));
        };
        match node.map(|n| &n.value) {
            Some(Value::Seq(items)) => match segment
                .parse::<usize>()
                .ok()
                .and_then(|i| Some((i, items.get(i)?)))
            {
                Some((i, item)) => {
                    match item.get_str("name") {
                        Some(name) => path.push_str(&format!("[{name}]")),
                        None => path.push_str(&format!("/{i}")),
                    }
                    node = Some(item);
                }
                None => {
                    key_step(&mut path);
                    node = None;
                }
            },
            Some(Value::Map(_)) => {
                node = node.and_then(|n| n.get(&segment));
                key_step(&mut path);
            }
            _ => {
                key_step(&mut path);
                node = None;
            }
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse_stream};

    #[test]
    fn escapes_round_trip() {
        assert_eq!(escape("a/b~c"), "a~1b~0c");
        assert_eq!(unescape(&escape("a/b~c~1")), "a/b~c~1");
        assert_eq!(
            segments("/metadata/annotations/a~1b"),
            ["metadata", "annotations", "a/b"]
        );
    }

    #[test]
    fn named_pointers_name_list_items() {
        let text = "spec:\n  containers:\n    - name: web\n      image: nginx\n    - image: x\n";
        let root = parse_stream(text, &Limits::default()).documents.remove(0).1;
        assert_eq!(
            named(&root, "/spec/containers/0/image"),
            "/spec/containers[web]/image"
        );
        assert_eq!(
            named(&root, "/spec/containers/1/image"),
            "/spec/containers/1/image"
        );
        assert_eq!(
            named(&root, "/spec/containers/7/image"),
            "/spec/containers/7/image"
        );
        assert_eq!(
            named(&root, "/metadata/annotations/a~1b"),
            "/metadata/annotations/a~1b"
        );
    }
}
