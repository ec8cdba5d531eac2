//! A policy set prepared once for many single-pod runs: the admission
//! webhook (`serve`) answers each request with the engine `simulate` and
//! `render` use, without loading, checking or resolving the policies again.

use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::injectors::own::catalog::Catalog;
use crate::injectors::own::decide::Context;
use crate::injectors::own::policy::Policy;
use crate::load::Workspace;
use crate::model::Object;
use crate::model::namespace::Namespaces;
use crate::model::workload::Workload;

use super::{Cluster, OWN_INJECTOR, Settings, WorkloadResult, simulate_one};

/// Policies and templates, resolved, with the settings of the runs.
#[derive(Debug)]
pub struct PolicySet {
    workspace: Workspace,
    catalog: Catalog,
    policies: Vec<Policy>,
    cluster: Cluster,
    settings: Settings,
}

impl PolicySet {
    /// Prepares the objects of `workspace` (policies, templates; any other
    /// object is kept for the checks that read it, such as LimitRanges).
    pub fn new(workspace: Workspace, config: &Config, default_namespace: &str) -> PolicySet {
        let catalog = Catalog::new(&workspace.objects);
        let policies = workspace
            .objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| Policy::from_object(i, o, default_namespace))
            .collect();
        let cluster = Cluster::from_objects(&workspace.objects, config);
        let settings = Settings {
            default_namespace: default_namespace.to_owned(),
            kubernetes_version: config.kubernetes_version(),
            manual_injector: Some(OWN_INJECTOR),
        };
        PolicySet {
            workspace,
            catalog,
            policies,
            cluster,
            settings,
        }
    }

    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// How many policies and templates the set holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.policies.len(), self.catalog.templates.len())
    }

    /// The repository's own injector on `object` (a workload that is not part
    /// of the set), in a cluster whose namespaces are `namespaces`. `None`
    /// when `object` has no pod template.
    pub fn simulate(
        &self,
        object: &Object,
        namespaces: &Namespaces,
    ) -> Option<(WorkloadResult, Vec<Diagnostic>)> {
        let ctx = Context {
            objects: &self.workspace.objects,
            catalog: &self.catalog,
            policies: &self.policies,
            namespaces,
        };
        let workload = Workload::of(object, &self.settings.default_namespace)?;
        Some(simulate_one(
            &ctx,
            &self.cluster,
            &self.settings,
            usize::MAX,
            &workload,
            None,
        ))
    }
}
