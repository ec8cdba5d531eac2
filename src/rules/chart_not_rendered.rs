//! INJ011: a Helm chart that could not be rendered because `helm` is missing.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ011",
    name: "chart-not-rendered",
    severity: Severity::Info,
    summary: "a Helm chart that is not rendered because `helm` is not on PATH (its templates are never read as YAML)",
    explain: include_str!("chart_not_rendered.md"),
};

pub fn new(file: FileId, span: Range<usize>, chart: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("chart {chart} is not rendered: `helm` is not on PATH, so its workloads are not checked"),
    )
    .at(file, span)
    .label("not rendered")
    .help("install helm to check the chart, or pipe `helm template` into `kubectl inject lint -`: findings then point at the template files")
}
