//! Editing a pod spec's lists (`containers`, `volumes`, …) in place, for
//! every injector. Keys stay where the pod has them, so injecting a pod
//! that an injector already injected gives the same text again (`render`
//! of `render`'s output is byte-identical): with `preserve_order`,
//! `Map::remove` swaps the last key into the hole and a re-insert appends.

use serde_json::{Map, Value};

/// Replaces `map[key]` (a list, or nothing) with `edit` of its items. The
/// key keeps its place; a new one goes last; an empty result removes the
/// key without moving the others.
pub(crate) fn edit_list(
    map: &mut Map<String, Value>,
    key: &str,
    edit: impl FnOnce(Vec<Value>) -> Vec<Value>,
) {
    let items = match map.get_mut(key) {
        Some(Value::Array(items)) => std::mem::take(items),
        _ => Vec::new(),
    };
    let items = edit(items);
    if items.is_empty() {
        map.shift_remove(key);
    } else if let Some(slot) = map.get_mut(key) {
        *slot = Value::Array(items);
    } else {
        map.insert(key.to_owned(), Value::Array(items));
    }
}

/// Removes the entries of `map[key]` whose `name` is in `names` (and the
/// key when the list ends up empty).
pub(crate) fn remove_named(map: &mut Map<String, Value>, key: &str, names: &[String]) {
    if !matches!(map.get(key), Some(Value::Array(_))) {
        return;
    }
    edit_list(map, key, |mut items| {
        items.retain(|item| {
            item.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| !names.iter().any(|x| x == n))
        });
        items
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(map: &Map<String, Value>) -> Vec<&str> {
        map.keys().map(String::as_str).collect()
    }

    #[test]
    fn lists_keep_their_place() {
        let mut spec = json!({"initContainers": [{"name": "a"}], "containers": [{"name": "b"}], "dnsPolicy": "None"});
        let spec = spec.as_object_mut().unwrap();
        edit_list(spec, "initContainers", |mut items| {
            items.insert(0, json!({"name": "proxy-init"}));
            items
        });
        edit_list(spec, "volumes", |mut items| {
            items.push(json!({"name": "certs"}));
            items
        });
        assert_eq!(
            keys(spec),
            ["initContainers", "containers", "dnsPolicy", "volumes"]
        );
        remove_named(spec, "initContainers", &["a".into(), "proxy-init".into()]);
        assert_eq!(keys(spec), ["containers", "dnsPolicy", "volumes"]);
        remove_named(spec, "containers", &["other".into()]);
        assert_eq!(spec["containers"], json!([{"name": "b"}]));
    }
}
