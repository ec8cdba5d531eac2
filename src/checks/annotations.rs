//! INJ310: the injected pod's annotations exceed 256 KiB.

use serde_json::Value;

use super::CheckInput;
use crate::diagnostic::Diagnostic;
use crate::rules::pod_annotations_too_large;

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

pub(super) fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let after = size(input.pod_after);
    if after <= LIMIT {
        return Vec::new();
    }
    let before = size(input.pod_before);
    let d = pod_annotations_too_large::new(&input.display(), after, before, LIMIT);
    vec![input.at_workload(d, "/metadata/name")]
}
