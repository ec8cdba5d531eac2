//! INJ209: a namespace with contradictory injection labels.

use super::injection_controls::{ISTIO_DATAPLANE, ISTIO_INJECTION, ISTIO_REV, at_label, label};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Object;
use crate::yaml::Entry;

pub const RULE: super::Rule = super::Rule {
    id: "INJ209",
    name: "contradictory-namespace-labels",
    severity: Severity::Error,
    summary: "a namespace with contradictory injection labels (e.g. `istio-injection` with `istio.io/rev`)",
    explain: include_str!("contradictory_namespace_labels.md"),
};

fn new(message: String, label: &str, help: String) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}

/// The namespace labels that contradict each other.
pub(super) fn check_namespace(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    let find = |key: &str| label(object, key);
    let at = |d: Diagnostic, entry: &Entry| at_label(d, object, default_namespace, entry);
    let mut found = Vec::new();
    if let Some(injection) = find(ISTIO_INJECTION) {
        let injection_value = injection.value.as_str().unwrap_or_default();
        if let Some(rev) = find(ISTIO_REV) {
            let effect = match injection_value {
                "enabled" => "Istio injects the default revision".to_owned(),
                "disabled" => "it blocks every revision, so no pod here is injected".to_owned(),
                _ => "with this value no Istio webhook selects the namespace".to_owned(),
            };
            let d = new(
                format!(
                    "`{ISTIO_REV}: {}` is ignored: `{ISTIO_INJECTION}: {injection_value}` on the \
                     same namespace takes precedence: {effect}",
                    rev.value.as_str().unwrap_or_default()
                ),
                "ignored",
                format!("keep one of the two: remove `{ISTIO_INJECTION}` to use the revision"),
            );
            found.push(at(d, rev).with_label(
                object.file,
                injection.key_span.clone(),
                "this label wins",
            ));
        }
        if let Some(mode) = find(ISTIO_DATAPLANE)
            .filter(|m| injection_value == "enabled" && m.value.as_str() == Some("ambient"))
        {
            let d = new(
                format!(
                    "`{ISTIO_DATAPLANE}: ambient` contradicts `{ISTIO_INJECTION}: enabled`: pods \
                     here get sidecars, and ambient mode leaves pods with sidecars alone"
                ),
                "contradicts sidecar injection",
                format!("keep one data-plane mode: remove `{ISTIO_INJECTION}` for ambient"),
            );
            found.push(at(d, mode).with_label(
                object.file,
                injection.key_span.clone(),
                "sidecar injection",
            ));
        }
    }
    found
}
