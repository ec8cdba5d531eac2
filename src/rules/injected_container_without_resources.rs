//! INJ302: an injected container without CPU and memory requests and limits.

use serde_json::Value;

use super::injected_pod::{CheckInput, Origin};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ302",
    name: "injected-container-without-resources",
    severity: Severity::Warning,
    summary: "an injected container without CPU and memory requests and limits",
    explain: include_str!("injected_container_without_resources.md"),
};

pub fn new(workload: &str, container: &str, missing: &[&str]) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected container `{container}` sets no {}: in a namespace with a ResourceQuota on those resources the pod is rejected at admission, elsewhere the sidecar competes with the app unbounded",
            missing.join(", ")
        ),
    )
    .label("no requests and limits")
    .help("give the template's container `resources.requests` and `resources.limits` for `cpu` and `memory` (a parameter lets pods tune them)")
}

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

/// INJ302 for each injected container without CPU and memory requests
/// and limits (a known injector's init containers take theirs from its
/// installation, which the workload cannot change: only its sidecars count).
pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for entry in input.injected() {
        if !entry.is_container() {
            continue;
        }
        let missing = missing_resources(entry.value);
        let known = match input.origin {
            Origin::Known { injector, .. } => Some(injector),
            Origin::Template { .. } => None,
        };
        if !missing.is_empty() && (known.is_none() || entry.long_running()) {
            let mut d = new(&input.display(), entry.name(), &missing);
            if let Some(injector) = known {
                d = d.help(known_resources_help(injector));
            }
            out.push(input.at_template(d, &entry.template_pointer("/name")));
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
    use super::{known_resources_help, missing_resources};
    use crate::injectors::known::additions;
    use crate::injectors::known::settings::KnownSettings;
    use crate::injectors::own::mutate::PodFacts;
    use serde_json::{Value, json};

    /// The pod annotations the help names for `injector`: backquoted keys,
    /// a bare name taking the prefix of the key before it
    /// (`sidecar.istio.io/proxyCPU`, `proxyMemory`); values paths
    /// (`global.proxy.resources`) are left out.
    fn named_keys(help: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for (i, part) in help.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            if part.contains('/') {
                keys.push(part.to_owned());
            } else if !part.contains('.')
                && let Some((prefix, _)) = keys.last().and_then(|k| k.rsplit_once('/'))
            {
                keys.push(format!("{prefix}/{part}"));
            }
        }
        keys
    }

    /// The help INJ302 gives for a known injector's sidecar states again
    /// which pod annotations set its resources (`additions.yaml`'s
    /// `resource_annotations`, the Istio and Linkerd code): setting the
    /// named annotations gives the sidecar all four requests and limits,
    /// with the values written.
    #[test]
    fn the_resources_help_names_what_the_injectors_read() {
        let facts = PodFacts {
            name: "p",
            namespace: "ns",
            service_account: "default",
        };
        for (injector, sidecar, trigger) in [
            ("istio", "istio-proxy", None),
            ("linkerd", "linkerd-proxy", None),
            (
                "vault",
                "vault-agent",
                Some(("vault.hashicorp.com/role", "r")),
            ),
            ("dapr", "daprd", Some(("dapr.io/app-id", "p"))),
        ] {
            let keys = named_keys(&known_resources_help(injector));
            assert_eq!(keys.len(), 4, "{injector}: {keys:?}");
            let mut annotations = serde_json::Map::new();
            for (i, key) in keys.iter().enumerate() {
                let value = if key.to_ascii_lowercase().contains("cpu") {
                    format!("{}m", 11 + i)
                } else {
                    format!("{}Mi", 11 + i)
                };
                annotations.insert(key.clone(), json!(value));
            }
            if let Some((k, v)) = trigger {
                annotations.insert(k.into(), json!(v));
            }
            let pod = json!({
                "metadata": {"name": "p", "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]}
            });
            let adds = additions::additions(injector, &pod, &facts, &KnownSettings::default())
                .unwrap_or_else(|e| panic!("{injector}: {e}"));
            let injected = additions::apply(&pod, injector, &adds).pod;
            let container = ["containers", "initContainers"]
                .iter()
                .filter_map(|list| injected["spec"][list].as_array())
                .flatten()
                .find(|c| c["name"] == sidecar)
                .unwrap_or_else(|| panic!("{injector}: no {sidecar}"));
            assert!(
                missing_resources(container).is_empty(),
                "{injector}: {}",
                container["resources"]
            );
            let set: Vec<&Value> = ["requests", "limits"]
                .iter()
                .flat_map(|kind| ["cpu", "memory"].map(|r| &container["resources"][kind][r]))
                .collect();
            for value in annotations.values().take(4) {
                assert!(set.contains(&value), "{injector}: {value} not set: {set:?}");
            }
        }
    }

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
