//! Consul, Vault Agent, Dapr, Kuma, the OpenTelemetry operator, Open
//! Service Mesh and App Mesh: their triggers, precedence and denials
//! (each function names the code it follows; `vocabulary.yaml` and
//! `triggers.yaml` link it at a fixed commit). Consul, Vault, Kuma and OSM
//! deny a pod whose trigger value they cannot parse; the others skip.

use super::{KnownDecision, Mode, PodInput, go_bool};
use crate::injectors::own::decide::Outcome;

pub(super) fn decide(
    injector: &str,
    d: KnownDecision,
    pod: &PodInput<'_>,
    mode: Mode,
) -> KnownDecision {
    match injector {
        "consul" => consul(d, pod),
        "vault" => vault(d, pod),
        "dapr" => dapr(d, pod, mode),
        "kuma" => kuma(d, pod),
        "otel" => otel(d, pod),
        "osm" => osm(d, pod),
        "appmesh" => appmesh(d, pod),
        _ => d.decide(Outcome::Skip, "unknown injector"),
    }
}

/// `control-plane/connect-inject/webhook/mesh_webhook.go: shouldInject`.
fn consul(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "consul.hashicorp.com/connect-inject";
    if matches!(pod.namespace, "kube-system" | "kube-public") {
        return d.decide(
            Outcome::Skip,
            format!("Consul never injects into {}", pod.namespace),
        );
    }
    if pod
        .annotations
        .get("consul.hashicorp.com/connect-inject-status")
        .is_some()
    {
        return d.decide(
            Outcome::Skip,
            "connect-inject-status is set: already injected",
        );
    }
    bool_trigger(d, pod, KEY, "and connectInject.default is false")
}

/// A trigger annotation read as a Go bool (Consul, Vault): absent or false
/// skips, true injects, anything else denies the pod. `absent_note` says
/// why an absent annotation means no.
fn bool_trigger(
    d: KnownDecision,
    pod: &PodInput<'_>,
    key: &str,
    absent_note: &str,
) -> KnownDecision {
    match pod.annotations.get(key).map(String::as_str) {
        None if absent_note.is_empty() => d.decide(Outcome::Skip, format!("no {key} annotation")),
        None => d.decide(Outcome::Skip, format!("no {key} annotation {absent_note}")),
        Some(value) => match go_bool(value) {
            Some(true) => d.decide(Outcome::Inject, format!("{key}={value:?}")),
            Some(false) => d.decide(Outcome::Skip, format!("{key}={value:?}")),
            None => d.decide(
                Outcome::Deny,
                format!("{key}={value:?} does not parse as a bool: the pod is denied"),
            ),
        },
    }
}

/// `agent-inject/agent/agent.go: ShouldInject`.
fn vault(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "vault.hashicorp.com/agent-inject";
    if pod
        .annotations
        .get("vault.hashicorp.com/agent-inject-status")
        .is_some_and(|s| s == "injected")
    {
        return d.decide(
            Outcome::Skip,
            "agent-inject-status is injected: already injected",
        );
    }
    bool_trigger(d, pod, KEY, "")
}

/// `pkg/injector/service/handler.go`, `pkg/validation/validation.go`.
fn dapr(d: KnownDecision, pod: &PodInput<'_>, mode: Mode) -> KnownDecision {
    const KEY: &str = "dapr.io/enabled";
    let enabled = pod
        .annotations
        .get(KEY)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !enabled {
        return d.decide(Outcome::Skip, format!("{KEY} is not \"true\""));
    }
    if pod.has_container("daprd") {
        return d.decide(Outcome::Skip, "a daprd container is already there");
    }
    if pod.kind == "Pod" && mode == Mode::Admission {
        return d.decide(
            Outcome::Skip,
            "a bare Pod created by a user is admitted without daprd (only controllers' pods are mutated)",
        );
    }
    let app_id = pod
        .annotations
        .get("dapr.io/app-id")
        .map_or(pod.name, String::as_str);
    if let Err(problem) = dapr_app_id(app_id) {
        return d.decide(
            Outcome::Deny,
            format!("app id {app_id:?} {problem}: the pod is denied"),
        );
    }
    d.decide(Outcome::Inject, format!("{KEY}=\"true\" (app id {app_id})"))
}

/// `<app-id>-dapr` must be a DNS-1123 label.
pub fn dapr_app_id(app_id: &str) -> Result<(), String> {
    let label = format!("{app_id}-dapr");
    if label.len() > 63 {
        return Err(format!("is longer than 58 characters ({})", app_id.len()));
    }
    let ok = label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && label.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(
            "does not make `<app-id>-dapr` a DNS-1123 label (lowercase letters, digits, '-')"
                .into(),
        )
    }
}

/// `pkg/plugins/runtime/k8s/webhooks/injector/precheck.go: needToInject`.
fn kuma(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "kuma.io/sidecar-injection";
    if pod.has_container("kuma-sidecar") {
        return d.decide(Outcome::Skip, "a kuma-sidecar container is already there");
    }
    let (value, from) = match (
        pod.labels.get(KEY),
        pod.annotations.get(KEY),
        pod.namespace_labels.get(KEY),
        pod.namespace_annotations.get(KEY),
    ) {
        (Some(v), ..) => (v, "pod label"),
        (None, Some(v), ..) => (v, "pod annotation (deprecated)"),
        (None, None, Some(v), _) => (v, "namespace label"),
        (None, None, None, Some(v)) => (v, "namespace annotation (deprecated)"),
        (None, None, None, None) => {
            return d.decide(
                Outcome::Skip,
                format!("no {KEY} label on the pod or namespace"),
            );
        }
    };
    match value.as_str() {
        "enabled" | "true" | "yes" => d.decide(Outcome::Inject, format!("{from} {KEY}={value:?}")),
        "disabled" | "false" | "no" => d.decide(Outcome::Skip, format!("{from} {KEY}={value:?}")),
        _ => d.decide(
            Outcome::Deny,
            format!("{from} {KEY}={value:?} is not enabled/disabled: the pod is denied"),
        ),
    }
}

/// `pkg/sidecar/annotation.go: annotationValue`.
fn otel(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "sidecar.opentelemetry.io/inject";
    let pod_value = pod.annotations.get(KEY).map(String::as_str).unwrap_or("");
    let ns_value = pod
        .namespace_annotations
        .get(KEY)
        .map(String::as_str)
        .unwrap_or("");
    let (value, from) = match (pod_value, ns_value) {
        ("", "") => {
            return d.decide(
                Outcome::Skip,
                format!("no {KEY} annotation on the pod or namespace"),
            );
        }
        ("", ns) => (ns, "namespace"),
        (p, "") => (p, "pod"),
        (p, _) if !p.eq_ignore_ascii_case("true") => (p, "pod"),
        ("true", "false") => ("true", "pod"),
        (_, ns) => (ns, "namespace (a pod `true` defers to it)"),
    };
    if value.eq_ignore_ascii_case("false") {
        return d.decide(Outcome::Skip, format!("{from} {KEY}=\"false\""));
    }
    if pod.has_container("otc-container") {
        return d.decide(Outcome::Skip, "an otc-container is already there");
    }
    let target = if value.eq_ignore_ascii_case("true") {
        "the namespace's one sidecar-mode collector (none or several: no sidecar, logged only)"
            .to_owned()
    } else {
        format!("collector {value}")
    };
    d.decide(Outcome::Inject, format!("{from} {KEY}={value:?}: {target}"))
}

/// `pkg/injector/webhook.go: mustInject`.
fn osm(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "openservicemesh.io/sidecar-injection";
    if !pod
        .namespace_labels
        .contains_key("openservicemesh.io/monitored-by")
    {
        return d.decide(
            Outcome::Skip,
            format!("namespace {} is not monitored by a mesh", pod.namespace),
        );
    }
    if pod.host_network() {
        return d.decide(Outcome::Skip, "hostNetwork pods are never injected");
    }
    let parse = |value: &str| match value.to_ascii_lowercase().as_str() {
        "enabled" | "yes" | "true" => Ok(true),
        "disabled" | "no" | "false" => Ok(false),
        _ => Err(()),
    };
    let pod_value = pod.annotations.get(KEY);
    let ns_value = pod.namespace_annotations.get(KEY);
    for (value, from) in [(pod_value, "pod"), (ns_value, "namespace")] {
        if let Some(value) = value
            && parse(value).is_err()
        {
            return d.decide(
                Outcome::Deny,
                format!("{from} {KEY}={value:?} is not enabled/disabled: the pod is denied"),
            );
        }
    }
    let pod_on = pod_value.map(|v| parse(v) == Ok(true));
    let ns_on = ns_value.is_some_and(|v| parse(v) == Ok(true));
    match (pod_on, ns_on) {
        (Some(true), _) => d.decide(Outcome::Inject, format!("pod {KEY} enables it")),
        (None, true) => d.decide(Outcome::Inject, format!("namespace {KEY} enables it")),
        (Some(false), _) => d.decide(Outcome::Skip, format!("pod {KEY} disables it")),
        (None, false) => d.decide(Outcome::Skip, format!("no {KEY} enables injection")),
    }
}

/// `pkg/inject/inject.go: determineSidecarInjectMode`.
fn appmesh(d: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    const KEY: &str = "appmesh.k8s.aws/sidecarInjectorWebhook";
    let value = pod
        .annotations
        .get(KEY)
        .map(|v| (v, "pod annotation"))
        .or_else(|| {
            pod.namespace_labels
                .get(KEY)
                .map(|v| (v, "namespace label"))
        });
    match value.map(|(v, from)| (v.to_ascii_lowercase(), from)) {
        Some((v, from)) if v == "enabled" => {
            d.decide(Outcome::Inject, format!("{from} {KEY}=enabled"))
        }
        Some((v, from)) if v == "disabled" => {
            d.decide(Outcome::Skip, format!("{from} {KEY}=disabled"))
        }
        _ => d.decide(
            Outcome::Skip,
            format!("{KEY} unspecified: injects only when a VirtualNode selects the pod"),
        ),
    }
}
