//! `--format github`: GitHub Actions workflow commands, one per finding, so
//! each shows as an annotation on its line in the pull request, then a plain
//! summary line. [`markdown_summary`] is the job summary written to
//! `GITHUB_STEP_SUMMARY`.
//!
//! Workflow commands are `::LEVEL PROPERTIES::MESSAGE` on one line; property
//! values and the message are escaped as the Actions runner expects (see
//! [`escape_property`], [`escape_data`]).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Report, plural};
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::WorkloadResult;

/// At most this many findings are listed in the job summary (GitHub caps a
/// step summary at 1 MiB).
pub(crate) const SUMMARY_ROWS: usize = 200;

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    for d in report.diagnostics {
        writeln!(out, "{}", command(report, d))?;
    }
    writeln!(out, "{}", summary_line(report))
}

/// One workflow command for one finding.
fn command(report: &Report<'_>, d: &Diagnostic) -> String {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let mut properties = Vec::new();
    if let Some(pos) = report.position(d) {
        properties.push(("file", pos.file.to_owned()));
        properties.push(("line", pos.start.line.to_string()));
        // The runner accepts columns only on one-line annotations (the
        // toolkit documents `col`/`endColumn` as "cannot be sent when line
        // and endLine differ").
        let one_line = pos.start.line == pos.end.line;
        if one_line {
            properties.push(("col", pos.start.column.to_string()));
        }
        properties.push(("endLine", pos.end.line.to_string()));
        if one_line {
            properties.push(("endColumn", pos.end.column.to_string()));
        }
    }
    properties.push(("title", d.rule.id.to_owned()));

    let mut message = String::new();
    if d.at.is_none()
        && let Some(object) = &d.object
        && !d.message.starts_with(&object.to_string())
    {
        // Live objects have no file: name the object in the text instead
        // (unless the message starts by naming it).
        let _ = write!(message, "{object}: ");
    }
    message.push_str(&crate::source::printable(&d.message));
    if report.several_deployables() {
        let deployables = report.deployable_paths(d);
        if !deployables.is_empty() {
            let _ = write!(message, " (in {})", deployables.join(", "));
        }
    }
    if let Some(help) = &d.help {
        message.push('\n');
        message.push_str(help);
    }

    let properties = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect::<Vec<_>>()
        .join(",");
    format!("::{level} {properties}::{}", escape_data(&message))
}

/// `kubectl-inject lint: 2 errors, 1 warning in 3 files`.
fn summary_line(report: &Report<'_>) -> String {
    let s = report.summary;
    let mut counts = vec![plural(s.errors, "error"), plural(s.warnings, "warning")];
    if s.infos > 0 {
        counts.push(plural(s.infos, "info"));
    }
    format!(
        "kubectl-inject {}: {} in {}",
        report.command,
        counts.join(", "),
        super::inputs_text(s)
    )
}

/// Escapes a workflow command's message (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a workflow command's property value: the message escapes plus
/// `:` and `,`, which delimit properties.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The Markdown job summary: counts, then the findings (at most
/// [`SUMMARY_ROWS`]), each rule linked to its page.
pub fn markdown_summary(report: &Report<'_>) -> String {
    let s = report.summary;
    let mut md = String::new();
    let _ = writeln!(md, "## kubectl-inject {}\n", report.command);
    md.push_str("| Files | Documents | Skipped | Errors | Warnings | Infos |\n");
    md.push_str("|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.files, s.documents, s.skipped_documents, s.errors, s.warnings, s.infos
    );
    if let Some(baseline) = report.baseline {
        let _ = writeln!(
            md,
            "Findings the change adds to `{}` ({}); {} already there {} not shown.\n",
            escape_cell(&baseline.base),
            &baseline.commit[..baseline.commit.len().min(12)],
            baseline.preexisting,
            if baseline.preexisting == 1 {
                "is"
            } else {
                "are"
            }
        );
    }
    if let Some(live) = report.live {
        let _ = writeln!(md, "**Live:** {}.\n", super::live_line(live));
    }
    if let Some(workloads) = report.workloads {
        write_workloads(&mut md, workloads);
    }
    if report.diagnostics.is_empty() {
        md.push_str("No findings.\n\n");
        return md;
    }
    md.push_str("| Severity | Rule | Location | Message |\n");
    md.push_str("|---|---|---|---|\n");
    for d in report.diagnostics.iter().take(SUMMARY_ROWS) {
        let location = match (report.position(d), &d.object) {
            (Some(pos), _) => format!(
                "`{}:{}:{}`",
                pos.file.replace('`', "'"),
                pos.start.line,
                pos.start.column
            ),
            (None, Some(object)) => format!("`{}`", object.to_string().replace('`', "'")),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | [{}]({}) | {} | {} |",
            d.severity,
            d.rule.id,
            d.rule.help_uri(),
            escape_cell(&location),
            escape_cell(&d.message)
        );
    }
    let rest = report.diagnostics.len().saturating_sub(SUMMARY_ROWS);
    if rest > 0 {
        let _ = writeln!(md, "\n… and {rest} more");
    }
    md.push('\n');
    md
}

/// The simulation table: one row per workload and injector, capped.
fn write_workloads(md: &mut String, workloads: &[WorkloadResult]) {
    let injected = workloads
        .iter()
        .filter(|w| w.injectors.iter().any(|i| i.added.is_some()))
        .count();
    let _ = writeln!(md, "{} workloads, {injected} injected.\n", workloads.len());
    md.push_str("| Workload | Decision | Policy | Template |\n|---|---|---|---|\n");
    let rows: Vec<_> = workloads
        .iter()
        .flat_map(|w| w.injectors.iter().map(move |i| (w, i)))
        .collect();
    for (w, i) in rows.iter().take(SUMMARY_ROWS) {
        let _ = writeln!(
            md,
            "| `{}/{}/{}` | {} | {} | {} |",
            w.kind,
            w.namespace,
            w.name,
            i.decision.as_str(),
            escape_cell(i.policy.as_deref().unwrap_or("-")),
            escape_cell(i.template.as_deref().unwrap_or("-")),
        );
    }
    if rows.len() > SUMMARY_ROWS {
        let _ = writeln!(md, "\n… and {} more", rows.len() - SUMMARY_ROWS);
    }
    md.push('\n');
}

/// A table cell on one line, with its pipes escaped.
/// A Markdown table cell: pipes escaped, line breaks as `<br>`.
pub(crate) fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace(['\n', '\r'], "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::ObjectRef;
    use crate::lint::Summary;
    use crate::rules::{duplicate_object, invalid_yaml, unused_suppression};
    use crate::source::{SourceFile, SourceMap};

    #[test]
    fn escapes_data_and_properties() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("50% a\r\nb: c, d"),
            "50%25 a%0D%0Ab%3A c%2C d"
        );
        // `%` first, so escapes are not escaped twice.
        assert_eq!(escape_property("%3A:"), "%253A%3A");
        assert_eq!(escape_data("::error::x"), "::error::x");
    }

    fn report_of(
        sources: &SourceMap,
        diagnostics: &[Diagnostic],
        summary: &Summary,
        f: impl Fn(&Report<'_>) -> String,
    ) -> String {
        let report = Report::new(sources, diagnostics, summary, "lint");
        f(&report)
    }

    fn written(report: &Report<'_>) -> String {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn commands() {
        let mut sources = SourceMap::default();
        let f = sources.add(SourceFile::new(
            "apps/a,b:c.yaml",
            "metadata:\n  name: web\n  x: {\n",
        ));
        let diagnostics = [
            Diagnostic::new(&duplicate_object::RULE, "defined 100% twice")
                .at(f, 18..21)
                .help("remove one\nor rename"),
            Diagnostic::new(&invalid_yaml::RULE, "spans lines").at(f, 12..26),
            Diagnostic::new(&unused_suppression::RULE, "live").object(Some(ObjectRef {
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            })),
        ];
        let mut summary = Summary {
            files: 1,
            ..Summary::default()
        };
        summary.count(&diagnostics);
        let text = report_of(&sources, &diagnostics, &summary, written);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "::error file=apps/a%2Cb%3Ac.yaml,line=2,col=9,endLine=2,endColumn=12,title=INJ004::defined 100%25 twice%0Aremove one%0Aor rename",
                "::error file=apps/a%2Cb%3Ac.yaml,line=2,endLine=3,title=INJ001::spans lines",
                "::notice title=INJ009::Deployment/shop/web: live",
                "kubectl-inject lint: 2 errors, 0 warnings, 1 info in 1 file",
            ]
        );
    }

    #[test]
    fn markdown() {
        let mut sources = SourceMap::default();
        let f = sources.add(SourceFile::new("a.yaml", "metadata:\n  name: web\n"));
        let many: Vec<_> = (0..SUMMARY_ROWS + 3)
            .map(|i| Diagnostic::new(&duplicate_object::RULE, format!("a | b {i}")).at(f, 18..21))
            .collect();
        let mut summary = Summary {
            files: 1,
            documents: 2,
            ..Summary::default()
        };
        summary.count(&many);
        let md = report_of(&sources, &many, &summary, markdown_summary);
        assert!(md.starts_with("## kubectl-inject lint\n"));
        assert!(md.contains("| 1 | 2 | 0 | 203 | 0 | 0 |"));
        let row = format!(
            "| error | [INJ004]({}) | `a.yaml:2:9` | a \\| b 0 |",
            duplicate_object::RULE.help_uri()
        );
        assert!(md.contains(&row), "{md}");
        assert_eq!(md.matches("| error |").count(), SUMMARY_ROWS);
        assert!(md.contains("… and 3 more"));

        let clean = report_of(&sources, &[], &Summary::default(), markdown_summary);
        assert!(clean.contains("No findings."));
        assert!(!clean.contains("| Severity |"));
    }
}
