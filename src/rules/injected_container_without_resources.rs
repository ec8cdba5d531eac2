//! INJ302: an injected container without CPU and memory requests and limits.

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
