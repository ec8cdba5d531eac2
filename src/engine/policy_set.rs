//! A policy set prepared once for many single-pod runs: the admission
//! webhook (`serve`) answers each request with the engine `simulate` and
//! `render` use, without loading, checking or resolving the policies again.

use crate::config::Config;
use crate::injectors::own::catalog::Catalog;
use crate::injectors::own::policy::Policy;
use crate::load::Workspace;
use crate::model::namespace::Namespaces;

use super::{Cluster, OWN_INJECTOR, Settings, Simulator};

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
            // The admission answer is the patch between them.
            keep_pods: true,
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

    /// The simulator of this set in a cluster whose namespaces are
    /// `namespaces` (an admission request's view of them).
    pub fn simulator<'a>(&'a self, namespaces: &'a Namespaces) -> Simulator<'a> {
        Simulator {
            objects: &self.workspace.objects,
            catalog: &self.catalog,
            policies: &self.policies,
            namespaces,
            cluster: &self.cluster,
            settings: &self.settings,
        }
    }
}
