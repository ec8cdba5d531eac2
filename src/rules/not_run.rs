//! INJ012: a remote base, a Helm chart inflation or a plugin that the tool
//! never fetches or runs.

use std::ops::Range;

use crate::deployables::Blocker;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ012",
    name: "not-run",
    severity: Severity::Warning,
    summary: "a remote base, `helmCharts` or an exec/KRM plugin in a kustomization: never fetched or run, so the deployable is not built",
    explain: include_str!("not_run.md"),
};

/// `entry` (a `blocker`) keeps `deployable` from being built.
pub fn new(
    file: FileId,
    span: Range<usize>,
    blocker: Blocker,
    entry: &str,
    deployable: &str,
) -> Diagnostic {
    let (what, help) = match blocker {
        Blocker::Remote => (
            format!("`{entry}` is a remote base: it is never fetched"),
            "vendor the base into the repository (or pin it as a Git submodule) so that it can be checked",
        ),
        Blocker::HelmCharts => (
            "`helmCharts` needs Helm and a chart download: it is never run".to_owned(),
            "render the chart into the repository, or check it as a chart directory of its own",
        ),
        Blocker::Plugin => (
            format!("`{entry}` configures a plugin (exec or KRM function): it is never run"),
            "only Kustomize's builtin generators and transformers run here; check the plugin's output in its own pipeline",
        ),
    };
    Diagnostic::new(
        &RULE,
        format!("{what}, so {deployable} is not built and its objects are not checked"),
    )
    .at(file, span)
    .label("not fetched or run")
    .help(help)
}
