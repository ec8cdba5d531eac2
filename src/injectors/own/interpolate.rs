//! `${…}` interpolation in template strings (SPEC "SidecarTemplate").
//!
//! Exactly six kinds of reference are evaluated: `${params.NAME}`,
//! `${pod.name}`, `${pod.namespace}`, `${pod.serviceAccountName}`,
//! `${template.name}` and `${template.version}`. Nothing else is: templates
//! cannot run code or read files. A reference this module does not know is
//! left as written (INJ108 reports it at lint time). `$${` is a literal `${`.

use std::collections::BTreeMap;

use serde_json::Value;

/// The fields a template string may name besides its parameters.
pub const FIELDS: &[&str] = &[
    "pod.name",
    "pod.namespace",
    "pod.serviceAccountName",
    "template.name",
    "template.version",
];

/// The prefix of a parameter reference (`${params.NAME}`).
pub const PARAMS_PREFIX: &str = "params.";

/// The values of one injection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// Every declared parameter with its value (the pod's annotation, else
    /// the default, else empty): a parameter missing here is left as written.
    pub params: BTreeMap<String, String>,
    pub pod_name: String,
    pub pod_namespace: String,
    pub service_account: String,
    pub template_name: String,
    pub template_version: String,
}

impl Vars {
    /// The value of a reference (the text between `${` and `}`), `None`
    /// when it names nothing known.
    pub fn get(&self, reference: &str) -> Option<&str> {
        if let Some(param) = reference.strip_prefix(PARAMS_PREFIX) {
            return self.params.get(param).map(String::as_str);
        }
        Some(match reference {
            "pod.name" => &self.pod_name,
            "pod.namespace" => &self.pod_namespace,
            "pod.serviceAccountName" => &self.service_account,
            "template.name" => &self.template_name,
            "template.version" => &self.template_version,
            _ => return None,
        })
    }
}

/// A piece of a template string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    /// `${NAME}`: the whole text and the trimmed name.
    Reference(&'a str, &'a str),
}

/// Splits a string into literal text and references (`$${` is the text `${`;
/// an unterminated `${` is text).
pub(crate) fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        let after = &rest[at..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push(Piece::Text(&rest[..at]));
            out.push(Piece::Text("${"));
            rest = escaped;
        } else if let Some(inner) = after.strip_prefix("${")
            && let Some(end) = inner.find('}')
        {
            out.push(Piece::Text(&rest[..at]));
            out.push(Piece::Reference(&after[..end + 3], inner[..end].trim()));
            rest = &inner[end + 1..];
        } else {
            out.push(Piece::Text(&rest[..=at]));
            rest = &after[1..];
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Replaces the known references of one string.
pub fn interpolate_str(s: &str, vars: &Vars) -> String {
    if !s.contains('$') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for piece in pieces(s) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Reference(whole, name) => out.push_str(vars.get(name).unwrap_or(whole)),
        }
    }
    out
}

/// Replaces the known references in every string of `value` (map keys are
/// left alone).
pub fn interpolate(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(interpolate_str(s, vars)),
        Value::Array(items) => Value::Array(items.iter().map(|v| interpolate(v, vars)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), interpolate(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The names referenced by one string (`params.cpu`, `pod.name`, …), in order.
pub fn references_in_str(s: &str) -> Vec<String> {
    if !s.contains("${") {
        return Vec::new();
    }
    pieces(s)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Reference(_, name) => Some(name.to_owned()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Every reference in `value`: the JSON pointer of the string (relative to
/// `value`) and the name inside `${}`, in document order.
pub fn references(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    collect(value, &mut String::new(), &mut out);
    out
}

fn collect(value: &Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => {
            for name in references_in_str(s) {
                out.push((pointer.clone(), name));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                collect(item, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&crate::yaml::pointer::escape(key));
                collect(item, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// Whether `name` (the text inside `${}`) is one of the fields or a
/// parameter among `params`.
pub fn is_known<'a>(name: &str, mut params: impl Iterator<Item = &'a str>) -> bool {
    match name.strip_prefix(PARAMS_PREFIX) {
        Some(param) => params.any(|p| p == param),
        None => FIELDS.contains(&name),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vars() -> Vars {
        Vars {
            params: BTreeMap::from([("cpu".to_owned(), "200m".to_owned())]),
            pod_name: "web-0".into(),
            pod_namespace: "shop".into(),
            service_account: "web".into(),
            template_name: "envoy-proxy".into(),
            template_version: "1.4.0".into(),
        }
    }

    #[test]
    fn replaces_known_references() {
        let v = vars();
        assert_eq!(
            interpolate_str("${pod.name}.${pod.namespace}/${pod.serviceAccountName}", &v),
            "web-0.shop/web"
        );
        assert_eq!(
            interpolate_str(
                "${template.name}@${template.version} cpu=${ params.cpu }",
                &v
            ),
            "envoy-proxy@1.4.0 cpu=200m"
        );
        let value = json!({"args": ["--cpu", "${params.cpu}"], "n": 1, "env": [{"name": "POD", "value": "${pod.name}"}]});
        assert_eq!(
            interpolate(&value, &v),
            json!({"args": ["--cpu", "200m"], "n": 1, "env": [{"name": "POD", "value": "web-0"}]})
        );
    }

    #[test]
    fn escapes_and_unknowns() {
        let v = vars();
        assert_eq!(interpolate_str("$${pod.name}", &v), "${pod.name}");
        // Read left to right: `a$`, then the escape `$${`.
        assert_eq!(interpolate_str("a$$${pod.name}", &v), "a$${pod.name}");
        assert_eq!(
            interpolate_str("${params.mem} ${env.HOME}", &v),
            "${params.mem} ${env.HOME}"
        );
        assert_eq!(
            interpolate_str("cost: $5 ${unterminated", &v),
            "cost: $5 ${unterminated"
        );
        assert_eq!(interpolate_str("$", &v), "$");
        assert!(references_in_str("$${pod.name} ${x").is_empty());
    }

    #[test]
    fn references_with_pointers() {
        let value = json!({
            "name": "proxy",
            "args": ["--id=${pod.name}", "$${literal}", "${params.cpu}-${params.mem}"],
            "env": [{"name": "A", "value": "${tmpl.name}"}],
            "a/b": "${pod.namespace}",
        });
        assert_eq!(
            references(&value),
            vec![
                ("/args/0".to_owned(), "pod.name".to_owned()),
                ("/args/2".to_owned(), "params.cpu".to_owned()),
                ("/args/2".to_owned(), "params.mem".to_owned()),
                ("/env/0/value".to_owned(), "tmpl.name".to_owned()),
                ("/a~1b".to_owned(), "pod.namespace".to_owned()),
            ]
        );
        assert!(is_known("params.cpu", ["cpu"].into_iter()));
        assert!(!is_known("params.mem", ["cpu"].into_iter()));
        assert!(is_known("template.version", std::iter::empty()));
        assert!(!is_known("pod.labels", std::iter::empty()));
    }
}
