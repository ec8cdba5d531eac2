//! The analysis behind every command (`lint`, `simulate`, `render`, `test`): the document rules, the
//! simulation of every workload, then suppressions and the configuration's
//! severities.

use std::io::Read;
use std::path::PathBuf;

use rayon::prelude::*;

use crate::baseline::{ObjectIndex, path_at};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::engine::{self, Simulation};
use crate::load::{DEFAULT_MAX_FILE_SIZE, Input, LoadOptions, Workspace, load_inputs, load_with};
use crate::report::Summary;
use crate::rules::{duplicate_object, schema_violation, unknown_kind};
use crate::source::git::{GitRepo, Revision};
use crate::source::{DiscoverOptions, absolute_normalized};
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
    /// `--injector NAME`: manual injection with one known injector.
    pub manual_injector: Option<&'static str>,
}

/// The findings of a run, its counts, and the simulated workloads.
#[derive(Debug)]
pub struct LintOutcome {
    pub diagnostics: Vec<Diagnostic>,
    pub summary: Summary,
    pub simulation: Simulation,
}

/// What to analyse: paths, the configuration, and the run's switches.
#[derive(Debug, Clone)]
pub struct Analysis<'a> {
    pub paths: Vec<PathBuf>,
    pub config: &'a Config,
    /// `--namespace` (or an InjectionTest's `spec.namespace`); before the
    /// configuration's `namespace` and `default`.
    pub namespace: Option<String>,
    pub no_suppressions: bool,
    pub max_file_size: u64,
    pub progress: bool,
    /// `--injector NAME`: manual injection with one known injector.
    pub manual_injector: Option<&'static str>,
    /// Read the paths at this Git revision instead of the working tree.
    pub revision: Option<(&'a GitRepo, Revision)>,
}

impl<'a> Analysis<'a> {
    pub fn new(paths: Vec<PathBuf>, config: &'a Config) -> Self {
        Analysis {
            paths,
            config,
            namespace: None,
            no_suppressions: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            progress: false,
            manual_injector: None,
            revision: None,
        }
    }

    /// Namespace of objects that name none: `--namespace`, then the
    /// configuration's, then `default`.
    pub fn default_namespace(&self) -> String {
        self.namespace
            .clone()
            .or_else(|| self.config.namespace.clone())
            .unwrap_or_else(|| "default".to_owned())
    }

    /// Loads the paths (and the configuration's `policies`) and analyses
    /// them, as every command does. Fails only when a path cannot be read
    /// at all.
    pub fn run(&self, stdin: impl Read) -> Result<(Workspace, LintOutcome), String> {
        self.run_with(Vec::new(), stdin)
    }

    /// [`Analysis::run`] with objects from elsewhere besides the paths (a
    /// live cluster's, as `Input::Live`).
    pub fn run_with(
        &self,
        extra: Vec<Input>,
        stdin: impl Read,
    ) -> Result<(Workspace, LintOutcome), String> {
        let config = self.config;
        let mut paths = self.paths.clone();
        paths.extend(config.policies.iter().map(|p| config.root.join(p)));
        let options = LoadOptions {
            discover: DiscoverOptions {
                ignore: config.ignore.clone(),
                ignore_root: absolute_normalized(&config.root),
            },
            max_file_size: self.max_file_size,
            progress: self.progress,
            ..LoadOptions::default()
        };
        let ws = match &self.revision {
            None => load_with(&paths, extra, &options, stdin)?,
            Some((repo, revision)) => {
                let inputs = repo.read(revision, &paths, &options.discover, self.max_file_size)?;
                load_inputs(inputs, Vec::new(), &options)
            }
        };
        let default_namespace = self.default_namespace();
        let outcome = lint(
            &ws,
            config,
            &LintOptions {
                default_namespace,
                no_suppressions: self.no_suppressions,
                kubernetes_version: config.kubernetes_version(),
                manual_injector: self.manual_injector,
            },
        );
        Ok((ws, outcome))
    }
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
    let cluster = engine::Cluster::from_objects(&ws.objects, config);
    diagnostics.extend(crate::injectors::known::check_all(
        &ws.objects,
        ns,
        &cluster,
    ));
    diagnostics.extend(duplicate_object::check(&ws.objects, ns));
    let settings = engine::Settings {
        default_namespace: ns.to_owned(),
        kubernetes_version: options.kubernetes_version,
        manual_injector: options.manual_injector,
    };
    let mut simulation = engine::simulate(ws, &settings, &cluster);
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

    detach_live_positions(ws, &mut diagnostics, ns);
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
        live_objects: ws.live_objects,
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

/// Live objects have no file (SPEC): a finding about one names the object
/// (`kind/namespace/name`) and keeps the field path of the node at fault,
/// instead of a line in the API server's JSON.
fn detach_live_positions(ws: &Workspace, diagnostics: &mut [Diagnostic], default_namespace: &str) {
    let is_live = |file| ws.sources.get(file).live;
    if !ws.sources.iter().any(|(_, f)| f.live) {
        return;
    }
    let index = ObjectIndex::new(&ws.objects);
    for d in diagnostics {
        d.labels.retain(|label| !is_live(label.at.file));
        let Some(at) = d.at.as_ref().filter(|at| is_live(at.file)) else {
            continue;
        };
        if let Some(object) = index.containing(&ws.objects, at.file, at.span.start) {
            if d.path.is_none() {
                d.path = Some(path_at(&object.root, at.span.start));
            }
            if d.object.is_none() {
                d.object = Some(object.object_ref(default_namespace));
            }
        }
        d.at = None;
    }
}
