//! Namespaces known from the inputs (or, later, the live cluster).

use std::collections::HashMap;

use super::Object;
use super::selector::Labels;
use super::workload::string_map;

/// The label the API server puts on every Namespace.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A namespace and its labels.
#[derive(Debug, Clone)]
pub struct NamespaceInfo {
    /// Index of the Namespace object in the workspace's `objects`; `None`
    /// for a namespace every cluster has that the inputs do not define.
    pub object: Option<usize>,
    pub labels: Labels,
    /// Its annotations (Linkerd, OTel and OSM read injection settings there).
    pub annotations: Labels,
}

/// Every Namespace among the inputs, by name.
#[derive(Debug, Default)]
pub struct Namespaces {
    by_name: HashMap<String, NamespaceInfo>,
}

impl Namespaces {
    pub fn from_objects(objects: &[Object]) -> Namespaces {
        let mut by_name = HashMap::new();
        for (i, object) in objects.iter().enumerate() {
            if object.kind != "Namespace"
                || object.group() != ""
                || object.name.is_empty()
                || object.shadowed
            {
                continue;
            }
            let mut labels = string_map(object.root.get("metadata").and_then(|m| m.get("labels")));
            labels.insert(NAME_LABEL.to_owned(), object.name.clone());
            let annotations = string_map(
                object
                    .root
                    .get("metadata")
                    .and_then(|m| m.get("annotations")),
            );
            by_name.insert(
                object.name.clone(),
                NamespaceInfo {
                    object: Some(i),
                    labels,
                    annotations,
                },
            );
        }
        // Every cluster has these; unless the inputs say otherwise, they
        // carry only the name label the API server sets.
        for name in BUILT_IN {
            by_name
                .entry((*name).to_owned())
                .or_insert_with(|| NamespaceInfo {
                    object: None,
                    labels: [(NAME_LABEL.to_owned(), (*name).to_owned())].into(),
                    annotations: Labels::new(),
                });
        }
        Namespaces { by_name }
    }

    /// One namespace known by its labels and annotations (the admission
    /// webhook's view of the pod's namespace, from the cluster).
    pub fn single(name: &str, mut labels: Labels, annotations: Labels) -> Namespaces {
        labels.insert(NAME_LABEL.to_owned(), name.to_owned());
        let info = NamespaceInfo {
            object: None,
            labels,
            annotations,
        };
        Namespaces {
            by_name: [(name.to_owned(), info)].into(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&NamespaceInfo> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &NamespaceInfo)> {
        self.by_name.iter()
    }
}

/// Namespaces every cluster has.
pub const BUILT_IN: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Namespaces no injector ever touches.
pub fn is_system(name: &str) -> bool {
    matches!(name, "kube-system" | "kube-public" | "kube-node-lease")
}
