//! INJ307: a long-running injected container without a readiness probe.

use super::injected_pod::{CheckInput, Origin};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ307",
    name: "injected-container-without-readiness",
    severity: Severity::Info,
    summary: "an injected long-running container without a readiness probe",
    explain: include_str!("injected_container_without_readiness.md"),
};

pub fn new(workload: &str, container: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected sidecar `{container}` has no readinessProbe: the pod is marked ready and receives traffic before the sidecar can carry it"
        ),
    )
    .label("no readinessProbe")
    .help("add a `readinessProbe` to the template's container (most proxies expose a health port)")
}

/// INJ307 for each long-running container of the repository's own
/// templates without a readiness probe (a known injector's probes are its
/// design, not the workload's to change).
pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    if matches!(input.origin, Origin::Known { .. }) {
        return Vec::new();
    }
    input
        .injected()
        .into_iter()
        .filter(|entry| {
            entry.is_container()
                && entry.long_running()
                && entry.value.get("readinessProbe").is_none()
        })
        .map(|entry| {
            input.at_template(
                new(&input.display(), entry.name()),
                &entry.template_pointer("/name"),
            )
        })
        .collect()
}
