//! INJ014: a kustomization patch whose target matches no object.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ014",
    name: "patch-matches-nothing",
    severity: Severity::Warning,
    summary: "a kustomization patch whose `target` matches no object, so it changes nothing",
    explain: include_str!("patch_matches_nothing.md"),
};

pub fn new(file: FileId, span: Range<usize>, target: &str, deployable: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "this patch targets {target}, which matches no object of {deployable}: Kustomize applies it to nothing, silently"
        ),
    )
    .at(file, span)
    .label("matches nothing")
    .help("fix the target's kind, name or selector (names are those before this kustomization's namePrefix/nameSuffix), or remove the patch")
}
