//! INJ211: an opt-in that can never reach its injector (checked in
//! `injectors::known::conflicts`).

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ211",
    name: "unreachable-opt-in",
    severity: Severity::Error,
    summary: "an opt-in that can never reach its injector (e.g. Istio inject as an annotation only, `linkerd.io/inject` as a label, a revision with no webhook)",
    explain: include_str!("unreachable_opt_in.md"),
};

pub fn new(message: String, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}
