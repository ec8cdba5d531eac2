//! Istio's injector gate (gate 2): `injectRequired` in
//! <https://github.com/istio/istio/blob/86c9f01fd735fb01d8192f5bcaf0d424afb7f14c/pkg/kube/inject/inject.go>,
//! step by step, with the value parsing of the configured version (1.27
//! changed it).

use super::{KnownDecision, Mode, PodInput};
use crate::injectors::known::gate::GateWebhook;
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::own::decide::Outcome;

pub const INJECT: &str = "sidecar.istio.io/inject";
pub const INJECTION_LABEL: &str = "istio-injection";
pub const REV: &str = "istio.io/rev";

/// Namespaces istiod never injects into (`pkg/kube/inject/initializer.go`).
pub const IGNORED_NAMESPACES: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
];

/// What a `sidecar.istio.io/inject` value means to one Istio version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectValue {
    Yes,
    No,
    /// Absent or empty: the selectors and the policy decide.
    Default,
    /// Not accepted (1.27+): istiod warns and uses the default.
    Rejected,
}

/// Parses a `sidecar.istio.io/inject` value as Istio `version` does.
pub fn parse_inject(value: &str, version: (u64, u64)) -> InjectValue {
    if value.is_empty() {
        return InjectValue::Default;
    }
    if version >= (1, 27) {
        return match value {
            "true" => InjectValue::Yes,
            "false" => InjectValue::No,
            _ => InjectValue::Rejected,
        };
    }
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => InjectValue::Yes,
        _ => InjectValue::No,
    }
}

pub(super) fn decide(
    mut d: KnownDecision,
    pod: &PodInput<'_>,
    reached: &[&GateWebhook],
    settings: &KnownSettings,
    mode: Mode,
) -> KnownDecision {
    let istio = &settings.istio;
    if mode == Mode::Admission
        && let Some(first) = reached.first()
        && reached.len() > 1
    {
        d.reason(format!(
            "{} Istio webhooks match; {} is called first",
            reached.len(),
            first.name
        ));
    }
    // 1. hostNetwork.
    if pod.host_network() {
        return d.decide(
            Outcome::Skip,
            "hostNetwork: true: istiod skips it (iptables would rewrite the node's routing)",
        );
    }
    // 2. Ignored namespaces.
    if IGNORED_NAMESPACES.contains(&pod.namespace) {
        return d.decide(
            Outcome::Skip,
            format!(
                "namespace {} is one istiod never injects into",
                pod.namespace
            ),
        );
    }
    // 3. The label beats the annotation.
    let (value, from) = match (pod.labels.get(INJECT), pod.annotations.get(INJECT)) {
        (Some(label), _) => (label.as_str(), "label"),
        (None, Some(annotation)) => (annotation.as_str(), "annotation"),
        (None, None) => ("", ""),
    };
    let version = format!("{}.{}", istio.version.0, istio.version.1);
    // 4. Parse the value as the configured version does.
    match parse_inject(value, istio.version) {
        InjectValue::Yes => {
            return d.decide(
                Outcome::Inject,
                format!("pod {from} {INJECT}={value:?} asks for injection"),
            );
        }
        InjectValue::No => {
            let note = if value == "false" {
                String::new()
            } else {
                format!(" (Istio {version} reads anything but y/yes/true/on as false)")
            };
            return d.decide(
                Outcome::Skip,
                format!("pod {from} {INJECT}={value:?} turns injection off{note}"),
            );
        }
        InjectValue::Rejected => {
            d.reason(format!(
                "pod {from} {INJECT}={value:?} is not accepted by Istio {version} (only \"true\" and \"false\"): istiod warns and uses the default"
            ));
        }
        InjectValue::Default => {}
    }
    // Manual injection (kube-inject's local decision) uses policy `enabled`
    // and no selectors (`IntoObject` in `pkg/kube/inject/inject.go`).
    if mode == Mode::Manual {
        return d.decide(
            Outcome::Inject,
            "manual injection injects unless the pod turns it off",
        );
    }
    // 5. neverInjectSelector, 6. alwaysInjectSelector.
    if let Some(i) = istio
        .never_inject_selector
        .iter()
        .position(|s| s.matches(pod.labels))
    {
        return d.decide(
            Outcome::Skip,
            format!("neverInjectSelector #{} matches the pod's labels", i + 1),
        );
    }
    if let Some(i) = istio
        .always_inject_selector
        .iter()
        .position(|s| s.matches(pod.labels))
    {
        return d.decide(
            Outcome::Inject,
            format!("alwaysInjectSelector #{} matches the pod's labels", i + 1),
        );
    }
    // 7. The policy.
    match istio.policy.as_str() {
        "enabled" => d.decide(Outcome::Inject, "injector policy is enabled"),
        "disabled" => d.decide(
            Outcome::Skip,
            "injector policy is disabled and the pod does not opt in",
        ),
        other => d.decide(
            Outcome::Skip,
            format!("injector policy {other:?} is not enabled/disabled: istiod injects nothing"),
        ),
    }
}

/// Why no Istio webhook reaches the pod (the chart's webhooks,
/// `chart_webhooks.yaml`).
pub(super) fn gate_miss(pod: &PodInput<'_>) -> String {
    let ns_injection = pod
        .namespace_labels
        .get(INJECTION_LABEL)
        .map(String::as_str);
    let ns_rev = pod.namespace_labels.get(REV);
    let label = pod.labels.get(INJECT).map(String::as_str);
    if ns_injection == Some("disabled") {
        return format!(
            "namespace {} has {INJECTION_LABEL}=disabled: no Istio webhook is called, whatever the pod says",
            pod.namespace
        );
    }
    if label == Some("false") {
        return format!(
            "pod label {INJECT}=\"false\": every Istio webhook's objectSelector excludes it"
        );
    }
    if let Some(rev) = ns_rev.filter(|_| ns_injection.is_none()) {
        return format!("namespace label {REV}={rev} names a revision no Istio webhook serves");
    }
    if let Some(rev) = pod.labels.get(REV) {
        return format!("pod label {REV}={rev} names a revision no Istio webhook serves");
    }
    if let Some(value) = label {
        return format!(
            "pod label {INJECT}={value:?} matches no webhook: the objectSelector needs exactly \"true\""
        );
    }
    if pod.annotations.contains_key(INJECT) {
        return format!(
            "this opt-in never reaches istiod: {INJECT} is an annotation, and the webhook's objectSelector only sees labels"
        );
    }
    format!(
        "namespace {} has no {INJECTION_LABEL} or {REV} label and the pod no {INJECT}=true label: no Istio webhook is called",
        pod.namespace
    )
}
