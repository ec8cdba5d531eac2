//! The webhook gate (gate 1): which known injectors the API server calls for
//! a pod, by the namespaceSelector and objectSelector of their mutating
//! webhooks, in the API server's order (by configuration name). Webhooks
//! among the inputs count; a known injector with none there is assumed to
//! run its chart's defaults (`chart_webhooks.yaml`).

use std::sync::OnceLock;

use serde::Deserialize;

use super::settings::KnownSettings;
use crate::injectors::webhooks::{Webhooks, selectors_match};
use crate::model::selector::{LabelSelector, Labels};

const CHART_WEBHOOKS: &str = include_str!("chart_webhooks.yaml");

/// One webhook that calls a known injector.
#[derive(Debug, Clone)]
pub struct GateWebhook {
    pub injector: &'static str,
    /// The configuration's name (the API server's order).
    pub configuration: String,
    pub name: String,
    /// `None`: malformed, never matches.
    pub namespace_selector: Option<LabelSelector>,
    pub object_selector: Option<LabelSelector>,
    /// Assumed from the chart, not among the inputs.
    pub chart_default: bool,
    /// Index in [`Webhooks::webhooks`] when among the inputs.
    pub input: Option<usize>,
}

impl GateWebhook {
    pub fn matches(&self, namespace_labels: &Labels, pod_labels: &Labels) -> bool {
        selectors_match(
            self.namespace_selector.as_ref(),
            self.object_selector.as_ref(),
            namespace_labels,
            pod_labels,
        )
    }

    /// `webhook W of configuration C` (with "chart default" when assumed).
    pub fn describe(&self) -> String {
        if self.chart_default {
            format!("chart-default webhook {}", self.name)
        } else {
            format!("webhook {} ({})", self.name, self.configuration)
        }
    }
}

/// Every webhook calling a known injector, in call order.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub webhooks: Vec<GateWebhook>,
}

impl Gate {
    pub fn build(inputs: &Webhooks, settings: &KnownSettings) -> Gate {
        let mut webhooks: Vec<GateWebhook> = inputs
            .webhooks
            .iter()
            .enumerate()
            .filter(|(_, w)| w.rules.iter().any(|r| r.matches_pod_create()))
            .filter_map(|(i, w)| {
                Some(GateWebhook {
                    injector: w.injector()?,
                    configuration: w.configuration.clone(),
                    name: w.name.clone(),
                    namespace_selector: w.namespace_selector.clone(),
                    object_selector: w.object_selector.clone(),
                    chart_default: false,
                    input: Some(i),
                })
            })
            .collect();
        for chart in &chart_webhooks().injectors {
            if webhooks.iter().any(|w| w.injector == chart.injector) {
                continue;
            }
            webhooks.extend(chart.render(settings));
        }
        // The API server sorts configurations by name; webhooks keep their
        // order within one.
        webhooks.sort_by(|a, b| a.configuration.cmp(&b.configuration));
        Gate { webhooks }
    }

    /// The webhooks of `injector` that the API server calls for the pod.
    pub fn reaching(
        &self,
        injector: &str,
        namespace_labels: &Labels,
        pod_labels: &Labels,
    ) -> Vec<&GateWebhook> {
        self.webhooks
            .iter()
            .filter(|w| w.injector == injector && w.matches(namespace_labels, pod_labels))
            .collect()
    }

    /// Whether the inputs or the chart defaults give `injector` any webhook.
    pub fn has(&self, injector: &str) -> bool {
        self.webhooks.iter().any(|w| w.injector == injector)
    }

    /// Known injectors in the order the API server first calls them.
    pub fn call_order(&self) -> Vec<&'static str> {
        let mut order = Vec::new();
        for w in &self.webhooks {
            if !order.contains(&w.injector) {
                order.push(w.injector);
            }
        }
        order
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartWebhooks {
    injectors: Vec<ChartInjector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChartInjector {
    injector: String,
    configuration: String,
    #[allow(dead_code)]
    source: String,
    webhooks: Vec<ChartWebhook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChartWebhook {
    name: String,
    #[serde(default)]
    when: Option<When>,
    #[allow(dead_code)]
    failure_policy: String,
    #[serde(default)]
    namespace_selector: serde_json::Value,
    #[serde(default)]
    object_selector: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum When {
    DefaultRevision,
    NamespacesByDefault,
}

impl ChartInjector {
    fn render(&self, settings: &KnownSettings) -> Vec<GateWebhook> {
        let injector = super::vocabulary()
            .injector(&self.injector)
            .map(|i| i.name.as_str())
            .and_then(static_name)
            .unwrap_or("unknown");
        let revision = settings.istio.revision.as_str();
        let rev = if revision.is_empty() {
            "default"
        } else {
            revision
        };
        let suffix = if revision.is_empty() {
            String::new()
        } else {
            format!("-{revision}")
        };
        let configuration = self.configuration.replace("{-rev}", &suffix);
        self.webhooks
            .iter()
            .filter(|w| match w.when {
                None => true,
                Some(When::DefaultRevision) => revision.is_empty(),
                Some(When::NamespacesByDefault) => {
                    revision.is_empty() && settings.istio.enable_namespaces_by_default
                }
            })
            .map(|w| {
                let selector = |value: &serde_json::Value| {
                    if value.is_null() {
                        return Some(LabelSelector::default());
                    }
                    let text = value.to_string().replace("{rev}", rev);
                    serde_json::from_str(&text)
                        .ok()
                        .and_then(|v| LabelSelector::from_json(&v))
                };
                GateWebhook {
                    injector,
                    configuration: configuration.clone(),
                    name: w.name.clone(),
                    namespace_selector: selector(&w.namespace_selector),
                    object_selector: selector(&w.object_selector),
                    chart_default: true,
                    input: None,
                }
            })
            .collect()
    }
}

/// The `'static` id of a known injector.
pub fn static_name(name: &str) -> Option<&'static str> {
    super::KNOWN.iter().copied().find(|k| *k == name)
}

fn chart_webhooks() -> &'static ChartWebhooks {
    static PARSED: OnceLock<ChartWebhooks> = OnceLock::new();
    PARSED.get_or_init(|| {
        let parsed = crate::yaml::parse_stream(CHART_WEBHOOKS, &crate::yaml::Limits::default());
        let (_, root) = parsed
            .documents
            .first()
            .expect("chart_webhooks.yaml has a document");
        serde_json::from_value(root.to_json())
            .unwrap_or_else(|e| panic!("chart_webhooks.yaml: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_known_injector_has_chart_defaults() {
        let gate = Gate::build(&Webhooks::default(), &KnownSettings::default());
        for injector in super::super::KNOWN {
            assert!(gate.has(injector), "{injector}");
        }
        // Sorted by configuration name: App Mesh first, Vault last.
        let order = gate.call_order();
        assert_eq!(order.first(), Some(&"appmesh"));
        assert_eq!(order.last(), Some(&"vault"));
    }

    #[test]
    fn istio_chart_defaults_follow_the_decision_table() {
        let gate = Gate::build(&Webhooks::default(), &KnownSettings::default());
        let ns = |pairs: &[(&str, &str)]| labels(pairs);
        let reached = |n: &Labels, p: &Labels| !gate.reaching("istio", n, p).is_empty();
        // The chart's webhooks, label combination by label combination.
        assert!(reached(&ns(&[("istio-injection", "enabled")]), &ns(&[])));
        assert!(!reached(
            &ns(&[("istio-injection", "enabled")]),
            &ns(&[("sidecar.istio.io/inject", "false")])
        ));
        assert!(!reached(
            &ns(&[("istio-injection", "disabled")]),
            &ns(&[("sidecar.istio.io/inject", "true")])
        ));
        assert!(reached(
            &ns(&[]),
            &ns(&[("sidecar.istio.io/inject", "true")])
        ));
        assert!(!reached(
            &ns(&[]),
            &ns(&[("sidecar.istio.io/inject", "True")])
        ));
        assert!(reached(&ns(&[("istio.io/rev", "default")]), &ns(&[])));
        assert!(!reached(&ns(&[("istio.io/rev", "canary")]), &ns(&[])));
        assert!(!reached(&ns(&[]), &ns(&[])));
    }

    #[test]
    fn a_revision_renders_only_its_revision_webhooks() {
        let mut settings = KnownSettings::default();
        settings.istio.revision = "canary".into();
        let gate = Gate::build(&Webhooks::default(), &settings);
        let istio: Vec<_> = gate
            .webhooks
            .iter()
            .filter(|w| w.injector == "istio")
            .collect();
        assert_eq!(istio.len(), 2);
        assert_eq!(istio[0].configuration, "istio-sidecar-injector-canary");
        assert!(
            !gate
                .reaching(
                    "istio",
                    &labels(&[("istio.io/rev", "canary")]),
                    &labels(&[])
                )
                .is_empty()
        );
    }
}
