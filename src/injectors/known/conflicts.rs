//! Contradictions between the injection controls of the known injectors,
//! per object: INJ204 (injection off, overrides set), INJ205 (one control set
//! twice, the losing value named), INJ209 (contradictory namespace labels) and
//! INJ211 (an opt-in that never reaches its injector). Facts: injectors.md
//! §1.1–1.4 (Istio's two gates), §3.1–3.2 (Linkerd), §7.

use crate::injectors::own::interpolate::escape_pointer;

use crate::diagnostic::Diagnostic;
use crate::engine::Cluster;
use crate::injectors::known::gate::Gate;
use crate::injectors::own::decide::{INJECT_ANNOTATION, NAMESPACE_LABEL};
use crate::model::Object;
use crate::model::namespace::Namespaces;
use crate::model::selector::{Labels, Operator};
use crate::model::workload::Workload;
use crate::rules::{
    conflicting_injection_controls as inj205, contradictory_namespace_labels as inj209,
    injection_off_with_overrides as inj204, unreachable_opt_in as inj211,
};
use crate::yaml::{Entry, Node, pointer};

use super::{PodKey, Where, vocabulary};

const ISTIO_INJECT: &str = "sidecar.istio.io/inject";
const ISTIO_INJECTION: &str = "istio-injection";
const ISTIO_REV: &str = "istio.io/rev";
const ISTIO_DATAPLANE: &str = "istio.io/dataplane-mode";
const LINKERD_INJECT: &str = "linkerd.io/inject";

/// What the checks read besides the object: the namespaces and the webhooks
/// among the inputs.
pub struct Context<'a> {
    objects: &'a [Object],
    namespaces: &'a Namespaces,
    /// The known injectors' webhooks: those among the inputs, else the
    /// chart defaults (§1.3), as the simulation sees them.
    gate: &'a Gate,
    /// Revisions the Istio webhooks among the inputs serve (`istio.io/rev`
    /// In/matchLabels values); `None` when there are no Istio webhooks among
    /// the inputs or none of them selects by revision.
    istio_revisions: Option<Vec<String>>,
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
    fn istio_reached(&self, namespace_labels: &Labels, pod_labels: &Labels) -> bool {
        !self
            .gate
            .reaching("istio", namespace_labels, pod_labels)
            .is_empty()
    }
}

/// The findings about `object`.
/// `keys` are the object's [`pod_keys`](super::pod_keys).
pub fn check(
    object: &Object,
    default_namespace: &str,
    keys: &[PodKey<'_>],
    ctx: &Context<'_>,
) -> Vec<Diagnostic> {
    if object.kind == "Namespace" && object.group().is_empty() {
        let mut found = check_namespace(object, default_namespace);
        found.extend(check_namespace_revision(object, default_namespace, ctx));
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
    istio_label_vs_annotation(&pod, &mut found);
    istio_namespace_wins(&pod, &ns, &mut found);
    own_namespace_wins(&pod, &ns, &mut found);
    off_with_overrides(&pod, &mut found);
    istio_annotation_only(&pod, &ns, &workload.labels, ctx, &mut found);
    linkerd_label(&pod, &mut found);
    istio_pod_revision(&pod, &ns, ctx, &mut found);
    found
}

/// The pod template's keys.
struct Pod<'a> {
    object: &'a Object,
    default_namespace: &'a str,
    keys: &'a [PodKey<'a>],
}

impl Pod<'_> {
    fn key(&self, placement: Where, key: &str) -> Option<&PodKey<'_>> {
        self.keys
            .iter()
            .find(|k| k.placement == placement && k.entry.key == key)
    }

    /// `diagnostic` at `key`.
    fn at(&self, diagnostic: Diagnostic, key: &PodKey<'_>) -> Diagnostic {
        diagnostic
            .at(self.object.file, key.entry.key_span.clone())
            .path(key.pointer.clone())
            .object(Some(self.object.object_ref(self.default_namespace)))
    }
}

/// The pod's namespace, as the inputs know it.
struct Ns<'a> {
    name: &'a str,
    /// `None` when the namespace is not among the inputs (nor built in).
    labels: Option<&'a Labels>,
    object: Option<&'a Object>,
}

impl Ns<'_> {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels.and_then(|l| l.get(key)).map(String::as_str)
    }

    /// `diagnostic` with a secondary label at the namespace's label `key`
    /// (when the Namespace is among the inputs).
    fn label_at(&self, diagnostic: Diagnostic, key: &str, message: String) -> Diagnostic {
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

fn value<'a>(key: &PodKey<'a>) -> Option<&'a str> {
    key.entry.value.as_str()
}

fn labels(object: &Object) -> impl Iterator<Item = &Entry> {
    object
        .root
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
}

fn annotation_of(object: &Object, key: &str) -> bool {
    object
        .root
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(key))
        .is_some()
}

/// INJ205: `sidecar.istio.io/inject` as a label and as an annotation with
/// different values; the label wins (§1.2 step 3).
fn istio_label_vs_annotation(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
    let (Some(label), Some(annotation)) = (
        pod.key(Where::PodLabel, ISTIO_INJECT),
        pod.key(Where::PodAnnotation, ISTIO_INJECT),
    ) else {
        return;
    };
    let (Some(l), Some(a)) = (value(label), value(annotation)) else {
        return;
    };
    if l == a {
        return;
    }
    let d = inj205::new(
        format!(
            "`{ISTIO_INJECT}` is \"{a}\" as a pod annotation but \"{l}\" as a pod label: \
             Istio uses the label's \"{l}\""
        ),
        "ignored",
        "remove the annotation; the label is the supported form",
    );
    found.push(pod.at(d, annotation).with_label(
        pod.object.file,
        label.entry.key_span.clone(),
        "the label wins",
    ));
}

/// INJ205: an Istio pod control the namespace overrides (§1.4): an opt-in
/// under `istio-injection: disabled`, a pod `istio.io/rev` under
/// `istio-injection` or a different namespace `istio.io/rev`.
fn istio_namespace_wins(pod: &Pod<'_>, ns: &Ns<'_>, found: &mut Vec<Diagnostic>) {
    let injection = ns.label(ISTIO_INJECTION);
    let opt_in = pod
        .key(Where::PodLabel, ISTIO_INJECT)
        .or_else(|| pod.key(Where::PodAnnotation, ISTIO_INJECT))
        .filter(|k| value(k) == Some("true"));
    if let (Some(opt_in), Some("disabled")) = (opt_in, injection) {
        let d = inj205::new(
            format!(
                "`{ISTIO_INJECT}: \"true\"` cannot win over `{ISTIO_INJECTION}: disabled` on \
                 namespace `{}`: no Istio webhook is called for the pod, so Istio uses \
                 \"disabled\" and never injects it",
                ns.name
            ),
            "overridden by the namespace",
            format!("remove the pod's opt-in, or label the namespace `{ISTIO_INJECTION}: enabled`"),
        );
        let d = ns.label_at(
            pod.at(d, opt_in),
            ISTIO_INJECTION,
            "injection disabled here".into(),
        );
        found.push(d);
    }
    let Some(rev) = pod.key(Where::PodLabel, ISTIO_REV) else {
        return;
    };
    let Some(pod_rev) = value(rev) else {
        return;
    };
    let (winner, uses) = match (injection, ns.label(ISTIO_REV)) {
        (Some("enabled"), _) => (ISTIO_INJECTION, "the default revision".to_owned()),
        (Some("disabled"), _) => (ISTIO_INJECTION, "no revision (never injects)".to_owned()),
        (None, Some(ns_rev)) if ns_rev != pod_rev => (ISTIO_REV, format!("revision `{ns_rev}`")),
        _ => return,
    };
    let ns_value = ns.label(winner).unwrap_or_default();
    let d = inj205::new(
        format!(
            "the pod label `{ISTIO_REV}: {pod_rev}` cannot win over the label \
             `{winner}: {ns_value}` on namespace `{}`: Istio uses {uses}",
            ns.name
        ),
        "ignored",
        format!("remove the pod's `{ISTIO_REV}`, or choose the revision on the namespace only"),
    );
    found.push(ns.label_at(pod.at(d, rev), winner, "the namespace wins".into()));
}

/// INJ205: the repository's own injector skips a namespace labelled
/// `kubectl-inject.dev/injection: disabled` before it reads the pod's
/// `kubectl-inject.dev/inject` (SPEC, the decision steps 2 and 4).
fn own_namespace_wins(pod: &Pod<'_>, ns: &Ns<'_>, found: &mut Vec<Diagnostic>) {
    if ns.label(NAMESPACE_LABEL) != Some("disabled") {
        return;
    }
    let Some(opt_in) = pod
        .key(Where::PodAnnotation, INJECT_ANNOTATION)
        .filter(|k| value(k) == Some("true"))
    else {
        return;
    };
    let d = inj205::new(
        format!(
            "`{INJECT_ANNOTATION}: \"true\"` cannot win over `{NAMESPACE_LABEL}: disabled` on \
             namespace `{}`: the injector skips the namespace first and uses \"disabled\"",
            ns.name
        ),
        "overridden by the namespace",
        "remove the pod's opt-in, or enable injection for the namespace",
    );
    found.push(ns.label_at(
        pod.at(d, opt_in),
        NAMESPACE_LABEL,
        "injection disabled here".into(),
    ));
}

/// Istio keys that are not proxy overrides: the switches and keys other
/// components read.
const ISTIO_NOT_OVERRIDES: &[&str] = &[
    ISTIO_INJECT,
    ISTIO_REV,
    ISTIO_DATAPLANE,
    "galley.istio.io/analyze-suppress",
];

/// Linkerd annotation prefixes of proxy overrides (§3.3).
const LINKERD_OVERRIDES: &[&str] = &[
    "config.linkerd.io/",
    "config.alpha.linkerd.io/",
    "config.beta.linkerd.io/",
];

/// Linkerd keys under those prefixes that matter without a proxy:
/// `opaque-ports` is read by the destination controller for meshed clients
/// of the pod.
const LINKERD_NOT_OVERRIDES: &[&str] = &["config.linkerd.io/opaque-ports"];

/// INJ204: the pod turns its injector off (Istio: the effective
/// `sidecar.istio.io/inject`, label before annotation, is "false"; Linkerd:
/// the pod annotation `linkerd.io/inject: disabled`, which always wins) and
/// still sets that injector's proxy overrides.
fn off_with_overrides(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
    let vocabulary = vocabulary();
    let istio_switch = pod
        .key(Where::PodLabel, ISTIO_INJECT)
        .or_else(|| pod.key(Where::PodAnnotation, ISTIO_INJECT))
        .filter(|k| value(k) == Some("false"));
    let linkerd_switch = pod
        .key(Where::PodAnnotation, LINKERD_INJECT)
        .filter(|k| value(k) == Some("disabled"));
    for key in pod
        .keys
        .iter()
        .filter(|k| k.placement == Where::PodAnnotation)
    {
        let name = key.entry.key.as_str();
        let (switch, display) = if let Some(switch) = istio_switch.filter(|_| {
            !ISTIO_NOT_OVERRIDES.contains(&name)
                && vocabulary.injector_of(name).is_some_and(|i| {
                    i.name == "istio" && !i.key(name).is_some_and(|spec| spec.generated)
                })
        }) {
            (switch, "Istio")
        } else if let Some(switch) = linkerd_switch.filter(|_| {
            LINKERD_OVERRIDES.iter().any(|p| name.starts_with(p))
                && !LINKERD_NOT_OVERRIDES.contains(&name)
        }) {
            (switch, "Linkerd")
        } else {
            continue;
        };
        let switch_value = value(switch).unwrap_or_default();
        let d = inj204::new(
            format!(
                "`{name}` has no effect: the pod turns {display} injection off with `{}: {}` \
                 as a {}",
                switch.entry.key,
                quoted(switch_value),
                switch.placement.describe()
            ),
            format!("remove `{name}`, or turn injection back on"),
        );
        found.push(pod.at(d, key).with_label(
            pod.object.file,
            switch.entry.key_span.clone(),
            "injection turned off here",
        ));
    }
}

fn quoted(value: &str) -> String {
    if matches!(value, "true" | "false") {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

/// INJ211: `sidecar.istio.io/inject: "true"` only as an annotation, where no
/// Istio webhook is called for the pod's labels but one would be with the
/// label (§1.1, §1.4, §7.2).
fn istio_annotation_only(
    pod: &Pod<'_>,
    ns: &Ns<'_>,
    pod_labels: &Labels,
    ctx: &Context<'_>,
    found: &mut Vec<Diagnostic>,
) {
    if pod.key(Where::PodLabel, ISTIO_INJECT).is_some() {
        return;
    }
    let Some(annotation) = pod
        .key(Where::PodAnnotation, ISTIO_INJECT)
        .filter(|k| value(k) == Some("true"))
    else {
        return;
    };
    // An unknown namespace may be labelled for injection; a disabled one is
    // INJ205's.
    let Some(ns_labels) = ns.labels else {
        return;
    };
    if ns.label(ISTIO_INJECTION) == Some("disabled") {
        return;
    }
    let mut with_label = pod_labels.clone();
    with_label.insert(ISTIO_INJECT.to_owned(), "true".to_owned());
    if ctx.istio_reached(ns_labels, pod_labels) || !ctx.istio_reached(ns_labels, &with_label) {
        return;
    }
    let d = inj211::new(
        format!(
            "this opt-in never reaches istiod: `{ISTIO_INJECT}: \"true\"` is a pod annotation, \
             and the webhook's objectSelector only sees labels (namespace `{}` does not \
             select the pod for injection)",
            ns.name
        ),
        "an annotation, not a label",
        format!(
            "make it a pod label: `{ISTIO_INJECT}: \"true\"` under the pod template's `labels`"
        ),
    );
    found.push(pod.at(d, annotation));
}

/// INJ211: `linkerd.io/inject` as a pod label (Linkerd reads the annotation,
/// §3.1, §7.15) without the annotation.
fn linkerd_label(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
    if pod.key(Where::PodAnnotation, LINKERD_INJECT).is_some() {
        return;
    }
    let Some(label) = pod
        .key(Where::PodLabel, LINKERD_INJECT)
        .filter(|k| value(k) != Some("disabled"))
    else {
        return;
    };
    found.push(pod.at(linkerd_label_finding("pod"), label));
}

fn linkerd_label_finding(of: &str) -> Diagnostic {
    inj211::new(
        format!(
            "this opt-in never reaches Linkerd: `{LINKERD_INJECT}` is a {of} label, and the \
             proxy injector reads only the {of} annotation"
        ),
        "a label, not an annotation",
        format!("make it a {of} annotation `{LINKERD_INJECT}`"),
    )
}

/// INJ211: a pod `istio.io/rev` that decides (the namespace has neither
/// `istio-injection` nor `istio.io/rev`) naming a revision that no Istio
/// webhook among the inputs serves (§7.6).
fn istio_pod_revision(pod: &Pod<'_>, ns: &Ns<'_>, ctx: &Context<'_>, found: &mut Vec<Diagnostic>) {
    let Some(served) = &ctx.istio_revisions else {
        return;
    };
    if ns.labels.is_none() || ns.label(ISTIO_INJECTION).is_some() || ns.label(ISTIO_REV).is_some() {
        return;
    }
    let Some(key) = pod.key(Where::PodLabel, ISTIO_REV) else {
        return;
    };
    let Some(rev) = value(key).filter(|r| !served.iter().any(|s| s == r)) else {
        return;
    };
    found.push(pod.at(unserved_revision(rev, served, "the pod is"), key));
}

fn unserved_revision(rev: &str, served: &[String], who: &str) -> Diagnostic {
    inj211::new(
        format!(
            "this opt-in never reaches istiod: no Istio webhook among the inputs serves revision \
             `{rev}` (served: {}), so {who} silently not injected",
            served
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "no webhook for this revision",
        "name a revision or tag that is installed, or add its MutatingWebhookConfiguration to the inputs",
    )
}

/// INJ209 and the namespace cases of INJ211.
fn check_namespace(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    let entries: Vec<&Entry> = labels(object).collect();
    let find = |key: &str| entries.iter().copied().find(|e| e.key == key);
    let pointer = |key: &str| format!("/metadata/labels/{}", escape_pointer(key));
    let at = |d: Diagnostic, entry: &Entry| {
        d.at(object.file, entry.key_span.clone())
            .path(pointer(&entry.key))
            .object(Some(object.object_ref(default_namespace)))
    };
    let mut found = Vec::new();
    if let Some(injection) = find(ISTIO_INJECTION) {
        let injection_value = injection.value.as_str().unwrap_or_default();
        if let Some(rev) = find(ISTIO_REV) {
            let effect = match injection_value {
                "enabled" => "Istio injects the default revision".to_owned(),
                "disabled" => "it blocks every revision, so no pod here is injected".to_owned(),
                _ => "with this value no Istio webhook selects the namespace".to_owned(),
            };
            let d = inj209::new(
                format!(
                    "`{ISTIO_REV}: {}` is ignored: `{ISTIO_INJECTION}: {injection_value}` on the \
                     same namespace takes precedence: {effect}",
                    rev.value.as_str().unwrap_or_default()
                ),
                "ignored",
                format!("keep one of the two: remove `{ISTIO_INJECTION}` to use the revision"),
            );
            found.push(at(d, rev).with_label(
                object.file,
                injection.key_span.clone(),
                "this label wins",
            ));
        }
        if let Some(mode) = find(ISTIO_DATAPLANE)
            .filter(|m| injection_value == "enabled" && m.value.as_str() == Some("ambient"))
        {
            let d = inj209::new(
                format!(
                    "`{ISTIO_DATAPLANE}: ambient` contradicts `{ISTIO_INJECTION}: enabled`: pods \
                     here get sidecars, and ambient mode leaves pods with sidecars alone"
                ),
                "contradicts sidecar injection",
                format!("keep one data-plane mode: remove `{ISTIO_INJECTION}` for ambient"),
            );
            found.push(at(d, mode).with_label(
                object.file,
                injection.key_span.clone(),
                "sidecar injection",
            ));
        }
    }
    if let Some(label) = find(LINKERD_INJECT)
        .filter(|e| e.value.as_str() != Some("disabled") && !annotation_of(object, LINKERD_INJECT))
    {
        found.push(at(linkerd_label_finding("namespace"), label));
    }
    found
}

/// INJ211 for a Namespace whose `istio.io/rev` (deciding: no
/// `istio-injection`) names a revision no webhook among the inputs serves.
fn check_namespace_revision(
    object: &Object,
    default_namespace: &str,
    ctx: &Context<'_>,
) -> Option<Diagnostic> {
    let served = ctx.istio_revisions.as_ref()?;
    let entries: Vec<&Entry> = labels(object).collect();
    if entries.iter().any(|e| e.key == ISTIO_INJECTION) {
        return None;
    }
    let rev = entries.iter().find(|e| e.key == ISTIO_REV)?;
    let value = rev.value.as_str()?;
    if served.iter().any(|s| s == value) {
        return None;
    }
    Some(
        unserved_revision(value, served, "its pods are")
            .at(object.file, rev.key_span.clone())
            .path(format!("/metadata/labels/{}", pointer::escape(ISTIO_REV)))
            .object(Some(object.object_ref(default_namespace))),
    )
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
            .flat_map(|o| check(o, "default", &super::super::pod_keys(o, "default"), &ctx))
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
