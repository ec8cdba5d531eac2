//! INJ013: a Flux Kustomization or Argo CD Application whose path is not in
//! the repository.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::deployable::DeployableKind;
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ013",
    name: "missing-deployable-path",
    severity: Severity::Warning,
    summary: "a Flux Kustomization or Argo CD Application path that does not exist in the repository",
    explain: include_str!("missing_deployable_path.md"),
};

/// The Flux Kustomization or Argo CD Application (`kind`, `name`) applies
/// `path` from `source`, and the path is not in the repository.
pub fn new(
    file: FileId,
    span: Range<usize>,
    kind: DeployableKind,
    name: &str,
    path: &str,
    source: &str,
) -> Diagnostic {
    let object = match kind {
        DeployableKind::ArgoCd => "Application",
        _ => "Kustomization",
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{object} {name} applies `{path}` from {source}, and that path is not in this repository: the reconciliation fails, or applies another repository's files that are not checked here"
        ),
    )
    .at(file, span)
    .label("no such path")
    .help("fix the path (it is relative to the repository's root), or check the other repository where it lives")
}
