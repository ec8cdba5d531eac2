//! INJ204: injection turned off while override annotations for the same
//! injector are set.

use super::injection_controls::{
    ISTIO_DATAPLANE, ISTIO_INJECT, ISTIO_REV, LINKERD_INJECT, Pod, value,
};
use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::{Where, vocabulary};

pub const RULE: super::Rule = super::Rule {
    id: "INJ204",
    name: "injection-off-with-overrides",
    severity: Severity::Warning,
    summary: "injection turned off while override annotations for the same injector are set",
    explain: include_str!("injection_off_with_overrides.md"),
};

fn new(message: String, help: String) -> Diagnostic {
    Diagnostic::new(&RULE, message)
        .label("no effect")
        .help(help)
}

/// Istio keys that are not proxy overrides: the switches and keys other
/// components read.
const ISTIO_NOT_OVERRIDES: &[&str] = &[
    ISTIO_INJECT,
    ISTIO_REV,
    ISTIO_DATAPLANE,
    "galley.istio.io/analyze-suppress",
];

/// Linkerd annotation prefixes of proxy overrides (`pkg/k8s/labels.go`).
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
pub(super) fn off_with_overrides(pod: &Pod<'_>, found: &mut Vec<Diagnostic>) {
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
        let d = new(
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
