//! The known injectors' decisions for one pod: gate 1 (which of their
//! webhooks the API server calls, [`super::gate`]) and then each injector's
//! own checks, as its code does them. Every step the decision takes is a
//! reason the report shows.

mod istio;
mod linkerd;
mod others;

use super::gate::{Gate, GateWebhook};
use super::settings::KnownSettings;
use crate::injectors::own::decide::Outcome;
use crate::model::selector::Labels;

/// What the injectors may read of a pod and its namespace.
#[derive(Debug, Clone, Copy)]
pub struct PodInput<'a> {
    /// The workload's kind (`Deployment`, `Pod`, …).
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: &'a Labels,
    pub annotations: &'a Labels,
    pub namespace_labels: &'a Labels,
    pub namespace_annotations: &'a Labels,
    /// The pod template's `spec`.
    pub spec: &'a serde_json::Value,
}

impl PodInput<'_> {
    pub fn host_network(&self) -> bool {
        self.spec
            .get("hostNetwork")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
    }

    /// `(name, image)` of every container and init container.
    pub fn containers(&self) -> impl Iterator<Item = (&str, &str)> {
        ["initContainers", "containers"]
            .into_iter()
            .filter_map(|list| self.spec.get(list)?.as_array())
            .flatten()
            .map(|c| {
                let text = |k: &str| c.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
                (text("name"), text("image"))
            })
    }

    pub fn has_container(&self, name: &str) -> bool {
        self.containers().any(|(n, _)| n == name)
    }

    /// Whether any key of `injector`'s vocabulary is set on the pod or its
    /// namespace (then the injector has something to say about it).
    pub fn mentions(&self, injector: &str) -> bool {
        let Some(known) = super::vocabulary().injector(injector) else {
            return false;
        };
        let owned = |key: &String| {
            known.key(key).is_some() || known.prefixes.iter().any(|p| key.starts_with(p.as_str()))
        };
        [
            self.labels,
            self.annotations,
            self.namespace_labels,
            self.namespace_annotations,
        ]
        .iter()
        .any(|map| map.keys().any(owned))
    }
}

/// Manual injection (`istioctl kube-inject`, `linkerd inject --manual`,
/// `render --injector`): no webhook gate, and the CLIs' own rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Admission,
    Manual,
}

/// One known injector's decision about one pod.
#[derive(Debug, Clone)]
pub struct KnownDecision {
    pub injector: &'static str,
    pub outcome: Outcome,
    pub reasons: Vec<String>,
}

impl KnownDecision {
    fn new(injector: &'static str) -> KnownDecision {
        KnownDecision {
            injector,
            outcome: Outcome::Skip,
            reasons: Vec::new(),
        }
    }

    fn reason(&mut self, reason: impl Into<String>) -> &mut Self {
        self.reasons.push(reason.into());
        self
    }

    fn decide(mut self, outcome: Outcome, reason: impl Into<String>) -> KnownDecision {
        self.outcome = outcome;
        self.reasons.push(reason.into());
        self
    }
}

/// The decision of `injector` for `pod`; `None` when nothing points the
/// injector at the pod (no webhook reaches it and none of its keys is set).
pub fn decide(
    injector: &'static str,
    pod: &PodInput<'_>,
    gate: &Gate,
    settings: &KnownSettings,
    mode: Mode,
) -> Option<KnownDecision> {
    if !concerned(injector, pod, gate, mode) {
        return None;
    }
    let reached = gate.reaching(injector, pod.namespace_labels, pod.labels);
    let mut decision = KnownDecision::new(injector);
    if mode == Mode::Admission {
        match reached.first() {
            Some(webhook) => {
                decision.reason(format!("{} matches the pod", webhook.describe()));
            }
            None => {
                let why = gate_miss(injector, pod, gate);
                return Some(decision.decide(Outcome::Skip, why));
            }
        }
    } else {
        decision.reason("manual injection: the webhook gate is skipped");
    }
    let decision = match injector {
        "istio" => istio::decide(decision, pod, &reached, settings, mode),
        "linkerd" => linkerd::decide(decision, pod, settings, mode),
        other => others::decide(other, decision, pod, mode),
    };
    Some(validate_annotations(decision, pod))
}

/// Once an injector decided to inject, a pod annotation it validates with
/// a value it rejects denies the pod (Istio's `validateAnnotations` in
/// `RunTemplate`; keys marked `invalid: deny` in the vocabulary).
fn validate_annotations(mut decision: KnownDecision, pod: &PodInput<'_>) -> KnownDecision {
    if decision.outcome != Outcome::Inject {
        return decision;
    }
    let Some(known) = super::vocabulary().injector(decision.injector) else {
        return decision;
    };
    for (key, value) in pod.annotations {
        let Some(spec) = known.key(key) else {
            continue;
        };
        if spec.invalid != Some(super::Invalid::Deny)
            || !spec.placements.contains(&super::Where::PodAnnotation)
        {
            continue;
        }
        if let Err(problem) = super::values::check(spec, value) {
            decision.outcome = Outcome::Deny;
            decision.reasons.push(format!(
                "annotation {key}={value:?} is rejected ({problem}): the pod is denied"
            ));
            break;
        }
    }
    decision
}

/// Whether `injector` has anything to say about the pod: one of its keys is
/// set on the pod or its namespace, or (Istio, Kuma, App Mesh, whose
/// webhooks select namespaces) one of its webhooks reaches the pod. Reads
/// no `spec`, so a caller may ask before building one.
pub fn concerned(injector: &str, pod: &PodInput<'_>, gate: &Gate, mode: Mode) -> bool {
    if mode == Mode::Manual {
        return true;
    }
    pod.mentions(injector)
        || opt_out_by_default(
            injector,
            &gate.reaching(injector, pod.namespace_labels, pod.labels),
        )
}

/// Injectors whose webhook sees every pod and decides from annotations: a
/// pod they reach but that says nothing is not worth a line in the report.
/// An Istio webhook that reaches the pod (namespace opted in) is.
fn opt_out_by_default(injector: &str, reached: &[&GateWebhook]) -> bool {
    injector == "istio" && !reached.is_empty()
        || injector == "kuma" && !reached.is_empty()
        || injector == "appmesh" && !reached.is_empty()
}

/// Why no webhook of `injector` reaches the pod.
fn gate_miss(injector: &str, pod: &PodInput<'_>, gate: &Gate) -> String {
    if !gate.has(injector) {
        return format!("no {injector} webhook is installed");
    }
    if injector == "istio" {
        return istio::gate_miss(pod);
    }
    let hooks: Vec<String> = gate
        .webhooks
        .iter()
        .filter(|w| w.injector == injector)
        .map(GateWebhook::describe)
        .collect();
    format!(
        "no {injector} webhook matches the pod's namespace and labels ({}), so the injector is never called",
        hooks.join(", ")
    )
}

/// A Go `strconv.ParseBool` (Consul, Vault, Istio's merge-metrics).
pub fn go_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
