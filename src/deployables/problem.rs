//! What keeps a deployable from being read as it is applied, as plain data:
//! a kustomization entry that is never fetched or run, a build that fails,
//! a chart left unrendered, a path that is not there, a patch that matches
//! nothing. `diagnose` finds them while reading; the rules turn them into
//! findings.

use super::kustomization::Selector;
use super::render::RenderError;
use crate::model::deployable::{DeployableId, DeployableKind};
use crate::source::FileSpan;

/// A problem of a deployable, met while reading it; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The kustomization entry, chart or object at fault.
    pub at: FileSpan,
    /// The deployable it is about, once deployables have ids (findings
    /// name it, and go to its environment).
    pub deployable: Option<DeployableId>,
    pub kind: ProblemKind,
}

/// What the problem is. `deployable` and `chart` are display names, as
/// reports name the folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// `entry` of a kustomization is never fetched or run, so `deployable`
    /// is not built.
    NotRun {
        blocker: Blocker,
        entry: String,
        deployable: String,
    },
    /// The renderer of `deployable` could not be started, ran past its
    /// timeout, or failed.
    BuildFailed {
        deployable: String,
        error: RenderError,
    },
    /// A chart directory of the repository left unrendered: `helm` is not
    /// on PATH. `holds_apps`: its templates hold Argo CD Applications or
    /// Flux Kustomizations (an app of apps), which go unseen with it.
    ChartNotRendered { chart: String, holds_apps: bool },
    /// A chart that `object` installs from a Helm repository (`source`):
    /// it is never fetched.
    RemoteChart {
        object: String,
        chart: String,
        source: String,
    },
    /// A path that a Flux Kustomization or an Argo CD Application (`kind`,
    /// `name`) applies from `source`, and that is not in the repository.
    MissingPath {
        kind: DeployableKind,
        name: String,
        path: String,
        source: String,
    },
    /// A patch whose `target` matches no object of `deployable`.
    PatchMatchesNothing {
        target: Selector,
        deployable: String,
    },
}

/// What in a kustomization keeps its deployable from being built here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// A remote base or component.
    Remote,
    /// `helmCharts`, which needs Helm and a chart download.
    HelmCharts,
    /// An exec or KRM function plugin.
    Plugin,
}
