//! The known injectors in the simulation of one workload: each one the
//! API server would call, in its order, decides (gate 1, then its own
//! checks) and mutates the pod the previous ones left; every mutation is
//! kept in the workload's facts for the rules to check (INJ3xx).

use serde_json::Value;

use super::{InjectorResult, Mutation, Mutator, Simulator, WorkloadFacts};
use crate::injectors::known::additions::{self, ensure_object};
use crate::injectors::known::decide::{self, Mode, PodInput};
use crate::injectors::known::trigger_pointer;
use crate::injectors::own::decide::Outcome;
use crate::injectors::own::mutate::PodFacts;
use crate::model::selector::Labels;
use crate::model::workload::json_string_map;

/// Runs the known injectors on the workload of `facts`, after the
/// repository's own injector: from the pod it keeps, else from `pristine`
/// (a live pod as its controller creates it), else from the pod as read.
pub(super) fn run(sim: &Simulator<'_>, facts: &mut WorkloadFacts<'_>, pristine: Option<Value>) {
    let (cluster, settings) = (sim.cluster, sim.settings);
    let workload = &facts.workload;
    let (ns_labels, ns_annotations) = cluster.namespace_metadata(&workload.namespace);
    let mode = if settings.manual_injector.is_some() {
        Mode::Manual
    } else {
        Mode::Admission
    };
    let candidates: Vec<&'static str> = match settings.manual_injector {
        Some(only) => vec![only],
        None => {
            // Ask first without the spec: most workloads concern no known
            // injector, and their pods need not be copied.
            let null = Value::Null;
            let probe = PodInput {
                kind: &workload.object.kind,
                name: &workload.object.name,
                namespace: &workload.namespace,
                labels: &workload.labels,
                annotations: &workload.annotations,
                namespace_labels: &ns_labels,
                namespace_annotations: &ns_annotations,
                spec: &null,
            };
            cluster
                .gate
                .call_order()
                .into_iter()
                .filter(|i| decide::concerned(i, &probe, &cluster.gate, mode))
                .collect()
        }
    };
    if candidates.is_empty() {
        return;
    }
    let pods = &mut facts.pods;
    // The pod as created: the one the own injector started from, if it ran.
    let start = match facts.kept {
        Some(kept) => kept,
        None if !pods.is_empty() => 0,
        None => {
            pods.push(pristine.unwrap_or_else(|| workload.pod.to_json()));
            0
        }
    };
    let mut current = start;
    let mut mutated = false;
    for injector in candidates {
        let labels = json_string_map(&pods[current], "labels");
        let annotations = json_string_map(&pods[current], "annotations");
        let null = Value::Null;
        let input = PodInput {
            kind: &workload.object.kind,
            name: &workload.object.name,
            namespace: &workload.namespace,
            labels: &labels,
            annotations: &annotations,
            namespace_labels: &ns_labels,
            namespace_annotations: &ns_annotations,
            spec: pods[current].get("spec").unwrap_or(&null),
        };
        let Some(mut decision) =
            decide::decide(injector, &input, &cluster.gate, &cluster.known, mode)
        else {
            continue;
        };
        if mutated && decision.outcome == Outcome::Skip {
            let original = &pods[start];
            let labels = json_string_map(original, "labels");
            let annotations = json_string_map(original, "annotations");
            let as_written = PodInput {
                labels: &labels,
                annotations: &annotations,
                spec: original.get("spec").unwrap_or(&null),
                ..input
            };
            let unmutated =
                decide::decide(injector, &as_written, &cluster.gate, &cluster.known, mode);
            if unmutated.is_some_and(|d| d.outcome == Outcome::Inject) {
                facts.displaced.push(injector);
                decision.reasons.push(
                    "on the pod as written it would inject: an earlier injector's sidecar keeps it out".into(),
                );
            }
        }
        let mut added = None;
        if decision.outcome == Outcome::Inject {
            let pod_facts = PodFacts {
                name: &workload.object.name,
                namespace: &workload.namespace,
                service_account: &workload.service_account,
            };
            if injector == "linkerd"
                && let Some(inherited) =
                    inherit_linkerd_annotations(&pods[current], &ns_annotations)
            {
                pods.push(inherited);
                current = pods.len() - 1;
            }
            match additions::additions(injector, &pods[current], &pod_facts, &cluster.known) {
                Err(reason) => {
                    decision.outcome = Outcome::Deny;
                    decision.reasons.push(reason);
                }
                Ok(adds) => {
                    let applied = additions::apply(&pods[current], injector, &adds);
                    pods.push(applied.pod);
                    facts.mutations.push(Mutation {
                        by: Mutator::Known {
                            injector,
                            placed: applied.placed,
                            trigger: trigger_pointer(workload, injector),
                        },
                        before: current,
                        after: pods.len() - 1,
                        added: applied.added.clone(),
                    });
                    current = pods.len() - 1;
                    added = Some(applied.added);
                    mutated = true;
                }
            }
        }
        facts.result.injectors.push(InjectorResult {
            injector,
            decision: decision.outcome,
            policy: None,
            template: None,
            added,
            reasons: decision.reasons,
        });
    }
    if mutated {
        facts.kept = Some(current);
    }
}

/// Linkerd copies its proxy settings from the namespace onto a pod that
/// does not set them (`AppendNamespaceAnnotations` in
/// <https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/inject.go>);
/// a few keys are not inherited.
/// The pod with what it inherits, `None` when it inherits nothing.
fn inherit_linkerd_annotations(pod: &Value, namespace_annotations: &Labels) -> Option<Value> {
    const NOT_INHERITED: &[&str] = &[
        "config.linkerd.io/proxy-cpu-ratio-limit",
        "config.beta.linkerd.io/proxy-enable-native-sidecar",
    ];
    let inherited: Vec<(&String, &String)> = namespace_annotations
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("config.linkerd.io/") || k.starts_with("config.alpha.linkerd.io/"))
                && !NOT_INHERITED.contains(&k.as_str())
                && k.as_str() != "config.linkerd.io/admission-webhooks"
        })
        .collect();
    if inherited.is_empty() || !pod.is_object() {
        return None;
    }
    let mut pod = pod.clone();
    let map = pod.as_object_mut()?;
    let annotations = ensure_object(ensure_object(map, "metadata"), "annotations");
    for (key, value) in inherited {
        annotations
            .entry(key.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    Some(pod)
}
