//! `apiextensions.k8s.io/v1` CustomResourceDefinitions, generated from the
//! embedded JSON Schemas (`kubectl inject schema --crd`, `deploy/crds.yaml`).
//!
//! The JSON Schemas stay the one description of the kinds; a CRD carries a
//! *structural* copy of them, because the API server accepts nothing else:
//! every node has a `type`, `$ref`s are inlined, and the keywords OpenAPI v3
//! (as Kubernetes reads it) does not know, or forbids, are translated or
//! dropped. The conversion is one recursive walk over any schema:
//!
//! - `$ref` is inlined (local `#/$defs/…` and `k8s/definitions.json#/…`);
//!   sibling keywords (a more specific `description`) win over the target's.
//!   A Kubernetes definition whose inlined form is larger than
//!   [`INLINE_BUDGET`] nodes (`Container`, `Volume`: deep, and their own
//!   validation belongs to the Pod the injector builds), or that refers back
//!   to itself, becomes `type: object` with
//!   `x-kubernetes-preserve-unknown-fields: true` and its description. Small
//!   ones (`LabelSelector`) are inlined.
//! - `const` becomes a one-value `enum`; a `type` list becomes one type plus
//!   `nullable`, or `x-kubernetes-int-or-string`, or an untyped node that
//!   preserves anything; a node without a type gets one from its `enum`,
//!   `properties` or `items`.
//! - `additionalProperties: false` goes (the API server prunes unknown
//!   fields); an object schema that says nothing of its fields preserves them
//!   (as JSON Schema accepts them); `uniqueItems` goes (forbidden), a list
//!   of scalars becomes `x-kubernetes-list-type: set` instead.
//! - `oneOf`/`anyOf`/`allOf` stay only where every branch is structural-legal
//!   (no `type`, `description`, … inside); `if`/`then`/`not`,
//!   `patternProperties`, `unevaluatedProperties`, `$comment`, `title`,
//!   `examples`, `default` and the other annotations go.
//! - At the root `metadata` is just `type: object` (the API server owns
//!   ObjectMeta), `apiVersion` and `kind` are `type: string`.
//!
//! Defaults are not carried into the CRDs: the API server would store them
//! in every object, and an explicit `nativeSidecar: false` in a child
//! template overrides its parent's `true` where an absent one inherits it.
//! kubectl-inject applies the defaults itself. What the CRDs no longer check
//! (`if`/`then`, closed objects, the Kubernetes objects inside templates)
//! the validating webhook does, with the full JSON Schemas.

use serde_json::{Map, Value, json};

use crate::model::{GROUP, GROUP_VERSIONS};

use super::{BASE_URI, K8S_DEFINITIONS_URI};

/// A Kubernetes definition whose inlined schema has more nodes than this is
/// kept as an opaque object (preserving its fields) instead.
pub const INLINE_BUDGET: usize = 40;

/// A printer column of `kubectl get`.
#[derive(Clone, Copy)]
struct Column {
    name: &'static str,
    json_path: &'static str,
    kind: &'static str,
    description: &'static str,
    /// 0: always shown; 1: with `-o wide`.
    priority: u8,
}

const AGE: Column = Column {
    name: "Age",
    json_path: ".metadata.creationTimestamp",
    kind: "date",
    description: "Time since the object was created.",
    priority: 0,
};

const POLICY_COLUMNS: [Column; 3] = [
    Column {
        name: "Action",
        json_path: ".spec.action",
        kind: "string",
        description: "inject or skip.",
        priority: 0,
    },
    Column {
        name: "Template",
        json_path: ".spec.template",
        kind: "string",
        description: "The template injected, name or name@version.",
        priority: 0,
    },
    Column {
        name: "Priority",
        json_path: ".spec.priority",
        kind: "integer",
        description: "Higher wins among policies selecting the same pod.",
        priority: 0,
    },
];

const ROLLOUT: Column = Column {
    name: "Rollout",
    json_path: ".spec.rollout.template",
    kind: "string",
    description: "The canary template of the rollout.",
    priority: 1,
};

const PERCENT: Column = Column {
    name: "Percent",
    json_path: ".spec.rollout.percent",
    kind: "integer",
    description: "Share of the selected workloads on the canary.",
    priority: 1,
};

/// A kind of the group that is a resource of the cluster.
struct Resource {
    kind: &'static str,
    plural: &'static str,
    short_names: &'static [&'static str],
    namespaced: bool,
    columns: &'static [Column],
    /// Appended to the kind's description: what differs in a cluster.
    cluster_note: &'static str,
}

const RESOURCES: &[Resource] = &[
    Resource {
        kind: "SidecarTemplate",
        plural: "sidecartemplates",
        short_names: &["sct"],
        namespaced: true,
        columns: &[
            Column {
                name: "Version",
                json_path: ".spec.version",
                kind: "string",
                description: "Semantic version of the template.",
                priority: 0,
            },
            Column {
                name: "Extends",
                json_path: ".spec.extends",
                kind: "string",
                description: "The parent template, name or name@version.",
                priority: 0,
            },
            Column {
                name: "Native",
                json_path: ".spec.nativeSidecar",
                kind: "boolean",
                description: "Whether the containers are injected as native sidecars.",
                priority: 1,
            },
            AGE,
        ],
        cluster_note: " In a cluster SidecarTemplates are namespaced: the templates in the injector's own namespace (`kubectl-inject-system` as deployed, the server's `POD_NAMESPACE`) are the cluster-wide ones, those of any other namespace belong to that namespace. A cluster keeps one object per name, so give each version its own object named `NAME-VERSION` (`envoy-proxy-1.5.0` with `spec.version: 1.5.0`): the template's name is then `NAME` (`envoy-proxy`), and policies name it `envoy-proxy@1.5.0`.",
    },
    Resource {
        kind: "InjectionPolicy",
        plural: "injectionpolicies",
        short_names: &["ip"],
        namespaced: true,
        columns: &[
            POLICY_COLUMNS[0],
            POLICY_COLUMNS[1],
            POLICY_COLUMNS[2],
            ROLLOUT,
            PERCENT,
            AGE,
        ],
        cluster_note: "",
    },
    Resource {
        kind: "ClusterInjectionPolicy",
        plural: "clusterinjectionpolicies",
        short_names: &["cip"],
        namespaced: false,
        columns: &[
            POLICY_COLUMNS[0],
            POLICY_COLUMNS[1],
            POLICY_COLUMNS[2],
            Column {
                name: "Enforce",
                json_path: ".spec.enforce",
                kind: "boolean",
                description: "Whether namespaced policies can override it.",
                priority: 0,
            },
            ROLLOUT,
            PERCENT,
            AGE,
        ],
        cluster_note: "",
    },
];

/// The category `kubectl get kubectl-inject` lists.
pub const CATEGORY: &str = "kubectl-inject";

/// The kinds that are cluster resources (every kind but InjectionTest).
pub fn kinds() -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().map(|r| r.kind)
}

fn resource(kind: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.kind.eq_ignore_ascii_case(kind))
}

/// The CustomResourceDefinition of `kind` (case-insensitive); `None` for
/// kinds that are no cluster resource.
pub fn crd(kind: &str) -> Option<Value> {
    let resource = resource(kind)?;
    let uri = format!("{BASE_URI}{}", super::file_of(resource.kind)?);
    let schema = super::document(&uri)?;
    let mut root = Walker::default().convert(schema, &uri);
    root_fields(&mut root, resource);
    let version = GROUP_VERSIONS[GROUP_VERSIONS.len() - 1];
    let columns: Vec<Value> = resource
        .columns
        .iter()
        .map(|c| {
            let mut column = json!({
                "name": c.name,
                "type": c.kind,
                "description": c.description,
                "jsonPath": c.json_path,
            });
            if c.priority > 0 {
                column["priority"] = json!(c.priority);
            }
            column
        })
        .collect();
    Some(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{}.{GROUP}", resource.plural),
            "labels": {"app.kubernetes.io/part-of": "kubectl-inject"},
        },
        "spec": {
            "group": GROUP,
            "scope": if resource.namespaced { "Namespaced" } else { "Cluster" },
            "names": {
                "kind": resource.kind,
                "listKind": format!("{}List", resource.kind),
                "plural": resource.plural,
                "singular": resource.kind.to_ascii_lowercase(),
                "shortNames": resource.short_names,
                "categories": [CATEGORY],
            },
            "versions": [{
                "name": version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": root},
                "additionalPrinterColumns": columns,
            }],
        },
    }))
}

/// Every CustomResourceDefinition, in catalogue order.
pub fn crds() -> Vec<Value> {
    kinds().filter_map(crd).collect()
}

/// The CRDs as a multi-document YAML stream, after a comment header that
/// says how it was made. `kind`: only that kind's (`None` when it is no
/// cluster resource); `None`: all of them, as `deploy/crds.yaml` holds them.
pub fn yaml(kind: Option<&str>) -> Option<String> {
    let (crds, command) = match kind {
        Some(kind) => {
            let resource = resource(kind)?;
            (
                vec![crd(resource.kind)?],
                format!("kubectl inject schema --crd {}", resource.kind),
            )
        }
        None => (crds(), "kubectl inject schema --crd".to_owned()),
    };
    let mut out = format!(
        "# CustomResourceDefinitions of {GROUP}/{version}, generated from the JSON Schemas of\n\
         # kubectl-inject by `{command}`. Do not edit: change schemas/*.json and regenerate\n\
         # (deploy/crds.yaml: `kubectl inject schema --crd > deploy/crds.yaml`).\n",
        version = GROUP_VERSIONS[GROUP_VERSIONS.len() - 1],
    );
    for (i, crd) in crds.iter().enumerate() {
        let text = serde_saphyr::to_string(crd).ok()?;
        if i > 0 || !text.starts_with("---") {
            out.push_str("---\n");
        }
        out.push_str(&text);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Some(out)
}

/// The root of a CRD schema: what the API server owns or fixes.
fn root_fields(root: &mut Value, resource: &Resource) {
    let Some(map) = root.as_object_mut() else {
        return;
    };
    if let Some(Value::String(description)) = map.get_mut("description") {
        description.push_str(resource.cluster_note);
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        if properties.contains_key("metadata") {
            properties.insert("metadata".into(), json!({"type": "object"}));
        }
        for field in ["apiVersion", "kind"] {
            if let Some(Value::Object(property)) = properties.get_mut(field) {
                let description = property.remove("description");
                property.clear();
                if let Some(d) = description {
                    property.insert("description".into(), d);
                }
                property.insert("type".into(), json!("string"));
            }
        }
    }
    // The API server sets apiVersion, kind and metadata itself.
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.retain(|r| !matches!(r.as_str(), Some("apiVersion" | "kind" | "metadata")));
        if required.is_empty() {
            map.remove("required");
        }
    }
}

/// Keywords carried over unchanged.
const KEPT: &[&str] = &[
    "description",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "required",
    "nullable",
];

/// The formats the API server knows.
const FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
];

/// Keywords a branch of `oneOf`/`anyOf`/`allOf` may hold in a structural
/// schema (value validations only).
const JUNCTOR_LEGAL: &[&str] = &[
    "required",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
];

/// The order of keywords in the output, for people reading the YAML.
const ORDER: &[&str] = &[
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "properties",
    "additionalProperties",
    "items",
];

/// The recursive conversion; `inlining` holds the `$ref`s being inlined, to
/// stop at a definition that contains itself.
#[derive(Default)]
struct Walker {
    inlining: Vec<String>,
}

impl Walker {
    /// `schema` (found in the document with `$id` `base`) as a structural
    /// schema.
    fn convert(&mut self, schema: &Value, base: &str) -> Value {
        let Value::Object(schema) = schema else {
            // `true` (anything) and `false`: nothing the API server can check.
            return json!({"x-kubernetes-preserve-unknown-fields": true});
        };
        let mut out = match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.inline(reference, base),
            None => Map::new(),
        };
        let mut unique_items = false;
        for (key, value) in schema {
            match key.as_str() {
                "$ref" => {}
                "const" => {
                    out.insert("enum".into(), json!([value]));
                }
                "type" => translate_type(value, schema, &mut out),
                "properties" => {
                    let Value::Object(properties) = value else {
                        continue;
                    };
                    let mut converted = match out.remove("properties") {
                        Some(Value::Object(target)) => target,
                        _ => Map::new(),
                    };
                    for (name, property) in properties {
                        converted.insert(name.clone(), self.convert(property, base));
                    }
                    out.insert("properties".into(), Value::Object(converted));
                }
                "additionalProperties" => match value {
                    Value::Bool(false) => {}
                    Value::Bool(true) => {
                        out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
                    }
                    other => {
                        let converted = self.convert(other, base);
                        out.insert("additionalProperties".into(), converted);
                    }
                },
                "items" if value.is_object() || value.is_boolean() => {
                    let converted = self.convert(value, base);
                    out.insert("items".into(), converted);
                }
                "uniqueItems" => unique_items = value == &Value::Bool(true),
                // Formats the API server does not know go.
                "format" if value.as_str().is_some_and(|f| FORMATS.contains(&f)) => {
                    out.insert(key.clone(), value.clone());
                }
                "exclusiveMinimum" | "exclusiveMaximum" if value.is_number() => {
                    let bound = if key == "exclusiveMinimum" {
                        "minimum"
                    } else {
                        "maximum"
                    };
                    out.insert(bound.into(), value.clone());
                    out.insert(key.clone(), json!(true));
                }
                "oneOf" | "anyOf" | "allOf" => {
                    if let Some(branches) = legal_junctor(value, schema) {
                        out.insert(key.clone(), branches);
                    }
                }
                k if k.starts_with("x-kubernetes-") || KEPT.contains(&k) => {
                    out.insert(key.clone(), value.clone());
                }
                // `$schema`, `$id`, `$defs`, `$comment`, `title`, `examples`,
                // `default`, `if`/`then`/`else`, `not`, `patternProperties`,
                // `unevaluatedProperties`, … : no structural equivalent.
                _ => {}
            }
        }
        finish(&mut out, unique_items);
        Value::Object(out)
    }

    /// The structural form of the schema `reference` (relative to `base`)
    /// points at, or an opaque object for a large or self-containing
    /// Kubernetes definition.
    fn inline(&mut self, reference: &str, base: &str) -> Map<String, Value> {
        let (document_uri, pointer) = resolve(reference, base);
        let Some(target) =
            super::document(&document_uri).and_then(|d| d.pointer(pointer.trim_start_matches('#')))
        else {
            // A reference to nothing: the JSON Schema validation reports it.
            return opaque(&Value::Null);
        };
        let absolute = format!("{document_uri}{pointer}");
        if self.inlining.contains(&absolute) {
            return opaque(target);
        }
        self.inlining.push(absolute);
        let converted = self.convert(target, &document_uri);
        self.inlining.pop();
        if document_uri == K8S_DEFINITIONS_URI && nodes(&converted) > INLINE_BUDGET {
            return opaque(target);
        }
        match converted {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// `reference` resolved against the document `base`: the document's URI and
/// the fragment (`#/$defs/…`, or empty).
fn resolve(reference: &str, base: &str) -> (String, String) {
    let (document, fragment) = match reference.split_once('#') {
        Some((document, fragment)) => (document, format!("#{fragment}")),
        None => (reference, String::new()),
    };
    let uri = if document.is_empty() {
        base.to_owned()
    } else if document.contains("://") {
        document.to_owned()
    } else {
        let directory = base.rfind('/').map_or("", |i| &base[..=i]);
        format!("{directory}{document}")
    };
    (uri, fragment)
}

/// A Kubernetes object kept whole: its fields are preserved, not checked.
fn opaque(target: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(description) = target.get("description") {
        out.insert("description".into(), description.clone());
    }
    let is_object = match target.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(_) => false,
        None => target.get("properties").is_some() || target.get("$ref").is_some(),
    };
    if is_object || target.is_null() {
        out.insert("type".into(), json!("object"));
    }
    out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    out
}

/// JSON `type` (a name or a list) as OpenAPI's single type.
fn translate_type(value: &Value, schema: &Map<String, Value>, out: &mut Map<String, Value>) {
    let types: Vec<&str> = match value {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    if types.contains(&"null") {
        out.insert("nullable".into(), json!(true));
    }
    let mut rest: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    rest.sort_unstable();
    rest.dedup();
    match rest.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), json!(one));
        }
        ["integer", "string"] => {
            out.insert("x-kubernetes-int-or-string".into(), json!(true));
        }
        ["number", "string"]
            if schema
                .get("x-kubernetes-int-or-string")
                .is_some_and(|v| v == &Value::Bool(true)) =>
        {
            out.insert("x-kubernetes-int-or-string".into(), json!(true));
        }
        _ => {
            out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
        }
    }
}

/// The branches of a `oneOf`/`anyOf`/`allOf` when every one is legal in a
/// structural schema: value validations only, on fields the schema itself
/// specifies.
fn legal_junctor(value: &Value, schema: &Map<String, Value>) -> Option<Value> {
    let branches = value.as_array()?;
    let properties = schema.get("properties").and_then(Value::as_object);
    let mut out = Vec::with_capacity(branches.len());
    for branch in branches {
        let mut legal = Map::new();
        for (key, value) in branch.as_object()? {
            match key.as_str() {
                "const" => {
                    legal.insert("enum".into(), json!([value]));
                }
                "required" => {
                    let known = value.as_array()?.iter().all(|name| {
                        name.as_str()
                            .is_some_and(|n| properties.is_some_and(|p| p.contains_key(n)))
                    });
                    if !known {
                        return None;
                    }
                    legal.insert(key.clone(), value.clone());
                }
                k if JUNCTOR_LEGAL.contains(&k) => {
                    legal.insert(key.clone(), value.clone());
                }
                "$comment" | "title" | "examples" => {}
                _ => return None,
            }
        }
        out.push(Value::Object(legal));
    }
    Some(Value::Array(out))
}

/// Types inferred where JSON Schema left them implicit, what the API server
/// requires of objects and arrays, and the keywords in reading order.
fn finish(out: &mut Map<String, Value>, unique_items: bool) {
    let preserves = out.contains_key("x-kubernetes-preserve-unknown-fields");
    if out.contains_key("properties") && out.contains_key("additionalProperties") {
        // Not both in a CRD: the known fields stay checked, the others kept.
        out.remove("additionalProperties");
        out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    }
    if !out.contains_key("type") && !out.contains_key("x-kubernetes-int-or-string") {
        match inferred_type(out) {
            Some(t) => {
                out.insert("type".into(), json!(t));
            }
            None if !preserves => {
                // Untyped: any value.
                out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            }
            None => {}
        }
    }
    match out.get("type").and_then(Value::as_str) {
        Some("object")
            if !out.contains_key("properties")
                && !out.contains_key("additionalProperties")
                && !out.contains_key("x-kubernetes-preserve-unknown-fields") =>
        {
            // `type: object` alone accepts any object in JSON Schema; a CRD
            // would prune every field.
            out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
        }
        Some("array") => {
            if !out.contains_key("items") {
                out.insert(
                    "items".into(),
                    json!({"x-kubernetes-preserve-unknown-fields": true}),
                );
            }
            let scalar_items = out
                .get("items")
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|t| matches!(t, "string" | "integer" | "number" | "boolean"));
            if unique_items && scalar_items && !out.contains_key("x-kubernetes-list-type") {
                out.insert("x-kubernetes-list-type".into(), json!("set"));
            }
        }
        _ => {}
    }
    let mut ordered = Map::with_capacity(out.len());
    for key in ORDER {
        if let Some(v) = out.remove(*key) {
            ordered.insert((*key).to_owned(), v);
        }
    }
    ordered.append(out);
    *out = ordered;
}

/// The type a schema without one implies: its `enum` values' type, `object`
/// for `properties`, `array` for `items`.
fn inferred_type(schema: &Map<String, Value>) -> Option<&'static str> {
    if let Some(Value::Array(values)) = schema.get("enum") {
        let type_of = |v: &Value| match v {
            Value::String(_) => Some("string"),
            Value::Bool(_) => Some("boolean"),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
            Value::Number(_) => Some("number"),
            Value::Object(_) => Some("object"),
            Value::Array(_) => Some("array"),
            Value::Null => None,
        };
        let mut types = values.iter().filter_map(type_of);
        let first = types.next()?;
        return types.all(|t| t == first).then_some(first);
    }
    if schema.contains_key("properties")
        || schema.contains_key("additionalProperties")
        || schema.contains_key("required")
    {
        return Some("object");
    }
    if schema.contains_key("items") {
        return Some("array");
    }
    None
}

/// Number of schema nodes (JSON objects) in `value`.
fn nodes(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(nodes).sum::<usize>(),
        Value::Array(items) => items.iter().map(nodes).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(schema: Value) -> Value {
        Walker::default().convert(&schema, &format!("{BASE_URI}sidecartemplate.json"))
    }

    /// Fails on anything a structural schema may not hold.
    fn assert_structural(at: &str, schema: &Value, root: bool) {
        let map = schema
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object"));
        for key in map.keys() {
            assert!(
                !key.starts_with('$')
                    && !matches!(
                        key.as_str(),
                        "const"
                            | "title"
                            | "if"
                            | "then"
                            | "else"
                            | "not"
                            | "default"
                            | "examples"
                            | "uniqueItems"
                            | "patternProperties"
                            | "unevaluatedProperties"
                    ),
                "{at}: `{key}` is not structural"
            );
        }
        let typed = map.get("type").is_some_and(Value::is_string)
            || map.contains_key("x-kubernetes-int-or-string")
            || map.contains_key("x-kubernetes-preserve-unknown-fields");
        assert!(typed, "{at}: no type");
        assert!(
            !(map.contains_key("properties") && map.contains_key("additionalProperties")),
            "{at}: properties and additionalProperties"
        );
        if map.get("type") == Some(&json!("array")) {
            assert!(map.contains_key("items"), "{at}: an array without items");
        }
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (name, property) in properties {
                if !root {
                    assert_ne!(name, "metadata", "{at}: nested metadata");
                }
                assert_structural(&format!("{at}.{name}"), property, false);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = map.get(key) {
                assert_structural(&format!("{at}[{key}]"), child, false);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for branch in map.get(key).and_then(Value::as_array).into_iter().flatten() {
                for k in branch.as_object().unwrap().keys() {
                    assert!(JUNCTOR_LEGAL.contains(&k.as_str()), "{at}: `{k}` in {key}");
                }
            }
        }
    }

    #[test]
    fn every_cluster_kind_has_a_structural_crd() {
        let kinds: Vec<_> = kinds().collect();
        assert_eq!(
            kinds,
            [
                "SidecarTemplate",
                "InjectionPolicy",
                "ClusterInjectionPolicy"
            ]
        );
        assert!(
            crd("InjectionTest").is_none(),
            "a test is no cluster object"
        );
        for kind in kinds {
            let crd = crd(kind).unwrap();
            let version = &crd["spec"]["versions"][0];
            assert_eq!(version["name"], "v1alpha1");
            assert_eq!(version["served"], true);
            assert_eq!(version["storage"], true);
            let root = &version["schema"]["openAPIV3Schema"];
            assert_structural(kind, root, true);
            assert_eq!(root["properties"]["metadata"], json!({"type": "object"}));
            assert_eq!(root["properties"]["apiVersion"]["type"], "string");
            assert_eq!(root["properties"]["kind"]["type"], "string");
            assert_eq!(root["required"], json!(["spec"]));
            assert_eq!(crd["spec"]["names"]["categories"], json!([CATEGORY]));
            assert_eq!(
                crd["metadata"]["name"],
                format!(
                    "{}.kubectl-inject.dev",
                    crd["spec"]["names"]["plural"].as_str().unwrap()
                )
            );
        }
    }

    #[test]
    fn scopes_names_and_columns() {
        let template = crd("sidecartemplate").unwrap();
        assert_eq!(template["spec"]["scope"], "Namespaced");
        assert_eq!(template["spec"]["names"]["shortNames"], json!(["sct"]));
        let columns = &template["spec"]["versions"][0]["additionalPrinterColumns"];
        assert_eq!(columns[0]["jsonPath"], ".spec.version");
        assert_eq!(columns[1]["name"], "Extends");
        let description =
            template["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"]
                .as_str()
                .unwrap();
        assert!(
            description.contains("injector's own namespace"),
            "{description}"
        );

        let cluster = crd("ClusterInjectionPolicy").unwrap();
        assert_eq!(cluster["spec"]["scope"], "Cluster");
        assert_eq!(
            cluster["spec"]["names"]["plural"],
            "clusterinjectionpolicies"
        );
        let names: Vec<&str> = cluster["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c.get("priority").is_none())
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Action", "Template", "Priority", "Enforce", "Age"]);
        assert_eq!(
            crd("InjectionPolicy").unwrap()["spec"]["scope"],
            "Namespaced"
        );
    }

    #[test]
    fn kubernetes_objects_are_opaque_or_inlined_by_size() {
        let template = crd("SidecarTemplate").unwrap();
        let spec = &template["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
            ["properties"];
        for section in ["containers", "initContainers"] {
            let item = &spec[section]["items"];
            assert_eq!(item["type"], "object");
            assert_eq!(item["x-kubernetes-preserve-unknown-fields"], true);
            assert!(item.get("properties").is_none());
            assert_eq!(
                item["description"],
                "A single application container that you want to run within a pod."
            );
        }
        assert_eq!(
            spec["volumes"]["items"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        // Our own definitions are inlined, with the property's description.
        let parameter = &spec["parameters"]["items"];
        assert_eq!(parameter["required"], json!(["name", "annotation"]));
        assert_eq!(
            parameter["properties"]["enum"]["x-kubernetes-list-type"],
            "set"
        );
        assert_eq!(
            spec["nativeSidecar"],
            json!({
                "description": spec["nativeSidecar"]["description"],
                "type": "boolean",
            })
        );

        let policy = crd("ClusterInjectionPolicy").unwrap();
        let spec =
            &policy["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let selector = &spec["properties"]["namespaceSelector"];
        assert!(
            selector["description"]
                .as_str()
                .unwrap()
                .starts_with("Selects the namespaces"),
            "the property's description wins: {selector:#}"
        );
        let requirement = &selector["properties"]["matchExpressions"]["items"];
        assert_eq!(requirement["required"], json!(["key", "operator"]));
        assert_eq!(
            requirement["properties"]["operator"]["enum"],
            json!(["In", "NotIn", "Exists", "DoesNotExist"])
        );
        assert_eq!(
            selector["properties"]["matchLabels"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert_eq!(
            spec["properties"]["action"]["type"], "string",
            "inferred from enum"
        );
        assert!(spec.get("if").is_none() && spec.get("then").is_none());
        assert_eq!(
            spec["properties"]["serviceAccounts"]["x-kubernetes-list-type"],
            "set"
        );
    }

    #[test]
    fn keywords_translate() {
        assert_eq!(
            convert(json!({"const": "x", "title": "t", "$comment": "c", "default": "x"})),
            json!({"type": "string", "enum": ["x"]})
        );
        assert_eq!(
            convert(json!({"type": ["string", "null"]})),
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            convert(json!({"type": ["integer", "string"]})),
            json!({"x-kubernetes-int-or-string": true})
        );
        assert_eq!(
            convert(json!({"type": ["string", "boolean"]})),
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            convert(json!({"type": "object"})),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            convert(json!({"type": "array"})),
            json!({"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}})
        );
        assert_eq!(
            convert(json!({"type": "integer", "exclusiveMinimum": 0})),
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
        );
        assert_eq!(
            convert(json!({
                "type": "object",
                "additionalProperties": false,
                "patternProperties": {"^x-": {}},
                "properties": {"a": {"type": "string"}},
                "if": {"required": ["a"]},
                "then": {"required": ["b"]},
            })),
            json!({"type": "object", "properties": {"a": {"type": "string"}}})
        );
        // Legal junctors stay, others go.
        let legal = convert(json!({
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "enum": {"type": "array", "items": {"type": "string"}}},
            "oneOf": [{"required": ["pattern"]}, {"required": ["enum"]}],
        }));
        assert_eq!(
            legal["oneOf"],
            json!([{"required": ["pattern"]}, {"required": ["enum"]}])
        );
        let illegal = convert(json!({
            "anyOf": [{"type": "string"}, {"type": "integer", "description": "n"}],
        }));
        assert_eq!(
            illegal,
            json!({"x-kubernetes-preserve-unknown-fields": true})
        );
    }

    #[test]
    fn references_resolve_relative_to_their_document() {
        let base = format!("{BASE_URI}sidecartemplate.json");
        assert_eq!(
            resolve("k8s/definitions.json#/$defs/x", &base),
            (K8S_DEFINITIONS_URI.to_owned(), "#/$defs/x".to_owned())
        );
        assert_eq!(
            resolve("#/$defs/spec", &base),
            (base.clone(), "#/$defs/spec".to_owned())
        );
        // A reference that contains itself stops at an opaque object.
        let mut walker = Walker::default();
        walker.inlining.push(format!("{base}#/$defs/parameter"));
        let map = walker.inline("#/$defs/parameter", &base);
        assert_eq!(map["x-kubernetes-preserve-unknown-fields"], true);
    }

    /// The YAML says what the JSON says (folded descriptions, quoting,
    /// patterns with backslashes).
    #[test]
    fn yaml_reads_back_as_the_crds() {
        let text = yaml(None).unwrap();
        let parsed = crate::yaml::parse_stream(&text, &crate::yaml::Limits::default());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let read: Vec<Value> = parsed.documents.iter().map(|(_, n)| n.to_json()).collect();
        assert_eq!(read, crds());
    }

    #[test]
    fn yaml_is_one_document_per_crd_after_the_header() {
        let all = yaml(None).unwrap();
        assert!(all.starts_with("# CustomResourceDefinitions"));
        assert!(all.contains("kubectl inject schema --crd > deploy/crds.yaml"));
        assert_eq!(all.matches("\n---\n").count(), 3, "three documents");
        assert_eq!(all.matches("kind: CustomResourceDefinition\n").count(), 3);
        let one = yaml(Some("cip")).is_none();
        assert!(one, "kinds are matched by name, not short name");
        let one = yaml(Some("clusterinjectionpolicy")).unwrap();
        assert_eq!(one.matches("kind: CustomResourceDefinition\n").count(), 1);
        assert!(yaml(Some("InjectionTest")).is_none());
    }
}
