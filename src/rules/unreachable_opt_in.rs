//! INJ211: an opt-in that can never reach its injector.

use super::injection_controls::{
    Context, ISTIO_INJECT, ISTIO_INJECTION, ISTIO_REV, LINKERD_INJECT, Ns, Pod, annotation_of,
    at_label, label, value,
};
use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::Where;
use crate::model::Object;
use crate::model::selector::Labels;

pub const RULE: super::Rule = super::Rule {
    id: "INJ211",
    name: "unreachable-opt-in",
    severity: Severity::Error,
    summary: "an opt-in that can never reach its injector (e.g. Istio inject as an annotation only, `linkerd.io/inject` as a label, a revision with no webhook)",
    explain: include_str!("unreachable_opt_in.md"),
};

fn new(message: String, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}

/// INJ211: `sidecar.istio.io/inject: "true"` only as an annotation, where no
/// Istio webhook is called for the pod's labels but one would be with the
/// label (the webhooks' objectSelector reads labels only).
pub(super) fn istio_annotation_only(
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
    let d = new(
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

/// INJ211: `linkerd.io/inject` as a pod label (Linkerd reads the annotation:
/// `pkg/inject/report.go`) without the annotation.
pub(super) fn linkerd_label(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
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
    new(
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
/// webhook among the inputs serves.
pub(super) fn istio_pod_revision(
    pod: &Pod<'_>,
    ns: &Ns<'_>,
    ctx: &Context<'_>,
    found: &mut Vec<Diagnostic>,
) {
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
    new(
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

/// `linkerd.io/inject` as a namespace label without the annotation.
pub(super) fn check_namespace(object: &Object, default_namespace: &str) -> Option<Diagnostic> {
    let entry = label(object, LINKERD_INJECT).filter(|e| {
        e.value.as_str() != Some("disabled") && !annotation_of(object, LINKERD_INJECT)
    })?;
    Some(at_label(
        linkerd_label_finding("namespace"),
        object,
        default_namespace,
        entry,
    ))
}

/// INJ211 for a Namespace whose `istio.io/rev` (deciding: no
/// `istio-injection`) names a revision no webhook among the inputs serves.
pub(super) fn check_namespace_revision(
    object: &Object,
    default_namespace: &str,
    ctx: &Context<'_>,
) -> Option<Diagnostic> {
    let served = ctx.istio_revisions.as_ref()?;
    if label(object, ISTIO_INJECTION).is_some() {
        return None;
    }
    let rev = label(object, ISTIO_REV)?;
    let value = rev.value.as_str()?;
    if served.iter().any(|s| s == value) {
        return None;
    }
    Some(at_label(
        unserved_revision(value, served, "its pods are"),
        object,
        default_namespace,
        rev,
    ))
}
