//! `--format json`: the exact shape of SPEC "Reports".

use std::io::{self, Write};

use serde::Serialize;

use super::{Report, Summary};
use crate::baseline::Baseline;
use crate::diagnostic::{ObjectRef, Severity};
use crate::engine::{InjectorResult, LiveSummary};
use crate::model::deployable::DeployableKind;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    summary: &'a Summary,
    /// `simulate --live`: how the running pods compare with the policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a LiveSummary>,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workloads: Option<Vec<JsonWorkload<'a>>>,
    /// `--base` runs: the revision compared with and the findings not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a Baseline>,
}

#[derive(Serialize)]
struct JsonWorkload<'a> {
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    /// `null` for an object read from a live cluster (it has no file).
    file: Option<&'a str>,
    line: Option<usize>,
    /// What it was read from and the environment it was simulated in.
    #[serde(skip_serializing_if = "Option::is_none")]
    deployable: Option<JsonDeployable<'a>>,
    injectors: &'a [InjectorResult],
}

#[derive(Serialize)]
struct JsonDeployable<'a> {
    kind: DeployableKind,
    path: &'a str,
    environment: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    rule: &'static str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    object: Option<&'a ObjectRef>,
    help: Option<&'a str>,
    /// The deployables the finding was made in.
    deployables: Vec<&'a str>,
}

/// The `workloads` section (simulate runs only), shared with the SARIF
/// writer, which carries it in the run's properties.
fn workload_rows<'a>(report: &'a Report<'_>) -> Option<Vec<JsonWorkload<'a>>> {
    let workloads = report.workloads?;
    Some(
        workloads
            .iter()
            .map(|w| {
                let file = report.sources.get(w.file);
                let in_file = !file.live;
                let deployable = report.deployables.and_then(|all| {
                    let d = all.get(w.deployable)?;
                    Some(JsonDeployable {
                        kind: d.kind,
                        path: &d.path,
                        environment: &all.environment(w.environment)?.name,
                    })
                });
                JsonWorkload {
                    kind: &w.kind,
                    namespace: &w.namespace,
                    name: &w.name,
                    file: in_file.then_some(file.name.as_str()),
                    line: in_file.then(|| file.line_col(w.offset).line),
                    deployable,
                    injectors: &w.injectors,
                }
            })
            .collect(),
    )
}

/// The `workloads` section as JSON, `None` for `lint`.
pub fn workloads_json(report: &Report<'_>) -> Option<serde_json::Value> {
    workload_rows(report).map(|rows| serde_json::to_value(rows).expect("plain data"))
}

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let diagnostics = report
        .diagnostics
        .iter()
        .map(|d| {
            let pos = report.position(d);
            JsonDiagnostic {
                rule: d.rule.id,
                severity: d.severity,
                message: &d.message,
                file: pos.as_ref().map(|p| p.file),
                line: pos.as_ref().map(|p| p.start.line),
                column: pos.as_ref().map(|p| p.start.column),
                end_line: pos.as_ref().map(|p| p.end.line),
                end_column: pos.as_ref().map(|p| p.end.column),
                object: d.object.as_ref(),
                help: d.help.as_deref(),
                deployables: report.deployable_paths(d),
            }
        })
        .collect();
    let workloads = workload_rows(report);
    let json = JsonReport {
        version: 1,
        summary: report.summary,
        live: report.live,
        diagnostics,
        workloads,
        baseline: report.baseline,
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}
