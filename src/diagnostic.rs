//! Diagnostics are data: a rule, a severity, a message, where, and help.
//! Report writers (`report/`) turn them into text, JSON, SARIF or workflow
//! commands; none of them reads files or re-derives positions.

use std::ops::Range;

use crate::model::deployable::DeployableId;
// Kept here too while callers move to `model` (issue 15).
pub use crate::model::ObjectRef;
pub use crate::severity::Severity;
// Plain data of the source map, kept here too for the users of findings.
use crate::source::FileId;
pub use crate::source::FileSpan;

/// A rule's identity and documentation.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `INJ002`.
    pub id: &'static str,
    /// Stable kebab-case name, after the problem it finds.
    pub name: &'static str,
    pub severity: Severity,
    /// One line for `kubectl inject rules` and SARIF `shortDescription`.
    pub summary: &'static str,
    /// The `explain` page (Markdown).
    pub explain: &'static str,
}

impl Rule {
    /// Where the rule's page is published (SARIF `helpUri`, miette links):
    /// the page beside the rule's code, as of this build's release tag, so
    /// that it describes the rule this binary runs. The same text is in the
    /// binary (`kubectl inject explain ID`, SARIF `help`).
    pub fn help_uri(&self) -> String {
        format!(
            "{DOCS_BASE}/v{}/src/rules/{}.md",
            env!("CARGO_PKG_VERSION"),
            self.name.replace('-', "_")
        )
    }
}

/// Where the repository publishes its files: Cargo.toml's `repository`,
/// the one place that names the project's home.
pub const DOCS_BASE: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob");

/// A secondary place that explains the finding ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub at: FileSpan,
    pub message: String,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: &'static Rule,
    pub severity: Severity,
    /// What is wrong and what happens at admission.
    pub message: String,
    /// The node at fault; `None` only for findings about something with no
    /// file (a live object, named by `object`).
    pub at: Option<FileSpan>,
    /// The text of the primary label under the underlined node.
    pub label: Option<String>,
    pub object: Option<ObjectRef>,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places worth showing (may be in other files).
    pub labels: Vec<Label>,
    /// Field path of the node at fault (`/spec/containers/0/image`): lets a
    /// finding be matched across revisions when lines move.
    pub path: Option<String>,
    /// The deployables the finding was made in (several when the same
    /// finding, at the same place, comes from several renderings).
    pub deployables: Vec<DeployableId>,
}

impl Diagnostic {
    /// A finding of `rule` at its default severity.
    pub fn new(rule: &'static Rule, message: impl Into<String>) -> Self {
        Diagnostic {
            rule,
            severity: rule.severity,
            message: message.into(),
            at: None,
            label: None,
            object: None,
            help: None,
            labels: Vec::new(),
            path: None,
            deployables: Vec::new(),
        }
    }

    pub fn at(mut self, file: FileId, span: Range<usize>) -> Self {
        self.at = Some(FileSpan { file, span });
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn object(mut self, object: Option<ObjectRef>) -> Self {
        self.object = object;
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn with_label(
        mut self,
        file: FileId,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        self.labels.push(Label {
            at: FileSpan { file, span },
            message: message.into(),
        });
        self
    }

    /// Order of reports: by file, then position, then rule; findings with
    /// no file (live objects) by object first.
    pub fn sort_key(
        &self,
    ) -> (
        Option<FileId>,
        usize,
        Option<&ObjectRef>,
        &'static str,
        &str,
    ) {
        (
            self.at.as_ref().map(|a| a.file),
            self.at.as_ref().map_or(0, |a| a.span.start),
            self.object.as_ref().filter(|_| self.at.is_none()),
            self.rule.id,
            &self.message,
        )
    }
}
