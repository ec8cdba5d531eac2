//! INJ204: injection turned off while override annotations for the same
//! injector are set (checked in `injectors::known::conflicts`).

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ204",
    name: "injection-off-with-overrides",
    severity: Severity::Warning,
    summary: "injection turned off while override annotations for the same injector are set",
    explain: include_str!("injection_off_with_overrides.md"),
};

pub fn new(message: String, help: String) -> Diagnostic {
    Diagnostic::new(&RULE, message)
        .label("no effect")
        .help(help)
}
