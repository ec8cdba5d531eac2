//! What the label and annotation rules read: the pod template's keys, its
//! namespace as the inputs know it, and the webhooks among the inputs. The
//! rules are INJ204 (injection off, overrides set), INJ205 (one control set
//! twice, the losing value named), INJ209 (contradictory namespace labels)
//! and INJ211 (an opt-in that never reaches its injector). Facts: Istio's
//! two gates (the chart's webhooks,
//! <https://github.com/istio/istio/blob/86c9f01fd735fb01d8192f5bcaf0d424afb7f14c/manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml>,
//! and `injectRequired`,
//! <https://github.com/istio/istio/blob/86c9f01fd735fb01d8192f5bcaf0d424afb7f14c/pkg/kube/inject/inject.go>);
//! Linkerd's decision and namespace inheritance
//! (<https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/report.go>,
//! <https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/inject.go>).

use crate::diagnostic::Diagnostic;
use crate::engine::Cluster;
use crate::injectors::known::gate::Gate;
use crate::injectors::known::{PodKey, Where};
use crate::model::Object;
use crate::model::namespace::Namespaces;
use crate::model::selector::{Labels, Operator};
use crate::yaml::{Entry, Node};

pub(super) const ISTIO_INJECT: &str = "sidecar.istio.io/inject";
pub(super) const ISTIO_INJECTION: &str = "istio-injection";
pub(super) const ISTIO_REV: &str = "istio.io/rev";
pub(super) const ISTIO_DATAPLANE: &str = "istio.io/dataplane-mode";
pub(super) const LINKERD_INJECT: &str = "linkerd.io/inject";

/// What the checks read besides the object: the namespaces and the webhooks
/// among the inputs.
pub(super) struct Context<'a> {
    pub(super) objects: &'a [Object],
    pub(super) namespaces: &'a Namespaces,
    /// The known injectors' webhooks: those among the inputs, else the
    /// chart defaults (`chart_webhooks.yaml`), as the simulation sees them.
    pub(super) gate: &'a Gate,
    /// Revisions the Istio webhooks among the inputs serve (`istio.io/rev`
    /// In/matchLabels values); `None` when there are no Istio webhooks among
    /// the inputs or none of them selects by revision.
    pub(super) istio_revisions: Option<Vec<String>>,
}

impl<'a> Context<'a> {
    pub fn new(objects: &'a [Object], cluster: &'a Cluster) -> Context<'a> {
        let istio: Vec<_> = cluster
            .webhooks
            .iter()
            .filter(|w| w.injector() == Some("istio"))
            .collect();
        let mut revisions = Vec::new();
        for webhook in &istio {
            for selector in [&webhook.namespace_selector, &webhook.object_selector]
                .into_iter()
                .flatten()
            {
                revisions.extend(selector.match_labels.get(ISTIO_REV).cloned());
                for requirement in &selector.match_expressions {
                    if requirement.key == ISTIO_REV && requirement.operator == Operator::In {
                        revisions.extend(requirement.values.iter().cloned());
                    }
                }
            }
        }
        revisions.sort();
        revisions.dedup();
        Context {
            objects,
            namespaces: &cluster.namespaces,
            gate: &cluster.gate,
            istio_revisions: (!revisions.is_empty()).then_some(revisions),
        }
    }

    /// Whether an Istio webhook is called for a pod with `pod_labels` in a
    /// namespace with `namespace_labels` (gate 1: the webhooks' selectors).
    pub(super) fn istio_reached(&self, namespace_labels: &Labels, pod_labels: &Labels) -> bool {
        !self
            .gate
            .reaching("istio", namespace_labels, pod_labels)
            .is_empty()
    }
}

/// The pod template's keys.
pub(super) struct Pod<'a> {
    pub(super) object: &'a Object,
    pub(super) default_namespace: &'a str,
    pub(super) keys: &'a [PodKey<'a>],
}

impl Pod<'_> {
    pub(super) fn key(&self, placement: Where, key: &str) -> Option<&PodKey<'_>> {
        self.keys
            .iter()
            .find(|k| k.placement == placement && k.entry.key == key)
    }

    /// `diagnostic` at `key`.
    pub(super) fn at(&self, diagnostic: Diagnostic, key: &PodKey<'_>) -> Diagnostic {
        diagnostic
            .at(self.object.file, key.entry.key_span.clone())
            .path(key.pointer.clone())
            .object(Some(self.object.object_ref(self.default_namespace)))
    }
}

/// The pod's namespace, as the inputs know it.
pub(super) struct Ns<'a> {
    pub(super) name: &'a str,
    /// `None` when the namespace is not among the inputs (nor built in).
    pub(super) labels: Option<&'a Labels>,
    pub(super) object: Option<&'a Object>,
}

impl Ns<'_> {
    pub(super) fn label(&self, key: &str) -> Option<&str> {
        self.labels.and_then(|l| l.get(key)).map(String::as_str)
    }

    /// `diagnostic` with a secondary label at the namespace's label `key`
    /// (when the Namespace is among the inputs).
    pub(super) fn label_at(
        &self,
        diagnostic: Diagnostic,
        key: &str,
        message: String,
    ) -> Diagnostic {
        match self
            .object
            .and_then(|o| Some((o, labels(o).find(|e| e.key == key)?)))
        {
            Some((object, entry)) => {
                diagnostic.with_label(object.file, entry.key_span.clone(), message)
            }
            None => diagnostic,
        }
    }
}

pub(super) fn value<'a>(key: &PodKey<'a>) -> Option<&'a str> {
    key.entry.value.as_str()
}

pub(super) fn labels(object: &Object) -> impl Iterator<Item = &Entry> {
    object
        .root
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
}

/// The namespace label `key` of `object`.
pub(super) fn label<'o>(object: &'o Object, key: &str) -> Option<&'o Entry> {
    labels(object).find(|e| e.key == key)
}

/// `finding` at the key of the namespace label `entry` of `object`.
pub(super) fn at_label(
    finding: Diagnostic,
    object: &Object,
    default_namespace: &str,
    entry: &Entry,
) -> Diagnostic {
    finding
        .at(object.file, entry.key_span.clone())
        .path(format!(
            "/metadata/labels/{}",
            crate::yaml::pointer::escape(&entry.key)
        ))
        .object(Some(object.object_ref(default_namespace)))
}

pub(super) fn annotation_of(object: &Object, key: &str) -> bool {
    object
        .root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .is_some()
}

/// `finding` placed at `key` of `object`.
pub(super) fn at_key(
    finding: Diagnostic,
    key: &PodKey<'_>,
    object: &Object,
    default_namespace: &str,
) -> Diagnostic {
    finding
        .at(object.file, key.entry.key_span.clone())
        .path(key.pointer.clone())
        .object(Some(object.object_ref(default_namespace)))
}
