//! INJ205: the same injection control set twice with different values, where
//! one of them cannot win.

use super::injection_controls::{ISTIO_INJECT, ISTIO_INJECTION, ISTIO_REV, Ns, Pod, value};
use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::Where;
use crate::injectors::own::decide::{INJECT_ANNOTATION, NAMESPACE_LABEL};

pub const RULE: super::Rule = super::Rule {
    id: "INJ205",
    name: "conflicting-injection-controls",
    severity: Severity::Error,
    summary: "the same control set twice with different values (label vs annotation, pod vs namespace where the pod cannot win)",
    explain: include_str!("conflicting_injection_controls.md"),
};

fn new(message: String, label: &str, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(&RULE, message).label(label).help(help)
}

/// INJ205: `sidecar.istio.io/inject` as a label and as an annotation with
/// different values; the label wins (`injectRequired` step 3).
pub(super) fn istio_label_vs_annotation(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
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
    let d = new(
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

/// INJ205: an Istio pod control the namespace overrides (the chart's
/// webhooks, `chart_webhooks.yaml`): an opt-in
/// under `istio-injection: disabled`, a pod `istio.io/rev` under
/// `istio-injection` or a different namespace `istio.io/rev`.
pub(super) fn istio_namespace_wins(pod: &Pod<'_>, ns: &Ns<'_>, found: &mut Vec<Diagnostic>) {
    let injection = ns.label(ISTIO_INJECTION);
    let opt_in = pod
        .key(Where::PodLabel, ISTIO_INJECT)
        .or_else(|| pod.key(Where::PodAnnotation, ISTIO_INJECT))
        .filter(|k| value(k) == Some("true"));
    if let (Some(opt_in), Some("disabled")) = (opt_in, injection) {
        let d = new(
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
    let d = new(
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
pub(super) fn own_namespace_wins(pod: &Pod<'_>, ns: &Ns<'_>, found: &mut Vec<Diagnostic>) {
    if ns.label(NAMESPACE_LABEL) != Some("disabled") {
        return;
    }
    let Some(opt_in) = pod
        .key(Where::PodAnnotation, INJECT_ANNOTATION)
        .filter(|k| value(k) == Some("true"))
    else {
        return;
    };
    let d = new(
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
