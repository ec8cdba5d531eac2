//! INJ001: a document that is not valid YAML or JSON.

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;
use crate::yaml::{Problem, ProblemKind};

pub const RULE: super::Rule = super::Rule {
    id: "INJ001",
    name: "invalid-yaml",
    severity: Severity::Error,
    summary: "a document that is not valid YAML or JSON",
    explain: include_str!("invalid_yaml.md"),
};

/// A document the loader could not read (syntax, nesting, alias bomb,
/// complex key), at the parser's position.
pub fn from_problem(file: FileId, problem: &Problem) -> Diagnostic {
    let (label, help) = match problem.kind {
        ProblemKind::TooDeep => (
            "nested too deep here",
            "Kubernetes objects are rarely nested more than 20 levels; this looks generated or hostile. Flatten it.",
        ),
        ProblemKind::AliasBomb => (
            "this alias pushes the expansion over the limit",
            "anchors and aliases that multiply (a \"billion laughs\") are refused; write the values out or reduce the aliases",
        ),
        ProblemKind::ComplexKey => (
            "not a string key",
            "Kubernetes objects are JSON: mapping keys must be strings",
        ),
        _ => (
            "the parser stopped here",
            "fix the syntax at this position; `kubectl apply` would refuse the whole file",
        ),
    };
    let whole = if problem.kind.is_fatal() {
        "; the document is skipped, the others are still checked"
    } else {
        ""
    };
    Diagnostic::new(&RULE, format!("invalid YAML: {}{whole}", problem.message))
        .at(file, problem.span.clone())
        .label(label)
        .help(help)
}

/// A file that is not text at all.
pub fn binary(file: FileId, offset: usize) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        "binary file: it holds a NUL byte, so it is not YAML or JSON; skipped",
    )
    .at(file, offset..offset)
    .label("NUL byte")
    .help("remove binary files from the manifest paths, or list them under `ignore` in .kubectl-inject.yaml")
}

/// A file that is not valid UTF-8.
pub fn invalid_utf8(file: FileId, offset: usize) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        "invalid UTF-8: YAML and JSON must be UTF-8 text, and the API server rejects anything else; the file is skipped",
    )
    .at(file, offset..offset)
    .label("first invalid byte")
    .help("re-encode the file as UTF-8")
}
