//! INJ310: the injected pod's annotations exceed 256 KiB.

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
