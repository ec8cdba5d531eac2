//! INJ306: an injected image with tag `latest`, or neither tag nor digest.

use serde_json::Value;

use super::{CheckInput, image_repository};
use crate::diagnostic::Diagnostic;
use crate::rules::injected_image_unpinned;

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

pub(super) fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
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
                injected_image_unpinned::new(&input.display(), entry.name(), image, problem),
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
