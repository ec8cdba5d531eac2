//! Linkerd's proxy injector: annotation-driven, with namespace inheritance
//! (<https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/report.go>,
//! <https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/inject.go>), and the
//! `linkerd inject` CLI's rules for manual injection
//! (<https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/cli/cmd/inject.go>).

use super::{KnownDecision, Mode, PodInput};
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::own::decide::Outcome;

pub const INJECT: &str = "linkerd.io/inject";
const VALID: &[&str] = &["enabled", "disabled", "ingress"];

/// Containers, init containers and image prefixes that mean a proxy is
/// already there (`pkg/healthcheck/sidecar.go: HasExistingSidecars`).
const SIDECAR_NAMES: &[&str] = &["linkerd-proxy", "istio-proxy", "linkerd-init", "istio-init"];
const SIDECAR_IMAGES: &[&str] = &["cr.l5d.io/linkerd/proxy:", "gcr.io/istio-release/proxyv2:"];

pub(super) fn decide(
    d: KnownDecision,
    pod: &PodInput<'_>,
    settings: &KnownSettings,
    mode: Mode,
) -> KnownDecision {
    // The CLI refuses what the webhook skips (`ThrowInjectError`).
    let refused = if mode == Mode::Manual {
        Outcome::Deny
    } else {
        Outcome::Skip
    };
    if pod.host_network() {
        return d.decide(refused, "hostNetwork is enabled");
    }
    let existing = pod.containers().find(|(name, image)| {
        // `linkerd inject` uninjects its own proxy first.
        let own = mode == Mode::Manual && name.starts_with("linkerd-");
        !own && (SIDECAR_NAMES.contains(name)
            || SIDECAR_IMAGES.iter().any(|p| image.starts_with(p)))
    });
    if let Some((name, _)) = existing {
        return d.decide(
            refused,
            format!("pod has a sidecar injected already (container {name})"),
        );
    }
    let automount = pod
        .spec
        .get("automountServiceAccountToken")
        .and_then(serde_json::Value::as_bool);
    if automount == Some(false) && !settings.linkerd.token_projection {
        return d.decide(
            refused,
            "automountServiceAccountToken: false while token projection is disabled",
        );
    }
    let pod_value = pod.annotations.get(INJECT).map(String::as_str);
    if mode == Mode::Manual {
        // The CLI ignores namespace annotations; only `disabled` disables.
        return match pod_value {
            Some("disabled") => d.decide(
                Outcome::Skip,
                format!("\"{INJECT}: disabled\" annotation set on the pod"),
            ),
            _ => d.decide(
                Outcome::Inject,
                "linkerd inject injects unless the pod says disabled",
            ),
        };
    }
    let ns_value = pod.namespace_annotations.get(INJECT).map(String::as_str);
    if let Some(value) = ns_value.filter(|v| !VALID.contains(v)) {
        return d.decide(
            Outcome::Skip,
            format!(
                "invalid value {value:?} for annotation {INJECT} at namespace {}",
                pod.namespace
            ),
        );
    }
    if let Some(value) = pod_value.filter(|v| !VALID.contains(v)) {
        return d.decide(
            Outcome::Skip,
            format!("invalid value {value:?} for annotation {INJECT} at workload"),
        );
    }
    let enables = |v: Option<&str>| matches!(v, Some("enabled" | "ingress"));
    match (enables(ns_value), pod_value) {
        (true, Some("disabled")) => d.decide(
            Outcome::Skip,
            format!("pod has the annotation \"{INJECT}: disabled\""),
        ),
        (true, _) => d.decide(
            Outcome::Inject,
            format!(
                "namespace {} has \"{INJECT}: {}\" and the pod inherits it",
                pod.namespace,
                ns_value.unwrap_or_default()
            ),
        ),
        (false, value) if enables(value) => d.decide(
            Outcome::Inject,
            format!("pod has \"{INJECT}: {}\"", value.unwrap_or_default()),
        ),
        (false, _) => d.decide(
            Outcome::Skip,
            format!("neither the namespace nor the pod have the annotation \"{INJECT}: enabled\""),
        ),
    }
}
