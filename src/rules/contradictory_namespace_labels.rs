//! INJ209: a namespace with contradictory injection labels (checked in
//! `injectors::known::conflicts`).

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ209",
    name: "contradictory-namespace-labels",
    severity: Severity::Error,
    summary: "a namespace with contradictory injection labels (e.g. `istio-injection` with `istio.io/rev`)",
    explain: include_str!("contradictory_namespace_labels.md"),
};

pub fn new(message: String, label: &str, help: String) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}
