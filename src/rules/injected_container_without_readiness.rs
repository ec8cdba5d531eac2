//! INJ307: a long-running injected container without a readiness probe.

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
