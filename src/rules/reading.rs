//! The findings of reading: each problem that the loader (INJ001, INJ005,
//! INJ006) and the reading of deployables (INJ010–INJ014) noted and went
//! past, as its rule's finding.

use super::{
    build_failed, chart_not_rendered, duplicate_key, invalid_yaml, missing_deployable_path,
    not_run, patch_matches_nothing, unreadable_input,
};
use crate::deployables::{self, ProblemKind};
use crate::diagnostic::Diagnostic;
use crate::load;

/// The findings of a run's reading: the loader's problems, then the
/// deployables' (reports sort them).
pub fn findings(loaded: &[load::Problem], deployables: &[deployables::Problem]) -> Vec<Diagnostic> {
    loaded
        .iter()
        .map(load_finding)
        .chain(deployables.iter().map(deployable_finding))
        .collect()
}

/// The finding for a problem of one input file or document.
pub fn load_finding(problem: &load::Problem) -> Diagnostic {
    match problem {
        load::Problem::NotWalked { file, message } => unreadable_input::not_walked(*file, message),
        load::Problem::Unreadable { file, error } => unreadable_input::unreadable(*file, error),
        load::Problem::TooLarge { file, size, limit } => {
            unreadable_input::too_large(*file, *size, *limit)
        }
        load::Problem::Binary { file, offset } => invalid_yaml::binary(*file, *offset),
        load::Problem::InvalidUtf8 { file, offset } => invalid_yaml::invalid_utf8(*file, *offset),
        load::Problem::Yaml { file, problem } => duplicate_key::from_problem(*file, problem)
            .unwrap_or_else(|| invalid_yaml::from_problem(*file, problem)),
    }
}

/// The finding for a problem of a deployable, naming the deployable when
/// it is known.
pub fn deployable_finding(problem: &deployables::Problem) -> Diagnostic {
    let (file, span) = (problem.at.file, problem.at.span.clone());
    let mut finding = match &problem.kind {
        ProblemKind::NotRun {
            blocker,
            entry,
            deployable,
        } => not_run::new(file, span, *blocker, entry, deployable),
        ProblemKind::BuildFailed { deployable, error } => {
            build_failed::new(file, span, deployable, error)
        }
        ProblemKind::ChartNotRendered { chart, holds_apps } => {
            chart_not_rendered::new(file, span, chart, *holds_apps)
        }
        ProblemKind::RemoteChart {
            object,
            chart,
            source,
        } => chart_not_rendered::remote(file, span, object, chart, source),
        ProblemKind::MissingPath {
            kind,
            name,
            path,
            source,
        } => missing_deployable_path::new(file, span, *kind, name, path, source),
        ProblemKind::PatchMatchesNothing { target, deployable } => {
            patch_matches_nothing::new(file, span, target, deployable)
        }
    };
    finding.deployables.extend(problem.deployable);
    finding
}
