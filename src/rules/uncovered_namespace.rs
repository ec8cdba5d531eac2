//! INJ106: a namespace labelled for injection that nothing covers.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ106",
    name: "uncovered-namespace",
    severity: Severity::Warning,
    summary: "a namespace labelled for injection that no policy or webhook covers",
    explain: include_str!("uncovered_namespace.md"),
};

pub fn new(namespace: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "namespace `{namespace}` is labelled `kubectl-inject.dev/injection: enabled`, but no ClusterInjectionPolicy selects it and it has no InjectionPolicy: its pods are admitted without a sidecar"
        ),
    )
    .label("opted in here")
    .help("add a policy that selects this namespace, or remove the label")
}
