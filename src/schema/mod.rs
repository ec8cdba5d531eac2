//! The embedded JSON Schemas (draft 2020-12) of the `kubectl-inject.dev`
//! kinds.
//!
//! One schema per kind lives in `schemas/` and is compiled into the binary;
//! the Kubernetes definitions they reference (`Container`, `Volume`,
//! `LabelSelector`, …) are in `schemas/k8s/definitions.json`, generated from
//! `k8s-openapi` by `tests/k8s_schemas.rs`. Validation is offline: every
//! document a schema references is in one [`jsonschema::Registry`] under
//! its `$id`, and nothing is ever fetched. Each kind's validator is built once
//! and shared by all threads.

pub mod crd;
pub mod location;

use std::sync::OnceLock;

use jsonschema::{Registry, Validator};
use serde_json::Value;

/// Base URI of the schemas; each file's `$id` is this plus its file name.
pub const BASE_URI: &str = "https://kubectl-inject.dev/schemas/v1alpha1/";

/// `$id` of the generated Kubernetes definitions.
pub const K8S_DEFINITIONS_URI: &str =
    "https://kubectl-inject.dev/schemas/v1alpha1/k8s/definitions.json";

const K8S_DEFINITIONS: &str = include_str!("../../schemas/k8s/definitions.json");

/// A kind and the text of its schema.
struct KindSchema {
    kind: &'static str,
    file: &'static str,
    text: &'static str,
}

const SCHEMAS: &[KindSchema] = &[
    KindSchema {
        kind: "SidecarTemplate",
        file: "sidecartemplate.json",
        text: include_str!("../../schemas/sidecartemplate.json"),
    },
    KindSchema {
        kind: "InjectionPolicy",
        file: "injectionpolicy.json",
        text: include_str!("../../schemas/injectionpolicy.json"),
    },
    KindSchema {
        kind: "ClusterInjectionPolicy",
        file: "clusterinjectionpolicy.json",
        text: include_str!("../../schemas/clusterinjectionpolicy.json"),
    },
    KindSchema {
        kind: "InjectionTest",
        file: "injectiontest.json",
        text: include_str!("../../schemas/injectiontest.json"),
    },
];

/// The kinds that have a schema, in catalogue order.
pub fn kinds() -> &'static [&'static str] {
    crate::model::OWN_KINDS
}

fn find(kind: &str) -> Option<(usize, &'static KindSchema)> {
    SCHEMAS
        .iter()
        .enumerate()
        .find(|(_, s)| s.kind.eq_ignore_ascii_case(kind))
}

/// The schema of `kind` (case-insensitive) as shipped, for
/// `kubectl inject schema KIND`.
pub fn schema_text(kind: &str) -> Option<&'static str> {
    find(kind).map(|(_, s)| s.text)
}

/// The file name of `kind`'s schema (case-insensitive) under `schemas/`;
/// its `$id` is [`BASE_URI`] plus this.
pub fn file_of(kind: &str) -> Option<&'static str> {
    find(kind).map(|(_, s)| s.file)
}

/// The generated Kubernetes definitions the kind schemas reference.
pub fn k8s_definitions_text() -> &'static str {
    K8S_DEFINITIONS
}

/// Every embedded document, parsed once, by `$id`: the kind schemas and the
/// Kubernetes definitions. Also used to look up the schema a validation
/// error points into (allowed property names, titles).
pub fn documents() -> &'static [(String, Value)] {
    static DOCUMENTS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    DOCUMENTS.get_or_init(|| {
        let parse = |name: &str, text: &str| -> Value {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("embedded schema {name} is not JSON: {e}"))
        };
        let mut documents = vec![(
            K8S_DEFINITIONS_URI.to_owned(),
            parse("k8s/definitions.json", K8S_DEFINITIONS),
        )];
        documents.extend(
            SCHEMAS
                .iter()
                .map(|s| (format!("{BASE_URI}{}", s.file), parse(s.file, s.text))),
        );
        documents
    })
}

/// The embedded document with `$id` `uri` (without fragment).
pub fn document(uri: &str) -> Option<&'static Value> {
    documents().iter().find(|(id, _)| id == uri).map(|(_, v)| v)
}

fn registry() -> &'static Registry<'static> {
    static REGISTRY: OnceLock<Registry<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Registry::new()
            .extend(documents().iter().map(|(id, doc)| (id.as_str(), doc)))
            .and_then(|builder| builder.prepare())
            .unwrap_or_else(|e| panic!("embedded schemas do not form a registry: {e}"))
    })
}

/// The compiled validator of `kind` (case-insensitive), built on first use.
/// `None` for kinds without a schema.
pub fn validator(kind: &str) -> Option<&'static Validator> {
    static VALIDATORS: OnceLock<Vec<Validator>> = OnceLock::new();
    let (index, _) = find(kind)?;
    let validators = VALIDATORS.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|s| {
                let schema = document(&format!("{BASE_URI}{}", s.file))
                    .expect("every kind schema is a document");
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .with_registry(registry())
                    .offline()
                    .build(schema)
                    .unwrap_or_else(|e| panic!("embedded schema {} does not compile: {e}", s.file))
            })
            .collect()
    });
    validators.get(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal(kind: &str) -> Value {
        let spec = match kind {
            "SidecarTemplate" => json!({
                "version": "1.4.0",
                "containers": [{
                    "name": "proxy",
                    "image": "envoyproxy/envoy:v1.31.0",
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {"requests": {"cpu": 1, "memory": "64Mi"}},
                    "ports": [{"containerPort": 15001, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"port": "http", "path": "/ready"}},
                }],
                "volumes": [{"name": "certs", "emptyDir": {}}],
            }),
            "InjectionPolicy" | "ClusterInjectionPolicy" => json!({
                "objectSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                "action": "inject",
                "template": "envoy-proxy@1.4.0",
            }),
            "InjectionTest" => json!({
                "inputs": ["apps/"],
                "expect": [{"workload": {"kind": "Deployment", "name": "web"}, "decision": "inject"}],
            }),
            other => panic!("no example for {other}"),
        };
        json!({
            "apiVersion": "kubectl-inject.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": "example"},
            "spec": spec,
        })
    }

    #[test]
    fn every_schema_compiles_and_accepts_a_minimal_example() {
        for kind in kinds() {
            let validator = validator(kind).unwrap_or_else(|| panic!("no validator for {kind}"));
            let example = minimal(kind);
            let errors: Vec<String> = validator
                .iter_errors(&example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{kind}: {errors:?}");
        }
    }

    #[test]
    fn schemas_reject_what_they_should() {
        let mut template = minimal("SidecarTemplate");
        template["spec"]["containers"][0]["imagePullPolicy"] = json!("Alwayz");
        assert!(!validator("SidecarTemplate").unwrap().is_valid(&template));

        let mut template = minimal("SidecarTemplate");
        template["spec"]["containers"][0]["resource"] = json!({});
        assert!(!validator("SidecarTemplate").unwrap().is_valid(&template));

        let mut policy = minimal("ClusterInjectionPolicy");
        policy["spec"].as_object_mut().unwrap().remove("template");
        assert!(
            !validator("ClusterInjectionPolicy")
                .unwrap()
                .is_valid(&policy)
        );
        policy["spec"]["action"] = json!("skip");
        assert!(
            validator("ClusterInjectionPolicy")
                .unwrap()
                .is_valid(&policy)
        );

        let mut kind = minimal("InjectionTest");
        kind["kind"] = json!("SidecarTemplate");
        assert!(!validator("InjectionTest").unwrap().is_valid(&kind));
    }

    #[test]
    fn lookups_are_case_insensitive() {
        assert!(schema_text("sidecartemplate").unwrap().contains("\"$id\""));
        assert!(validator("CLUSTERINJECTIONPOLICY").is_some());
        assert!(schema_text("Deployment").is_none());
        let with_schema: Vec<_> = SCHEMAS.iter().map(|s| s.kind).collect();
        assert_eq!(kinds(), with_schema.as_slice());
    }

    #[test]
    fn schemas_are_well_formed() {
        for kind in kinds() {
            let text = schema_text(kind).unwrap();
            let schema: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert_eq!(schema["title"], *kind);
            assert_eq!(schema["properties"]["kind"]["const"], *kind);
            // The shared ObjectMeta is copied into every schema; keep the
            // copies equal, but for the SidecarTemplate's word on names.
            let object_meta = |schema: &Value| {
                let mut meta = schema["$defs"]["objectMeta"].clone();
                meta["properties"]["name"]
                    .as_object_mut()
                    .map(|name| name.remove("description"));
                meta
            };
            assert_eq!(
                object_meta(&schema),
                object_meta(&serde_json::from_str::<Value>(SCHEMAS[0].text).unwrap()),
                "{kind}"
            );
            let name = schema["$defs"]["objectMeta"]["properties"]["name"]["description"]
                .as_str()
                .unwrap();
            assert!(
                name.starts_with("Name of the object: a DNS-1123 subdomain"),
                "{kind}"
            );
            assert_eq!(
                name.contains("`NAME-VERSION`"),
                *kind == "SidecarTemplate",
                "{kind}: {name}"
            );
            assert_descriptions(kind, "", &schema);
        }
    }

    /// Every property of our own schemas is documented (`kubectl inject schema` shows them).
    fn assert_descriptions(kind: &str, at: &str, schema: &Value) {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let here = format!("{at}/{name}");
                let documented = property.get("description").is_some()
                    || (schema.get("if").is_some()
                        && name == "action"
                        && property.get("const").is_some());
                assert!(documented, "{kind}: {here} has no description");
            }
        }
        if let Some(object) = schema.as_object() {
            for (key, child) in object {
                if matches!(key.as_str(), "if" | "then" | "items") {
                    continue;
                }
                match child {
                    Value::Object(map) if key == "properties" || key == "$defs" => {
                        for (name, sub) in map {
                            assert_descriptions(kind, &format!("{at}/{name}"), sub);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
