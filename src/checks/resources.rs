//! INJ302 (an injected container without CPU and memory requests and
//! limits) and INJ307 (a long-running injected container without a readiness
//! probe).

use serde_json::Value;

use super::CheckInput;
use crate::diagnostic::Diagnostic;
use crate::rules::{injected_container_without_readiness, injected_container_without_resources};

/// `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory` that
/// the container does not set.
fn missing_resources(container: &Value) -> Vec<&'static str> {
    let set = |kind: &str, resource: &str| {
        container
            .pointer(&format!("/resources/{kind}/{resource}"))
            .is_some_and(|v| !v.is_null())
    };
    [
        ("requests", "cpu", "requests.cpu"),
        ("requests", "memory", "requests.memory"),
        ("limits", "cpu", "limits.cpu"),
        ("limits", "memory", "limits.memory"),
    ]
    .into_iter()
    .filter(|(kind, resource, _)| !set(kind, resource))
    .map(|(_, _, name)| name)
    .collect()
}

pub(super) fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for entry in input.injected() {
        if !entry.is_container() {
            continue;
        }
        let missing = missing_resources(entry.value);
        let known = match input.origin {
            super::Origin::Known { injector, .. } => Some(injector),
            super::Origin::Template { .. } => None,
        };
        // A known injector's init containers take their resources from its
        // installation, which the workload cannot change; only its sidecars
        // are worth a finding.
        if !missing.is_empty() && (known.is_none() || entry.long_running()) {
            let mut d =
                injected_container_without_resources::new(&input.display(), entry.name(), &missing);
            if let Some(injector) = known {
                d = d.help(known_resources_help(injector));
            }
            out.push(input.at_template(d, &entry.template_pointer("/name")));
        }
        // A known injector's probes are its design, not the workload's to
        // change; only the repository's own templates are held to it.
        if known.is_none() && entry.long_running() && entry.value.get("readinessProbe").is_none() {
            out.push(input.at_template(
                injected_container_without_readiness::new(&input.display(), entry.name()),
                &entry.template_pointer("/name"),
            ));
        }
    }
    out
}

/// How a workload sets a known injector's sidecar resources.
fn known_resources_help(injector: &str) -> String {
    match injector {
        "istio" => "set the pod annotations `sidecar.istio.io/proxyCPU`, `proxyMemory`, `proxyCPULimit` and `proxyMemoryLimit` (or `global.proxy.resources` in the injector's values)".into(),
        "linkerd" => "set the pod annotations `config.linkerd.io/proxy-cpu-request`, `proxy-memory-request`, `proxy-cpu-limit` and `proxy-memory-limit` (or `proxy.resources` in the chart's values)".into(),
        "vault" => "set the pod annotations `vault.hashicorp.com/agent-requests-cpu`, `agent-requests-mem`, `agent-limits-cpu` and `agent-limits-mem`".into(),
        "dapr" => "set the pod annotations `dapr.io/sidecar-cpu-request`, `dapr.io/sidecar-memory-request`, `dapr.io/sidecar-cpu-limit` and `dapr.io/sidecar-memory-limit`".into(),
        other => format!("set the sidecar's requests and limits in the {other} injector's installation values"),
    }
}

#[cfg(test)]
mod tests {
    use super::missing_resources;
    use serde_json::json;

    #[test]
    fn every_missing_resource_is_named() {
        let full = json!({"resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": 1, "memory": "64Mi"}}});
        assert!(missing_resources(&full).is_empty());
        let partial = json!({"resources": {"requests": {"cpu": "10m"}}});
        assert_eq!(
            missing_resources(&partial),
            ["requests.memory", "limits.cpu", "limits.memory"]
        );
    }
}
