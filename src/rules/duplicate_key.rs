//! INJ005: a mapping key written twice.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;
use crate::yaml::{Problem, ProblemKind};

pub const RULE: super::Rule = super::Rule {
    id: "INJ005",
    name: "duplicate-key",
    severity: Severity::Error,
    summary: "a mapping key written twice in one mapping",
    explain: include_str!("duplicate_key.md"),
};

pub fn from_problem(file: FileId, problem: &Problem) -> Option<Diagnostic> {
    let ProblemKind::DuplicateKey { first } = &problem.kind else {
        return None;
    };
    Some(
        Diagnostic::new(
            &RULE,
            format!(
                "{}: kubectl's strict field validation rejects the object, and lenient readers silently keep only the last value",
                problem.message
            ),
        )
        .at(file, problem.span.clone())
        .label("written again here")
        .with_label(file, first.clone(), "first written here")
        .help("keep one of the two entries; merge their contents if both matter"),
    )
}
