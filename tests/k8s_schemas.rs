//! Generates `schemas/k8s/definitions.json`, the Kubernetes definitions that
//! the `SidecarTemplate` and policy schemas reference (`Container`, `Volume`,
//! `LabelSelector` and everything they use), from `k8s-openapi`'s schemas of
//! the real Kubernetes API, and checks that the committed file is current.
//!
//! Regenerate after upgrading `k8s-openapi` or changing the post-processing:
//!
//! ```text
//! UPDATE_SCHEMAS=1 cargo test --test k8s_schemas
//! ```

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Where the kind schemas find the definitions (`k8s/definitions.json`
/// relative to `https://kubectl-inject.dev/schemas/v1alpha1/sidecartemplate.json`).
const ID: &str = "https://kubectl-inject.dev/schemas/v1alpha1/k8s/definitions.json";

/// The Kubernetes version `k8s-openapi`'s `earliest` feature selects.
const KUBERNETES_VERSION: &str = "1.33";

/// Whether generated definitions keep their `description`s. With them the
/// file is about 150 KB (without, about 47 KB): small enough to embed, and
/// they document the fields for anyone reading the schema. Turn them off if
/// the file outgrows ~400 KB.
const KEEP_DESCRIPTIONS: bool = true;

/// Enums that the Kubernetes API declares (`+enum` Go types, listed as
/// "Possible enum values" in the OpenAPI descriptions) but that `k8s-openapi`
/// does not carry as JSON Schema `enum`s: (definition, property, values).
/// Without them `imagePullPolicy: Alwayz` would pass. Capabilities
/// (`add`/`drop`) stay free strings: the API server accepts any name.
const ENUMS: &[(&str, &str, &[&str])] = &[
    (
        "io.k8s.api.core.v1.Container",
        "imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
    ),
    (
        "io.k8s.api.core.v1.Container",
        "terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
    ),
    ("io.k8s.api.core.v1.Container", "restartPolicy", &["Always"]),
    (
        "io.k8s.api.core.v1.ContainerPort",
        "protocol",
        &["TCP", "UDP", "SCTP"],
    ),
    (
        "io.k8s.api.core.v1.ContainerResizePolicy",
        "restartPolicy",
        &["NotRequired", "RestartContainer"],
    ),
    (
        "io.k8s.api.core.v1.HTTPGetAction",
        "scheme",
        &["HTTP", "HTTPS"],
    ),
    (
        "io.k8s.api.core.v1.SeccompProfile",
        "type",
        &["RuntimeDefault", "Unconfined", "Localhost"],
    ),
    (
        "io.k8s.api.core.v1.AppArmorProfile",
        "type",
        &["RuntimeDefault", "Unconfined", "Localhost"],
    ),
    (
        "io.k8s.api.core.v1.SecurityContext",
        "procMount",
        &["Default", "Unmasked"],
    ),
    (
        "io.k8s.api.core.v1.VolumeMount",
        "mountPropagation",
        &["None", "HostToContainer", "Bidirectional"],
    ),
    (
        "io.k8s.api.core.v1.VolumeMount",
        "recursiveReadOnly",
        &["Disabled", "IfPossible", "Enabled"],
    ),
    (
        "io.k8s.api.core.v1.HostPathVolumeSource",
        "type",
        &[
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ],
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
        "operator",
        &["In", "NotIn", "Exists", "DoesNotExist"],
    ),
];

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/k8s/definitions.json")
}

/// The definitions as `k8s-openapi` describes them, post-processed.
fn generate() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    generator.subschema_for::<Container>();
    generator.subschema_for::<Volume>();
    generator.subschema_for::<LabelSelector>();
    let mut defs = generator.take_definitions(true);

    for (name, def) in defs.iter_mut() {
        post_process(def);
        // (b) `Quantity` is a string in the API, but the API server's decoder
        // also takes a JSON number, and YAML `cpu: 1` is one. `k8s-openapi`
        // marks it (and IntOrString) only with `x-kubernetes-int-or-string`,
        // which validators ignore: give both a real `type`.
        match name.as_str() {
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
                set(def, "type", json!(["string", "number"]));
            }
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
                set(def, "type", json!(["integer", "string"]));
            }
            _ => {}
        }
    }

    // (c) Enums the API declares but `k8s-openapi` does not carry.
    for (def, property, values) in ENUMS {
        let schema = defs
            .get_mut(*def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(*property))
            .unwrap_or_else(|| panic!("{def} has no property {property}: update ENUMS"));
        set(schema, "enum", json!(values));
    }

    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("$id".into(), json!(ID));
    root.insert(
        "$comment".into(),
        json!(format!(
            "GENERATED by tests/k8s_schemas.rs from k8s-openapi (Kubernetes {KUBERNETES_VERSION}); \
             do not edit. Regenerate: UPDATE_SCHEMAS=1 cargo test --test k8s_schemas"
        )),
    );
    root.insert("$defs".into(), Value::Object(defs));
    sorted(Value::Object(root))
}

/// Applies the rules that hold for every schema in the tree.
fn post_process(schema: &mut Value) {
    let Value::Object(object) = schema else {
        return;
    };
    if !KEEP_DESCRIPTIONS {
        object.remove("description");
    }
    // (a) Strict, like kubeconform's `-strict` and the API server's
    // `fieldValidation=Strict` (the default of `kubectl apply` since 1.27):
    // an unknown field (`resource:` for `resources:`) is an error, not
    // silently dropped.
    if object.contains_key("properties") && !object.contains_key("additionalProperties") {
        object.insert("additionalProperties".into(), Value::Bool(false));
    }
    // (b) Every int-or-string, wherever it is inlined.
    if object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && !object.contains_key("type")
    {
        object.insert("type".into(), json!(["integer", "string"]));
    }
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            // Maps of subschemas: their keys are names, not keywords.
            "properties" | "$defs" | "patternProperties" => {
                if let Value::Object(children) = value {
                    children.values_mut().for_each(post_process);
                }
            }
            "enum" | "const" | "required" | "examples" | "default" => {}
            _ => match value {
                Value::Array(items) => items.iter_mut().for_each(post_process),
                Value::Object(_) => post_process(value),
                _ => {}
            },
        }
    }
}

fn set(schema: &mut Value, key: &str, value: Value) {
    schema
        .as_object_mut()
        .expect("a schema object")
        .insert(key.into(), value);
}

/// Sorts every object's keys, so the file is the same on every run.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut entries: Vec<_> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn render(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("serializable");
    text.push('\n');
    text
}

#[test]
fn definitions_are_current() {
    let generated = generate();
    let text = render(&generated);
    let path = path();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == text {
        return;
    }
    let committed: Value = serde_json::from_str(&committed).unwrap_or(Value::Null);
    let names = |v: &Value| -> Vec<String> {
        v.get("$defs")
            .and_then(Value::as_object)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default()
    };
    let differing: Vec<String> = names(&generated)
        .into_iter()
        .chain(names(&committed))
        .filter(|n| generated["$defs"].get(n) != committed.get("$defs").and_then(|d| d.get(n)))
        .collect();
    panic!(
        "{} is out of date (differing definitions: {differing:?}); \
         regenerate with UPDATE_SCHEMAS=1 cargo test --test k8s_schemas",
        path.display()
    );
}

#[test]
fn enums_are_applied_and_strict() {
    let defs = generate();
    let container = &defs["$defs"]["io.k8s.api.core.v1.Container"];
    assert_eq!(container["additionalProperties"], json!(false));
    assert_eq!(
        container["properties"]["imagePullPolicy"]["enum"],
        json!(["Always", "IfNotPresent", "Never"])
    );
    assert_eq!(
        defs["$defs"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        json!(["string", "number"])
    );
    assert_eq!(
        defs["$defs"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"],
        json!(["integer", "string"])
    );
}
