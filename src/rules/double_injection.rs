//! INJ405: two webhooks that would inject the same pod.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ405",
    name: "double-injection",
    severity: Severity::Error,
    summary: "two webhooks that would inject the same pod twice",
    explain: include_str!("double_injection.md"),
};

/// `identity`: the injector (`istio`) or the service both webhooks call;
/// `webhooks`: `configuration/webhook` of each, in call order.
pub fn new(workload: &str, identity: &str, webhooks: &[String]) -> Diagnostic {
    let listed = webhooks
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: {} webhooks of the same injector ({identity}) match its pods: {listed}; the API server calls each in turn, so the injector sees the pod once per webhook and may inject it twice or have it rejected",
            webhooks.len()
        ),
    )
    .label("pods of this workload match several injection webhooks")
    .help(
        "make the webhooks' namespaceSelector/objectSelector disjoint, or deactivate or delete the stale configuration (e.g. the old default after `istioctl tag set default`)",
    )
}
