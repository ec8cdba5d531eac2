//! Flux `Kustomization`s and Argo CD `Application`s: the objects that say
//! which path of the repository is applied, to which cluster, and how.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::model::Object;
use crate::model::deployable::DeployableKind;
use crate::yaml::Node;

/// Where the path of a Flux or Argo CD object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This repository (an Argo CD `repoURL`, a Flux `GitRepository`).
    Repository,
    /// A Flux `ExternalArtifact`: made from this repository's folders by
    /// an `ArtifactGenerator` (namespace, name), the path relative to it.
    Artifact(String, String),
    /// Somewhere else (an `OCIRepository`, a `Bucket`): not checked here.
    Elsewhere,
}

/// A path of the repository that a Flux or Argo CD object applies.
#[derive(Debug, Clone)]
pub struct PathRef {
    pub kind: DeployableKind,
    /// `namespace/name` of the object, as reports name the deployable.
    pub name: String,
    /// The path as written (`./apps/production`).
    pub path: String,
    /// Span of the path's value (or of the object's kind when it has none).
    pub span: Range<usize>,
    /// Where the source says it comes from (`GitRepository flux-system`,
    /// an Argo CD `repoURL`), for messages.
    pub source: String,
    pub origin: Source,
    /// Flux `targetNamespace` (sets every object's namespace) or Argo CD
    /// `destination.namespace` (the namespace of objects that name none).
    pub namespace: Option<String>,
    pub force_namespace: bool,
    /// Argo CD `helm.valueFiles`, relative to the path.
    pub helm_values: Vec<String>,
}

/// The paths `object` applies, if it is a Flux `Kustomization` or an Argo
/// CD `Application`.
pub fn path_refs(object: &Object) -> Vec<PathRef> {
    let spec = object.root.get("spec");
    let namespace = object.namespace.as_deref().unwrap_or("default");
    let name = format!("{namespace}/{}", object.name);
    match (object.group(), object.kind.as_str()) {
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => {
            let Some(spec) = spec else { return Vec::new() };
            let source = spec.get("sourceRef");
            let source_kind = source
                .and_then(|s| s.get_str("kind"))
                .unwrap_or("GitRepository");
            let source_name = source.and_then(|s| s.get_str("name")).unwrap_or("?");
            let (path, span) = match spec.get("path") {
                Some(node) => (
                    node.as_str().unwrap_or_default().to_owned(),
                    node.span.clone(),
                ),
                None => ("./".to_owned(), object.kind_span()),
            };
            let target_namespace = spec.get_str("targetNamespace").map(str::to_owned);
            vec![PathRef {
                kind: DeployableKind::Flux,
                name,
                path,
                span,
                source: format!("{source_kind} {source_name}"),
                origin: match source_kind {
                    "GitRepository" => Source::Repository,
                    "ExternalArtifact" => Source::Artifact(
                        source
                            .and_then(|s| s.get_str("namespace"))
                            .unwrap_or(namespace)
                            .to_owned(),
                        source_name.to_owned(),
                    ),
                    _ => Source::Elsewhere,
                },
                force_namespace: target_namespace.is_some(),
                namespace: target_namespace,
                helm_values: Vec::new(),
            }]
        }
        ("argoproj.io", "Application") => {
            let Some(spec) = spec else { return Vec::new() };
            let destination = spec
                .get("destination")
                .and_then(|d| d.get_str("namespace"))
                .map(str::to_owned);
            let sources = spec.get("source").into_iter().chain(
                spec.get("sources")
                    .and_then(Node::as_seq)
                    .unwrap_or_default(),
            );
            sources
                .filter(|source| source.get("chart").is_none())
                .filter_map(|source| {
                    let path = source.get("path")?;
                    Some(PathRef {
                        kind: DeployableKind::ArgoCd,
                        name: name.clone(),
                        path: path.as_str()?.to_owned(),
                        span: path.span.clone(),
                        source: source.get_str("repoURL").unwrap_or("?").to_owned(),
                        origin: Source::Repository,
                        namespace: destination.clone(),
                        force_namespace: false,
                        helm_values: source
                            .get("helm")
                            .and_then(|h| h.get("valueFiles"))
                            .and_then(Node::as_seq)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// A chart a Flux `HelmRelease` or an Argo CD Application installs from a
/// Helm repository (or an OCI registry): never fetched here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteChart {
    /// `HelmRelease flux-system/podinfo`, `Application argocd/redis`.
    pub object: String,
    pub chart: String,
    /// `HelmRepository podinfo`, a repository URL.
    pub source: String,
    /// The `chart`/`chartRef` node (where the finding points).
    pub span: Range<usize>,
}

/// The charts `object` installs from outside the repository.
pub fn remote_charts(object: &Object) -> Vec<RemoteChart> {
    let namespace = object.namespace.as_deref().unwrap_or("default");
    let who = |kind: &str| format!("{kind} {namespace}/{}", object.name);
    let Some(spec) = object.root.get("spec") else {
        return Vec::new();
    };
    match (object.group(), object.kind.as_str()) {
        ("helm.toolkit.fluxcd.io", "HelmRelease") => {
            if let Some(chart) = spec.get("chart") {
                let inner = chart.get("spec");
                let source = inner.and_then(|s| s.get("sourceRef"));
                if source.and_then(|s| s.get_str("kind")) == Some("GitRepository") {
                    // A chart in a Git repository: this one's, found as a chart directory.
                    return Vec::new();
                }
                return vec![RemoteChart {
                    object: who("HelmRelease"),
                    chart: inner
                        .and_then(|s| s.get_str("chart"))
                        .unwrap_or("?")
                        .to_owned(),
                    source: source
                        .map(|s| {
                            format!(
                                "{} {}",
                                s.get_str("kind").unwrap_or("HelmRepository"),
                                s.get_str("name").unwrap_or("?")
                            )
                        })
                        .unwrap_or_else(|| "a Helm repository".into()),
                    span: chart.span.clone(),
                }];
            }
            if let Some(chart) = spec.get("chartRef") {
                let kind = chart.get_str("kind").unwrap_or("OCIRepository");
                let name = chart.get_str("name").unwrap_or("?");
                return vec![RemoteChart {
                    object: who("HelmRelease"),
                    chart: name.to_owned(),
                    source: format!("{kind} {name}"),
                    span: chart.span.clone(),
                }];
            }
            Vec::new()
        }
        ("argoproj.io", "Application") => spec
            .get("source")
            .into_iter()
            .chain(seq(spec.get("sources")))
            .filter_map(|source| {
                let chart = source.get("chart")?;
                Some(RemoteChart {
                    object: who("Application"),
                    chart: chart.as_str().unwrap_or("?").to_owned(),
                    source: source.get_str("repoURL").unwrap_or("?").to_owned(),
                    span: chart.span.clone(),
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One folder an artifact copies: the repository's path, and where in the
/// artifact it goes (`("apps/staging", "staging")`).
pub type Copy = (String, String);

/// An artifact a Flux `ArtifactGenerator` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedArtifact {
    pub namespace: String,
    pub name: String,
    pub copies: Vec<Copy>,
}

/// What an `ArtifactGenerator` copies into each artifact: its namespace
/// and, per artifact name, the repository folders copied and where to
/// (`@monorepo/apps/staging/**` → `@artifact/staging/` is `("apps/staging",
/// "staging")`). Sources other than Git repositories are left out.
pub fn artifact_copies(object: &Object) -> Vec<GeneratedArtifact> {
    if object.group() != "source.extensions.fluxcd.io" || object.kind != "ArtifactGenerator" {
        return Vec::new();
    }
    let Some(spec) = object.root.get("spec") else {
        return Vec::new();
    };
    let git_aliases: Vec<&str> = seq(spec.get("sources"))
        .iter()
        .filter(|s| s.get_str("kind") == Some("GitRepository"))
        .filter_map(|s| s.get_str("alias"))
        .collect();
    let namespace = object.namespace.clone().unwrap_or_else(|| "default".into());
    seq(spec.get("artifacts"))
        .iter()
        .filter_map(|artifact| {
            let name = artifact.get_str("name")?;
            let copies = seq(artifact.get("copy"))
                .iter()
                .filter_map(|copy| {
                    let from = copy.get_str("from")?.strip_prefix('@')?;
                    let (alias, path) = from.split_once('/').unwrap_or((from, ""));
                    if !git_aliases.contains(&alias) {
                        return None;
                    }
                    let to = copy.get_str("to").unwrap_or("@artifact/");
                    let to = to.strip_prefix("@artifact").unwrap_or(to);
                    Some((glob_base(path), glob_base(to)))
                })
                .collect();
            Some(GeneratedArtifact {
                namespace: namespace.clone(),
                name: name.to_owned(),
                copies,
            })
        })
        .collect()
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or_default()
}

/// The folder a copy pattern starts from: `apps/base/**` is `apps/base`.
fn glob_base(pattern: &str) -> String {
    let end = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
    pattern[..end].trim_matches('/').to_owned()
}

/// The repository folder behind `path` of an artifact made by `copies`:
/// the copy whose destination holds the path (the deepest one).
pub fn artifact_path(path: &str, copies: &[Copy]) -> Option<String> {
    let path = path.trim_start_matches("./").trim_matches('/');
    let path = if path == "." { "" } else { path };
    copies
        .iter()
        .filter(|(_, to)| {
            to.is_empty()
                || path == to
                || path
                    .strip_prefix(to.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
        .max_by_key(|(_, to)| to.len())
        .map(|(from, to)| {
            let rest = path[to.len()..].trim_start_matches('/');
            match (from.is_empty(), rest.is_empty()) {
                (_, true) => from.clone(),
                (true, false) => rest.to_owned(),
                (false, false) => format!("{from}/{rest}"),
            }
        })
}

/// Resolves a path written in an object held in `from` (a directory):
/// relative to the root of the repository, which is the nearest ancestor of
/// `from` where the path exists, stopping at the Git work tree's top. A
/// path that exists nowhere is `None`.
pub fn resolve(path: &str, from: &Path) -> Option<PathBuf> {
    let relative = path.trim_start_matches("./").trim_start_matches('/');
    let mut dir = Some(from);
    while let Some(d) = dir {
        let candidate = crate::source::absolute_normalized(&d.join(relative));
        if relative.is_empty() {
            if d.join(".git").exists() {
                return Some(candidate);
            }
        } else if candidate.exists() {
            return Some(candidate);
        }
        if d.join(".git").exists() {
            break;
        }
        dir = d.parent();
    }
    None
}

/// The folder holding one Flux cluster's objects: the outermost directory
/// above `file` that a Flux path in `flux_dirs` names (the `flux-system`
/// sync points at its own cluster folder), else `file`'s directory, out of
/// a `flux-system` folder.
pub fn cluster_folder(file: &Path, flux_dirs: &[PathBuf]) -> PathBuf {
    if let Some(dir) = flux_dirs
        .iter()
        .filter(|d| file.starts_with(d))
        .min_by_key(|d| d.components().count())
    {
        return dir.clone();
    }
    let dir = file.parent().unwrap_or(file);
    if dir.file_name().is_some_and(|n| n == "flux-system") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    fn object(text: &str) -> Object {
        let root = parse_stream(text, &Limits::default()).documents.remove(0).1;
        Object::from_root(FileId(0), 0, root).unwrap()
    }

    #[test]
    fn flux_and_argo_paths() {
        let flux = object(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps/production\n  targetNamespace: shop\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
        );
        let refs = path_refs(&flux);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].path, "./apps/production");
        assert_eq!(refs[0].name, "flux-system/apps");
        assert!(refs[0].force_namespace);
        let oci = object(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: a}\nspec: {path: ./x, sourceRef: {kind: OCIRepository, name: o}}\n",
        );
        assert_eq!(path_refs(&oci)[0].origin, Source::Elsewhere);
        let argo = object(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: guestbook, namespace: argocd}\nspec:\n  destination: {namespace: guestbook}\n  sources:\n  - {repoURL: https://x, path: guestbook, helm: {valueFiles: [v.yaml]}}\n  - {repoURL: https://charts, chart: redis}\n",
        );
        let refs = path_refs(&argo);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].namespace.as_deref(), Some("guestbook"));
        assert_eq!(refs[0].helm_values, vec!["v.yaml".to_owned()]);
    }

    #[test]
    fn artifact_paths_follow_the_generators_copies() {
        let generator = object(
            "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: g, namespace: flux-system}\nspec:\n  sources: [{alias: repo, kind: GitRepository, name: flux-system}, {alias: oci, kind: OCIRepository, name: x}]\n  artifacts:\n  - name: apps\n    copy:\n    - {from: \"@repo/apps/base/**\", to: \"@artifact/base/\"}\n    - {from: \"@repo/apps/prod/**\", to: \"@artifact/prod/\"}\n    - {from: \"@oci/charts/**\", to: \"@artifact/charts/\"}\n  - name: infra\n    copy: [{from: \"@repo/infrastructure/**\", to: \"@artifact/\"}]\n",
        );
        let copies = artifact_copies(&generator);
        assert_eq!(copies.len(), 2);
        let (apps, infra) = (&copies[0].copies, &copies[1].copies);
        assert_eq!(apps.len(), 2, "the OCI source is not this repository");
        assert_eq!(artifact_path("./prod", apps).as_deref(), Some("apps/prod"));
        assert_eq!(
            artifact_path("./prod/eu", apps).as_deref(),
            Some("apps/prod/eu")
        );
        assert_eq!(artifact_path("./other", apps), None);
        assert_eq!(
            artifact_path("./controllers", infra).as_deref(),
            Some("infrastructure/controllers")
        );
        let flux = object(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec: {path: ./prod, sourceRef: {kind: ExternalArtifact, name: apps}}\n",
        );
        assert_eq!(
            path_refs(&flux)[0].origin,
            Source::Artifact("flux-system".into(), "apps".into())
        );
    }

    #[test]
    fn paths_resolve_from_the_nearest_ancestor_that_has_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::source::absolute_normalized(dir.path());
        std::fs::create_dir_all(root.join("apps/prod")).unwrap();
        std::fs::create_dir_all(root.join("clusters/prod/flux-system")).unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        let from = root.join("clusters/prod");
        assert_eq!(resolve("./apps/prod", &from), Some(root.join("apps/prod")));
        assert_eq!(resolve("./apps/none", &from), None);
        assert_eq!(resolve("./", &from), Some(root.clone()));
        assert_eq!(
            cluster_folder(&root.join("clusters/prod/flux-system/sync.yaml"), &[]),
            root.join("clusters/prod")
        );
        assert_eq!(
            cluster_folder(
                &root.join("clusters/prod/flux-system/sync.yaml"),
                &[root.join("clusters/prod")]
            ),
            root.join("clusters/prod")
        );
    }
}
