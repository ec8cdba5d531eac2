//! Workloads: objects that carry a pod template, and the pod-level facts
//! injectors decide on (labels, annotations, service account, hostNetwork).

use std::collections::BTreeMap;

use super::Object;
use super::selector::Labels;
use crate::yaml::{Entry, Node};

/// Kinds that carry pods, and where their pod template lives (a JSON pointer
/// from the object root; empty for a Pod, which is its own template).
pub const POD_TEMPLATE_PATHS: &[(&str, &str)] = &[
    ("Pod", ""),
    ("PodTemplate", "/template"),
    ("Deployment", "/spec/template"),
    ("StatefulSet", "/spec/template"),
    ("DaemonSet", "/spec/template"),
    ("ReplicaSet", "/spec/template"),
    ("ReplicationController", "/spec/template"),
    ("Job", "/spec/template"),
    ("CronJob", "/spec/jobTemplate/spec/template"),
    ("DeploymentConfig", "/spec/template"),
    ("Rollout", "/spec/template"),
];

/// Where the pod template of `kind` lives, if it carries one.
pub fn pod_template_path(kind: &str) -> Option<&'static str> {
    POD_TEMPLATE_PATHS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, p)| *p)
}

/// A workload and its pod template, as the injectors see the pod.
#[derive(Debug, Clone)]
pub struct Workload<'a> {
    pub object: &'a Object,
    /// The object whose document holds the pod template: `object` itself,
    /// or the Deployment an Argo Rollout names in `spec.workloadRef`.
    pub pod_object: &'a Object,
    /// The pod template node (for a Pod, the Pod itself).
    pub pod: &'a Node,
    /// JSON pointer of `pod` from `pod_object`'s root.
    pub pod_path: &'static str,
    /// Namespace the pod lands in.
    pub namespace: String,
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub service_account: String,
    pub host_network: bool,
}

impl<'a> Workload<'a> {
    /// The workload view of `object`, or `None` for kinds without pods (and
    /// Argo Rollouts that take their template from `spec.workloadRef`: see
    /// [`Workload::resolve`]).
    pub fn of(object: &'a Object, default_namespace: &str) -> Option<Workload<'a>> {
        let path = pod_template_path(&object.kind)?;
        let (pod, _) = object.root.lookup_pointer(path)?;
        Some(Workload::with_pod(
            object,
            object,
            pod,
            path,
            default_namespace,
        ))
    }

    /// A workload whose pod template is `pod`, found at `pod_path` in
    /// `pod_object` (the workload itself, or the object a `workloadRef` names).
    pub fn with_pod(
        object: &'a Object,
        pod_object: &'a Object,
        pod: &'a Node,
        pod_path: &'static str,
        default_namespace: &str,
    ) -> Workload<'a> {
        let metadata = pod.get("metadata");
        let spec = pod.get("spec");
        let service_account = spec
            .and_then(|s| {
                s.get_str("serviceAccountName")
                    .or_else(|| s.get_str("serviceAccount"))
            })
            .unwrap_or("default")
            .to_owned();
        Workload {
            object,
            pod_object,
            pod,
            pod_path,
            namespace: object
                .namespace
                .clone()
                .unwrap_or_else(|| default_namespace.to_owned()),
            labels: string_map(metadata.and_then(|m| m.get("labels"))),
            annotations: string_map(metadata.and_then(|m| m.get("annotations"))),
            service_account,
            host_network: spec
                .and_then(|s| s.get("hostNetwork"))
                .is_some_and(|n| n.value == crate::yaml::Value::Bool(true)),
        }
    }

    /// Like [`Workload::of`], and for an Argo Rollout with a
    /// `spec.workloadRef` (`kind`, `name`; same namespace), the pod template
    /// of the object it names among `objects`.
    pub fn resolve(
        object: &'a Object,
        objects: &'a [Object],
        default_namespace: &str,
    ) -> Option<Workload<'a>> {
        if let Some(workload) = Workload::of(object, default_namespace) {
            return Some(workload);
        }
        if object.kind != "Rollout" {
            return None;
        }
        let reference = object.root.get("spec")?.get("workloadRef")?;
        let (kind, name) = (reference.get_str("kind")?, reference.get_str("name")?);
        let namespace = object.namespace.as_deref().unwrap_or(default_namespace);
        let target = objects.iter().find(|o| {
            o.kind == kind
                && o.name == name
                && o.namespace.as_deref().unwrap_or(default_namespace) == namespace
        })?;
        let path = pod_template_path(&target.kind)?;
        let (pod, _) = target.root.lookup_pointer(path)?;
        Some(Workload::with_pod(
            object,
            target,
            pod,
            path,
            default_namespace,
        ))
    }

    /// The pod template's annotation `key`, as written.
    pub fn pod_annotation(&self, key: &str) -> Option<&'a Entry> {
        self.pod.get("metadata")?.get("annotations")?.entry(key)
    }

    /// `Kind/namespace/name`, for tables and reasons.
    pub fn display_name(&self) -> String {
        format!(
            "{}/{}/{}",
            self.object.kind, self.namespace, self.object.name
        )
    }
}

/// A map of strings (labels, annotations); non-string values are skipped
/// (the API server would reject them; other rules report that).
pub fn string_map(node: Option<&Node>) -> BTreeMap<String, String> {
    node.and_then(Node::as_map)
        .into_iter()
        .flatten()
        .filter_map(|e| e.value.as_str().map(|v| (e.key.clone(), v.to_owned())))
        .collect()
}

/// `labels` or `annotations` of a pod template as JSON.
pub fn json_string_map(pod: &serde_json::Value, field: &str) -> Labels {
    pod.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    // A bool where Kubernetes wants a string (INJ201 says
                    // so) still reads as its text.
                    let text = match v {
                        serde_json::Value::Bool(b) => b.to_string(),
                        other => other.as_str()?.to_owned(),
                    };
                    Some((k.clone(), text))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    fn object(text: &str) -> Object {
        let (i, root) = parse_stream(text, &Limits::default()).documents.remove(0);
        Object::from_root(FileId(0), i, root).unwrap()
    }

    #[test]
    fn cronjob_pods_live_under_the_job_template() {
        let o = object(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: backup, namespace: ops}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          labels: {app: backup}\n          annotations: {a: b}\n        spec:\n          serviceAccountName: backup\n          hostNetwork: true\n          containers: [{name: c, image: busybox}]\n",
        );
        let w = Workload::of(&o, "default").unwrap();
        assert_eq!(w.pod_path, "/spec/jobTemplate/spec/template");
        assert_eq!(w.labels.get("app").map(String::as_str), Some("backup"));
        assert_eq!(w.annotations.get("a").map(String::as_str), Some("b"));
        assert_eq!(w.service_account, "backup");
        assert!(w.host_network);
        assert_eq!(w.namespace, "ops");
    }

    #[test]
    fn rollouts_borrow_the_template_their_workload_ref_names() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 0\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop}\nspec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n";
        let objects: Vec<Object> = parse_stream(text, &Limits::default())
            .documents
            .into_iter()
            .filter_map(|(i, root)| Object::from_root(FileId(0), i, root))
            .collect();
        let rollout = &objects[1];
        assert!(Workload::of(rollout, "default").is_none());
        let w = Workload::resolve(rollout, &objects, "default").unwrap();
        assert_eq!(w.object.kind, "Rollout");
        assert_eq!(w.pod_object.kind, "Deployment");
        assert_eq!(w.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(w.pod_path, "/spec/template");
    }

    #[test]
    fn pods_are_their_own_template_and_other_kinds_have_none() {
        let pod =
            object("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n");
        let w = Workload::of(&pod, "shop").unwrap();
        assert_eq!(
            (w.pod_path, w.namespace.as_str(), w.service_account.as_str()),
            ("", "shop", "default")
        );
        let cm = object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
        assert!(Workload::of(&cm, "default").is_none());
    }
}
