//! `ClusterInjectionPolicy` and `InjectionPolicy` documents, typed.

use serde::Deserialize;

use crate::model::Object;
use crate::model::selector::{LabelSelector, Labels};

use super::template::TemplateRef;

/// A policy as written.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Index of the defining object in the workspace's `objects`.
    pub object: usize,
    pub name: String,
    /// `None` for a ClusterInjectionPolicy; the policy's namespace otherwise.
    pub namespace: Option<String>,
    pub spec: PolicySpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Inject,
    Skip,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    pub namespace_selector: Option<LabelSelector>,
    pub object_selector: Option<LabelSelector>,
    pub service_accounts: Option<Vec<String>>,
    pub action: Action,
    pub template: Option<String>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default = "yes")]
    pub allow_pod_override: bool,
    #[serde(default)]
    pub enforce: bool,
    pub rollout: Option<Rollout>,
}

fn yes() -> bool {
    true
}

/// A canary: `percent` of the selected workloads get `template`.
#[derive(Debug, Clone, Deserialize)]
pub struct Rollout {
    pub template: String,
    pub percent: u32,
}

impl Policy {
    /// Reads a policy object; `None` when it is not one or is malformed
    /// (INJ002 reports that).
    pub fn from_object(index: usize, object: &Object, default_namespace: &str) -> Option<Policy> {
        if !object.is_own() || object.name.is_empty() {
            return None;
        }
        let namespace = match object.kind.as_str() {
            "ClusterInjectionPolicy" => None,
            "InjectionPolicy" => Some(
                object
                    .namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_owned()),
            ),
            _ => return None,
        };
        let spec = serde_json::from_value(object.root.get("spec")?.to_json()).ok()?;
        Some(Policy {
            object: index,
            name: object.name.clone(),
            namespace,
            spec,
        })
    }

    pub fn is_cluster(&self) -> bool {
        self.namespace.is_none()
    }

    /// `name` for a cluster policy, `namespace/name` for a namespaced one
    /// (as reports and InjectionTests name them).
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn template_ref(&self) -> Option<TemplateRef> {
        self.spec.template.as_deref().map(TemplateRef::parse)
    }

    /// Whether the policy selects a pod in a namespace with `namespace_labels`.
    /// A namespaced policy only ever sees its own namespace.
    pub fn selects(
        &self,
        namespace: &str,
        namespace_labels: &Labels,
        pod_labels: &Labels,
        service_account: &str,
    ) -> bool {
        self.covers_namespace(namespace, namespace_labels)
            && self
                .spec
                .object_selector
                .as_ref()
                .is_none_or(|s| s.matches(pod_labels))
            && self
                .spec
                .service_accounts
                .as_ref()
                .is_none_or(|accounts| accounts.iter().any(|a| a == service_account))
    }

    /// Whether the policy reaches pods of `namespace` at all: its own
    /// namespace for a namespaced policy, the `namespaceSelector`'s for a
    /// cluster policy.
    pub fn covers_namespace(&self, namespace: &str, namespace_labels: &Labels) -> bool {
        match &self.namespace {
            Some(own) => own == namespace,
            None => self
                .spec
                .namespace_selector
                .as_ref()
                .is_none_or(|s| s.matches(namespace_labels)),
        }
    }

    /// Candidate order: enforced cluster policies, then namespaced, then
    /// cluster; then higher priority first; then name, for a stable order.
    pub fn rank(&self) -> (u8, i64, String) {
        let group = match (self.is_cluster(), self.spec.enforce) {
            (true, true) => 0,
            (false, _) => 1,
            (true, false) => 2,
        };
        (group, -self.spec.priority, self.display_name())
    }
}

/// The rollout bucket of a workload: FNV-1a (64 bit) of
/// `namespace/kind/name`, modulo 100. A workload is in a rollout of
/// `percent` when its bucket is below `percent`, so raising the percentage
/// only ever adds workloads.
pub fn rollout_bucket(namespace: &str, kind: &str, name: &str) -> u32 {
    let key = format!("{namespace}/{kind}/{name}");
    (crate::hash::fnv1a64(key.as_bytes()) % 100) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_buckets_are_stable() {
        // Documented in docs/commands.md so users can predict them.
        assert_eq!(
            rollout_bucket("shop", "Deployment", "web"),
            rollout_bucket("shop", "Deployment", "web")
        );
        let spread: std::collections::BTreeSet<_> = (0..500)
            .map(|i| rollout_bucket("ns", "Deployment", &format!("app-{i}")))
            .collect();
        assert!(spread.len() > 90, "buckets spread over 0..100");
    }
}
