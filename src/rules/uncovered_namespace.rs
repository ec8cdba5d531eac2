//! INJ106: a namespace labelled for injection that nothing covers.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::decide::NAMESPACE_LABEL;
use crate::injectors::own::policy::Policy;
use crate::model::Object;
use crate::model::namespace::Namespaces;

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

/// INJ106 for every namespace among the inputs that opts in while no
/// policy covers it, at its label.
pub fn check(objects: &[Object], policies: &[Policy], namespaces: &Namespaces) -> Vec<Diagnostic> {
    let mut opted_in: Vec<_> = namespaces
        .iter()
        .filter(|(_, ns)| ns.labels.get(NAMESPACE_LABEL).map(String::as_str) == Some("enabled"))
        .collect();
    opted_in.sort_by_key(|(name, _)| name.as_str());
    let mut out = Vec::new();
    for (name, ns) in opted_in {
        let covered = policies
            .iter()
            .any(|p| p.covers_namespace(name, &ns.labels));
        if let (false, Some(object)) = (covered, ns.object) {
            let object = &objects[object];
            let pointer = format!(
                "/metadata/labels/{}",
                crate::yaml::pointer::escape(NAMESPACE_LABEL)
            );
            let at = object
                .root
                .lookup_pointer(&pointer)
                .and_then(|(_, key)| key)
                .unwrap_or_else(|| object.name_span());
            out.push(
                new(name)
                    .at(object.file, at)
                    .object(Some(object.object_ref("")))
                    .path(pointer),
            );
        }
    }
    out
}
