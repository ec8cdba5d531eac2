//! INJ405: two webhooks that would inject the same pod.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::webhooks::{Webhook, Webhooks};
use crate::model::Object;
use crate::model::namespace::{NAME_LABEL, Namespaces};
use crate::model::selector::Labels;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ405",
    name: "double-injection",
    severity: Severity::Error,
    summary: "two webhooks that would inject the same pod twice",
    explain: include_str!("double_injection.md"),
};

/// `identity`: the injector (`istio`) or the service both webhooks call;
/// `webhooks`: `configuration/webhook` of each, in call order.
fn new(workload: &str, identity: &str, webhooks: &[String]) -> Diagnostic {
    let listed = webhooks
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: {} webhooks of the same injector ({identity}) match its pods: {listed}; the API server calls each in turn, so the injector sees the pod once per webhook and may inject it twice or have it rejected",
            webhooks.len()
        ),
    )
    .label("pods of this workload match several injection webhooks")
    .help(
        "make the webhooks' namespaceSelector/objectSelector disjoint, or deactivate or delete the stale configuration (e.g. the old default after `istioctl tag set default`)",
    )
}

/// INJ405 for one workload: the webhooks that would each inject its pods,
/// grouped by injector identity; a group of two or more is a finding.
/// Webhooks with `matchConditions` are left out (not evaluated).
pub fn check(
    objects: &[Object],
    webhooks: &Webhooks,
    namespaces: &Namespaces,
    workload: &Workload<'_>,
) -> Vec<Diagnostic> {
    if webhooks.is_empty() {
        return Vec::new();
    }
    let unknown: Labels = [(NAME_LABEL.to_owned(), workload.namespace.clone())].into();
    let namespace_labels = namespaces
        .get(&workload.namespace)
        .map_or(&unknown, |ns| &ns.labels);
    let mut groups: Vec<(String, Vec<&Webhook>)> = Vec::new();
    for webhook in webhooks.matching(namespace_labels, &workload.labels) {
        let Some(identity) = webhook.identity().filter(|_| webhook.match_conditions == 0) else {
            continue;
        };
        match groups.iter_mut().find(|(i, _)| *i == identity) {
            Some((_, group)) => group.push(webhook),
            None => groups.push((identity, vec![webhook])),
        }
    }
    let object = workload.object;
    groups
        .into_iter()
        .filter(|(_, group)| group.len() > 1)
        .map(|(identity, group)| {
            let names: Vec<String> = group
                .iter()
                .map(|w| format!("{}/{}", w.configuration, w.name))
                .collect();
            let mut diagnostic = new(&workload.display_name(), &identity, &names)
                .at(object.file, object.name_span())
                .object(Some(object.object_ref(&workload.namespace)));
            for (n, webhook) in group.iter().enumerate() {
                diagnostic = diagnostic.with_label(
                    objects[webhook.object].file,
                    webhook.name_span.clone(),
                    format!(
                        "called {} of {} for this pod ({})",
                        n + 1,
                        group.len(),
                        webhook.client
                    ),
                );
            }
            diagnostic
        })
        .collect()
}
