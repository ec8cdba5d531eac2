//! The problems of the deployables themselves, noted while reading them: a
//! build that fails or a chart left unrendered, what is never run, a Flux
//! or Argo CD path that is not there, a patch that matches nothing. Each
//! points at the kustomization entry, chart or object at fault, and the run
//! goes on; the rules make them findings (INJ010–INJ014).

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::gitops::{self, Source};
use super::kustomization::{PatchBody, Target};
use super::layout;
use super::problem::{Blocker, Problem, ProblemKind};
use super::read::{Job, Reader};
use super::render::RenderError;
use crate::source::{FileId, FileSpan, absolute_normalized};

impl Reader<'_> {
    /// Problems for what keeps `root` from being built here (remote bases,
    /// `helmCharts`, plugins); whether there were any.
    pub(super) fn blockers(&mut self, root: &Path) -> bool {
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
            let kind = ProblemKind::NotRun {
                blocker,
                entry,
                deployable: what.clone(),
            };
            self.push_about(root, FileSpan { file: id, span }, kind);
        }
        blocked
    }

    pub(super) fn build_error(&mut self, job: &Job, error: &RenderError) {
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
        let (at, kind) = match (job, error) {
            (Job::Chart { .. }, RenderError::Missing { .. }) => {
                let span = name_span(&text).unwrap_or(whole);
                let kind = ProblemKind::ChartNotRendered {
                    chart: display,
                    holds_apps: holds_apps(&dir),
                };
                (FileSpan { file: id, span }, kind)
            }
            (_, error) => {
                let blamed = match (job, error) {
                    (Job::Kustomize(root), RenderError::Failed { message, .. }) => {
                        self.blamed_entry(root, message)
                    }
                    _ => None,
                };
                let (span, file) = blamed.unwrap_or((whole, id));
                let kind = ProblemKind::BuildFailed {
                    deployable: display,
                    error: error.clone(),
                };
                (FileSpan { file, span }, kind)
            }
        };
        self.push_about(&dir, at, kind);
    }

    /// The kustomization entry a Kustomize error names: the file that is
    /// not YAML, the resource, component or patch it quotes, the field it
    /// does not know, the patch whose object is missing. Searched from the
    /// innermost kustomization out (Kustomize's message ends with the
    /// cause), but from the root in for a cycle (where the root enters it).
    pub(super) fn blamed_entry(
        &mut self,
        root: &Path,
        message: &str,
    ) -> Option<(Range<usize>, FileId)> {
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
            // Kustomize quotes an entry as written, or the path it resolved
            // to (absolute, or relative to here once the message is cleaned).
            let names_path = |path: &Path| {
                let cwd = absolute_normalized(Path::new("."));
                let relative = super::names::relative_to(path, &cwd);
                quoted(&path.display().to_string())
                    || relative.is_some_and(|r| quoted(&r.display().to_string()))
            };
            if let Some(r) = k
                .resources
                .iter()
                .chain(&k.components)
                .chain(&k.files)
                .find(|r| {
                    quoted(&r.text) || matches!(&r.target, Target::Local(path) if names_path(path))
                })
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
    pub(super) fn check_patches(&mut self, root: &Path, rendered: FileId) {
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
                    let names =
                        layout::names_at_levels(&o.name, &chain, &self.read.origins.kustomizations);
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
                        target.clone(),
                    ));
                }
            }
        }
        for (path, text, span, target) in findings {
            let file = self.user_file(&path, text);
            let kind = ProblemKind::PatchMatchesNothing {
                target,
                deployable: deployable.clone(),
            };
            self.push_about(root, FileSpan { file, span }, kind);
        }
    }

    /// Each chart a `HelmRelease` or an Argo CD Application installs from
    /// a Helm repository: it is never fetched, and its workloads go
    /// unchecked, which the run should say.
    pub(super) fn check_remote_charts(&mut self) {
        let found: Vec<_> = self
            .read
            .ws
            .objects
            .iter()
            .flat_map(|o| {
                gitops::remote_charts(o).into_iter().map(move |c| Problem {
                    at: FileSpan {
                        file: o.file,
                        span: c.span,
                    },
                    deployable: None,
                    kind: ProblemKind::RemoteChart {
                        object: c.object,
                        chart: c.chart,
                        source: c.source,
                    },
                })
            })
            .collect();
        self.read.problems.extend(found);
    }

    /// Flux and Argo CD paths that resolve nowhere.
    pub(super) fn check_refs(&mut self) {
        let mut findings = Vec::new();
        for found in &self.refs {
            // A path elsewhere, or in an artifact no generator here makes,
            // is not this repository's to check.
            let checkable = match &found.re.origin {
                Source::Repository => true,
                Source::Artifact(..) => self.artifact(found).is_some(),
                Source::Elsewhere => false,
            };
            if found.resolved.is_some() || !checkable {
                continue;
            }
            let object = self
                .read
                .ws
                .objects
                .iter()
                .find(|o| o.file == found.file && o.root.span.contains(&found.re.span.start));
            let span = object.map_or(0..0, |_| found.re.span.clone());
            findings.push(Problem {
                at: FileSpan {
                    file: found.file,
                    span,
                },
                deployable: None,
                kind: ProblemKind::MissingPath {
                    kind: found.re.kind,
                    name: found.re.name.clone(),
                    path: found.re.path.clone(),
                    source: found.re.source.clone(),
                },
            });
        }
        self.read.problems.extend(findings);
    }
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

/// Whether a chart's templates hold Argo CD Applications or Flux
/// Kustomizations (an app of apps): a look at their text, not a parse.
fn holds_apps(chart: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(chart.join("templates")) else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path()).is_ok_and(|text| {
            (text.contains("argoproj.io/") && text.contains("kind: Application"))
                || (text.contains("kustomize.toolkit.fluxcd.io/")
                    && text.contains("kind: Kustomization"))
        })
    })
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
