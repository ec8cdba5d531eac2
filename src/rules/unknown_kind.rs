//! INJ003: an unknown kind or version in the `kubectl-inject.dev` group.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{GROUP, GROUP_VERSIONS, OWN_KINDS, Object};

pub const RULE: super::Rule = super::Rule {
    id: "INJ003",
    name: "unknown-kind",
    severity: Severity::Error,
    summary: "an unknown kind or version in the kubectl-inject.dev group",
    explain: include_str!("unknown_kind.md"),
};

/// Returns a finding when `object` is in our group but not of a kind and
/// version this build knows (such objects are not schema-checked).
pub fn check(object: &Object, default_namespace: &str) -> Option<Diagnostic> {
    if !object.is_own() {
        return None;
    }
    let object_ref = Some(object.object_ref(default_namespace));
    if !GROUP_VERSIONS.contains(&object.version()) {
        let span = object
            .root
            .get("apiVersion")
            .map_or(object.root.span.clone(), |n| n.span.clone());
        return Some(
            Diagnostic::new(
                &RULE,
                format!(
                    "unknown version `{}` of {GROUP}: the API server has no such resource and rejects the object",
                    object.api_version
                ),
            )
            .at(object.file, span)
            .label("unknown version")
            .object(object_ref)
            .path("/apiVersion")
            .help(format!(
                "use one of: {}",
                GROUP_VERSIONS.iter().map(|v| format!("{GROUP}/{v}")).collect::<Vec<_>>().join(", ")
            )),
        );
    }
    if OWN_KINDS.contains(&object.kind.as_str()) {
        return None;
    }
    let suggestion = crate::words::did_you_mean(&object.kind, OWN_KINDS.iter().copied());
    let help = match suggestion {
        Some(kind) => format!("did you mean `{kind}`?"),
        None => format!("the kinds of {GROUP} are {}", OWN_KINDS.join(", ")),
    };
    Some(
        Diagnostic::new(
            &RULE,
            format!(
                "unknown kind `{}` in {GROUP}: the API server has no such resource and rejects the object",
                object.kind
            ),
        )
        .at(object.file, object.kind_span())
        .label("unknown kind")
        .object(object_ref)
        .path("/kind")
        .help(help),
    )
}
