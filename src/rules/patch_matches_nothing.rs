//! INJ014: a kustomization patch whose target matches no object.

use std::ops::Range;

use crate::deployables::kustomization::Selector;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ014",
    name: "patch-matches-nothing",
    severity: Severity::Warning,
    summary: "a kustomization patch whose `target` matches no object, so it changes nothing",
    explain: include_str!("patch_matches_nothing.md"),
};

/// The patch targets objects that `deployable` (its display name) does not hold.
pub fn new(file: FileId, span: Range<usize>, target: &Selector, deployable: &str) -> Diagnostic {
    let target = describe(target);
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

/// How messages name the objects a patch targets.
fn describe(target: &Selector) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = &target.kind {
        parts.push(kind.clone());
    }
    if let Some(name) = &target.name {
        parts.push(format!("`{name}`"));
    }
    if let Some(ns) = &target.namespace {
        parts.push(format!("in namespace `{ns}`"));
    }
    if let Some(labels) = &target.label_selector {
        parts.push(format!("with labels `{labels}`"));
    }
    if let Some(annotations) = &target.annotation_selector {
        parts.push(format!("with annotations `{annotations}`"));
    }
    if parts.is_empty() {
        "every object".into()
    } else {
        parts.join(" ")
    }
}
