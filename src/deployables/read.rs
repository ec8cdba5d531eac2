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
//! path that does not exist are noted as [`Problem`]s, and the run goes on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::gitops::{self, PathRef, Source};
use super::layout::{self, Kustomizations};
use super::names::Names;
use super::origin::{self, DocumentOrigin};
use super::problem::{Problem, ProblemKind};
use super::render::{self, RenderError, Rendered, Renderers};
use crate::config::Config;
use crate::load::{Input, LoadOptions, Workspace, load_into};
use crate::source::{FileId, FileSpan, SourceFile, absolute_normalized, discover};

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
    /// The problems of the deployables themselves, in the order met (the
    /// loader's own are in `ws`).
    pub problems: Vec<Problem>,
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

/// A path a Flux or Argo CD object applies, and where that object is.
#[derive(Debug)]
pub(super) struct FoundRef {
    pub(super) re: PathRef,
    /// The file holding the object (absolute; for a rendered object, the
    /// file it was rendered from).
    pub(super) held_in: PathBuf,
    /// The source-map file and span of the object (for findings).
    pub(super) file: FileId,
    pub(super) resolved: Option<PathBuf>,
}

/// A Flux artifact: the cluster folder of its generator, namespace, name.
pub(super) type ArtifactKey = (PathBuf, String, String);

/// A render to run: a Kustomize root or a chart.
#[derive(Debug, Clone)]
pub(super) enum Job {
    Kustomize(PathBuf),
    Chart {
        dir: PathBuf,
        values: Vec<PathBuf>,
        namespace: Option<String>,
    },
}

pub(super) struct Reader<'a> {
    pub(super) options: &'a ReadOptions<'a>,
    pub(super) read: Read,
    /// Plain files loaded: id, absolute path, and whether they are the
    /// configuration's `policies`.
    pub(super) plain: Vec<(FileId, PathBuf, bool)>,
    /// Roots and charts rendered (or refused), with their renderings.
    pub(super) rendered_units: Vec<(Job, Vec<FileId>)>,
    /// Directories walked so far (their files are all known).
    pub(super) walked: Vec<PathBuf>,
    pub(super) refs: Vec<FoundRef>,
    /// What Flux `ArtifactGenerator`s copy into each artifact, by the
    /// folder of the cluster they are in (two clusters may each make an
    /// artifact of one name), namespace and artifact name.
    pub(super) artifacts: HashMap<ArtifactKey, Vec<gitops::Copy>>,
    /// Objects already scanned for Flux/Argo CD paths.
    pub(super) scanned: usize,
    /// Files under kustomizations that nothing uses.
    pub(super) unused: usize,
    /// Files read by renderers (counted as files in the summary).
    pub(super) read_by_renderers: BTreeSet<PathBuf>,
    /// Problems about a root or chart, by index, and its directory (they
    /// name its deployable once it has an id).
    pub(super) tags: Vec<(usize, PathBuf)>,
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
        artifacts: HashMap::new(),
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
    reader.check_remote_charts();
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
        // The roots render while the plain files load.
        let roots = self.runnable(laid.roots.into_iter().map(Job::Kustomize).collect());
        let renderers = &self.options.renderers;
        let started = std::time::Instant::now();
        let rendered = std::thread::scope(|scope| {
            let rendering = scope.spawn(|| run_parallel(&roots, renderers));
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
            rendering.join().unwrap_or_else(|_| {
                let failed = || RenderError::Missing { tried: Vec::new() };
                roots.iter().map(|_| Err(failed())).collect()
            })
        });
        self.count_renders(started, &rendered);
        for chart in &laid.charts {
            if let Some(name) = chart_name(chart) {
                self.read
                    .origins
                    .charts
                    .entry(name)
                    .or_insert(chart.clone());
            }
        }
        // Charts (their values may come from an Argo CD Application just
        // read), and Flux and Argo CD paths to a kustomization that is not
        // a root (another one uses it): Flux applies it on its own, so it is
        // built on its own.
        let mut jobs: Vec<Job> = laid.charts.iter().map(|dir| self.chart_job(dir)).collect();
        for found in &self.refs {
            let Some(dir) = &found.resolved else { continue };
            let is_kustomization = self.read.origins.kustomizations.contains_key(dir)
                || super::kustomization::file_in(dir).is_some();
            let known = self
                .rendered_units
                .iter()
                .any(|(job, _)| job_dir(job) == dir)
                || roots.iter().chain(&jobs).any(|job| job_dir(job) == dir);
            if is_kustomization && !known && self.is_walked(dir) {
                layout::read_into(dir, &mut self.read.origins.kustomizations);
                jobs.push(Job::Kustomize(dir.clone()));
            }
        }
        let more = self.runnable(jobs);
        let started = std::time::Instant::now();
        let more_rendered = run_parallel(&more, &self.options.renderers);
        self.count_renders(started, &more_rendered);
        self.absorb(roots, rendered);
        self.absorb(more, more_rendered);
        self.scan_refs();
    }

    pub(super) fn is_walked(&self, path: &Path) -> bool {
        self.walked.iter().any(|w| path.starts_with(w))
    }

    pub(super) fn chart_job(&self, dir: &Path) -> Job {
        let config = self.options.config;
        let mut values = Vec::new();
        let mut namespace = None;
        for env in &config.environments {
            if layout::matches_paths(&env.paths, &config.root, dir) {
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

    /// The jobs that may run: a root with a remote base, `helmCharts` or a
    /// plugin is reported (INJ012) and kept back.
    fn runnable(&mut self, jobs: Vec<Job>) -> Vec<Job> {
        let mut runnable = Vec::new();
        for job in jobs {
            // What Kustomize reads counts as files read, built or not.
            if let Job::Kustomize(root) = &job {
                let closure = layout::closure(root, &self.read.origins.kustomizations);
                self.read_by_renderers
                    .extend(closure.files.into_iter().filter(|f| f.is_file()));
            }
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
        runnable
    }

    fn count_renders(
        &mut self,
        started: std::time::Instant,
        results: &[Result<Output, RenderError>],
    ) {
        let timings = &mut self.read.ws.timings;
        timings.render_wall += started.elapsed();
        timings.renders += results.len();
        timings.render_total += results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.rendered.elapsed)
            .sum();
    }

    /// Loads what the renderers printed (all renderings parsed in parallel),
    /// or reports why they did not.
    fn absorb(&mut self, jobs: Vec<Job>, results: Vec<Result<Output, RenderError>>) {
        let mut loaded: Vec<(Job, RenderedFile)> = Vec::new();
        let mut inputs = Vec::new();
        for (job, result) in jobs.into_iter().zip(results) {
            match result {
                Ok(output) => {
                    let (name, file) = self.rendering(&job, &output);
                    inputs.push(Input::Rendered {
                        name,
                        text: output.stripped.text,
                    });
                    loaded.push((
                        job,
                        RenderedFile {
                            documents: output.stripped.origins,
                            ..file
                        },
                    ));
                }
                Err(error) => {
                    self.build_error(&job, &error);
                    self.rendered_units.push((job, Vec::new()));
                }
            }
        }
        if inputs.is_empty() {
            return;
        }
        let first = load_into(&mut self.read.ws, inputs, Vec::new(), &self.options.load);
        for (i, (job, mut file)) in loaded.into_iter().enumerate() {
            let id = FileId(first.0 + i as u32);
            if matches!(job, Job::Chart { .. }) {
                file.helm_sources = origin::helm_sources(&self.read.ws.sources.get(id).text);
            }
            self.read.origins.rendered.insert(id, file);
            if let Job::Kustomize(root) = &job {
                self.check_patches(root, id);
            }
            self.rendered_units.push((job, vec![id]));
        }
    }

    /// How a rendering is named in reports, and what it was rendered from.
    fn rendering(&self, job: &Job, output: &Output) -> (String, RenderedFile) {
        let names = &self.read.origins.names;
        match job {
            Job::Kustomize(root) => (
                format!("<{} {}>", output.rendered.program, names.display(root)),
                RenderedFile {
                    root: Some(root.clone()),
                    ..RenderedFile::default()
                },
            ),
            Job::Chart { dir, .. } => (
                format!("<helm template {}>", names.display(dir)),
                RenderedFile {
                    dir: Some(dir.clone()),
                    ..RenderedFile::default()
                },
            ),
        }
    }

    /// The source-map id of a user file whose text is at hand.
    pub(super) fn user_file(&mut self, path: &Path, text: String) -> FileId {
        if let Some(id) = self.read.origins.files.get(path) {
            return *id;
        }
        self.read.origins.add_file(&mut self.read.ws, path, text)
    }

    /// Adds a problem about the root or chart in `dir`.
    pub(super) fn push_about(&mut self, dir: &Path, at: FileSpan, kind: ProblemKind) {
        self.tags
            .push((self.read.problems.len(), dir.to_path_buf()));
        self.read.problems.push(Problem {
            at,
            deployable: None,
            kind,
        });
    }

    /// Finds Flux and Argo CD objects among the objects loaded since the last scan.
    fn scan_refs(&mut self) {
        let objects = &self.read.ws.objects[self.scanned..];
        let mut found = Vec::new();
        for object in objects {
            let generated = gitops::artifact_copies(object);
            if !generated.is_empty() {
                let cluster = gitops::cluster_folder(&self.held_in(object), &[]);
                for artifact in generated {
                    let key = (cluster.clone(), artifact.namespace, artifact.name);
                    self.artifacts.insert(key, artifact.copies);
                }
            }
            let refs = gitops::path_refs(object);
            if refs.is_empty() {
                continue;
            }
            let held_in = self.held_in(object);
            for re in refs {
                found.push(FoundRef {
                    re,
                    held_in: held_in.clone(),
                    file: object.file,
                    resolved: None,
                });
            }
        }
        self.scanned = self.read.ws.objects.len();
        self.refs.extend(found);
        // An artifact's generator may come after the Kustomization using it.
        for i in 0..self.refs.len() {
            if self.refs[i].resolved.is_none() {
                self.refs[i].resolved = self.resolve_ref(&self.refs[i]);
            }
        }
    }

    /// What the generator of a Flux `ExternalArtifact` copies into it: the
    /// generator in the same cluster folder, else the only one of that name.
    pub(super) fn artifact(&self, found: &FoundRef) -> Option<&Vec<gitops::Copy>> {
        let Source::Artifact(namespace, name) = &found.re.origin else {
            return None;
        };
        let cluster = gitops::cluster_folder(&found.held_in, &[]);
        let key = (cluster, namespace.clone(), name.clone());
        self.artifacts.get(&key).or_else(|| {
            let mut same = self
                .artifacts
                .iter()
                .filter(|((_, ns, n), _)| ns == namespace && n == name);
            match (same.next(), same.next()) {
                (Some((_, copies)), None) => Some(copies),
                _ => None,
            }
        })
    }

    /// The folder of the repository a Flux or Argo CD path names, if any.
    fn resolve_ref(&self, found: &FoundRef) -> Option<PathBuf> {
        let from = found.held_in.parent().unwrap_or(&found.held_in);
        match &found.re.origin {
            Source::Repository => gitops::resolve(&found.re.path, from),
            Source::Artifact(..) => {
                let copies = self.artifact(found)?;
                let path = gitops::artifact_path(&found.re.path, copies)?;
                gitops::resolve(&path, from)
            }
            Source::Elsewhere => None,
        }
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
}

fn job_dir(job: &Job) -> &Path {
    match job {
        Job::Kustomize(dir) | Job::Chart { dir, .. } => dir,
    }
}

/// What a render printed, with Kustomize's origin annotations already cut
/// out (on the worker thread, while other builds run).
pub(super) struct Output {
    pub(super) rendered: Rendered,
    pub(super) stripped: origin::Stripped,
}

/// Runs every job, as many at once as there are cores; each worker strips
/// its rendering of its origins as soon as the build ends.
fn run_parallel(jobs: &[Job], renderers: &Renderers) -> Vec<Result<Output, RenderError>> {
    if jobs.is_empty() {
        return Vec::new();
    }
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Output, RenderError>>>> =
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
                    let result = result.map(|mut rendered| {
                        let stripped = match job {
                            Job::Kustomize(root) => {
                                let base = rendered.wrapper_dir.as_deref().unwrap_or(root);
                                origin::strip_origins(&rendered.text, base)
                            }
                            Job::Chart { .. } => origin::Stripped {
                                text: std::mem::take(&mut rendered.text),
                                origins: Vec::new(),
                            },
                        };
                        rendered.text = String::new();
                        Output { rendered, stripped }
                    });
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

/// The `name` of the chart in `dir`.
fn chart_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Chart.yaml")).ok()?;
    let parsed = crate::yaml::parse_stream(&text, &crate::yaml::Limits::default());
    let (_, root) = parsed.documents.into_iter().next()?;
    root.get_str("name").map(str::to_owned)
}

const ORIGIN_KEY: &[u8] = b"config.kubernetes.io/origin";
