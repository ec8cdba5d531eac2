//! INJ311: native sidecars (`restartPolicy: Always`) on a configured
//! Kubernetes version below 1.29.

use serde_json::Value;

use super::injected_pod::{CheckInput, Origin};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ311",
    name: "native-sidecar-on-old-kubernetes",
    severity: Severity::Warning,
    summary: "native sidecars (`restartPolicy: Always`) on a configured Kubernetes version below 1.29",
    explain: include_str!("native_sidecar_on_old_kubernetes.md"),
};

/// `names`: the native sidecars, listed.
pub fn new(workload: &str, names: &str, (major, minor): (u64, u64)) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected init containers {names} are native sidecars (`restartPolicy: Always`), but Kubernetes {major}.{minor} has the SidecarContainers feature off by default (on from 1.29): the API server rejects the field, or drops it and the first sidecar blocks the pod's start forever"
        ),
    )
    .label("native sidecars")
    .help("set `nativeSidecar: false` in the template for clusters below 1.29 (or enable the SidecarContainers feature gate), or raise `kubernetesVersion` if the clusters are newer")
}

/// The first version where the `SidecarContainers` gate is on by default.
const NATIVE_SIDECARS: (u64, u64) = (1, 29);

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let Some(version) = input.kubernetes_version else {
        return Vec::new();
    };
    if version >= NATIVE_SIDECARS {
        return Vec::new();
    }
    let native: Vec<_> = input
        .injected()
        .into_iter()
        .filter(|e| {
            e.pod_list == "initContainers"
                && e.value.get("restartPolicy").and_then(Value::as_str) == Some("Always")
        })
        .collect();
    let Some(first) = native.first() else {
        return Vec::new();
    };
    let names: Vec<String> = native.iter().map(|e| format!("`{}`", e.name())).collect();
    let d = new(&input.display(), &names.join(", "), version);
    // `nativeSidecar: true` makes the sidecars native; else the template
    // wrote `restartPolicy: Always` on an init container itself.
    let pointer = match input.origin {
        Origin::Template { template, .. }
            if template.native_sidecar && template.origin("nativeSidecar").is_some() =>
        {
            "/nativeSidecar".to_owned()
        }
        _ => first.template_pointer("/restartPolicy"),
    };
    vec![input.at_template(d, &pointer)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::injectors::own::catalog::{Catalog, check_value};
    use crate::injectors::own::mutate::{PodFacts, inject};
    use crate::model::Object;
    use crate::model::selector::Labels;
    use crate::model::workload::Workload;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    const INPUTS: &str = "apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata: {name: envoy-proxy}
spec:
  version: 1.4.0
  nativeSidecar: true
  containers: [{name: envoy, image: \"envoyproxy/envoy:v1.31.0\"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: web, image: \"example/web:1.0\"}]
";

    fn run(version: Option<(u64, u64)>) -> Vec<Diagnostic> {
        let objects: Vec<Object> = parse_stream(INPUTS, &Limits::default())
            .documents
            .into_iter()
            .filter_map(|(i, root)| Object::from_root(FileId(0), i, root))
            .collect();
        let catalog = Catalog::new(&objects);
        let template = catalog.resolved(0).expect("resolves");
        let workload = Workload::of(&objects[1], "default").expect("a workload");
        let pod_before = workload.pod.to_json();
        let injection = inject(
            &pod_before,
            template,
            None,
            &PodFacts {
                name: "web",
                namespace: "shop",
                service_account: "default",
            },
            check_value,
        )
        .expect("within the size limit");
        let labels = Labels::new();
        check(&CheckInput {
            workload: &workload,
            objects: &objects,
            limit_objects: &[],
            namespace_labels: &labels,
            origin: Origin::Template {
                catalog: &catalog,
                template,
            },
            pod_before: &pod_before,
            pod_after: &injection.pod,
            added: &injection.added,
            kubernetes_version: version,
        })
    }

    #[test]
    fn fires_below_1_29_at_native_sidecar() {
        let found = run(Some((1, 28)));
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.rule.id, "INJ311");
        assert!(d.message.contains("`envoy`"), "{}", d.message);
        assert!(d.message.contains("Kubernetes 1.28"), "{}", d.message);
        let at = d.at.as_ref().expect("a place");
        assert_eq!(&INPUTS[at.span.clone()], "true");
        assert_eq!(d.path.as_deref(), Some("/spec/nativeSidecar"));
    }

    #[test]
    fn quiet_from_1_29_and_without_a_version() {
        assert!(run(Some((1, 29))).is_empty());
        assert!(run(Some((1, 33))).is_empty());
        assert!(run(None).is_empty());
    }
}
