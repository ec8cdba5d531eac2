//! The rules that read one object's labels and annotations, run on every
//! object in parallel: INJ201 (syntax), INJ202 (unknown injector key),
//! INJ203 (rejected value), INJ208 (deprecated key), INJ207 and INJ212
//! (placement), and the injection controls (INJ204, INJ205, INJ209, INJ211).

use super::injection_controls::{self, Context, Ns, Pod};
use super::{
    conflicting_injection_controls as inj205, contradictory_namespace_labels as inj209,
    injection_off_with_overrides as inj204, unreachable_opt_in as inj211,
};
use crate::diagnostic::Diagnostic;
use crate::engine::Cluster;
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::known::{PodKey, pod_keys};
use crate::model::Object;
use crate::model::workload::Workload;

/// The label and annotation rules on every object, in parallel.
pub fn check_all(
    objects: &[Object],
    default_namespace: &str,
    cluster: &Cluster,
) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    let context = injection_controls::Context::new(objects, cluster);
    objects
        .par_iter()
        .flat_map_iter(|object| {
            // Read the pod template's keys once for every rule that needs them.
            let keys = pod_keys(object, default_namespace);
            let mut found = check(object, default_namespace, &keys, &cluster.known);
            found.extend(injection_controls(
                object,
                default_namespace,
                &keys,
                &context,
            ));
            found
        })
        .collect()
}

/// The rules about one object's labels and annotations. `keys` are the
/// object's [`pod_keys`].
fn check(
    object: &Object,
    default_namespace: &str,
    keys: &[PodKey<'_>],
    known: &KnownSettings,
) -> Vec<Diagnostic> {
    let mut found = super::invalid_label_or_annotation::check(object, default_namespace);
    found.extend(super::unknown_injector_key::check(
        object,
        default_namespace,
        keys,
    ));
    found.extend(super::rejected_injector_value::check(
        object,
        default_namespace,
        keys,
        known,
    ));
    found.extend(super::deprecated_injector_key::check(
        object,
        default_namespace,
        keys,
    ));
    found.extend(super::misplaced_pod_key::check(object, default_namespace));
    found.extend(super::injection_requested_where_skipped::check(
        object,
        default_namespace,
    ));
    found
}

/// The findings about `object`.
/// `keys` are the object's [`pod_keys`](super::pod_keys).
fn injection_controls(
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
            .flat_map(|o| injection_controls(o, "default", &pod_keys(o, "default"), &ctx))
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
