//! Deployables and environments: which objects are applied together, and
//! to which cluster. The `deployables` layer finds and renders them; this
//! is the data every later step reads (rules compare objects within one
//! environment, reports name the deployables of each finding).

use std::path::PathBuf;

use serde::Serialize;

use crate::source::FileId;

/// Index of a deployable in [`Deployables::list`]. A run of plain files has
/// one, `DeployableId(0)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeployableId(pub u32);

/// Index of an environment in [`Deployables::environments`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvironmentId(pub u32);

/// What a deployable is, as SPEC's JSON names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployableKind {
    /// A Kustomize root, built with Kustomize.
    Kustomize,
    /// A Helm chart, rendered with `helm template`.
    Helm,
    /// The path of a Flux `Kustomization`.
    Flux,
    /// The path of an Argo CD `Application`.
    #[serde(rename = "argocd")]
    ArgoCd,
    /// Plain files reached by none of the above.
    Files,
}

impl DeployableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployableKind::Kustomize => "kustomize",
            DeployableKind::Helm => "helm",
            DeployableKind::Flux => "flux",
            DeployableKind::ArgoCd => "argocd",
            DeployableKind::Files => "files",
        }
    }
}

/// One set of objects applied together.
#[derive(Debug, Clone)]
pub struct Deployable {
    pub kind: DeployableKind,
    /// Where it is, as reports name it (`overlays/prod`): the directory as
    /// the user's paths name it.
    pub path: String,
    /// The same directory, absolute.
    pub dir: PathBuf,
    /// The Flux or Argo CD object that names it (`flux-system/apps`).
    pub name: Option<String>,
    /// The environments it is applied to (usually one).
    pub environments: Vec<EnvironmentId>,
    /// Namespace of its objects that name none (Argo CD's
    /// `destination.namespace`); Flux's `targetNamespace` sets every one.
    pub namespace: Option<String>,
    pub force_namespace: bool,
    /// What was read for it: its plain files, or its renderings.
    pub files: Vec<FileId>,
}

/// A cluster: the deployables applied to it, and what differs per cluster.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub name: String,
    pub deployables: Vec<DeployableId>,
    /// `kubernetesVersion` of this environment (else the configuration's).
    pub kubernetes_version: Option<String>,
    /// Namespace of its objects that name none (else the configuration's).
    pub namespace: Option<String>,
    /// Helm values files for the charts of this environment.
    pub helm_values: Vec<PathBuf>,
}

/// The deployables and environments of a run. Empty for runs that read no
/// paths (live objects, admission requests): everything is one deployable.
#[derive(Debug, Clone, Default)]
pub struct Deployables {
    pub list: Vec<Deployable>,
    pub environments: Vec<Environment>,
    /// `--environment NAME`: the one environment the run analysed.
    pub selected: Option<EnvironmentId>,
}

impl Deployables {
    pub fn get(&self, id: DeployableId) -> Option<&Deployable> {
        self.list.get(id.0 as usize)
    }

    pub fn environment(&self, id: EnvironmentId) -> Option<&Environment> {
        self.environments.get(id.0 as usize)
    }

    /// Whether reports should name deployables: more than one was read.
    pub fn several(&self) -> bool {
        self.list.len() > 1
    }

    /// The path of a deployable, as reports name it.
    pub fn path(&self, id: DeployableId) -> Option<&str> {
        self.get(id).map(|d| d.path.as_str())
    }
}
