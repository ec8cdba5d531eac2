//! The analysis behind every command (`lint`, `simulate`, `render`, `test`): the document rules, the
//! simulation of every workload, then suppressions and the configuration's
//! severities.

use std::collections::HashMap;

use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::deployables::{
    self,
    read::{Read, ReadOptions, Rewrite},
    render::Renderers,
    source_map::SourceMapper,
};
use crate::diagnostic::{Diagnostic, ObjectRef, Severity};
use crate::engine::{self, Simulation};
use crate::load::{DEFAULT_MAX_FILE_SIZE, Input, LoadOptions, Workspace};
use crate::model::Object;
use crate::model::deployable::{DeployableId, EnvironmentId};
use crate::model::index::ObjectIndex;
use crate::rules::{duplicate_object, reading, schema_violation, unknown_kind};
use crate::source::FileId;
use crate::source::git::{GitRepo, Revision};
use crate::source::{DiscoverOptions, absolute_normalized};
use crate::suppress;
use crate::yaml::FieldPath;

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
    /// Keep injected workloads' pods in the results ([`Analysis::keep_pods`]).
    pub keep_pods: bool,
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
    /// `--environment NAME`: analyse only this environment.
    pub environment: Option<String>,
    /// Every input is one cluster, whatever its deployables (an
    /// InjectionTest's inputs).
    pub one_cluster: bool,

    /// The programs that render deployables (tests swap in their own); the
    /// timeout comes from the configuration.
    pub renderers: Renderers,
    /// Keep each injected workload's pods before and after injection in
    /// the result (`render`, `--diff`, `diff`, `test` need them); a run
    /// whose reports need only the decisions and findings drops them once
    /// the rules have run (most of a large run's memory).
    pub keep_pods: bool,
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
            environment: None,
            one_cluster: false,
            renderers: Renderers::default(),
            keep_pods: true,
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
    pub fn run(&self, stdin: impl std::io::Read) -> Result<(Workspace, LintOutcome), String> {
        self.run_with(Vec::new(), stdin)
    }

    /// [`Analysis::run`] with objects from elsewhere besides the paths (a
    /// live cluster's, as `Input::Live`).
    pub fn run_with(
        &self,
        extra: Vec<Input>,
        stdin: impl std::io::Read,
    ) -> Result<(Workspace, LintOutcome), String> {
        let config = self.config;
        let options = LoadOptions {
            discover: DiscoverOptions {
                ignore: config.ignore.clone(),
                ignore_root: absolute_normalized(&config.root),
            },
            max_file_size: self.max_file_size,
            progress: self.progress,
            ..LoadOptions::default()
        };
        let renderers = Renderers {
            timeout: config.render_timeout(),
            ..self.renderers.clone()
        };
        let Some((repo, revision)) = &self.revision else {
            let options = ReadOptions {
                config,
                load: options,
                renderers,
                rewrite: None,
                environment: self.environment.clone(),
            };
            let started = std::time::Instant::now();
            let mut read = deployables::read::read(&self.paths, extra, &options, stdin)?;
            read.ws.timings.read = started.elapsed();
            return self.analyse(read);
        };
        // A revision is written to a temporary folder (Kustomize and Helm
        // need files) and read there, its files named as in the working tree.
        let copy = tempfile::Builder::new()
            .prefix("kubectl-inject-rev-")
            .tempdir()
            .map_err(|e| format!("a temporary folder for `{}`: {e}", revision.spec))?;
        let root = copy
            .path()
            .canonicalize()
            .map_err(|e| format!("{}: {e}", copy.path().display()))?;
        repo.checkout_to(revision, &root)?;
        let in_copy = |path: &std::path::Path| repo.repo_path(path).map(|rp| root.join(rp));
        // Paths new in the working tree have nothing at the revision.
        let paths: Vec<PathBuf> = self
            .paths
            .iter()
            .filter_map(|p| in_copy(p))
            .filter(|p| p.exists())
            .collect();
        let copied_config = Config {
            root: in_copy(&config.root).unwrap_or_else(|| root.clone()),
            ..config.clone()
        };
        let options = ReadOptions {
            config: &copied_config,
            load: LoadOptions {
                discover: DiscoverOptions {
                    ignore: config.ignore.clone(),
                    ignore_root: absolute_normalized(&copied_config.root),
                },
                ..options
            },
            renderers,
            rewrite: Some(Rewrite {
                copy: root.clone(),
                original: repo.workdir().to_path_buf(),
                named: self.paths.clone(),
            }),
            environment: self.environment.clone(),
        };
        let read = deployables::read::read(&paths, extra, &options, stdin)?;
        let analysed = Analysis {
            config: &copied_config,
            ..self.clone()
        }
        .analyse(read);
        drop(copy);
        analysed
    }

    /// Lints each environment of `read` on its own (rules that compare
    /// objects see one cluster at a time), maps findings in renderings to
    /// the files that wrote them, and reports a finding made the same in
    /// several deployables once.
    fn analyse(&self, read: Read) -> Result<(Workspace, LintOutcome), String> {
        let started = std::time::Instant::now();
        let (mut ws, outcome) = self.analyse_environments(read)?;
        ws.timings.analysis = started.elapsed();
        Ok((ws, outcome))
    }

    fn analyse_environments(&self, read: Read) -> Result<(Workspace, LintOutcome), String> {
        let config = self.config;
        let Read {
            mut ws,
            mut origins,
            problems,
        } = read;
        let read_findings = reading::findings(&ws.problems, &problems);
        let environments = ws.deployables.environments.clone();
        let selected: Vec<usize> = match &self.environment {
            None => (0..environments.len()).collect(),
            Some(name) => match environments.iter().position(|e| &e.name == name) {
                Some(i) => {
                    ws.deployables.selected = Some(EnvironmentId(i as u32));
                    vec![i]
                }
                None => {
                    let known: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(format!(
                        "no environment `{name}`: the paths hold {}",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ));
                }
            },
        };
        let options_for = |env: Option<&crate::model::deployable::Environment>| LintOptions {
            default_namespace: self
                .namespace
                .clone()
                .or_else(|| env.and_then(|e| e.namespace.clone()))
                .or_else(|| config.namespace.clone())
                .unwrap_or_else(|| "default".to_owned()),
            no_suppressions: self.no_suppressions,
            kubernetes_version: env
                .and_then(|e| e.kubernetes_version.as_deref())
                .and_then(crate::config::parse_version)
                .or_else(|| config.kubernetes_version()),
            manual_injector: self.manual_injector,
            keep_pods: self.keep_pods,
        };

        // One environment holding everything: no copies.
        if environments.len() <= 1 || self.one_cluster {
            let env = environments.first();
            let options = options_for(env);
            duplicate_object::mark_shadowed(&mut ws.objects, &options.default_namespace);
            let mut outcome = lint_with(&ws, read_findings, config, &options);
            let objects = std::mem::take(&mut ws.objects);
            let mut mapper = SourceMapper::new(&mut origins);
            tag_and_map(&objects, &mut ws.sources, &mut mapper, &mut outcome);
            ws.objects = objects;
            let merged = finish_outcome(&ws, outcome.diagnostics, outcome.simulation);
            return Ok((ws, merged));
        }

        let objects = std::mem::take(&mut ws.objects);
        let mut per_env: Vec<Vec<Object>> = vec![Vec::new(); environments.len()];
        for object in objects {
            let envs: Vec<usize> = ws
                .deployables
                .get(object.deployable)
                .map(|d| {
                    d.environments
                        .iter()
                        .map(|e| e.0 as usize)
                        .filter(|e| selected.contains(e))
                        .collect()
                })
                .unwrap_or_default();
            if let Some((last, rest)) = envs.split_last() {
                for &env in rest {
                    per_env[env].push(object.clone());
                }
                per_env[*last].push(object);
            }
        }
        // Findings of reading go to one environment each: that of their
        // deployable, else the first.
        let mut routed: Vec<Vec<Diagnostic>> = vec![Vec::new(); environments.len()];
        let file_deployable: HashMap<FileId, DeployableId> = per_env
            .iter()
            .flatten()
            .map(|o| (o.file, o.deployable))
            .collect();
        for d in read_findings {
            let deployable = d.deployables.first().copied().or_else(|| {
                d.at.as_ref()
                    .and_then(|at| file_deployable.get(&at.file).copied())
            });
            let env = deployable
                .and_then(|id| ws.deployables.get(id))
                .and_then(|dep| {
                    dep.environments
                        .iter()
                        .map(|e| e.0 as usize)
                        .find(|e| selected.contains(e))
                })
                .unwrap_or(selected[0]);
            routed[env].push(d);
        }

        // Environments are analysed in parallel (many small ones keep both
        // cores busy where one's own parallelism would not), then mapped
        // one after the other through one source map.
        let env_inputs: Vec<(usize, Workspace, Vec<Diagnostic>, LintOptions)> = selected
            .iter()
            .map(|&env| {
                let options = options_for(environments.get(env));
                let mut objects = std::mem::take(&mut per_env[env]);
                duplicate_object::mark_shadowed(&mut objects, &options.default_namespace);
                let env_ws = Workspace {
                    sources: ws.sources.clone(),
                    objects,
                    ..Workspace::default()
                };
                (env, env_ws, std::mem::take(&mut routed[env]), options)
            })
            .collect();
        let analysed: Vec<(usize, Workspace, LintOutcome)> = env_inputs
            .into_par_iter()
            .map(|(env, env_ws, read_findings, options)| {
                let outcome = lint_with(&env_ws, read_findings, config, &options);
                (env, env_ws, outcome)
            })
            .collect();
        let mut all_objects = Vec::new();
        let mut diagnostics = Vec::new();
        let mut simulation = Simulation::default();
        let mut mapper = SourceMapper::new(&mut origins);
        for (env, env_ws, mut outcome) in analysed {
            tag_and_map(&env_ws.objects, &mut ws.sources, &mut mapper, &mut outcome);
            let offset = all_objects.len();
            for mut workload in outcome.simulation.workloads {
                workload.object += offset;
                workload.environment = EnvironmentId(env as u32);
                simulation.workloads.push(workload);
            }
            if simulation.live.is_none() {
                simulation.live = outcome.simulation.live;
            }
            diagnostics.append(&mut outcome.diagnostics);
            all_objects.extend(env_ws.objects);
        }
        ws.objects = all_objects;
        let merged = finish_outcome(&ws, diagnostics, simulation);
        Ok((ws, merged))
    }
}

/// Names the deployables of each finding (by the object it is in), then
/// maps findings and workloads in renderings to the files that wrote them.
fn tag_and_map(
    objects: &[Object],
    sources: &mut crate::source::SourceMap,
    mapper: &mut SourceMapper<'_>,
    outcome: &mut LintOutcome,
) {
    let diagnostics = &mut outcome.diagnostics;
    let index = ObjectIndex::new(objects);
    for d in diagnostics.iter_mut() {
        if d.deployables.is_empty()
            && let Some(object) =
                d.at.as_ref()
                    .and_then(|at| index.containing(objects, at.file, at.span.start))
        {
            d.deployables.push(object.deployable);
        }
    }
    if !mapper.has_renderings() {
        return;
    }
    for d in diagnostics.iter_mut() {
        map_to_writers(objects, sources, mapper, d);
    }
    // A rendered workload is where its resource file defines it.
    for w in &mut outcome.simulation.workloads {
        let at = crate::diagnostic::FileSpan {
            file: w.file,
            span: w.offset..w.offset,
        };
        if let Some(place) = mapper.place(objects, sources, &at) {
            w.file = place.file;
            w.offset = place.span.start;
        }
    }
}

/// Points a finding, and its labels, that lie in a rendering at the files
/// that wrote them; the field path and the object it was about come along
/// when the finding names none.
fn map_to_writers(
    objects: &[Object],
    sources: &mut crate::source::SourceMap,
    mapper: &mut SourceMapper<'_>,
    d: &mut Diagnostic,
) {
    if let Some(at) = &d.at
        && let Some(mapped) = mapper.map_span(objects, sources, at)
    {
        if d.path.is_none() && !mapped.path.is_empty() {
            d.path = Some(mapped.path);
        }
        if d.object.is_none() {
            d.object = Some(mapped.object.object_ref("default"));
        }
        d.at = Some(mapped.at);
    }
    for label in &mut d.labels {
        if let Some(mapped) = mapper.map_span(objects, sources, &label.at) {
            label.at = mapped.at;
        }
    }
}

/// The outcome of a run from its findings and workloads: findings made the
/// same in several deployables (rule, place, message; the object too when
/// there is no place) reported once, listing them all; sorted; counted.
fn finish_outcome(
    ws: &Workspace,
    diagnostics: Vec<Diagnostic>,
    simulation: Simulation,
) -> LintOutcome {
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(diagnostics.len());
    // The objects each kept finding stands for, when they differ (the same
    // base Deployment in the namespace of each overlay).
    let mut others: HashMap<usize, Vec<ObjectRef>> = HashMap::new();
    let mut seen: HashMap<DedupKey, usize> = HashMap::new();
    for d in diagnostics {
        let key = DedupKey::of(&d);
        match seen.get(&key) {
            Some(&i) => {
                let first = &mut kept[i];
                for id in d.deployables {
                    if !first.deployables.contains(&id) {
                        first.deployables.push(id);
                    }
                }
                if let Some(object) = d.object
                    && first.object.as_ref() != Some(&object)
                {
                    others.entry(i).or_default().push(object);
                }
            }
            None => {
                seen.insert(key, kept.len());
                kept.push(d);
            }
        }
    }
    for (i, objects) in others {
        name_every_object(&mut kept[i], &objects);
    }
    for d in &mut kept {
        d.deployables.sort();
    }
    // By file name (files the source map added come last otherwise), then place.
    let name = |d: &Diagnostic| {
        d.at.as_ref()
            .map(|at| ws.sources.get(at.file).name.as_str())
    };
    kept.sort_by(|a, b| (name(a), a.sort_key()).cmp(&(name(b), b.sort_key())));
    let summary = summary_of(ws, &simulation, &kept);
    LintOutcome {
        diagnostics: kept,
        summary,
        simulation,
    }
}

/// The counts of a run.
fn summary_of(ws: &Workspace, simulation: &Simulation, diagnostics: &[Diagnostic]) -> Summary {
    let mut summary = Summary {
        files: ws.files,
        live_objects: ws.live_objects,
        documents: ws.documents,
        skipped_documents: ws.skipped_documents,
        workloads: simulation.workloads.len(),
        injected: simulation.injected(),
        ..Summary::default()
    };
    summary.count(diagnostics);
    summary
}

/// A finding that stands for several objects (one per overlay) names them
/// with `*` where they differ: `Deployment/*/web: …`.
fn name_every_object(d: &mut Diagnostic, others: &[ObjectRef]) {
    let Some(first) = d.object.clone() else {
        return;
    };
    let same = |f: &dyn Fn(&ObjectRef) -> &str| others.iter().all(|o| f(o) == f(&first));
    let namespace = first.namespace.as_deref().map(|ns| {
        if same(&|o| o.namespace.as_deref().unwrap_or_default()) {
            ns.to_owned()
        } else {
            "*".to_owned()
        }
    });
    let name = if same(&|o| &o.name) {
        first.name.clone()
    } else {
        "*".to_owned()
    };
    let general = ObjectRef {
        kind: first.kind.clone(),
        namespace,
        name,
    };
    d.message = d.message.replace(&first.to_string(), &general.to_string());
}

/// What makes two findings the same one: the rule, the place and the
/// message, with the object it names (`Deployment/dev/web: …`) left out of
/// the message, since the namespace differs from overlay to overlay.
#[derive(PartialEq, Eq, Hash)]
struct DedupKey {
    rule: &'static str,
    at: Option<(FileId, usize, usize)>,
    message: String,
    object: Option<crate::diagnostic::ObjectRef>,
}

impl DedupKey {
    fn of(d: &Diagnostic) -> DedupKey {
        DedupKey {
            rule: d.rule.id,
            at: d.at.as_ref().map(|a| (a.file, a.span.start, a.span.end)),
            message: match &d.object {
                Some(object) if d.at.is_some() => {
                    d.message.replace(&object.to_string(), "{object}")
                }
                _ => d.message.clone(),
            },
            object: if d.at.is_none() {
                d.object.clone()
            } else {
                None
            },
        }
    }
}

/// Runs every rule on `ws`.
pub fn lint(ws: &Workspace, config: &Config, options: &LintOptions) -> LintOutcome {
    let read_findings = ws.problems.iter().map(reading::load_finding).collect();
    lint_with(ws, read_findings, config, options)
}

/// [`lint`], with the findings of reading at hand: the loader's and the
/// deployables' (those of one environment, when the run has several).
fn lint_with(
    ws: &Workspace,
    read_findings: Vec<Diagnostic>,
    config: &Config,
    options: &LintOptions,
) -> LintOutcome {
    let ns = options.default_namespace.as_str();
    let mut diagnostics = read_findings;
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
    diagnostics.extend(crate::rules::labels_and_annotations::check_all(
        &ws.objects,
        ns,
        &cluster,
    ));
    diagnostics.extend(duplicate_object::check(&ws.objects, ns));
    let settings = engine::Settings {
        default_namespace: ns.to_owned(),
        kubernetes_version: options.kubernetes_version,
        manual_injector: options.manual_injector,
        keep_pods: options.keep_pods,
    };
    let (simulation, found) = crate::rules::simulation::simulate(ws, &settings, &cluster);
    diagnostics.extend(found);

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
    diagnostics.retain_mut(|d| match config.severity(d.rule.id, d.rule.severity) {
        Some(severity) => {
            d.severity = severity;
            true
        }
        None => false,
    });
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));

    let summary = summary_of(ws, &simulation, &diagnostics);
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
                d.path = Some(FieldPath::at(&object.root, at.span.start).pointer());
            }
            if d.object.is_none() {
                d.object = Some(object.object_ref(default_namespace));
            }
        }
        d.at = None;
    }
}

/// The counts every format reports.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Files read (objects read from a cluster are not files).
    pub files: usize,
    /// Objects read from a cluster; in the text reports only.
    #[serde(skip)]
    pub live_objects: usize,
    pub documents: usize,
    pub skipped_documents: usize,
    pub workloads: usize,
    pub injected: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Summary {
    /// Recounts findings by severity.
    pub fn count(&mut self, diagnostics: &[Diagnostic]) {
        self.errors = 0;
        self.warnings = 0;
        self.infos = 0;
        for d in diagnostics {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
                Severity::Info => self.infos += 1,
            }
        }
    }
}
