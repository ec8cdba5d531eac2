//! INJ306: an injected image with tag `latest`, or neither tag nor digest.

use serde_json::Value;

use super::injected_pod::{CheckInput, image_repository};
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

/// Why `image` is not pinned, if it is not.
pub(crate) fn unpinned(image: &str) -> Option<&'static str> {
    if image.contains('@') {
        return None;
    }
    let repository = image_repository(image);
    match image[repository.len()..].strip_prefix(':') {
        None | Some("") => Some("has neither tag nor digest (so it means `latest`)"),
        Some("latest") => Some("uses the tag `latest`"),
        Some(_) => None,
    }
}

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for entry in input.injected() {
        if !entry.is_container() {
            continue;
        }
        let Some(image) = entry.value.get("image").and_then(Value::as_str) else {
            continue;
        };
        if let Some(problem) = unpinned(image) {
            out.push(input.at_template(
                new(&input.display(), entry.name(), image, problem),
                &entry.template_pointer("/image"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unpinned;

    #[test]
    fn pinned_images() {
        assert_eq!(unpinned("envoyproxy/envoy:v1.31.0"), None);
        assert_eq!(unpinned("envoyproxy/envoy@sha256:abc"), None);
        assert_eq!(
            unpinned("localhost:5000/envoy"),
            Some("has neither tag nor digest (so it means `latest`)")
        );
        assert_eq!(unpinned("envoy:latest"), Some("uses the tag `latest`"));
    }
}
