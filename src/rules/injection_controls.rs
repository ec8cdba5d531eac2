//! What the injection-control rules read: the pod template's keys, its
//! namespace as the inputs know it, and the webhooks among the inputs. The
//! rules are INJ204 (injection off, overrides set), INJ205 (one control set
//! twice, the losing value named), INJ209 (contradictory namespace labels)
//! and INJ211 (an opt-in that never reaches its injector). Facts:
//! injectors.md §1.1–1.4 (Istio's two gates), §3.1–3.2 (Linkerd), §7.

use crate::diagnostic::Diagnostic;
use crate::engine::Cluster;
use crate::injectors::known::gate::Gate;
use crate::injectors::known::{PodKey, Where};
use crate::model::Object;
use crate::model::namespace::Namespaces;
use crate::model::selector::{Labels, Operator};
use crate::model::workload::Workload;
use crate::yaml::{Entry, Node};

use super::{
    conflicting_injection_controls as inj205, contradictory_namespace_labels as inj209,
    injection_off_with_overrides as inj204, unreachable_opt_in as inj211,
};

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
    /// chart defaults (§1.3), as the simulation sees them.
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
    /// namespace with `namespace_labels` (gate 1, §1.1).
    pub(super) fn istio_reached(&self, namespace_labels: &Labels, pod_labels: &Labels) -> bool {
        !self
            .gate
            .reaching("istio", namespace_labels, pod_labels)
            .is_empty()
    }
}

/// The findings about `object`.
/// `keys` are the object's [`pod_keys`](super::pod_keys).
pub(super) fn check(
    object: &Object,
    default_namespace: &str,
    keys: &[PodKey<'_>],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    if object.kind == "Namespace" && object.group().is_empty() {
        let mut found = inj209::check_namespace(object, default_namespace);
        found.extend(inj211::check_namespace(object, default_namespace));
        found.extend(inj211::check_namespace_revision(
            object,
            default_namespace,
            ctx,
        ));
        return found;
    }
    let Some(workload) = Workload::of(object, default_namespace) else {
        return Vec::new();
    };
    let pod = Pod {
        object,
        default_namespace,
        keys,
    };
    let namespace = ctx.namespaces.get(&workload.namespace);
    let namespace_object = namespace
        .and_then(|n| n.object)
        .and_then(|i| ctx.objects.get(i));
    let ns = Ns {
        name: &workload.namespace,
        labels: namespace.map(|n| &n.labels),
        object: namespace_object,
    };
    let mut found = Vec::new();
    inj205::istio_label_vs_annotation(&pod, &mut found);
    inj205::istio_namespace_wins(&pod, &ns, &mut found);
    inj205::own_namespace_wins(&pod, &ns, &mut found);
    inj204::off_with_overrides(&pod, &mut found);
    inj211::istio_annotation_only(&pod, &ns, &workload.labels, ctx, &mut found);
    inj211::linkerd_label(&pod, &mut found);
    inj211::istio_pod_revision(&pod, &ns, ctx, &mut found);
    found
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

pub(super) fn annotation_of(object: &Object, key: &str) -> bool {
    object
        .root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    fn rules(text: &str) -> Vec<&'static str> {
        let objects: Vec<Object> = parse_stream(text, &Limits::default())
            .documents
            .into_iter()
            .filter_map(|(i, root)| Object::from_root(FileId(0), i, root))
            .collect();
        let cluster = Cluster::from_objects(&objects, &crate::config::Config::default());
        let ctx = Context::new(&objects, &cluster);
        objects
            .iter()
            .flat_map(|o| {
                check(
                    o,
                    "default",
                    &crate::injectors::known::pod_keys(o, "default"),
                    &ctx,
                )
            })
            .map(|d| d.rule.id)
            .collect()
    }

    fn deployment(namespace: &str, labels: &str, annotations: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {namespace}}}\n\
             spec:\n  template:\n    metadata:\n      labels: {{{labels}}}\n      \
             annotations: {{{annotations}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n"
        )
    }

    const ENABLED: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: on, labels: {istio-injection: enabled}}\n---\n";

    #[test]
    fn an_istio_annotation_opt_in_reaches_istiod_in_a_selected_namespace() {
        let pod = deployment("on", "app: web", "sidecar.istio.io/inject: \"true\"");
        assert!(rules(&format!("{ENABLED}{pod}")).is_empty());
        // The namespace's labels are unknown: not reported.
        assert!(
            rules(&deployment(
                "elsewhere",
                "app: web",
                "sidecar.istio.io/inject: \"true\""
            ))
            .is_empty()
        );
        // The chart defaults, an unlabelled namespace: never reaches istiod.
        assert_eq!(
            rules(&deployment(
                "default",
                "app: web",
                "sidecar.istio.io/inject: \"true\""
            )),
            ["INJ211"]
        );
    }

    #[test]
    fn webhooks_among_the_inputs_replace_the_chart_defaults() {
        // Only a canary revision is installed: the label would not help
        // either, so the annotation is not what keeps the pod out.
        let canary = "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n\
            metadata: {name: istio-sidecar-injector-canary}\nwebhooks:\n\
            - name: rev.object.sidecar-injector.istio.io\n  \
              clientConfig: {service: {name: istiod-canary, namespace: istio-system}}\n  \
              rules: [{apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], resources: [pods]}]\n  \
              namespaceSelector: {matchExpressions: [{key: istio.io/rev, operator: DoesNotExist}]}\n  \
              objectSelector: {matchExpressions: [{key: istio.io/rev, operator: In, values: [canary]}]}\n---\n";
        let pod = deployment("default", "app: web", "sidecar.istio.io/inject: \"true\"");
        assert!(rules(&format!("{canary}{pod}")).is_empty());
        let pod = deployment("default", "istio.io/rev: canary", "");
        assert!(rules(&format!("{canary}{pod}")).is_empty());
        let pod = deployment("default", "istio.io/rev: stable", "");
        assert_eq!(rules(&format!("{canary}{pod}")), ["INJ211"]);
        // Without Istio webhooks among the inputs, revisions are not checked.
        assert!(rules(&deployment("default", "istio.io/rev: stable", "")).is_empty());
    }

    #[test]
    fn the_namespace_wins_only_where_the_injector_says_so() {
        // Linkerd: the pod always wins over the namespace.
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: l, annotations: {linkerd.io/inject: enabled}}\n---\n";
        let pod = deployment("l", "app: web", "linkerd.io/inject: disabled");
        assert!(rules(&format!("{ns}{pod}")).is_empty());
        // Istio: a pod revision under `istio-injection: enabled` is ignored.
        let pod = deployment("on", "istio.io/rev: canary", "");
        assert_eq!(rules(&format!("{ENABLED}{pod}")), ["INJ205"]);
        // The same value twice is no conflict.
        let pod = deployment(
            "default",
            "sidecar.istio.io/inject: \"false\"",
            "sidecar.istio.io/inject: \"false\"",
        );
        assert!(rules(&pod).is_empty());
    }

    #[test]
    fn overrides_count_only_while_injection_is_off() {
        let off = deployment(
            "default",
            "sidecar.istio.io/inject: \"true\"",
            "sidecar.istio.io/inject: \"false\", sidecar.istio.io/proxyCPU: 1",
        );
        // The label wins: injection is on, the override applies (INJ205 only).
        assert_eq!(rules(&off), ["INJ205"]);
        let off = deployment(
            "default",
            "app: web",
            "sidecar.istio.io/inject: \"false\", sidecar.istio.io/status: \"{}\", galley.istio.io/analyze-suppress: IST0103",
        );
        assert!(rules(&off).is_empty());
    }
}
