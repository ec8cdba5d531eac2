//! INJ107: a namespaced InjectionPolicy that reaches outside its namespace.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::policy::Policy;
use crate::model::Object;

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

/// INJ107 for every namespaced policy with a `namespaceSelector`, at the
/// selector's key.
pub fn check(objects: &[Object], policies: &[Policy]) -> Vec<Diagnostic> {
    policies
        .iter()
        .filter_map(|policy| {
            let namespace = policy.namespace.as_ref()?;
            policy.spec.namespace_selector.as_ref()?;
            let object = &objects[policy.object];
            let at = object
                .root
                .lookup_pointer("/spec/namespaceSelector")
                .and_then(|(_, key)| key)
                .unwrap_or_else(|| object.name_span());
            Some(
                namespace_selector(&policy.name, namespace)
                    .at(object.file, at)
                    .object(Some(object.object_ref(namespace)))
                    .path("/spec/namespaceSelector"),
            )
        })
        .collect()
}
