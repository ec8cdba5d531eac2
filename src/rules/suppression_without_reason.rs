//! INJ008: a suppression without a reason.

use crate::diagnostic::{Diagnostic, FileSpan, ObjectRef, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ008",
    name: "suppression-without-reason",
    severity: Severity::Warning,
    summary: "a suppression without a reason",
    explain: include_str!("suppression_without_reason.md"),
};

/// The suppression of `rule` at `at`, in `object`, that gives no reason.
pub fn report(rule: &str, at: &FileSpan, object: &ObjectRef) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("suppression of {rule} has no reason, so it is not applied"),
    )
    .at(at.file, at.span.clone())
    .label("reason missing")
    .object(Some(object.clone()))
    .help(format!(
        "write why the finding is acceptable: `{rule}=<reason>`"
    ))
}
