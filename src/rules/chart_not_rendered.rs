//! INJ011: a Helm chart that is not rendered: `helm` is missing, or the
//! chart comes from a Helm repository (a Flux `HelmRelease`, an Argo CD
//! `chart:` source), which is never fetched.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ011",
    name: "chart-not-rendered",
    severity: Severity::Info,
    summary: "a Helm chart that is not rendered (`helm` not on PATH, or a chart from a Helm repository, never fetched): its workloads are not checked",
    explain: include_str!("chart_not_rendered.md"),
};

/// A chart directory of the repository, with `helm` missing. `apps` says
/// whether its templates hold Argo CD Applications or Flux Kustomizations
/// (an app of apps), which go unseen with it.
pub fn new(file: FileId, span: Range<usize>, chart: &str, apps: bool) -> Diagnostic {
    let unseen = if apps {
        "; neither are the Argo CD Applications or Flux Kustomizations in its templates, so the folders they apply are read as plain files (name environments in .kubectl-inject.yaml to keep them apart)"
    } else {
        ""
    };
    Diagnostic::new(
        &RULE,
        format!(
            "chart {chart} is not rendered: `helm` is not on PATH, so its workloads are not checked{unseen}"
        ),
    )
    .at(file, span)
    .label("not rendered")
    .help("install helm to check the chart, or pipe `helm template` into `kubectl inject lint -`: findings then point at the template files")
}

/// A chart installed from a Helm repository (`HelmRelease`, an Argo CD
/// source with `chart:`): `object` installs `chart` from `source`.
pub fn remote(
    file: FileId,
    span: Range<usize>,
    object: &str,
    chart: &str,
    source: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{object} installs chart `{chart}` from {source}, which is never fetched: its workloads are not checked"
        ),
    )
    .at(file, span)
    .label("not fetched")
    .help("check the chart where it is built, or render it (`helm template`) and pipe the output into `kubectl inject lint -`")
}
