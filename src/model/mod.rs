//! Kubernetes objects as loaded: a document's root node, where it came
//! from, and the identity fields every rule needs.

pub mod deployable;
pub mod index;
pub mod namespace;
pub mod security_context;
pub mod selector;
pub mod workload;

use std::ops::Range;

use serde::Serialize;

use crate::source::FileId;
use crate::yaml::Node;
pub use deployable::DeployableId;

/// The Kubernetes object a finding or a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    /// `kind/namespace/name`, or `kind/name` for cluster-scoped objects.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// The API group of the repository's own injector.
pub const GROUP: &str = "kubectl-inject.dev";
/// Versions of [`GROUP`] this build understands.
pub const GROUP_VERSIONS: &[&str] = &["v1alpha1"];
/// Kinds of [`GROUP`].
pub const OWN_KINDS: &[&str] = &[
    "SidecarTemplate",
    "InjectionPolicy",
    "ClusterInjectionPolicy",
    "InjectionTest",
];

/// Kinds that have no namespace (the ones that matter for identity).
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "StorageClass",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "APIService",
    "ClusterInjectionPolicy",
    "InjectionTest",
];

/// One Kubernetes object from the inputs.
#[derive(Debug, Clone)]
pub struct Object {
    pub file: FileId,
    /// Index of the document in its file.
    pub document: usize,
    /// Index in the `items` of a `List`, when it came from one.
    pub list_item: Option<usize>,
    pub root: Node,
    pub api_version: String,
    pub kind: String,
    /// `metadata.name`; empty when missing (schema checks report that).
    pub name: String,
    /// `metadata.namespace` as written.
    pub namespace: Option<String>,
    /// The deployable the object belongs to (`DeployableId(0)` in a run of
    /// plain files).
    pub deployable: DeployableId,
    /// A later definition of the same object (kind, namespace, name;
    /// templates name@version) replaces this one in the cluster, as the last
    /// one applied wins: what reads the cluster's state (namespaces, the
    /// webhook gate, policies, templates, injector ConfigMaps, quotas) skips
    /// it. INJ004 reports the two definitions.
    pub shadowed: bool,
}

impl Object {
    /// Makes an object of a document root; `None` when it is not a Kubernetes
    /// object (no `apiVersion` or `kind`: a kustomization, Helm values).
    pub fn from_root(file: FileId, document: usize, root: Node) -> Option<Object> {
        let api_version = root.get_str("apiVersion")?.to_owned();
        let kind = root.get_str("kind")?.to_owned();
        let metadata = root.get("metadata");
        let name = metadata
            .and_then(|m| m.get_str("name"))
            .unwrap_or_default()
            .to_owned();
        let namespace = metadata
            .and_then(|m| m.get_str("namespace"))
            .map(str::to_owned);
        Some(Object {
            file,
            document,
            list_item: None,
            root,
            api_version,
            kind,
            name,
            namespace,
            deployable: DeployableId::default(),
            shadowed: false,
        })
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// Whether this object belongs to the repository's own injector.
    pub fn is_own(&self) -> bool {
        self.group() == GROUP
    }

    /// `List`, `PodList`, … in the core group: their `items` are objects.
    pub fn is_list(&self) -> bool {
        self.kind.ends_with("List") && self.root.get("items").is_some()
    }

    pub fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED.contains(&self.kind.as_str())
            || (self.kind == "SidecarTemplate" && self.namespace.is_none())
    }

    /// The namespace the object lands in: its own, else `default_namespace`,
    /// none for cluster-scoped kinds.
    pub fn effective_namespace(&self, default_namespace: &str) -> Option<String> {
        if self.is_cluster_scoped() {
            return None;
        }
        Some(
            self.namespace
                .clone()
                .unwrap_or_else(|| default_namespace.to_owned()),
        )
    }

    pub fn object_ref(&self, default_namespace: &str) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.effective_namespace(default_namespace),
            name: self.name.clone(),
        }
    }

    /// Span of the object's `kind` value, or of the document: where
    /// findings about the object as a whole point.
    pub fn kind_span(&self) -> Range<usize> {
        self.root
            .get("kind")
            .map_or(self.root.span.clone(), |n| n.span.clone())
    }

    /// Span of `metadata.name`'s value, falling back to `kind`.
    pub fn name_span(&self) -> Range<usize> {
        self.root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .map_or_else(|| self.kind_span(), |n| n.span.clone())
    }

    /// The object's `metadata.ownerReferences`: kind, name, and whether the
    /// owner is its controller (`controller: true`).
    pub fn owner_references(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.root
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|owner| {
                let controller = owner
                    .get("controller")
                    .is_some_and(|c| c.value == crate::yaml::Value::Bool(true));
                Some((owner.get_str("kind")?, owner.get_str("name")?, controller))
            })
    }

    /// The pod template of a workload (for a Pod, the Pod itself); `None`
    /// for kinds that carry no pods.
    pub fn pod_template(&self) -> Option<&Node> {
        let path = workload::pod_template_path(&self.kind)?;
        self.root.lookup_pointer(path).map(|(node, _)| node)
    }

    /// Expands a `List` into its items (objects in their own right);
    /// anything else is returned as is. Items that are not objects are counted
    /// in `skipped`.
    pub fn expand_list(self, skipped: &mut usize) -> Vec<Object> {
        if !self.is_list() {
            return vec![self];
        }
        let Some(items) = self.root.get("items").and_then(Node::as_seq) else {
            return vec![self];
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let object = Object::from_root(self.file, self.document, item.clone());
                if object.is_none() {
                    *skipped += 1;
                }
                object.map(|mut o| {
                    o.list_item = Some(i);
                    o.deployable = self.deployable;
                    o
                })
            })
            .collect()
    }
}
