//! INJ010: a deployable that its renderer could not build.

use std::ops::Range;

use crate::deployables::render::RenderError;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::FileId;

pub const RULE: super::Rule = super::Rule {
    id: "INJ010",
    name: "build-failed",
    severity: Severity::Error,
    summary: "a kustomization or chart that Kustomize or Helm could not build (its message), a renderer missing or past its timeout",
    explain: include_str!("build_failed.md"),
};

/// The renderer of `deployable` (its display name) could not build it:
/// at the entry the renderer's message names when one could be found, else
/// at the kustomization or chart.
pub fn new(file: FileId, span: Range<usize>, deployable: &str, error: &RenderError) -> Diagnostic {
    match error {
        RenderError::Missing { tried } => missing(
            file,
            span,
            &format!("building {deployable}"),
            &tried.join(" or "),
        ),
        RenderError::TimedOut { program, after } => timed_out(
            file,
            span,
            &format!("`{program} {deployable}`"),
            after.as_secs_f64(),
        ),
        RenderError::Failed { program, message } => {
            failed(file, span, &format!("`{program} {deployable}`"), message)
        }
    }
}

/// The renderer ran and failed: its own message.
fn failed(file: FileId, span: Range<usize>, what: &str, message: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("{what} failed, so none of its objects are checked: {message}"),
    )
    .at(file, span)
    .label("the build fails here")
    .help("run the same build by hand to see it fail; fix the entry it names, then run again")
}

/// No renderer could be started.
fn missing(file: FileId, span: Range<usize>, what: &str, tried: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("{what} needs {tried}, and none is on PATH: none of its objects are checked"),
    )
    .at(file, span)
    .help("install kubectl (it ships Kustomize) or kustomize, and make sure it is on PATH")
}

/// The renderer ran past the timeout and was stopped.
fn timed_out(file: FileId, span: Range<usize>, what: &str, seconds: f64) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{what} did not finish within {seconds:.0} s and was stopped: none of its objects are checked"
        ),
    )
    .at(file, span)
    .help("raise `renderTimeout` in .kubectl-inject.yaml if this build is just slow")
}
