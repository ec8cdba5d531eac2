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
        if !missing.is_empty() {
            out.push(input.at_template(
                injected_container_without_resources::new(&input.display(), entry.name(), &missing),
                &entry.template_pointer("/name"),
            ));
        }
        if entry.long_running() && entry.value.get("readinessProbe").is_none() {
            out.push(input.at_template(
                injected_container_without_readiness::new(&input.display(), entry.name()),
                &entry.template_pointer("/name"),
            ));
        }
    }
    out
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
