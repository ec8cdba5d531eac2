//! INJ105: a workload whose namespace is unknown.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::workload::Workload;

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

/// INJ105 for `workload`, at its `metadata.namespace` (else its name).
pub fn at_workload(workload: &Workload<'_>) -> Diagnostic {
    let object = workload.object;
    let at = object
        .root
        .lookup_pointer("/metadata/namespace")
        .map_or_else(|| object.name_span(), |(node, _)| node.span.clone());
    new(&workload.display_name(), &workload.namespace)
        .at(object.file, at)
        .object(Some(object.object_ref(&workload.namespace)))
}
