//! `--format human`: miette diagnostics with the offending node underlined.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode, SourceSpan};

use super::{Report, plural};
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::WorkloadResult;
use crate::source::{SourceFile, printable};

/// How the human report looks.
#[derive(Debug, Clone)]
pub struct HumanOptions {
    /// ANSI colours (only on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Terminal hyperlinks to rule pages.
    pub links: bool,
    /// Wrap width.
    pub width: usize,
    /// `simulate --explain`: each workload's reason chain.
    pub explain: bool,
    /// `simulate --diff`: what injection adds to each workload.
    pub diff: bool,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            links: false,
            width: 100,
            explain: false,
            diff: false,
        }
    }
}

impl HumanOptions {
    /// Colour and links when `stream` is a terminal and `NO_COLOR` is unset.
    pub fn for_terminal(is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = is_terminal && !no_color;
        HumanOptions {
            color,
            links: color,
            width: if is_terminal {
                terminal_width().unwrap_or(100)
            } else {
                100
            },
            ..HumanOptions::default()
        }
    }
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

pub fn write(report: &Report<'_>, out: &mut dyn Write, options: &HumanOptions) -> io::Result<()> {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(options.links)
        .with_context_lines(1);
    if let Some(workloads) = report.workloads {
        write_workloads(report, workloads, out, options)?;
    }
    for diagnostic in report.diagnostics {
        let shown = Shown::new(report, diagnostic, options.links);
        let mut text = String::new();
        handler
            .render_report(&mut text, &shown)
            .map_err(io::Error::other)?;
        out.write_all(text.as_bytes())?;
        if report.several_deployables() {
            let deployables = report.deployable_paths(diagnostic);
            if !deployables.is_empty() {
                writeln!(out, "  in {}", deployables.join(", "))?;
            }
        }
        writeln!(out)?;
    }
    write_summary(report, out, options)
}

/// The simulation table, then reasons and diffs when asked for.
fn write_workloads(
    report: &Report<'_>,
    workloads: &[WorkloadResult],
    out: &mut dyn Write,
    options: &HumanOptions,
) -> io::Result<()> {
    // With several deployables, the first column says which one.
    let deployable_column = report.several_deployables();
    let deployable_of = |w: &WorkloadResult| -> String {
        let Some(all) = report.deployables else {
            return String::new();
        };
        let path = all.path(w.deployable).unwrap_or("-");
        match all.environment(w.environment) {
            Some(env) if env.name != path && all.environments.len() > 1 => {
                format!("{path} ({})", env.name)
            }
            _ => path.to_owned(),
        }
    };
    let rows: Vec<Vec<String>> = workloads
        .iter()
        .flat_map(|w| {
            let deployable = deployable_of(w);
            w.injectors.iter().map(move |i| {
                let mut row = Vec::with_capacity(6);
                if deployable_column {
                    row.push(deployable.clone());
                }
                row.extend([
                    printable(&format!("{}/{}/{}", w.kind, w.namespace, w.name)).into_owned(),
                    i.injector.to_owned(),
                    i.decision.as_str().to_owned(),
                    i.policy.clone().unwrap_or_else(|| "-".into()),
                    i.template.clone().unwrap_or_else(|| "-".into()),
                ]);
                row
            })
        })
        .collect();
    let mut header: Vec<String> = Vec::with_capacity(6);
    if deployable_column {
        header.push("DEPLOYABLE".to_owned());
    }
    header.extend(["WORKLOAD", "INJECTOR", "DECISION", "POLICY", "TEMPLATE"].map(str::to_owned));
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &Vec<String>| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let width = *width;
            text.push_str(&format!("{cell:<width$}  "));
        }
        text.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    writeln!(out)?;
    if options.explain {
        for w in workloads {
            let file = report.sources.get(w.file);
            // A live object has no file to point at (its name says it all).
            let location = if file.live {
                String::new()
            } else {
                format!(" ({}:{})", file.name, file.line_col(w.offset).line)
            };
            for i in &w.injectors {
                writeln!(
                    out,
                    "{}/{}/{}{location} {}: {}",
                    w.kind,
                    w.namespace,
                    w.name,
                    i.injector,
                    i.decision.as_str()
                )?;
                for (n, reason) in i.reasons.iter().enumerate() {
                    writeln!(out, "  {}. {reason}", n + 1)?;
                }
            }
        }
        writeln!(out)?;
    }
    if options.diff {
        for w in workloads {
            let (Some(before), Some(after)) = (&w.pod_before, &w.pod_after) else {
                continue;
            };
            writeln!(out, "{}/{}/{}:", w.kind, w.namespace, w.name)?;
            for change in crate::diff::diff(before, after) {
                writeln!(out, "  {change}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_summary(
    report: &Report<'_>,
    out: &mut dyn Write,
    options: &HumanOptions,
) -> io::Result<()> {
    let s = report.summary;
    let findings = if s.errors + s.warnings + s.infos == 0 {
        "no findings".to_owned()
    } else {
        [
            plural(s.errors, "error"),
            plural(s.warnings, "warning"),
            plural(s.infos, "info"),
        ]
        .join(", ")
    };
    let mut line = format!(
        "{}: {findings} in {} ({}",
        report.command,
        super::inputs_text(s),
        plural(s.documents, "document"),
    );
    if report.workloads.is_some() {
        line.push_str(&format!(
            ", {}, {} injected",
            plural(s.workloads, "workload"),
            s.injected
        ));
    }
    if s.skipped_documents > 0 {
        line.push_str(&format!(
            ", {} not Kubernetes objects, skipped",
            s.skipped_documents
        ));
    }
    line.push(')');
    if let Some(deployables) = report.deployables.filter(|d| d.several()) {
        match deployables
            .selected
            .and_then(|id| deployables.environment(id))
        {
            Some(env) => line.push_str(&format!(
                " from {} of environment {}",
                plural(env.deployables.len(), "deployable"),
                env.name
            )),
            None => line.push_str(&format!(
                " from {} in {}",
                plural(deployables.list.len(), "deployable"),
                plural(deployables.environments.len(), "environment")
            )),
        }
    }
    if let Some(baseline) = report.baseline {
        line.push_str(&format!(
            "; only what the working tree adds to {}: {} already there, not shown",
            baseline.base,
            plural(baseline.preexisting, "finding")
        ));
    }
    if let Some(live) = report.live {
        writeln!(out, "live: {}", super::live_line(live))?;
    }
    let (on, off) = match (options.color, s.errors > 0, s.warnings > 0) {
        (false, ..) => ("", ""),
        (true, true, _) => ("\x1b[1;31m", "\x1b[0m"),
        (true, false, true) => ("\x1b[1;33m", "\x1b[0m"),
        (true, false, false) => ("\x1b[1;32m", "\x1b[0m"),
    };
    writeln!(out, "{on}{line}{off}")
}

/// Past this column, a label on another line (or far along the same one)
/// is drawn in a snippet of its own.
const LONG_COLUMN: usize = 200;

/// A [`Diagnostic`] as miette sees it.
struct Shown {
    diagnostic: Diagnostic,
    source: Option<Arc<SourceFile>>,
    labels: Vec<LabeledSpan>,
    /// Labels that live in other files, shown as related notes.
    related: Vec<Note>,
    /// The rule page, shown as a terminal hyperlink on the rule id.
    url: Option<String>,
}

/// A secondary place in another file.
#[derive(Debug)]
struct Note {
    message: String,
    source: Arc<SourceFile>,
    span: SourceSpan,
}

impl Shown {
    fn new(report: &Report<'_>, diagnostic: &Diagnostic, links: bool) -> Self {
        let source = diagnostic
            .at
            .as_ref()
            .map(|at| report.sources.get(at.file).clone());
        let mut labels = Vec::new();
        let mut related = Vec::new();
        if let Some(at) = &diagnostic.at {
            labels.push(LabeledSpan::new_primary_with_span(
                diagnostic
                    .label
                    .as_deref()
                    .map(|l| printable(l).into_owned()),
                to_span(&at.span),
            ));
        }
        // Labels far apart on very long lines are drawn apart: one snippet
        // cannot show two windows of a long line.
        let line_of = |at: &crate::diagnostic::FileSpan| {
            let file = report.sources.get(at.file);
            let start = file.line_col(at.span.start);
            (start.line, start.column)
        };
        let primary = diagnostic.at.as_ref().map(line_of);
        for label in &diagnostic.labels {
            let same_file = diagnostic
                .at
                .as_ref()
                .is_some_and(|at| at.file == label.at.file);
            let (line, column) = line_of(&label.at);
            let far = primary.is_some_and(|(primary_line, primary_column)| {
                (column > LONG_COLUMN || primary_column > LONG_COLUMN)
                    && (primary_line != line || column.abs_diff(primary_column) > LONG_COLUMN)
            });
            if same_file && !far {
                labels.push(LabeledSpan::new_with_span(
                    Some(printable(&label.message).into_owned()),
                    to_span(&label.at.span),
                ));
            } else {
                related.push(Note {
                    message: printable(&label.message).into_owned(),
                    source: report.sources.get(label.at.file).clone(),
                    span: to_span(&label.at.span),
                });
            }
        }
        Shown {
            diagnostic: diagnostic.clone(),
            source,
            labels,
            related,
            url: links.then(|| diagnostic.rule.help_uri()),
        }
    }
}

fn to_span(range: &std::ops::Range<usize>) -> SourceSpan {
    (range.start, range.end.saturating_sub(range.start)).into()
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shown")
            .field("diagnostic", &self.diagnostic)
            .finish()
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&self.diagnostic.message))?;
        if let (Some(object), None) = (&self.diagnostic.object, &self.diagnostic.at) {
            // A live finding has no snippet: name the object, unless the
            // message starts by naming it already.
            let object = object.to_string();
            if !self.diagnostic.message.starts_with(&object) {
                write!(f, " ({object})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Shown {}

impl miette::Diagnostic for Shown {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.rule.id))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(printable(h)) as Box<dyn fmt::Display>)
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.url
            .as_ref()
            .map(|u| Box::new(u) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_deref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|n| n as &dyn miette::Diagnostic),
        ))
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Note {}

impl miette::Diagnostic for Note {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.message.clone()), self.span),
        )))
    }
}
