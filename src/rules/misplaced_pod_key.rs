//! INJ207: a pod-level label or annotation on a workload's own metadata
//! instead of its pod template.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::placement::pod_level_key;
use crate::model::Object;
use crate::model::workload::pod_template_path;
use crate::yaml::Node;

pub const RULE: super::Rule = super::Rule {
    id: "INJ207",
    name: "misplaced-pod-key",
    severity: Severity::Warning,
    summary: "a pod-level annotation or label on the workload's own metadata instead of its pod template",
    explain: include_str!("misplaced_pod_key.md"),
};

/// `key`, read by `owner` on pods, written in the `kind`'s own
/// `metadata.<found>`; `help` says where it belongs.
pub fn new(key: &str, owner: &str, kind: &str, found: &str, help: String) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "`{key}` is in the {kind}'s own `metadata.{found}`, where {owner} never sees it: injectors read it on the pod only"
        ),
    )
    .label("ignored here")
    .help(help)
}

/// A finding per injector key in the own `metadata.labels`/`annotations` of
/// a workload other than a Pod, unless its pod template carries it too.
pub fn check(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    if object.kind == "Pod" {
        return Vec::new();
    }
    let Some(template) = pod_template_path(&object.kind) else {
        return Vec::new();
    };
    let Some(metadata) = object.root.get("metadata") else {
        return Vec::new();
    };
    // An Argo Rollout may take its pod template from the workload it names.
    let referenced = (object.root.lookup_pointer(template).is_none())
        .then(|| object.root.get("spec")?.get("workloadRef"))
        .flatten()
        .and_then(|r| Some((r.get_str("kind")?, r.get_str("name")?)));
    let mut found = Vec::new();
    for field in ["labels", "annotations"] {
        for entry in metadata
            .get(field)
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            let Some(spec) = pod_level_key(&entry.key, field == "labels") else {
                continue;
            };
            let to = match spec.placement {
                crate::injectors::known::Where::PodLabel => "labels",
                _ => "annotations",
            };
            // The pod carries it too (Kustomize's `commonAnnotations` and
            // `labels` write both): the injector sees it, nothing is lost.
            let on_pod = [to, field].iter().any(|area| {
                object
                    .root
                    .lookup_pointer(&format!("{template}/metadata/{area}"))
                    .is_some_and(|(pod, _)| pod.get(&entry.key).is_some())
            });
            if on_pod {
                continue;
            }
            let path = format!(
                "{}.metadata.{to}",
                template.trim_start_matches('/').replace('/', ".")
            );
            let help = match referenced {
                Some((kind, name)) => format!(
                    "move it to `{path}` of the {kind} `{name}` that `spec.workloadRef` names"
                ),
                None => format!("move it to `{path}`"),
            };
            found.push(
                new(&entry.key, &spec.owner, &object.kind, field, help)
                    .at(object.file, entry.key_span.clone())
                    .path(format!(
                        "/metadata/{field}/{}",
                        crate::yaml::pointer::escape(&entry.key)
                    ))
                    .object(Some(object.object_ref(default_namespace))),
            );
        }
    }
    found
}
