//! Reading a run's paths as deployables.
//!
//! 1. Discover the files; sort them into Kustomize roots, Helm charts and
//!    plain files ([`layout`](super::layout)).
//! 2. Load the plain files, and render the roots and charts with the real
//!    tools, in parallel; a rendering is loaded like a file (its objects
//!    carry their origin, kept for the source map).
//! 3. Follow the paths that Flux and Argo CD objects apply, reading those
//!    outside the inputs in another round.
//! 4. Group everything into deployables and environments, and tag each
//!    object with its deployable.
//!
//! Nothing here judges the objects: a build that fails, a remote base, a
//! path that does not exist become findings, and the run goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::{Glob, GlobSetBuilder};

use super::gitops::{self, PathRef};
use super::kustomization::{Kustomization, PatchBody, Target};
use super::layout::{self, Kustomizations};
use super::names::Names;
use super::origin::{self, DocumentOrigin};
use super::render::{self, RenderError, Rendered, Renderers};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::load::{Input, LoadOptions, Workspace, load_into};
use crate::model::deployable::{
    Deployable, DeployableId, DeployableKind, Deployables, Environment, EnvironmentId,
};
use crate::rules::not_run::Blocker;
use crate::rules::{
    build_failed, chart_not_rendered, missing_deployable_path, not_run, patch_matches_nothing,
};
use crate::source::{FileId, SourceFile, absolute_normalized, discover};

/// How to read.
pub struct ReadOptions<'a> {
    pub config: &'a Config,
    pub load: LoadOptions,
    pub renderers: Renderers,
    /// A tree read in place of another (a Git revision written to a
    /// temporary folder): files are named as in the other.
    pub rewrite: Option<Rewrite>,
    /// `--environment NAME`: the environment objects from a live cluster join.
    pub environment: Option<String>,
}

/// A copy of a tree read in its place: `copy` holds what `original` held,
/// and the user named `named` (paths in the original).
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub copy: PathBuf,
    pub original: PathBuf,
    pub named: Vec<PathBuf>,
}

/// Everything read, and what the source map needs to trace rendered
/// objects back to the files that wrote them.
#[derive(Debug, Default)]
pub struct Read {
    pub ws: Workspace,
    pub origins: Origins,
}

/// Where rendered objects came from.
#[derive(Debug, Default)]
pub struct Origins {
    /// Every kustomization read, by directory.
    pub kustomizations: Kustomizations,
    /// Each rendering in the source map, by its file id.
    pub rendered: HashMap<FileId, RenderedFile>,
    /// Helm charts among the inputs, by chart name (for `# Source:` lines).
    pub charts: BTreeMap<String, PathBuf>,
    pub names: Names,
    /// Files of the user's already in the source map, by absolute path.
    pub files: HashMap<PathBuf, FileId>,
}

/// One rendering (or a file holding a renderer's output).
#[derive(Debug, Default)]
pub struct RenderedFile {
    /// The Kustomize root it was built from.
    pub root: Option<PathBuf>,
    /// The directory of a file holding rendered output (for `# Source:`).
    pub dir: Option<PathBuf>,
    /// The origin of each document, by the offset of its root node.
    pub documents: Vec<(usize, DocumentOrigin)>,
    /// Helm's `# Source:` comments, by offset.
    pub helm_sources: Vec<(usize, String)>,
}

impl RenderedFile {
    /// The origin of the document starting at or before `offset`.
    pub fn origin_at(&self, offset: usize) -> Option<&DocumentOrigin> {
        last_at(&self.documents, offset)
    }

    /// The Helm template of the document at `offset`.
    pub fn helm_source_at(&self, offset: usize) -> Option<&str> {
        last_at(&self.helm_sources, offset).map(String::as_str)
    }
}

fn last_at<T>(items: &[(usize, T)], offset: usize) -> Option<&T> {
    let i = items.partition_point(|(start, _)| *start <= offset);
    items.get(i.checked_sub(1)?).map(|(_, t)| t)
}

impl Origins {
    /// The source-map id of a file of the user's, read and added once.
    pub fn file_id(&mut self, ws: &mut Workspace, path: &Path) -> Option<FileId> {
        if let Some(id) = self.files.get(path) {
            return Some(*id);
        }
        let text = std::fs::read_to_string(self.names.real(path))
            .or_else(|_| std::fs::read_to_string(path))
            .ok()?;
        Some(self.add_file(ws, path, text))
    }

    fn add_file(&mut self, ws: &mut Workspace, path: &Path, text: String) -> FileId {
        let id = ws
            .sources
            .add(SourceFile::new(self.names.display(path), text));
        self.files.insert(path.to_path_buf(), id);
        id
    }
}

/// A deployable before it has an id: what it is made of.
#[derive(Debug)]
struct Unit {
    kind: DeployableKind,
    dir: PathBuf,
    files: Vec<FileId>,
    name: Option<String>,
    namespace: Option<String>,
    force_namespace: bool,
    /// Applied to every environment (the configuration's `policies`).
    shared: bool,
    /// Objects read from a live cluster: they join the environment the
    /// run names (`--environment`), or its only one.
    live: bool,
}

/// A path a Flux or Argo CD object applies, and where that object is.
#[derive(Debug)]
struct FoundRef {
    re: PathRef,
    /// The file holding the object (absolute; for a rendered object, the
    /// file it was rendered from).
    held_in: PathBuf,
    /// The source-map file and span of the object (for findings).
    file: FileId,
    resolved: Option<PathBuf>,
}

/// A render to run: a Kustomize root or a chart.
#[derive(Debug, Clone)]
enum Job {
    Kustomize(PathBuf),
    Chart {
        dir: PathBuf,
        values: Vec<PathBuf>,
        namespace: Option<String>,
    },
}

struct Reader<'a> {
    options: &'a ReadOptions<'a>,
    read: Read,
    /// Plain files loaded: id, absolute path, and whether they are the
    /// configuration's `policies`.
    plain: Vec<(FileId, PathBuf, bool)>,
    /// Roots and charts rendered (or refused), with their renderings.
    rendered_units: Vec<(Job, Vec<FileId>)>,
    /// Directories walked so far (their files are all known).
    walked: Vec<PathBuf>,
    refs: Vec<FoundRef>,
    /// Objects already scanned for Flux/Argo CD paths.
    scanned: usize,
    /// Files under kustomizations that nothing uses.
    unused: usize,
    /// Files read by renderers (counted as files in the summary).
    read_by_renderers: BTreeSet<PathBuf>,
    /// Findings about a root or chart, by index, and its directory (they
    /// name its deployable once it has an id).
    tags: Vec<(usize, PathBuf)>,
}

/// Reads `paths` (and the configuration's `policies`) as deployables.
/// `extra` are objects from elsewhere (a live cluster), which join the one
/// environment of the run. Fails only when a named path does not exist.
pub fn read(
    paths: &[PathBuf],
    extra: Vec<Input>,
    options: &ReadOptions<'_>,
    stdin: impl std::io::Read,
) -> Result<Read, String> {
    let config = options.config;
    let policies: Vec<PathBuf> = config
        .policies
        .iter()
        .map(|p| config.root.join(p))
        .collect();
    let mut named: Vec<PathBuf> = paths.to_vec();
    named.extend(policies.iter().cloned());
    let names = match &options.rewrite {
        None => Names::new(&named),
        Some(rewrite) => {
            Names::new(&rewrite.named).with_rewrite(rewrite.copy.clone(), rewrite.original.clone())
        }
    };
    let mut reader = Reader {
        options,
        read: Read::default(),
        plain: Vec::new(),
        rendered_units: Vec::new(),
        walked: Vec::new(),
        refs: Vec::new(),
        scanned: 0,
        unused: 0,
        read_by_renderers: BTreeSet::new(),
        tags: Vec::new(),
    };
    reader.read.origins.names = names;

    let found = discover(paths, &options.load.discover)?;
    let found_policies = discover(&policies, &options.load.discover)?;
    let policy_files: BTreeSet<PathBuf> = found_policies
        .files
        .iter()
        .map(|f| absolute_normalized(f))
        .collect();
    let files: Vec<PathBuf> = found
        .files
        .iter()
        .filter(|f| f.as_os_str() == "-" || !policy_files.contains(&absolute_normalized(f)))
        .cloned()
        .collect();
    let mut errors = found.errors;
    errors.extend(found_policies.errors);

    // Policies are plain files every environment reads.
    reader.load_plain(
        &found_policies.files,
        true,
        Vec::new(),
        &mut std::io::empty(),
    );
    let mut stdin = stdin.take(options.load.max_file_size + 1);
    reader.round(&files, paths, errors, extra, &mut stdin);
    // Paths that Flux and Argo CD apply, outside what was read: more rounds.
    for _ in 0..8 {
        let next = reader.paths_to_follow();
        if next.is_empty() {
            break;
        }
        let found = discover(&next, &options.load.discover)?;
        reader.round(
            &found.files,
            &next,
            found.errors,
            Vec::new(),
            &mut std::io::empty(),
        );
    }
    reader.check_refs();
    reader.finish()
}

impl Reader<'_> {
    /// One round: lay out `files` (found under `named`), load the plain
    /// ones, render the roots and charts, scan for Flux/Argo CD paths.
    fn round(
        &mut self,
        files: &[PathBuf],
        named: &[PathBuf],
        errors: Vec<crate::source::InputError>,
        extra: Vec<Input>,
        stdin: &mut dyn std::io::Read,
    ) {
        self.walked.extend(
            named
                .iter()
                .filter(|p| p.is_dir())
                .map(|p| absolute_normalized(p)),
        );
        let laid = layout::layout(files, named, &mut self.read.origins.kustomizations);
        self.unused += laid.unused.len();
        self.load_plain(&laid.plain, false, extra, stdin);
        let mut load_errors = errors;
        load_errors.retain(|e| !e.path.is_empty() || !e.message.is_empty());
        if !load_errors.is_empty() {
            load_into(
                &mut self.read.ws,
                Vec::new(),
                load_errors,
                &self.options.load,
            );
        }
        self.scan_refs();
        for chart in &laid.charts {
            if let Some(name) = chart_name(chart) {
                self.read
                    .origins
                    .charts
                    .entry(name)
                    .or_insert(chart.clone());
            }
        }
        let mut jobs: Vec<Job> = laid.roots.into_iter().map(Job::Kustomize).collect();
        jobs.extend(laid.charts.iter().map(|dir| self.chart_job(dir)));
        // Flux and Argo CD paths to a kustomization that is not a root
        // (another one uses it): Flux applies it on its own, so it is built on its own.
        for found in &self.refs {
            let Some(dir) = &found.resolved else { continue };
            let is_kustomization = self.read.origins.kustomizations.contains_key(dir)
                || super::kustomization::file_in(dir).is_some();
            let known = self
                .rendered_units
                .iter()
                .any(|(job, _)| job_dir(job) == dir)
                || jobs.iter().any(|job| job_dir(job) == dir);
            if is_kustomization && !known && self.is_walked(dir) {
                layout::read_into(dir, &mut self.read.origins.kustomizations);
                jobs.push(Job::Kustomize(dir.clone()));
            }
        }
        self.render(jobs);
        self.scan_refs();
    }

    fn is_walked(&self, path: &Path) -> bool {
        self.walked.iter().any(|w| path.starts_with(w))
    }

    fn chart_job(&self, dir: &Path) -> Job {
        let config = self.options.config;
        let mut values = Vec::new();
        let mut namespace = None;
        for env in &config.environments {
            if matches_paths(&env.paths, &config.root, dir) {
                values.extend(
                    env.helm
                        .values
                        .iter()
                        .map(|v| absolute_normalized(&config.root.join(v))),
                );
                namespace = namespace.or_else(|| env.namespace.clone());
                break;
            }
        }
        for found in &self.refs {
            if found.resolved.as_deref() == Some(dir) {
                values.extend(found.re.helm_values.iter().map(|v| dir.join(v)));
                namespace = namespace.or_else(|| found.re.namespace.clone());
            }
        }
        Job::Chart {
            dir: dir.to_path_buf(),
            values,
            namespace,
        }
    }

    /// Loads plain files (and `extra` inputs), remembering them.
    fn load_plain(
        &mut self,
        files: &[PathBuf],
        shared: bool,
        extra: Vec<Input>,
        stdin: &mut dyn std::io::Read,
    ) {
        let mut inputs = Vec::with_capacity(files.len() + extra.len());
        let mut absolute = Vec::with_capacity(files.len());
        let mut stdin_origins = None;
        for path in files {
            if path.as_os_str() == "-" {
                let mut bytes = Vec::new();
                let bytes = stdin
                    .read_to_end(&mut bytes)
                    .map(|_| bytes)
                    .map_err(|e| crate::load::ReadError::Io(format!("reading stdin: {e}")));
                // `kustomize build` output piped in keeps its origins:
                // findings go to the files named there, relative to here.
                let bytes = match bytes {
                    Ok(bytes) if memchr::memmem::find(&bytes, ORIGIN_KEY).is_some() => {
                        match String::from_utf8(bytes) {
                            Ok(text) => {
                                let cwd = absolute_normalized(Path::new("."));
                                let stripped = origin::strip_origins(&text, &cwd);
                                stdin_origins = Some(stripped.origins);
                                Ok(stripped.text.into_bytes())
                            }
                            Err(e) => Ok(e.into_bytes()),
                        }
                    }
                    other => other,
                };
                inputs.push(Input::Read {
                    name: "<stdin>".into(),
                    bytes,
                });
                absolute.push(absolute_normalized(Path::new(".")).join("<stdin>"));
            } else if self.options.rewrite.is_some() {
                let abs = absolute_normalized(path);
                inputs.push(Input::NamedPath {
                    path: path.clone(),
                    name: self.read.origins.names.display(&abs),
                });
                absolute.push(abs);
            } else {
                inputs.push(Input::Path(path.clone()));
                absolute.push(absolute_normalized(path));
            }
        }
        let extra_count = extra.len();
        inputs.extend(extra);
        if inputs.is_empty() {
            return;
        }
        let first = load_into(&mut self.read.ws, inputs, Vec::new(), &self.options.load);
        for (i, path) in absolute.into_iter().enumerate() {
            let id = FileId(first.0 + i as u32);
            let source = self.read.ws.sources.get(id).clone();
            if !source.live {
                self.read.origins.files.insert(path.clone(), id);
            }
            // Rendered output saved as a file, or piped in, names its sources.
            let helm_sources = if source.text.contains("# Source: ") {
                origin::helm_sources(&source.text)
            } else {
                Vec::new()
            };
            let documents = if source.name == "<stdin>" {
                stdin_origins.take().unwrap_or_default()
            } else {
                Vec::new()
            };
            if !helm_sources.is_empty() || !documents.is_empty() {
                self.read.origins.rendered.insert(
                    id,
                    RenderedFile {
                        root: None,
                        dir: path.parent().map(Path::to_path_buf),
                        documents,
                        helm_sources,
                    },
                );
            }
            self.plain.push((id, path, shared));
        }
        // Live objects: one more plain file each, with no path.
        for i in 0..extra_count {
            let id = FileId(first.0 + (files.len() + i) as u32);
            self.plain.push((id, PathBuf::new(), false));
        }
    }

    /// Renders `jobs` in parallel, one process per job, and loads what they print.
    fn render(&mut self, jobs: Vec<Job>) {
        let mut runnable = Vec::new();
        for job in &jobs {
            // What Kustomize reads counts as files read, built or not.
            if let Job::Kustomize(root) = job {
                let closure = layout::closure(root, &self.read.origins.kustomizations);
                self.read_by_renderers
                    .extend(closure.files.into_iter().filter(|f| f.is_file()));
            }
        }
        for job in jobs {
            let blocked = match &job {
                Job::Kustomize(root) => self.blockers(root),
                Job::Chart { .. } => false,
            };
            if blocked {
                self.rendered_units.push((job, Vec::new()));
            } else {
                runnable.push(job);
            }
        }
        let started = std::time::Instant::now();
        let results = run_parallel(&runnable, &self.options.renderers);
        let timings = &mut self.read.ws.timings;
        timings.render_wall += started.elapsed();
        timings.renders += runnable.len();
        timings.render_total += results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.elapsed)
            .sum();
        for (job, result) in runnable.into_iter().zip(results) {
            let files = match result {
                Ok(rendered) => self.load_rendering(&job, rendered),
                Err(error) => {
                    self.build_error(&job, &error);
                    Vec::new()
                }
            };
            self.rendered_units.push((job, files));
        }
    }

    /// Findings for what keeps `root` from being built here (remote bases,
    /// `helmCharts`, plugins); whether there were any.
    fn blockers(&mut self, root: &Path) -> bool {
        let closure = layout::closure(root, &self.read.origins.kustomizations);
        let what = self.read.origins.names.display(root);
        let mut found: Vec<(PathBuf, Range<usize>, Blocker, String)> = Vec::new();
        for dir in &closure.dirs {
            let Some(k) = self.read.origins.kustomizations.get(dir) else {
                continue;
            };
            for r in k.resources.iter().chain(&k.components) {
                if r.target == Target::Remote {
                    found.push((
                        k.file.clone(),
                        r.span.clone(),
                        Blocker::Remote,
                        r.text.clone(),
                    ));
                }
            }
            for span in &k.helm_charts {
                found.push((
                    k.file.clone(),
                    span.clone(),
                    Blocker::HelmCharts,
                    String::new(),
                ));
            }
            for plugin in &k.plugins {
                if !is_builtin_plugin(plugin) {
                    let entry = plugin.text.lines().next().unwrap_or_default().to_owned();
                    found.push((k.file.clone(), plugin.span.clone(), Blocker::Plugin, entry));
                }
            }
        }
        let blocked = !found.is_empty();
        for (file, span, blocker, entry) in found {
            let text = self
                .read
                .origins
                .kustomizations
                .get(file.parent().unwrap_or(&file))
                .map(|k| k.text.clone());
            let id = match text {
                Some(text) => self.user_file(&file, text),
                None => continue,
            };
            let d = not_run::new(id, span, blocker, &entry, &what);
            self.push_about(root, d);
        }
        blocked
    }

    /// The source-map id of a user file whose text is at hand.
    fn user_file(&mut self, path: &Path, text: String) -> FileId {
        if let Some(id) = self.read.origins.files.get(path) {
            return *id;
        }
        self.read.origins.add_file(&mut self.read.ws, path, text)
    }

    fn load_rendering(&mut self, job: &Job, rendered: Rendered) -> Vec<FileId> {
        let (name, stripped, root, dir) = match job {
            Job::Kustomize(root) => {
                let base = rendered.wrapper_dir.clone().unwrap_or_else(|| root.clone());
                let stripped = origin::strip_origins(&rendered.text, &base);
                let name = format!(
                    "<{} {}>",
                    rendered.program,
                    self.read.origins.names.display(root)
                );
                (name, stripped, Some(root.clone()), None)
            }
            Job::Chart { dir, .. } => {
                let name = format!("<helm template {}>", self.read.origins.names.display(dir));
                let stripped = origin::Stripped {
                    text: rendered.text,
                    origins: Vec::new(),
                };
                (name, stripped, None, Some(dir.clone()))
            }
        };
        let helm_sources = if matches!(job, Job::Chart { .. }) {
            origin::helm_sources(&stripped.text)
        } else {
            Vec::new()
        };
        let id = load_into(
            &mut self.read.ws,
            vec![Input::Rendered {
                name,
                text: stripped.text,
            }],
            Vec::new(),
            &self.options.load,
        );
        self.read.origins.rendered.insert(
            id,
            RenderedFile {
                root,
                dir,
                documents: stripped.origins,
                helm_sources,
            },
        );
        if let Job::Kustomize(root) = job {
            self.check_patches(root, id);
        }
        vec![id]
    }

    fn build_error(&mut self, job: &Job, error: &RenderError) {
        let (dir, file) = match job {
            Job::Kustomize(root) => {
                let file = self
                    .read
                    .origins
                    .kustomizations
                    .get(root)
                    .map(|k| k.file.clone())
                    .or_else(|| super::kustomization::file_in(root));
                (root.clone(), file)
            }
            Job::Chart { dir, .. } => (dir.clone(), Some(dir.join("Chart.yaml"))),
        };
        let Some(file) = file else { return };
        let Some(id) = self.read.origins.file_id(&mut self.read.ws, &file) else {
            return;
        };
        let display = self.read.origins.names.display(&dir);
        let text = self.read.ws.sources.get(id).text.clone();
        let whole = first_key_span(&text);
        let diagnostic = match (job, error) {
            (Job::Chart { .. }, RenderError::Missing { .. }) => {
                let span = name_span(&text).unwrap_or(whole);
                chart_not_rendered::new(id, span, &display)
            }
            (_, RenderError::Missing { tried }) => build_failed::missing(
                id,
                whole,
                &format!("building {display}"),
                &tried.join(" or "),
            ),
            (_, RenderError::TimedOut { program, after }) => build_failed::timed_out(
                id,
                whole,
                &format!("`{program} {display}`"),
                after.as_secs_f64(),
            ),
            (_, RenderError::Failed { program, message }) => {
                let span = match job {
                    Job::Kustomize(root) => self.blamed_entry(root, message),
                    Job::Chart { .. } => None,
                };
                let (span, file) = span.unwrap_or((whole, id));
                build_failed::failed(file, span, &format!("`{program} {display}`"), message)
            }
        };
        self.push_about(&dir, diagnostic);
    }

    /// Adds a finding about the root or chart in `dir`.
    fn push_about(&mut self, dir: &Path, diagnostic: Diagnostic) {
        self.tags
            .push((self.read.ws.diagnostics.len(), dir.to_path_buf()));
        self.read.ws.diagnostics.push(diagnostic);
    }

    /// The kustomization entry a Kustomize error names: the file that is
    /// not YAML, the resource, component or patch it quotes, the field it
    /// does not know, the patch whose object is missing. Searched from the
    /// innermost kustomization out (Kustomize's message ends with the
    /// cause), but from the root in for a cycle (where the root enters it).
    fn blamed_entry(&mut self, root: &Path, message: &str) -> Option<(Range<usize>, FileId)> {
        let mut dirs = layout::closure(root, &self.read.origins.kustomizations).dirs;
        if !message.contains("cycle detected") {
            dirs.reverse();
        }
        let unknown_field = message
            .split_once("unknown field \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(field, _)| field.to_owned());
        let missing_target = smp_target(message);
        let known = &self.read.origins.kustomizations;
        let hit = dirs.iter().filter_map(|dir| known.get(dir)).find_map(|k| {
            if message.contains("invalid Kustomization: yaml")
                && let Some(problem) = &k.problem
            {
                return Some((k, problem.clone()));
            }
            if let Some(field) = &unknown_field
                && let Some(span) = k.field_key_span(field)
            {
                return Some((k, span));
            }
            let quoted = |text: &str| {
                message.contains(&format!("'{text}'")) || message.contains(&format!("\"{text}\""))
            };
            if let Some(r) = k
                .resources
                .iter()
                .chain(&k.components)
                .chain(&k.files)
                .find(|r| quoted(&r.text))
            {
                return Some((k, r.span.clone()));
            }
            k.patches.iter().find_map(|p| {
                let (kind, name) = missing_target.as_ref()?;
                let span = match &p.body {
                    PatchBody::File { path, span } => {
                        let text = std::fs::read_to_string(path).ok()?;
                        names_object(&text, kind, name).then(|| span.clone())?
                    }
                    PatchBody::Inline(node) => {
                        names_object(node.as_str()?, kind, name).then(|| p.entry.clone())?
                    }
                };
                Some((k, span))
            })
        });
        let (file, text, span) = hit.map(|(k, span)| (k.file.clone(), k.text.clone(), span))?;
        let id = self.user_file(&file, text);
        Some((span, id))
    }

    /// INJ014: patches with a `target` that no object of `root` matches.
    fn check_patches(&mut self, root: &Path, rendered: FileId) {
        let closure = layout::closure(root, &self.read.origins.kustomizations);
        let objects: Vec<usize> = self
            .read
            .ws
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| o.file == rendered)
            .map(|(i, _)| i)
            .collect();
        let Some(file) = self.read.origins.rendered.get(&rendered) else {
            return;
        };
        let deployable = self.read.origins.names.display(root);
        let mut findings = Vec::new();
        for dir in &closure.dirs {
            let Some(k) = self.read.origins.kustomizations.get(dir) else {
                continue;
            };
            // Objects this kustomization transformed (every one it built
            // carries it among its transformations).
            let in_scope: Vec<&crate::model::Object> = objects
                .iter()
                .map(|&i| &self.read.ws.objects[i])
                .filter(|o| {
                    file.origin_at(o.root.span.start).is_some_and(|origin| {
                        origin
                            .transformations
                            .iter()
                            .any(|t| t.configured_in == k.file)
                    })
                })
                .collect();
            if in_scope.is_empty() {
                continue;
            }
            let chain = layout::chain_to(root, &k.dir, &self.read.origins.kustomizations);
            for patch in &k.patches {
                let Some(target) = &patch.target else {
                    continue;
                };
                let matched = in_scope.iter().any(|o| {
                    let names = names_at_level(o, &chain, &self.read.origins.kustomizations);
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let meta = o.root.get("metadata");
                    let empty = crate::yaml::Node::from_json(&serde_json::json!({}));
                    let labels = meta.and_then(|m| m.get("labels")).unwrap_or(&empty);
                    let annotations = meta.and_then(|m| m.get("annotations")).unwrap_or(&empty);
                    target.matches(
                        &o.api_version,
                        &o.kind,
                        &names,
                        o.namespace.as_deref(),
                        labels,
                        annotations,
                    )
                });
                if !matched {
                    findings.push((
                        k.file.clone(),
                        k.text.clone(),
                        patch.entry.clone(),
                        describe(target),
                    ));
                }
            }
        }
        for (path, text, span, target) in findings {
            let id = self.user_file(&path, text);
            let d = patch_matches_nothing::new(id, span, &target, &deployable);
            self.push_about(root, d);
        }
    }

    /// Finds Flux and Argo CD objects among the objects loaded since the last scan.
    fn scan_refs(&mut self) {
        let objects = &self.read.ws.objects[self.scanned..];
        let mut found = Vec::new();
        for object in objects {
            let refs = gitops::path_refs(object);
            if refs.is_empty() {
                continue;
            }
            let held_in = self.held_in(object);
            for re in refs {
                let from = held_in.parent().unwrap_or(&held_in).to_path_buf();
                let resolved = gitops::resolve(&re.path, &from);
                found.push(FoundRef {
                    re,
                    held_in: held_in.clone(),
                    file: object.file,
                    resolved,
                });
            }
        }
        self.scanned = self.read.ws.objects.len();
        self.refs.extend(found);
    }

    /// The file an object was written in: its own, or for a rendered one
    /// the resource it was rendered from (else the root).
    fn held_in(&self, object: &crate::model::Object) -> PathBuf {
        if let Some(rendered) = self.read.origins.rendered.get(&object.file) {
            if let Some(path) = rendered
                .origin_at(object.root.span.start)
                .and_then(|o| o.path.clone())
            {
                return path;
            }
            if let Some(root) = &rendered.root {
                return root.join("kustomization.yaml");
            }
        }
        self.plain
            .iter()
            .find(|(id, _, _)| *id == object.file)
            .map(|(_, path, _)| path.clone())
            .unwrap_or_default()
    }

    /// Directories Flux or Argo CD apply that no round has read yet.
    fn paths_to_follow(&mut self) -> Vec<PathBuf> {
        let mut next: Vec<PathBuf> = self
            .refs
            .iter()
            .filter_map(|r| r.resolved.clone())
            .filter(|dir| dir.is_dir() && !self.is_walked(dir))
            .collect();
        next.sort();
        next.dedup();
        // Outermost first; nested ones come with them.
        let outer: Vec<PathBuf> = next
            .iter()
            .filter(|d| !next.iter().any(|o| o != *d && d.starts_with(o)))
            .cloned()
            .collect();
        outer
    }

    /// INJ013 for paths that resolve nowhere.
    fn check_refs(&mut self) {
        let mut findings = Vec::new();
        for found in &self.refs {
            if found.resolved.is_some() {
                continue;
            }
            let object = self
                .read
                .ws
                .objects
                .iter()
                .find(|o| o.file == found.file && o.root.span.contains(&found.re.span.start));
            let span = object.map_or(0..0, |_| found.re.span.clone());
            findings.push(missing_deployable_path::new(
                found.file,
                span,
                &format!(
                    "{} {}",
                    match found.re.kind {
                        DeployableKind::ArgoCd => "Application",
                        _ => "Kustomization",
                    },
                    found.re.name
                ),
                &found.re.path,
                &found.re.source,
            ));
        }
        self.read.ws.diagnostics.extend(findings);
    }

    /// Groups what was read into deployables and environments.
    fn finish(mut self) -> Result<Read, String> {
        let config = self.options.config;
        let mut units: Vec<Unit> = Vec::new();
        // Roots and charts.
        for (job, files) in std::mem::take(&mut self.rendered_units) {
            let (kind, dir) = match &job {
                Job::Kustomize(root) => (DeployableKind::Kustomize, root.clone()),
                Job::Chart { dir, .. } => (DeployableKind::Helm, dir.clone()),
            };
            if units.iter().any(|u| u.dir == dir && u.kind == kind) {
                continue;
            }
            units.push(Unit {
                kind,
                dir,
                files,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: false,
                live: false,
            });
        }
        // Plain folders that Flux or Argo CD apply, and Flux cluster folders.
        let flux_dirs: Vec<PathBuf> = self
            .refs
            .iter()
            .filter(|r| r.re.kind == DeployableKind::Flux)
            .filter_map(|r| r.resolved.clone())
            .collect();
        let mut folders: Vec<PathBuf> = self
            .refs
            .iter()
            .filter(|r| r.re.kind == DeployableKind::Flux)
            .map(|r| gitops::cluster_folder(&r.held_in, &flux_dirs))
            .collect();
        folders.sort();
        folders.dedup();
        let mut plain_dirs: Vec<PathBuf> = self
            .refs
            .iter()
            .filter_map(|r| r.resolved.clone())
            .filter(|d| d.is_dir() && !units.iter().any(|u| &u.dir == d))
            .chain(folders.iter().cloned())
            .collect();
        plain_dirs.sort();
        plain_dirs.dedup();
        let mut groups: BTreeMap<PathBuf, Vec<FileId>> = BTreeMap::new();
        let mut by_env: BTreeMap<usize, Vec<FileId>> = BTreeMap::new();
        let mut rest = Vec::new();
        let mut shared = Vec::new();
        let mut live = Vec::new();
        for (id, path, is_policy) in &self.plain {
            if *is_policy {
                shared.push(*id);
                continue;
            }
            if path.as_os_str().is_empty() {
                live.push(*id);
                continue;
            }
            // The innermost applied folder holding the file.
            let folder = plain_dirs
                .iter()
                .filter(|d| !path.as_os_str().is_empty() && path.starts_with(d))
                .max_by_key(|d| d.components().count());
            if let Some(folder) = folder {
                groups.entry(folder.clone()).or_default().push(*id);
            } else if let Some(env) = config.environments.iter().position(|e| {
                !path.as_os_str().is_empty() && matches_paths(&e.paths, &config.root, path)
            }) {
                by_env.entry(env).or_default().push(*id);
            } else {
                rest.push(*id);
            }
        }
        for (dir, files) in groups {
            units.push(Unit {
                kind: DeployableKind::Files,
                dir,
                files,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: false,
                live: false,
            });
        }
        for (_, files) in by_env {
            let dir = self.common_dir(&files);
            units.push(Unit {
                kind: DeployableKind::Files,
                dir,
                files,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: false,
                live: false,
            });
        }
        if !rest.is_empty() || (units.is_empty() && live.is_empty()) {
            let dir = self.common_dir(&rest);
            units.push(Unit {
                kind: DeployableKind::Files,
                dir,
                files: rest,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: false,
                live: false,
            });
        }
        if !shared.is_empty() {
            let dir = self.common_dir(&shared);
            units.push(Unit {
                kind: DeployableKind::Files,
                dir,
                files: shared,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: true,
                live: false,
            });
        }
        if !live.is_empty() {
            units.push(Unit {
                kind: DeployableKind::Files,
                dir: PathBuf::from("cluster"),
                files: live,
                name: None,
                namespace: None,
                force_namespace: false,
                shared: false,
                live: true,
            });
        }
        // What Flux and Argo CD objects say of the units they apply.
        for found in &self.refs {
            let Some(dir) = &found.resolved else { continue };
            for unit in units.iter_mut().filter(|u| &u.dir == dir) {
                unit.kind = found.re.kind;
                unit.name.get_or_insert_with(|| found.re.name.clone());
                if unit.namespace.is_none() {
                    unit.namespace = found.re.namespace.clone();
                    unit.force_namespace = found.re.force_namespace;
                }
            }
        }

        let mut environments = assign_environments(
            &units,
            &self.refs,
            &folders,
            &self.plain,
            config,
            &self.read.origins,
        );
        if let Some(live) = units.iter().position(|u| u.live) {
            let env = match &self.options.environment {
                Some(name) => environments.iter().position(|e| &e.name == name),
                None if environments.len() == 1 => Some(0),
                None => {
                    let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(format!(
                        "the paths hold {} environments ({}); name the one this cluster is with --environment",
                        names.len(),
                        names.join(", ")
                    ));
                }
            };
            let Some(env) = env else {
                return Err(format!(
                    "no environment `{}` among the paths",
                    self.options.environment.as_deref().unwrap_or_default()
                ));
            };
            environments[env].units.insert(live);
        }
        let names = &self.read.origins.names;
        let mut deployables = Deployables::default();
        for (env_index, env) in environments.iter().enumerate() {
            let config_env = config.environments.iter().find(|e| e.name == env.name);
            deployables.environments.push(Environment {
                name: env.name.clone(),
                deployables: Vec::new(),
                kubernetes_version: config_env.and_then(|e| e.kubernetes_version.clone()),
                namespace: config_env.and_then(|e| e.namespace.clone()),
                helm_values: config_env
                    .map(|e| e.helm.values.iter().map(|v| config.root.join(v)).collect())
                    .unwrap_or_default(),
            });
            let _ = env_index;
        }
        let mut file_deployable: HashMap<FileId, DeployableId> = HashMap::new();
        for (i, unit) in units.iter().enumerate() {
            let id = DeployableId(i as u32);
            let envs: Vec<EnvironmentId> = if unit.shared {
                (0..environments.len())
                    .map(|e| EnvironmentId(e as u32))
                    .collect()
            } else {
                environments
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.units.contains(&i))
                    .map(|(e, _)| EnvironmentId(e as u32))
                    .collect()
            };
            for env in &envs {
                deployables.environments[env.0 as usize]
                    .deployables
                    .push(id);
            }
            deployables.list.push(Deployable {
                kind: unit.kind,
                path: if unit.live {
                    "cluster".to_owned()
                } else {
                    names.display(&unit.dir)
                },
                dir: unit.dir.clone(),
                name: unit.name.clone(),
                environments: envs,
                namespace: unit.namespace.clone(),
                force_namespace: unit.force_namespace,
                files: unit.files.clone(),
            });
            for file in &unit.files {
                file_deployable.insert(*file, id);
            }
        }
        for object in &mut self.read.ws.objects {
            let id = file_deployable
                .get(&object.file)
                .copied()
                .unwrap_or_default();
            object.deployable = id;
            let Some(d) = deployables.get(id) else {
                continue;
            };
            if let Some(ns) = &d.namespace
                && !object.is_cluster_scoped()
                && (d.force_namespace || object.namespace.is_none())
            {
                object.namespace = Some(ns.clone());
            }
        }
        // Files Kustomize read count as files, once, unless read as plain files too.
        let plain: BTreeSet<&PathBuf> = self.plain.iter().map(|(_, p, _)| p).collect();
        self.read.ws.files += self
            .read_by_renderers
            .iter()
            .filter(|p| !plain.contains(p))
            .count();
        for (index, dir) in std::mem::take(&mut self.tags) {
            let id = deployables.list.iter().position(|d| d.dir == dir);
            if let (Some(id), Some(d)) = (id, self.read.ws.diagnostics.get_mut(index)) {
                d.deployables = vec![DeployableId(id as u32)];
            }
        }
        self.read.ws.unused_files = self.unused;
        self.read.ws.deployables = deployables;
        Ok(self.read)
    }

    /// The deepest directory holding all of `files`.
    fn common_dir(&self, files: &[FileId]) -> PathBuf {
        let paths: Vec<&Path> = self
            .plain
            .iter()
            .filter(|(id, path, _)| files.contains(id) && !path.as_os_str().is_empty())
            .map(|(_, p, _)| p.parent().unwrap_or(p))
            .collect();
        let Some(first) = paths.first() else {
            return absolute_normalized(Path::new("."));
        };
        let mut common = first.to_path_buf();
        for p in &paths[1..] {
            while !p.starts_with(&common) {
                if !common.pop() {
                    break;
                }
            }
        }
        common
    }
}

/// One environment as assigned: its name and the units in it.
struct Assigned {
    name: String,
    units: BTreeSet<usize>,
}

/// Environments (SPEC): the configuration's first (by path), then one per
/// Flux cluster folder (with what its Flux objects apply, transitively),
/// then one per remaining deployable.
fn assign_environments(
    units: &[Unit],
    refs: &[FoundRef],
    folders: &[PathBuf],
    plain: &[(FileId, PathBuf, bool)],
    config: &Config,
    origins: &Origins,
) -> Vec<Assigned> {
    let mut envs: Vec<Assigned> = config
        .environments
        .iter()
        .map(|e| Assigned {
            name: e.name.clone(),
            units: BTreeSet::new(),
        })
        .collect();
    let mut placed: Vec<Option<usize>> = vec![None; units.len()];
    for (i, unit) in units.iter().enumerate() {
        if unit.shared || unit.live {
            continue;
        }
        let matched = config.environments.iter().position(|e| {
            matches_paths(&e.paths, &config.root, &unit.dir)
                || unit.files.iter().any(|f| {
                    plain.iter().any(|(id, p, _)| {
                        id == f
                            && !p.as_os_str().is_empty()
                            && matches_paths(&e.paths, &config.root, p)
                    })
                })
        });
        if let Some(env) = matched {
            envs[env].units.insert(i);
            placed[i] = Some(env);
        }
    }
    // Flux cluster folders.
    let mut folder_env: HashMap<&Path, usize> = HashMap::new();
    for folder in folders {
        let claimed = units
            .iter()
            .position(|u| &u.dir == folder)
            .and_then(|u| placed[u]);
        let env = match claimed {
            Some(env) => env,
            None => {
                let base = folder
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| origins.names.display(folder));
                let name = if envs.iter().any(|e| e.name == base) {
                    origins.names.display(folder)
                } else {
                    base
                };
                envs.push(Assigned {
                    name,
                    units: BTreeSet::new(),
                });
                envs.len() - 1
            }
        };
        folder_env.insert(folder.as_path(), env);
        for (i, unit) in units.iter().enumerate() {
            if placed[i].is_none() && !unit.shared && unit.dir.starts_with(folder) {
                envs[env].units.insert(i);
                placed[i] = Some(env);
            }
        }
    }
    // What each Flux/Argo CD object applies joins the environments of the
    // unit holding the object, until nothing changes.
    let unit_of_file = |file: FileId| units.iter().position(|u| u.files.contains(&file));
    loop {
        let mut changed = false;
        for found in refs {
            let Some(dir) = &found.resolved else { continue };
            let Some(holder) = unit_of_file(found.file) else {
                continue;
            };
            let holder_envs: Vec<usize> = (0..envs.len())
                .filter(|&e| envs[e].units.contains(&holder))
                .collect();
            for (i, unit) in units.iter().enumerate() {
                if &unit.dir != dir || unit.shared {
                    continue;
                }
                // The configuration's placement wins.
                if placed[i].is_some_and(|p| p < config.environments.len()) {
                    continue;
                }
                for &env in &holder_envs {
                    if envs[env].units.insert(i) {
                        placed[i].get_or_insert(env);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (i, unit) in units.iter().enumerate() {
        if placed[i].is_some() || unit.shared || unit.live {
            continue;
        }
        let mut name = origins.names.display(&unit.dir);
        if envs.iter().any(|e| e.name == name) {
            name = format!("{name} ({})", unit.kind.as_str());
        }
        envs.push(Assigned {
            name,
            units: BTreeSet::from([i]),
        });
    }
    // Environments of the configuration that nothing fell into are left out.
    envs.retain(|e| !e.units.is_empty());
    if envs.is_empty() {
        envs.push(Assigned {
            name: "default".into(),
            units: BTreeSet::new(),
        });
    }
    envs
}

/// Whether `path` is one of `patterns` (relative to `root`), under one, or
/// matches one as a gitignore-style glob.
pub fn matches_paths(patterns: &[String], root: &Path, path: &Path) -> bool {
    let root = absolute_normalized(root);
    let Ok(relative) = path.strip_prefix(&root) else {
        return false;
    };
    patterns.iter().any(|pattern| {
        let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
        if trimmed.is_empty() || trimmed == "." {
            return true;
        }
        if relative.starts_with(trimmed) {
            return true;
        }
        let mut builder = GlobSetBuilder::new();
        if let Ok(glob) = Glob::new(trimmed) {
            builder.add(glob);
        }
        if let Ok(glob) = Glob::new(&format!("{trimmed}/**")) {
            builder.add(glob);
        }
        builder.build().is_ok_and(|set| set.is_match(relative))
    })
}

fn job_dir(job: &Job) -> &Path {
    match job {
        Job::Kustomize(dir) | Job::Chart { dir, .. } => dir,
    }
}

/// Runs every job, as many at once as there are cores.
fn run_parallel(jobs: &[Job], renderers: &Renderers) -> Vec<Result<Rendered, RenderError>> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Rendered, RenderError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = match job {
                        Job::Kustomize(root) => render::kustomize_build(renderers, root),
                        Job::Chart {
                            dir,
                            values,
                            namespace,
                        } => {
                            let release = dir.file_name().map_or_else(
                                || "release".into(),
                                |n| n.to_string_lossy().into_owned(),
                            );
                            render::helm_template(
                                renderers,
                                dir,
                                &release,
                                namespace.as_deref(),
                                values,
                            )
                        }
                    };
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or(Err(RenderError::Missing { tried: Vec::new() })))
        .collect()
}

/// A plugin configuration Kustomize runs itself (`apiVersion: builtin`).
fn is_builtin_plugin(plugin: &super::kustomization::Reference) -> bool {
    let text = match &plugin.target {
        Target::Inline => plugin.text.clone(),
        Target::Local(path) if path.is_file() => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(_) => return true,
        },
        // A directory of configurations, or a missing file: Kustomize says.
        Target::Local(_) => return true,
        Target::Remote => return false,
    };
    crate::yaml::parse_stream(&text, &crate::yaml::Limits::default())
        .documents
        .iter()
        .all(|(_, doc)| doc.get_str("apiVersion") == Some("builtin"))
}

/// The names an object has had at the level of each kustomization on its
/// chain: as rendered, and without each outer level's prefix and suffix.
fn names_at_level(
    object: &crate::model::Object,
    chain: &[PathBuf],
    known: &Kustomizations,
) -> Vec<String> {
    let mut names = vec![object.name.clone()];
    let mut name = object.name.clone();
    for dir in chain {
        let Some(k) = known.get(dir) else { continue };
        if let Some(prefix) = k.field("namePrefix").and_then(|n| n.as_str()) {
            name = name.strip_prefix(prefix).unwrap_or(&name).to_owned();
        }
        if let Some(suffix) = k.field("nameSuffix").and_then(|n| n.as_str()) {
            name = name.strip_suffix(suffix).unwrap_or(&name).to_owned();
        }
        names.push(name.clone());
    }
    names
}

fn describe(target: &super::kustomization::Selector) -> String {
    let mut parts = Vec::new();
    if let Some(kind) = &target.kind {
        parts.push(kind.clone());
    }
    if let Some(name) = &target.name {
        parts.push(format!("`{name}`"));
    }
    if let Some(ns) = &target.namespace {
        parts.push(format!("in namespace `{ns}`"));
    }
    if let Some(labels) = &target.label_selector {
        parts.push(format!("with labels `{labels}`"));
    }
    if let Some(annotations) = &target.annotation_selector {
        parts.push(format!("with annotations `{annotations}`"));
    }
    if parts.is_empty() {
        "every object".into()
    } else {
        parts.join(" ")
    }
}

/// The object a strategic-merge patch was for, from Kustomize's "no
/// resource matches strategic merge patch \"Deployment.v1.apps/web.[noNs]\"".
fn smp_target(message: &str) -> Option<(String, String)> {
    let (_, rest) = message.split_once("strategic merge patch \"")?;
    let (id, _) = rest.split_once('"')?;
    let (gvk, name) = id.split_once('/')?;
    let kind = gvk.split('.').next()?.to_owned();
    let name = name.split(".[").next()?.to_owned();
    Some((kind, name))
}

/// Whether a patch's text holds a document for `kind` `name`.
fn names_object(text: &str, kind: &str, name: &str) -> bool {
    crate::yaml::parse_stream(text, &crate::yaml::Limits::default())
        .documents
        .iter()
        .any(|(_, doc)| {
            doc.get_str("kind") == Some(kind)
                && doc.get("metadata").and_then(|m| m.get_str("name")) == Some(name)
        })
}

/// Span of the first key of a file (where findings about the whole file point).
fn first_key_span(text: &str) -> Range<usize> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    parsed
        .documents
        .first()
        .and_then(|(_, root)| root.as_map()?.first().map(|e| e.key_span.clone()))
        .unwrap_or(0..0)
}

/// Span of `name:`'s value in a `Chart.yaml`.
fn name_span(text: &str) -> Option<Range<usize>> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    let (_, root) = parsed.documents.into_iter().next()?;
    Some(root.get("name")?.span.clone())
}

/// The `name` of the chart in `dir`.
fn chart_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Chart.yaml")).ok()?;
    let parsed = crate::yaml::parse_stream(&text, &crate::yaml::Limits::default());
    let (_, root) = parsed.documents.into_iter().next()?;
    root.get_str("name").map(str::to_owned)
}

const ORIGIN_KEY: &[u8] = b"config.kubernetes.io/origin";

impl Kustomization {
    /// Whether a kustomization lists `path` (a file or directory) among its
    /// resources, bases or components.
    pub fn uses(&self, path: &Path) -> bool {
        self.local_uses().any(|(_, p)| p == path)
    }
}

/// The findings of one kind a read produced, for tests.
pub fn findings_of<'d>(read: &'d Read, rule: &str) -> Vec<&'d Diagnostic> {
    read.ws
        .diagnostics
        .iter()
        .filter(|d| d.rule.id == rule)
        .collect()
}
