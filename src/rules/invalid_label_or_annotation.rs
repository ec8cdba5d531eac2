//! INJ201: a label or annotation key or value that breaks Kubernetes syntax
//! rules (`kubernetes/apimachinery`: `IsQualifiedName`, `IsLabelValue`;
//! annotation keys are lower-cased before the check), or a value that is not
//! a string. Checked on every object's metadata and on its pod template's.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::workload::pod_template_path;
use crate::model::{GROUP_VERSIONS, OWN_KINDS, Object};
use crate::yaml::{Node, Value};

pub const RULE: super::Rule = super::Rule {
    id: "INJ201",
    name: "invalid-label-or-annotation",
    severity: Severity::Error,
    summary: "a label or annotation key or value that breaks Kubernetes syntax rules",
    explain: include_str!("invalid_label_or_annotation.md"),
};

/// `label` or `annotation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Label,
    Annotation,
}

impl Field {
    fn noun(self) -> &'static str {
        match self {
            Field::Label => "label",
            Field::Annotation => "annotation",
        }
    }
}

/// A finding about the key `key` of a label or annotation.
pub fn bad_key(field: Field, key: &str, problem: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{} key `{key}` is invalid: {problem}; the API server rejects the object",
            field.noun()
        ),
    )
    .label("invalid key")
    .help(
        "a key is an optional DNS subdomain prefix and `/`, then a name of at most 63 characters: alphanumerics, `-`, `_` or `.`, starting and ending with an alphanumeric",
    )
}

/// A finding about the value of label `key`.
pub fn bad_label_value(key: &str, problem: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("value of label `{key}` is invalid: {problem}; the API server rejects the object"),
    )
    .label("invalid label value")
    .help("a label value is empty or at most 63 characters: alphanumerics, `-`, `_` or `.`, starting and ending with an alphanumeric; free text belongs in an annotation")
}

/// A finding about a value that is not a string.
pub fn not_a_string(field: Field, key: &str, found: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "value of {} `{key}` is {found}, not a string; {}s are a map of strings, so the API server rejects the object",
            field.noun(),
            field.noun()
        ),
    )
    .label("not a string")
    .help("quote the value, e.g. `\"true\"`")
}

/// Every finding about `object`'s own labels and annotations and its pod
/// template's.
pub fn check(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    // The schema check (INJ002) already reports non-string values in our own kinds.
    let types_checked = object.is_own()
        && GROUP_VERSIONS.contains(&object.version())
        && OWN_KINDS.contains(&object.kind.as_str());
    let mut places = vec![("/metadata".to_owned(), object.root.get("metadata"))];
    if let Some(path) = pod_template_path(&object.kind).filter(|p| !p.is_empty()) {
        let pod = object.root.lookup_pointer(path).map(|(pod, _)| pod);
        places.push((
            format!("{path}/metadata"),
            pod.and_then(|p| p.get("metadata")),
        ));
    }
    let object_ref = object.object_ref(default_namespace);
    let mut found = Vec::new();
    for (path, metadata) in places {
        let Some(metadata) = metadata else { continue };
        for (field, name) in [(Field::Label, "labels"), (Field::Annotation, "annotations")] {
            let Some(entries) = metadata.get(name).and_then(Node::as_map) else {
                continue;
            };
            for entry in entries {
                let pointer = format!("{path}/{name}/{}", crate::yaml::pointer::escape(&entry.key));
                let checked_key = match field {
                    Field::Label => entry.key.clone(),
                    Field::Annotation => entry.key.to_lowercase(),
                };
                if let Err(problem) = qualified_name(&checked_key) {
                    found.push(
                        bad_key(field, &entry.key, &problem)
                            .at(object.file, entry.key_span.clone())
                            .path(pointer.clone()),
                    );
                }
                let value = &entry.value;
                let problem = match &value.value {
                    // kubectl reads manifests as YAML 1.1, where an unquoted
                    // `yes`, `on`, `no` or `off` is a boolean.
                    Value::String(s) if value.plain && !types_checked && yaml11_bool(s) => {
                        let found = format!(
                            "an unquoted `{s}`, which kubectl reads as a boolean (YAML 1.1)"
                        );
                        Some(not_a_string(field, &entry.key, &found))
                    }
                    Value::String(s) if field == Field::Label => label_value(s)
                        .err()
                        .map(|p| bad_label_value(&entry.key, &p)),
                    Value::String(_) | Value::Null => None,
                    _ if types_checked => None,
                    other => Some(not_a_string(field, &entry.key, describe(other))),
                };
                if let Some(d) = problem {
                    found.push(d.at(object.file, value.span.clone()).path(pointer));
                }
            }
        }
    }
    found
        .into_iter()
        .map(|d| d.object(Some(object_ref.clone())))
        .collect()
}

/// A YAML 1.1 boolean that YAML 1.2 reads as a string.
fn yaml11_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
        Value::Null | Value::String(_) => "a string",
    }
}

/// Alphanumerics, `-`, `_`, `.`, starting and ending with an alphanumeric
/// (apimachinery's `qualifiedNameFmt`, also the label value format).
fn name_chars(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

/// `IsQualifiedName`: an optional DNS-1123 subdomain prefix and `/`, then a name.
pub fn qualified_name(key: &str) -> Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("the prefix before `/` is empty".to_owned());
            }
            dns1123_subdomain(prefix).map_err(|p| format!("prefix `{prefix}` {p}"))?;
            *name
        }
        _ => return Err("it has more than one `/`".to_owned()),
    };
    if name.is_empty() {
        return Err("the name part is empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!(
            "the name part has {} characters, more than 63",
            name.len()
        ));
    }
    if !name_chars(name) {
        return Err(format!(
            "the name part `{name}` must consist of alphanumerics, `-`, `_` or `.`, and start and end with an alphanumeric"
        ));
    }
    Ok(())
}

fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err(format!("has {} characters, more than 253", s.len()));
    }
    let label_ok = |l: &str| {
        let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        l.starts_with(lower) && l.ends_with(lower) && l.chars().all(|c| lower(c) || c == '-')
    };
    if s.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("is not a DNS subdomain (lower-case alphanumerics and `-`, in `.`-separated parts that start and end with an alphanumeric)".to_owned())
    }
}

/// `IsValidLabelValue`.
pub fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63 {
        return Err(format!("it has {} characters, more than 63", value.len()));
    }
    if !name_chars(value) {
        return Err(format!(
            "`{value}` must consist of alphanumerics, `-`, `_` or `.`, and start and end with an alphanumeric"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for good in [
            "app",
            "a.b_c-d",
            "sidecar.istio.io/inject",
            "x/Y",
            "k8s.io/A.b",
        ] {
            assert!(qualified_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a/b/c",
            "-a",
            "a-",
            "Istio.io/a",
            "a_b.io/x",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
        assert!(qualified_name(&format!("{}/a", "a".repeat(254))).is_err());
    }

    #[test]
    fn values() {
        for good in ["", "a", "A-b_c.d", &"x".repeat(63)] {
            assert!(label_value(good).is_ok(), "{good}");
        }
        for bad in ["-a", "a b", "a/b", &"x".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }
}
