//! `--format json`: the exact shape of SPEC "Reports".

use std::io::{self, Write};

use serde::Serialize;

use super::{Report, Summary};
use crate::diagnostic::{ObjectRef, Severity};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    summary: &'a Summary,
    diagnostics: Vec<JsonDiagnostic<'a>>,
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
            }
        })
        .collect();
    let json = JsonReport {
        version: 1,
        summary: report.summary,
        diagnostics,
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}
