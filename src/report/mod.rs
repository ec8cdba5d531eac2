//! Report writers: one module per `--format`, all reading the same
//! [`Report`] (diagnostics as data plus the source map for positions).

mod github;
mod human;
mod json;
mod sarif;

pub use github::markdown_summary;
pub(crate) use github::{SUMMARY_ROWS, escape_cell};
pub use human::HumanOptions;

use std::io::{self, Write};

use crate::baseline::Baseline;
use crate::diagnostic::Diagnostic;
use crate::engine::{LiveSummary, WorkloadResult};
pub use crate::lint::Summary;
use crate::model::deployable::Deployables;
use crate::source::{LineCol, SourceMap};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Rich diagnostics with source snippets (miette).
    Human,
    /// One JSON object (SPEC "Reports").
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (and a job summary when `GITHUB_STEP_SUMMARY` is set).
    Github,
}

/// "1 file", "3 files": a count and its noun.
pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", crate::words::plural(n as u64))
}

/// "3 files", or "3 files and 5,001 objects from the cluster" for a live run.
pub(crate) fn inputs_text(s: &Summary) -> String {
    if s.live_objects == 0 {
        plural(s.files, "file")
    } else {
        format!(
            "{} and {} from the cluster",
            plural(s.files, "file"),
            plural(s.live_objects, "object")
        )
    }
}

/// What a run found.
pub struct Report<'a> {
    pub sources: &'a SourceMap,
    pub diagnostics: &'a [Diagnostic],
    pub summary: &'a Summary,
    /// The command that produced it (`lint`, `simulate`), for titles.
    pub command: &'a str,
    /// The simulated workloads (`simulate` only; `lint` reports findings alone).
    pub workloads: Option<&'a [WorkloadResult]>,
    /// `--base`: the findings are those the working tree adds to this revision.
    pub baseline: Option<&'a Baseline>,
    /// `simulate --live`: how the running pods compare with the policies.
    pub live: Option<&'a LiveSummary>,
    /// The run's deployables and environments (none for runs without paths).
    pub deployables: Option<&'a Deployables>,
}

/// A diagnostic's primary position, resolved once for the text formats.
pub struct Position<'a> {
    pub file: &'a str,
    pub start: LineCol,
    pub end: LineCol,
}

impl<'a> Report<'a> {
    pub fn new(
        sources: &'a SourceMap,
        diagnostics: &'a [Diagnostic],
        summary: &'a Summary,
        command: &'a str,
    ) -> Self {
        Report {
            sources,
            diagnostics,
            summary,
            command,
            workloads: None,
            baseline: None,
            live: None,
            deployables: None,
        }
    }

    /// The deployables that findings and workloads name.
    pub fn with_deployables(mut self, deployables: &'a Deployables) -> Self {
        self.deployables = Some(deployables);
        self
    }

    /// Whether the run read more than one deployable (the human table and
    /// findings then name them).
    pub fn several_deployables(&self) -> bool {
        self.deployables.is_some_and(Deployables::several)
    }

    /// The paths of a finding's deployables.
    pub fn deployable_paths(&self, diagnostic: &Diagnostic) -> Vec<&'a str> {
        let Some(deployables) = self.deployables else {
            return Vec::new();
        };
        diagnostic
            .deployables
            .iter()
            .filter_map(|id| deployables.path(*id))
            .collect()
    }

    pub fn with_baseline(mut self, baseline: Option<&'a Baseline>) -> Self {
        self.baseline = baseline;
        self
    }

    pub fn with_workloads(mut self, workloads: &'a [WorkloadResult]) -> Self {
        self.workloads = Some(workloads);
        self
    }

    /// The live summary (`Simulation::live`; `None` leaves it out).
    pub fn with_live(mut self, live: Option<&'a LiveSummary>) -> Self {
        self.live = live;
        self
    }
}

/// The live summary as one line: `12 pods; 9 of 10 that should carry a
/// sidecar do (90.0 %); 1 missing (INJ401), 0 outdated (INJ402), 2
/// unexpected (INJ403)`.
pub(crate) fn live_line(live: &LiveSummary) -> String {
    let o = &live.outcomes;
    format!(
        "{}; {} of {} that should carry a sidecar do ({:.1} %); {} missing (INJ401), {} outdated (INJ402), {} unexpected (INJ403)",
        plural(live.pods, "pod"),
        live.with_expected_sidecar,
        live.should_have_sidecar,
        live.success_rate * 100.0,
        o.missing,
        o.outdated,
        o.unexpected
    )
}

impl Report<'_> {
    /// File name and 1-based start/end of a diagnostic's node.
    pub fn position(&self, diagnostic: &Diagnostic) -> Option<Position<'_>> {
        let at = diagnostic.at.as_ref()?;
        let file = self.sources.get(at.file);
        let (start, end) = file.range_line_col(&at.span);
        Some(Position {
            file: &file.name,
            start,
            end,
        })
    }

    pub fn write(
        &self,
        format: Format,
        out: &mut dyn Write,
        human: &HumanOptions,
    ) -> io::Result<()> {
        match format {
            Format::Human => human::write(self, out, human),
            Format::Json => json::write(self, out),
            Format::Sarif => sarif::write(self, out),
            Format::Github => github::write(self, out),
        }
    }
}
