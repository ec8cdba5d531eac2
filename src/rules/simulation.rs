//! The rules that judge the simulation: the templates and policies once
//! per run, then each workload's facts as the engine works them out, in
//! parallel. A workload's pods (before and after each injector) live only
//! until its rules have run; what is kept is its result.

use rayon::prelude::*;

use crate::diagnostic::Diagnostic;
use crate::engine::{
    self, Cluster, Mutator, Settings, Simulation, Simulator, WorkloadFacts, WorkloadResult,
};
use crate::injectors::known::vocabulary;
use crate::injectors::own::catalog::Catalog;
use crate::injectors::own::decide::Problem;
use crate::load::Workspace;
use crate::model::Object;
use crate::model::selector::Labels;

use super::injected_pod::{CheckInput, Origin};
use super::{
    INJECTED_POD_RULES, TEMPLATE_RULES, competing_interceptors, double_injection,
    init_container_after_proxy_init, injected_pod_too_large, namespaced_policy_reach,
    parameter_value_rejected, pod_override_not_allowed, policy_conflict, uncovered_namespace,
    unknown_namespace, unknown_template, webhook_misconfigured,
};

/// Simulates every workload of `ws` and runs the rules on what the
/// simulation finds.
pub fn simulate(
    ws: &Workspace,
    settings: &Settings,
    cluster: &Cluster,
) -> (Simulation, Vec<Diagnostic>) {
    let default_namespace = settings.default_namespace.as_str();
    let catalog = Catalog::new(&ws.objects);
    let mut diagnostics = template_findings(&catalog, &ws.objects, "default");
    let policies = engine::policies(&ws.objects, default_namespace);
    for policy in &policies {
        diagnostics.extend(unknown_template::check_policy(
            &catalog,
            &ws.objects,
            policy,
        ));
    }
    diagnostics.extend(namespaced_policy_reach::check(&ws.objects, &policies));
    diagnostics.extend(uncovered_namespace::check(
        &ws.objects,
        &policies,
        &cluster.namespaces,
    ));
    diagnostics.extend(webhook_misconfigured::check(&ws.objects, &cluster.webhooks));

    let simulator = Simulator {
        objects: &ws.objects,
        catalog: &catalog,
        policies: &policies,
        namespaces: &cluster.namespaces,
        cluster,
        settings,
    };
    // Drift compares live pods with the injected pods of their controllers.
    let keep_pods = settings.keep_pods || ws.sources.iter().any(|(_, f)| f.live);
    let judged: Vec<(WorkloadResult, Vec<Diagnostic>)> = ws
        .objects
        .par_iter()
        .enumerate()
        .filter_map(|(i, object)| {
            let facts = simulator.object(i, ws.sources.get(object.file).live)?;
            let found = check_workload(&simulator, &facts);
            Some((facts.into_result(keep_pods), found))
        })
        .collect();
    let mut workloads = Vec::with_capacity(judged.len());
    for (result, found) in judged {
        workloads.push(result);
        diagnostics.extend(found);
    }
    let (drift, live) = if settings.manual_injector.is_none() {
        engine::drift(ws, &workloads, cluster, default_namespace)
    } else {
        (Vec::new(), None)
    };
    // The live pods' drift comes after the per-workload findings.
    diagnostics.extend(super::drift::diagnostics(&ws.objects, &drift));
    let simulation = Simulation {
        workloads,
        live,
        drift,
    };
    (simulation, diagnostics)
}

/// The findings about the templates: INJ101 (`extends`), INJ102, INJ104
/// (defaults and patterns), INJ108, INJ111.
pub fn template_findings(
    catalog: &Catalog,
    objects: &[Object],
    default_namespace: &str,
) -> Vec<Diagnostic> {
    TEMPLATE_RULES
        .iter()
        .flat_map(|rule| rule(catalog, objects, default_namespace))
        .collect()
}

/// Every rule on one workload's facts: what its decision ran into, the
/// webhooks that would call twice, the injection's own failures, each
/// injected pod (INJ3xx), and what the injectors do together.
pub fn check_workload(sim: &Simulator<'_>, facts: &WorkloadFacts<'_>) -> Vec<Diagnostic> {
    let workload = &facts.workload;
    let mut out = Vec::new();
    for problem in &facts.problems {
        let found = match problem {
            Problem::UnknownNamespace => Some(unknown_namespace::at_workload(workload)),
            Problem::PolicyTie { tied, outcomes } => Some(policy_conflict::at_workload(
                sim.objects,
                sim.policies,
                workload,
                tied,
                outcomes,
            )),
            Problem::OverrideNotAllowed { annotation, policy } => {
                Some(pod_override_not_allowed::at_annotation(
                    workload,
                    annotation,
                    &sim.policies[*policy].display_name(),
                ))
            }
            Problem::MissingTemplate { reference } => {
                unknown_template::annotated(sim.catalog, workload, reference)
            }
        };
        out.extend(found);
    }
    // Every injector runs (no `--injector`, not `serve`).
    let all_injectors = sim.settings.manual_injector.is_none();
    if all_injectors {
        out.extend(double_injection::check(
            sim.objects,
            &sim.cluster.webhooks,
            sim.namespaces,
            workload,
        ));
    }
    if let Some((template, too_large)) = &facts.too_large {
        out.push(injected_pod_too_large::at_workload(
            workload, template, too_large,
        ));
    }
    for rejected in &facts.rejected {
        out.push(parameter_value_rejected::at_annotation(workload, rejected));
    }
    for mutation in &facts.mutations {
        out.extend(check_mutation(sim, facts, mutation));
    }
    if all_injectors {
        out.extend(competing_interceptors::check(facts));
        out.extend(init_container_after_proxy_init::check(facts));
    }
    out
}

/// Every injected-pod rule on one pod.
fn check_injected_pod(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    INJECTED_POD_RULES
        .iter()
        .flat_map(|rule| rule(input))
        .collect()
}

/// The injected-pod rules (INJ3xx) on one mutation.
fn check_mutation(
    sim: &Simulator<'_>,
    facts: &WorkloadFacts<'_>,
    mutation: &engine::Mutation,
) -> Vec<Diagnostic> {
    let workload = &facts.workload;
    let no_labels = Labels::new();
    let input = |namespace_labels, origin| CheckInput {
        workload,
        objects: sim.objects,
        limit_objects: &sim.cluster.limit_objects,
        namespace_labels,
        origin,
        pod_before: &facts.pods[mutation.before],
        pod_after: &facts.pods[mutation.after],
        added: &mutation.added,
        kubernetes_version: sim.settings.kubernetes_version,
    };
    match &mutation.by {
        Mutator::Template(index) => {
            let Some(template) = sim.catalog.resolved(*index) else {
                return Vec::new();
            };
            let namespace_labels = sim
                .namespaces
                .get(&workload.namespace)
                .map_or(&no_labels, |ns| &ns.labels);
            check_injected_pod(&input(
                namespace_labels,
                Origin::Template {
                    catalog: sim.catalog,
                    template,
                },
            ))
        }
        Mutator::Known {
            injector,
            placed,
            trigger,
        } => {
            let namespace_labels = sim.cluster.namespace_labels(&workload.namespace);
            let display = vocabulary()
                .injector(injector)
                .map_or(*injector, |i| i.display.as_str());
            check_injected_pod(&input(
                &namespace_labels,
                Origin::Known {
                    injector,
                    display,
                    placed,
                    trigger: trigger.as_deref(),
                },
            ))
        }
    }
}
