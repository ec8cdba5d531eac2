//! INJ212: injection asked for a hostNetwork pod or a namespace the injector
//! never injects.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::placement::{Trigger, triggers};
use crate::injectors::known::pod_keys;
use crate::model::Object;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ212",
    name: "injection-requested-where-skipped",
    severity: Severity::Warning,
    summary: "injection asked for a hostNetwork pod or a system namespace",
    explain: include_str!("injection_requested_where_skipped.md"),
};

/// `key: value` asks `injector` to inject `workload`, which it skips for
/// `reasons`; `instead` is where the pod would be injected (`without
/// hostNetwork`).
pub fn new(
    key: &str,
    value: &str,
    injector: &str,
    workload: &str,
    reasons: &[&str],
    instead: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "`{key}: \"{value}\"` asks {injector} to inject {workload}, but it is skipped: {}",
            reasons.join("; ")
        ),
    )
    .label("injection asked here")
    .help(format!(
        "remove the opt-in, or run the pod {instead} if it needs the sidecar"
    ))
}

/// A finding per injector whose deciding opt-in on the pod asks for
/// injection that the injector skips.
pub fn check(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    let Some(workload) = Workload::of(object, default_namespace) else {
        return Vec::new();
    };
    let keys = pod_keys(object, default_namespace);
    let mut decided: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    for trigger in triggers() {
        if decided.contains(&trigger.injector) {
            continue;
        }
        let Some(pod_key) = keys
            .iter()
            .find(|k| k.placement == trigger.placement && k.entry.key == trigger.key)
        else {
            continue;
        };
        // The first opt-in present decides for its injector.
        decided.push(trigger.injector);
        let Some(value) = pod_key.entry.value.as_str() else {
            continue;
        };
        if !trigger.asks(value) {
            continue;
        }
        if let Some(diagnostic) = skipped(trigger, &workload, value) {
            found.push(
                diagnostic
                    .at(object.file, pod_key.entry.key_span.clone())
                    .path(pod_key.pointer.clone()),
            );
        }
    }
    found
}

fn skipped(trigger: &Trigger, workload: &Workload<'_>, value: &str) -> Option<Diagnostic> {
    let object = workload.object;
    let mut reasons = Vec::new();
    let host_network = trigger
        .host_network
        .as_deref()
        .filter(|_| workload.host_network);
    reasons.extend(host_network);
    let namespace = trigger
        .namespaces
        .contains(&workload.namespace)
        .then_some(trigger.namespaces_why.as_str());
    reasons.extend(namespace);
    if reasons.is_empty() {
        return None;
    }
    let instead = match (host_network.is_some(), namespace.is_some()) {
        (true, true) => "without hostNetwork, in another namespace",
        (true, false) => "without hostNetwork",
        _ => "in another namespace",
    };
    let mut diagnostic = new(
        &trigger.key,
        value,
        trigger.injector,
        &workload.display_name(),
        &reasons,
        instead,
    )
    .object(Some(object.object_ref(&workload.namespace)));
    if host_network.is_some() {
        let pointer = format!("{}/spec/hostNetwork", workload.pod_path);
        if let Some((node, key_span)) = object.root.lookup_pointer(&pointer) {
            diagnostic = diagnostic.with_label(
                object.file,
                key_span.unwrap_or_else(|| node.span.clone()),
                "the pod shares the node's network",
            );
        }
    }
    if let (Some(_), Some((node, key_span))) =
        (namespace, object.root.lookup_pointer("/metadata/namespace"))
    {
        diagnostic = diagnostic.with_label(
            object.file,
            key_span.unwrap_or_else(|| node.span.clone()),
            format!(
                "{} does not inject `{}`",
                trigger.injector, workload.namespace
            ),
        );
    }
    Some(diagnostic)
}
