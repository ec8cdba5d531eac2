//! INJ310: the injected pod's annotations exceed 256 KiB.

use serde_json::Value;

use super::injected_pod::CheckInput;
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ310",
    name: "pod-annotations-too-large",
    severity: Severity::Error,
    summary: "the injected pod's annotations exceed 256 KiB",
    explain: include_str!("pod_annotations_too_large.md"),
};

pub fn new(workload: &str, after: usize, before: usize, limit: usize) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: the injected pod's annotations total {after} bytes ({before} before injection), over the API server's limit of {limit} bytes; every pod of it is rejected at admission (`metadata.annotations: Too long`)"
        ),
    )
    .label("its pods' annotations are too large once injected")
    .help("move bulky data out of annotations (into a ConfigMap or a volume), or shrink the template's `podAnnotations`")
}

/// The API server's limit on the total size of an object's annotations
/// (`TotalAnnotationSizeLimitB`).
pub(crate) const LIMIT: usize = 256 * 1024;

/// Sum of len(key) + len(value) over a pod's annotations.
pub(crate) fn size(pod: &Value) -> usize {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let after = size(input.pod_after);
    if after <= LIMIT {
        return Vec::new();
    }
    let before = size(input.pod_before);
    let d = new(&input.display(), after, before, LIMIT);
    vec![input.at_workload(d, "/metadata/name")]
}
