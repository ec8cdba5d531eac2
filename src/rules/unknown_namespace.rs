//! INJ105: a workload whose namespace is unknown.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ105",
    name: "unknown-namespace",
    severity: Severity::Warning,
    summary: "a workload whose namespace is unknown, so its labels are unknown",
    explain: include_str!("unknown_namespace.md"),
};

pub fn new(workload: &str, namespace: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: namespace `{namespace}` is not among the inputs, so its labels are unknown; namespace selectors were evaluated against no labels and the real decision may differ"
        ),
    )
    .label("namespace unknown")
    .help(format!(
        "add the Namespace `{namespace}` manifest to the linted paths (or to `policies:` in .kubectl-inject.yaml)"
    ))
}
