//! Objects read from a cluster as the loader takes them: JSON without
//! `managedFields` (large, and nothing reads them), named
//! `Kind/namespace/name`.

use kube::api::DynamicObject;
use serde_json::Value;

use crate::load::Input;

/// The injector's namespace in `deploy/`: SidecarTemplates there are
/// cluster-wide (`serve --template-namespace`, and `simulate --live`).
pub const DEFAULT_TEMPLATE_NAMESPACE: &str = "kubectl-inject-system";

/// One object from the cluster: its JSON and its display name.
#[derive(Debug, Clone)]
pub struct LiveObject {
    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    pub name: String,
    pub json: String,
}

impl From<LiveObject> for Input {
    fn from(object: LiveObject) -> Input {
        Input::Live {
            name: object.name,
            json: object.json,
        }
    }
}

/// A `kubectl-inject.dev` object as the injector reads it: without
/// `managedFields`; a SidecarTemplate in `template_namespace` (the
/// injector's own) is cluster-wide, so it loses its namespace.
pub fn cluster_object(mut object: Value, template_namespace: &str) -> LiveObject {
    let template = object.get("kind").and_then(Value::as_str) == Some("SidecarTemplate");
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        let namespace = metadata.get("namespace").and_then(Value::as_str);
        if template && namespace == Some(template_namespace) {
            metadata.remove("namespace");
        }
    }
    let metadata = object.get("metadata");
    let field = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    LiveObject {
        name: display_name(
            kind.unwrap_or_default(),
            field("namespace"),
            field("name").unwrap_or_default(),
        ),
        json: object.to_string(),
    }
}

/// Any object read from the cluster.
pub fn to_input(mut object: DynamicObject) -> Input {
    object.metadata.managed_fields = None;
    let kind = object.types.as_ref().map_or("", |t| t.kind.as_str());
    let name = object.metadata.name.as_deref().unwrap_or_default();
    let name = display_name(kind, object.metadata.namespace.as_deref(), name);
    let json = serde_json::to_string(&object).unwrap_or_default();
    Input::Live { name, json }
}

/// A `kubectl-inject.dev` object read by `simulate --live` without PATHS:
/// the same as the injector reads it.
pub fn own_input(object: DynamicObject) -> Input {
    match serde_json::to_value(&object) {
        Ok(value) => cluster_object(value, DEFAULT_TEMPLATE_NAMESPACE).into(),
        Err(_) => to_input(object),
    }
}

fn display_name(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}
