//! INJ210: a pod override that its policy does not allow.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ210",
    name: "pod-override-not-allowed",
    severity: Severity::Warning,
    summary: "a pod override that its policy does not allow",
    explain: include_str!("pod_override_not_allowed.md"),
};

pub fn new(workload: &str, annotation: &str, policy: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: annotation `{annotation}` is ignored: policy `{policy}` sets `allowPodOverride: false`, so the injector applies the policy's outcome anyway"
        ),
    )
    .label("ignored")
    .help(format!(
        "remove the annotation, or ask the owners of `{policy}` for an exception (a policy with higher priority for this workload)"
    ))
}

/// INJ210 for `workload`'s `annotation`, at its key (else the workload's
/// name); `policy`: the display name of the policy that forbids it.
pub fn at_annotation(workload: &Workload<'_>, annotation: &str, policy: &str) -> Diagnostic {
    let object = workload.object;
    let (file, at) = match workload.pod_annotation(annotation) {
        Some(entry) => (workload.pod_object.file, entry.key_span.clone()),
        None => (object.file, object.name_span()),
    };
    new(&workload.display_name(), annotation, policy)
        .at(file, at)
        .object(Some(object.object_ref(&workload.namespace)))
}
