//! INJ205: the same injection control set twice with different values, where
//! one of them cannot win (checked in `injectors::known::conflicts`).

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ205",
    name: "conflicting-injection-controls",
    severity: Severity::Error,
    summary: "the same control set twice with different values (label vs annotation, pod vs namespace where the pod cannot win)",
    explain: include_str!("conflicting_injection_controls.md"),
};

pub fn new(message: String, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}
