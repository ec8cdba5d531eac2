//! The analysis behind `lint` and `simulate`: the document rules, the
//! simulation of every workload, then suppressions and the configuration's
//! severities.

use rayon::prelude::*;

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::engine::{self, Simulation};
use crate::load::Workspace;
use crate::report::Summary;
use crate::rules::{duplicate_object, schema_violation, unknown_kind};
use crate::suppress;

/// Switches of one lint run.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// Namespace of objects that name none.
    pub default_namespace: String,
    /// Ignore every suppression annotation (for protected branches).
    pub no_suppressions: bool,
    /// `kubernetesVersion` (major, minor), for version-dependent checks.
    pub kubernetes_version: Option<(u64, u64)>,
}

/// The findings of a run, its counts, and the simulated workloads.
#[derive(Debug)]
pub struct LintOutcome {
    pub diagnostics: Vec<Diagnostic>,
    pub summary: Summary,
    pub simulation: Simulation,
}

/// Runs every rule on `ws`.
pub fn lint(ws: &Workspace, config: &Config, options: &LintOptions) -> LintOutcome {
    let ns = options.default_namespace.as_str();
    let mut diagnostics = ws.diagnostics.clone();
    let per_object: Vec<Vec<Diagnostic>> = ws
        .objects
        .par_iter()
        .map(|object| match unknown_kind::check(object, ns) {
            Some(unknown) => vec![unknown],
            None => schema_violation::check(object, ns),
        })
        .collect();
    diagnostics.extend(per_object.into_iter().flatten());
    diagnostics.extend(duplicate_object::check(&ws.objects, ns));
    let settings = engine::Settings {
        default_namespace: ns.to_owned(),
        kubernetes_version: options.kubernetes_version,
    };
    let mut simulation = engine::simulate(ws, &settings);
    diagnostics.append(&mut simulation.diagnostics);

    if !options.no_suppressions {
        let suppressions: Vec<_> = ws
            .objects
            .iter()
            .flat_map(|o| suppress::collect(o, &ws.sources.get(o.file).text, ns))
            .collect();
        let about_suppressions = suppress::apply(&suppressions, &mut diagnostics);
        diagnostics.extend(about_suppressions);
    }

    diagnostics.retain_mut(|d| match config.severity(d.rule) {
        Some(severity) => {
            d.severity = severity;
            true
        }
        None => false,
    });
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));

    let mut summary = Summary {
        files: ws.files,
        documents: ws.documents,
        skipped_documents: ws.skipped_documents,
        workloads: simulation.workloads.len(),
        injected: simulation.injected(),
        ..Summary::default()
    };
    summary.count(&diagnostics);
    LintOutcome {
        diagnostics,
        summary,
        simulation,
    }
}
