//! Findings about the deployables themselves, made while reading them: a
//! build that fails (INJ010) or a chart left unrendered (INJ011), what is
//! never run (INJ012), a Flux or Argo CD path that is not there (INJ013), a
//! patch that matches nothing (INJ014). Each points at the kustomization
//! entry, chart or object at fault, and the run goes on.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::gitops::{self, Source};
use super::kustomization::{PatchBody, Target};
use super::layout;
use super::read::{Job, Reader};
use super::render::RenderError;
use crate::model::deployable::DeployableKind;
use crate::rules::not_run::Blocker;
use crate::rules::{
    build_failed, chart_not_rendered, missing_deployable_path, not_run, patch_matches_nothing,
};
use crate::source::{FileId, absolute_normalized};

impl Reader<'_> {
    /// Findings for what keeps `root` from being built here (remote bases,
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
            let d = not_run::new(id, span, blocker, &entry, &what);
            self.push_about(root, d);
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
        let diagnostic = match (job, error) {
            (Job::Chart { .. }, RenderError::Missing { .. }) => {
                let span = name_span(&text).unwrap_or(whole);
                chart_not_rendered::new(id, span, &display, holds_apps(&dir))
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

    /// INJ011 for each chart a `HelmRelease` or an Argo CD Application
    /// installs from a Helm repository: it is never fetched, and its
    /// workloads go unchecked, which the run should say.
    pub(super) fn check_remote_charts(&mut self) {
        let found: Vec<_> = self
            .read
            .ws
            .objects
            .iter()
            .flat_map(|o| {
                gitops::remote_charts(o).into_iter().map(move |c| {
                    chart_not_rendered::remote(o.file, c.span, &c.object, &c.chart, &c.source)
                })
            })
            .collect();
        self.read.ws.diagnostics.extend(found);
    }

    /// INJ013 for paths that resolve nowhere.
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
