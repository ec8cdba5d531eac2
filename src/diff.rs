//! Structural diffs of JSON values, by field path (not by characters):
//! what injection adds to a pod, and where a golden test's expectation and
//! the result differ. Lists of named objects (containers, volumes) are
//! matched by `name`, so `spec.containers[proxy]` reads as users think.

use serde_json::Value;

/// One difference.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Added {
        path: String,
        value: Value,
    },
    Removed {
        path: String,
        value: Value,
    },
    Changed {
        path: String,
        before: Value,
        after: Value,
    },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Changed { path, .. } => path,
        }
    }
}

impl std::fmt::Display for Change {
    /// `+ spec.containers[proxy]: {"image": …}` style lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added { path, value } => write!(f, "+ {path}: {}", compact(value)),
            Change::Removed { path, value } => write!(f, "- {path}: {}", compact(value)),
            Change::Changed {
                path,
                before,
                after,
            } => {
                write!(f, "~ {path}: {} → {}", compact(before), compact(after))
            }
        }
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The changes that turn `before` into `after`.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                match b.get(key) {
                    Some(vb) => walk(&join(path, key), va, vb, out),
                    None => out.push(Change::Removed {
                        path: join(path, key),
                        value: va.clone(),
                    }),
                }
            }
            for (key, vb) in b {
                if !a.contains_key(key) {
                    // A new mapping or list of named entries reads best
                    // entry by entry; an empty one is shown as it is.
                    let empty = matches!(vb, Value::Object(m) if m.is_empty())
                        || matches!(vb, Value::Array(v) if v.is_empty());
                    if empty {
                        out.push(Change::Added {
                            path: join(path, key),
                            value: vb.clone(),
                        });
                    } else {
                        walk(&join(path, key), &empty_like(vb), vb, out);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if named(a) && named(b) => {
            let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_owned();
            for va in a {
                let key = format!("{path}[{}]", name(va));
                match b.iter().find(|vb| name(vb) == name(va)) {
                    Some(vb) => walk(&key, va, vb, out),
                    None => out.push(Change::Removed {
                        path: key,
                        value: va.clone(),
                    }),
                }
            }
            for vb in b {
                if !a.iter().any(|va| name(va) == name(vb)) {
                    out.push(Change::Added {
                        path: format!("{path}[{}]", name(vb)),
                        value: vb.clone(),
                    });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let key = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(va), Some(vb)) => walk(&key, va, vb, out),
                    (Some(va), None) => out.push(Change::Removed {
                        path: key,
                        value: va.clone(),
                    }),
                    (None, Some(vb)) => out.push(Change::Added {
                        path: key,
                        value: vb.clone(),
                    }),
                    (None, None) => {}
                }
            }
        }
        (Value::Null, b) if !b.is_null() => out.push(Change::Added {
            path: path.to_owned(),
            value: b.clone(),
        }),
        (a, b) if a != b => out.push(Change::Changed {
            path: path.to_owned(),
            before: a.clone(),
            after: b.clone(),
        }),
        _ => {}
    }
}

/// Where a value has no counterpart: an empty mapping or list of named
/// entries (so each entry shows as added), else `null`.
fn empty_like(value: &Value) -> Value {
    match value {
        Value::Array(items) if named(items) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(serde_json::Map::new()),
        _ => Value::Null,
    }
}

/// Every element is an object with a unique string `name`.
fn named(items: &[Value]) -> bool {
    let mut names: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        match item.get("name").and_then(Value::as_str) {
            Some(n) if !names.contains(&n) => names.push(n),
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_lists_match_by_name() {
        let before = json!({"spec": {"containers": [{"name": "web", "image": "a"}]}});
        let after = json!({"spec": {"containers": [{"name": "proxy", "image": "p"}, {"name": "web", "image": "b"}]},
                           "metadata": {"annotations": {"x": "1"}}});
        let lines: Vec<String> = diff(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "~ spec.containers[web].image: \"a\" → \"b\"",
                "+ spec.containers[proxy]: {\"name\":\"proxy\",\"image\":\"p\"}",
                "+ metadata.annotations.x: \"1\"",
            ]
        );
    }

    #[test]
    fn empty_additions_are_shown() {
        let lines: Vec<String> = diff(&json!({}), &json!({"a": {}, "b": []}))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(lines, ["+ a: {}", "+ b: []"]);
    }

    #[test]
    fn equal_values_have_no_changes() {
        let v = json!({"a": [1, 2, {"b": null}]});
        assert!(diff(&v, &v).is_empty());
        assert_eq!(diff(&json!([1]), &json!([1, 2]))[0].path(), "[1]");
    }
}
