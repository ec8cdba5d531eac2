//! INJ311: native sidecars (`restartPolicy: Always`) on a configured
//! Kubernetes version below 1.29.

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
