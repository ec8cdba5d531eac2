//! INJ107: a namespaced InjectionPolicy that reaches outside its namespace.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ107",
    name: "namespaced-policy-reach",
    severity: Severity::Error,
    summary: "a namespaced InjectionPolicy with a namespaceSelector or reaching another namespace",
    explain: include_str!("namespaced_policy_reach.md"),
};

pub fn namespace_selector(policy: &str, namespace: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "InjectionPolicy `{namespace}/{policy}` has a `namespaceSelector`: a namespaced policy applies only to workloads of `{namespace}`, so the selector is ignored and cannot reach other namespaces"
        ),
    )
    .label("ignored: namespaced policies cannot select namespaces")
    .help("remove `namespaceSelector`, or make it a ClusterInjectionPolicy owned by the platform team")
}
