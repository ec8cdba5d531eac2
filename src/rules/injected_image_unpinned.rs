//! INJ306: an injected image with tag `latest`, or neither tag nor digest.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ306",
    name: "injected-image-unpinned",
    severity: Severity::Warning,
    summary: "an injected image with tag `latest`, or neither tag nor digest",
    explain: include_str!("injected_image_unpinned.md"),
};

/// `problem`: why it is not pinned, e.g. ``uses the tag `latest` ``.
pub fn new(workload: &str, container: &str, image: &str, problem: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected container `{container}` image `{image}` {problem}; each node pulls whatever `latest` points to when the pod starts, so replicas of one workload can run different sidecar versions"
        ),
    )
    .label("not pinned")
    .help("pin the image to a version tag (`envoyproxy/envoy:v1.31.0`) or, better, a digest (`…@sha256:…`)")
}
