//! INJ008: a suppression without a reason.

use crate::diagnostic::{Diagnostic, Severity};
use crate::suppress::Suppression;

pub const RULE: super::Rule = super::Rule {
    id: "INJ008",
    name: "suppression-without-reason",
    severity: Severity::Warning,
    summary: "a suppression without a reason",
    explain: include_str!("suppression_without_reason.md"),
};

pub fn report(suppression: &Suppression) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "suppression of {} has no reason, so it is not applied",
            suppression.rule
        ),
    )
    .at(suppression.file, suppression.span.clone())
    .label("reason missing")
    .object(Some(suppression.object.clone()))
    .help(format!(
        "write why the finding is acceptable: `{}=<reason>`",
        suppression.rule
    ))
}
