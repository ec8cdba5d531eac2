//! INJ404: an injection webhook configured so that pods can be admitted
//! without their sidecar, or that the API server refuses.

use std::ops::Range;

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::OWN_INJECTOR;
use crate::injectors::webhooks::{Client, FailurePolicy, Webhook, WebhookRule, Webhooks};
use crate::model::Object;
use crate::model::selector::{LabelSelector, Operator, Requirement};

pub const RULE: super::Rule = super::Rule {
    id: "INJ404",
    name: "webhook-misconfigured",
    severity: Severity::Warning,
    summary: "an injection webhook with failurePolicy Ignore, a timeout outside 1–30 s, or an objectSelector that lets pods opt out of a mandatory injector",
    explain: include_str!("webhook_misconfigured.md"),
};

/// `failurePolicy: Ignore` on the injection webhook `webhook` of `configuration`.
fn failure_ignored(webhook: &str, configuration: &str, injector: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` ({injector}) of `{configuration}` has `failurePolicy: Ignore`: whenever the injector is slow, down or unreachable, pods are admitted without the sidecar, silently"
        ),
    )
    .label("pods skip injection when the call fails")
    .help("set `failurePolicy: Fail` (the default), so a pod is refused rather than started without its sidecar")
}

/// `timeoutSeconds` outside 1–30.
fn timeout_out_of_range(webhook: &str, configuration: &str, seconds: i64) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` of `{configuration}` has `timeoutSeconds: {seconds}`: the API server accepts only 1 to 30, so it refuses the whole configuration"
        ),
    )
    .label("outside 1–30")
    .help("set `timeoutSeconds` between 1 and 30, or leave it out (10)")
}

/// An objectSelector requirement (`key`, `operator`) on a webhook of a known
/// injector that is mandatory for the namespaces its namespaceSelector opts in.
fn label_opt_out(
    webhook: &str,
    configuration: &str,
    injector: &str,
    key: &str,
    operator: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` ({injector}) of `{configuration}` injects every pod of the namespaces it selects, but its objectSelector (`{key}` {operator}) lets any pod skip it by setting label `{key}`: the injector never sees that pod, and nothing records the opt-out"
        ),
    )
    .label("pods opt out by setting this label")
    .help(format!(
        "drop this requirement and let pods opt out through {injector}'s own vocabulary (which it records and other tools check), or suppress INJ404 here with the reason if the escape hatch is intended"
    ))
}

/// INJ404: the static checks of every webhook (see the rule's page for the
/// exact conditions).
pub fn check(objects: &[Object], webhooks: &Webhooks) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for webhook in webhooks.iter() {
        let object = &objects[webhook.object];
        let at = |pointer: &str, value: bool| -> Range<usize> {
            object
                .root
                .lookup_pointer(pointer)
                .and_then(|(node, key)| if value { Some(node.span.clone()) } else { key })
                .unwrap_or_else(|| webhook.name_span.clone())
        };
        let place = |d: Diagnostic, pointer: String, value: bool| {
            d.at(object.file, at(&pointer, value))
                .object(Some(object.object_ref("")))
                .path(pointer)
        };
        let injects_pods = webhook.rules.iter().any(WebhookRule::matches_pod_create);
        let injector = webhook
            .injector()
            .or_else(|| calls_own_injector(webhook).then_some(OWN_INJECTOR))
            .filter(|_| injects_pods);
        if let (Some(injector), FailurePolicy::Ignore) = (injector, webhook.failure_policy) {
            out.push(place(
                failure_ignored(&webhook.name, &webhook.configuration, injector),
                format!("{}/failurePolicy", webhook.pointer()),
                false,
            ));
        }
        if !(1..=30).contains(&webhook.timeout_seconds) {
            out.push(place(
                timeout_out_of_range(
                    &webhook.name,
                    &webhook.configuration,
                    webhook.timeout_seconds,
                ),
                format!("{}/timeoutSeconds", webhook.pointer()),
                false,
            ));
        }
        let (Some(injector), Some(namespaces), Some(pods)) = (
            injector,
            &webhook.namespace_selector,
            &webhook.object_selector,
        ) else {
            continue;
        };
        if !opts_namespaces_in(namespaces) {
            continue;
        }
        for (m, requirement) in pods.match_expressions.iter().enumerate() {
            if lets_pods_opt_out(injector, requirement) {
                out.push(place(
                    label_opt_out(
                        &webhook.name,
                        &webhook.configuration,
                        injector,
                        &requirement.key,
                        operator_name(requirement.operator),
                    ),
                    format!(
                        "{}/objectSelector/matchExpressions/{m}/key",
                        webhook.pointer()
                    ),
                    true,
                ));
            }
        }
    }
    out
}

/// Whether a webhook calls the repository's own injector (`serve`, as
/// `deploy/` installs it): its name is under `kubectl-inject.dev`, or the
/// Service it calls is `kubectl-inject`.
fn calls_own_injector(webhook: &Webhook) -> bool {
    let service = match &webhook.client {
        Client::Service { name, .. } => Some(name.as_str()),
        _ => None,
    };
    webhook.name.ends_with(".kubectl-inject.dev") || service == Some("kubectl-inject")
}

/// The label domain of each injector's own vocabulary.
const DOMAINS: &[(&str, &str)] = &[
    (OWN_INJECTOR, "kubectl-inject.dev"),
    ("istio", "istio.io"),
    ("linkerd", "linkerd.io"),
    ("vault", "vault.hashicorp.com"),
    ("consul", "consul.hashicorp.com"),
    ("kuma", "kuma.io"),
    ("dapr", "dapr.io"),
    ("otel", "opentelemetry.io"),
    ("osm", "openservicemesh.io"),
];

/// A selector that picks namespaces by a label they must carry (so injection
/// is the rule in them), as opposed to an empty or purely excluding one.
fn opts_namespaces_in(selector: &LabelSelector) -> bool {
    !selector.match_labels.is_empty()
        || selector
            .match_expressions
            .iter()
            .any(|r| matches!(r.operator, Operator::In | Operator::Exists))
}

/// A requirement any pod can dodge by setting a label outside the injector's
/// own vocabulary (see INJ404's page).
fn lets_pods_opt_out(injector: &str, requirement: &Requirement) -> bool {
    if !matches!(
        requirement.operator,
        Operator::NotIn | Operator::DoesNotExist
    ) {
        return false;
    }
    let key = requirement.key.as_str();
    let prefix = key.rsplit_once('/').map_or("", |(p, _)| p);
    let reserved = ["kubernetes.io", "k8s.io"]
        .iter()
        .any(|d| prefix == *d || prefix.ends_with(&format!(".{d}")));
    let own = DOMAINS
        .iter()
        .filter(|(i, _)| *i == injector)
        .any(|(_, d)| prefix == *d || prefix.ends_with(&format!(".{d}")));
    let self_exclusion = requirement.operator == Operator::NotIn
        && !requirement.values.is_empty()
        && requirement.values.iter().all(|v| v.contains(injector));
    !(reserved || own || self_exclusion)
}

fn operator_name(operator: Operator) -> &'static str {
    match operator {
        Operator::In => "In",
        Operator::NotIn => "NotIn",
        Operator::Exists => "Exists",
        Operator::DoesNotExist => "DoesNotExist",
    }
}
