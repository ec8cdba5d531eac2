//! The simulation: for every workload, in parallel, what the injectors
//! decide and what the injected pod looks like; plus the static checks of
//! policies and templates. `lint` and `simulate` share it.

mod drift;
mod known;
mod known_settings;
mod policy_set;

pub use drift::{KnownVersions, LiveOutcomes, LiveSummary};
pub use policy_set::PolicySet;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::checks::{self, CheckInput};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::injectors::known::gate::Gate;
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::own::catalog::{self, Catalog};
use crate::injectors::own::decide::{self, Context, NAMESPACE_LABEL, Outcome};
use crate::injectors::own::mutate::{self, Added, PodFacts};
use crate::injectors::own::policy::Policy;
use crate::injectors::webhooks::Webhooks;
use crate::load::Workspace;
use crate::model::deployable::{DeployableId, EnvironmentId};
use crate::model::namespace::Namespaces;
use crate::model::selector::Labels;
use crate::model::workload::Workload;
use crate::rules::{
    injected_pod_too_large, namespaced_policy_reach, parameter_value_rejected, uncovered_namespace,
};
use crate::source::FileId;

pub use crate::injectors::own::OWN_INJECTOR;

/// What one injector does with one workload.
#[derive(Debug, Clone, Serialize)]
pub struct InjectorResult {
    pub injector: &'static str,
    pub decision: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<Added>,
    pub reasons: Vec<String>,
}

/// One workload's simulation.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// Index of the object in the workspace.
    pub object: usize,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub file: FileId,
    /// Start of the object, for reports.
    pub offset: usize,
    /// The deployable the workload was read from, and the environment it
    /// was simulated in (one workload per environment it is applied to).
    pub deployable: DeployableId,
    pub environment: EnvironmentId,
    pub injectors: Vec<InjectorResult>,
    /// The pod template before and after injection (only when injected:
    /// a large run keeps no copies of pods nothing happens to).
    pub pod_before: Option<Value>,
    pub pod_after: Option<Value>,
}

impl WorkloadResult {
    fn new(
        index: usize,
        workload: &Workload<'_>,
        injectors: Vec<InjectorResult>,
        pod_before: Option<Value>,
        pod_after: Option<Value>,
    ) -> WorkloadResult {
        let object = workload.object;
        WorkloadResult {
            object: index,
            kind: object.kind.clone(),
            namespace: workload.namespace.clone(),
            name: object.name.clone(),
            file: object.file,
            offset: object.root.span.start,
            deployable: object.deployable,
            environment: EnvironmentId::default(),
            injectors,
            pod_before,
            pod_after,
        }
    }
}

/// Everything a run found.
#[derive(Debug, Default)]
pub struct Simulation {
    pub workloads: Vec<WorkloadResult>,
    pub diagnostics: Vec<Diagnostic>,
    /// How the running pods compare with what would be injected now
    /// (`simulate --live`); `None` when the run has no live pod.
    pub live: Option<LiveSummary>,
}

impl Simulation {
    pub fn injected(&self) -> usize {
        self.workloads
            .iter()
            .filter(|w| w.injectors.iter().any(|i| i.decision == Outcome::Inject))
            .count()
    }
}

/// Settings of a simulation.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Namespace of objects that name none.
    pub default_namespace: String,
    /// `kubernetesVersion` of the configuration (major, minor).
    pub kubernetes_version: Option<(u64, u64)>,
    /// Manual injection with one known injector (`--injector`): no webhook
    /// gate, and the repository's own injector stays out. With
    /// [`OWN_INJECTOR`], the repository's own injector alone, as the
    /// admission webhook (`serve`) runs it: no known injector.
    pub manual_injector: Option<&'static str>,
}

impl Settings {
    /// Whether only the repository's own injector runs (`serve`,
    /// `render --injector kubectl-inject`).
    pub fn own_only(&self) -> bool {
        self.manual_injector == Some(OWN_INJECTOR)
    }

    /// Whether one known injector runs alone (`--injector NAME`).
    fn known_only(&self) -> bool {
        self.manual_injector.is_some() && !self.own_only()
    }
}

/// What the cluster around the workloads looks like: its namespaces and
/// mutating webhooks, read once per run (from the inputs) and shared by the
/// simulation and the known-injector rules.
#[derive(Debug, Default)]
pub struct Cluster {
    pub namespaces: Namespaces,
    pub webhooks: Webhooks,
    /// The known injectors' settings (config, then their objects among the inputs).
    pub known: KnownSettings,
    /// The webhooks calling known injectors (inputs, else chart defaults).
    pub gate: Gate,
    /// Indices of the LimitRanges and ResourceQuotas among the inputs.
    pub limit_objects: Vec<usize>,
    /// Which known injectors' versions the run knows (for INJ402).
    pub known_versions: KnownVersions,
}

impl Cluster {
    pub fn from_objects(objects: &[crate::model::Object], config: &Config) -> Cluster {
        let webhooks = Webhooks::from_objects(objects);
        let known = known_settings::known_settings(config, objects);
        Cluster {
            known_versions: KnownVersions::from_config(config, known.istio.source.is_some()),
            namespaces: Namespaces::from_objects(objects),
            gate: Gate::build(&webhooks, &known),
            limit_objects: objects
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    matches!(o.kind.as_str(), "LimitRange" | "ResourceQuota") && !o.shadowed
                })
                .map(|(i, _)| i)
                .collect(),
            webhooks,
            known,
        }
    }
}

/// Simulates every workload of `ws`.
pub fn simulate(ws: &Workspace, settings: &Settings, cluster: &Cluster) -> Simulation {
    let default_namespace = settings.default_namespace.as_str();
    let (catalog, mut diagnostics) = Catalog::build(&ws.objects);
    let policies: Vec<Policy> = ws
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.shadowed)
        .filter_map(|(i, o)| Policy::from_object(i, o, default_namespace))
        .collect();
    let (namespaces, webhooks) = (&cluster.namespaces, &cluster.webhooks);
    diagnostics.extend(check_policies(ws, &catalog, &policies, namespaces));
    diagnostics.extend(crate::rules::webhook_misconfigured::check(
        &ws.objects,
        webhooks,
    ));

    let ctx = Context {
        objects: &ws.objects,
        catalog: &catalog,
        policies: &policies,
        namespaces,
    };
    let per_workload: Vec<(WorkloadResult, Vec<Diagnostic>)> = ws
        .objects
        .par_iter()
        .enumerate()
        .filter_map(|(i, object)| {
            let workload = Workload::resolve(object, &ws.objects, default_namespace)?;
            // A pod read from a cluster runs as injected: simulate it as
            // its controller would create it again.
            let live_pod = object.kind == "Pod" && ws.sources.get(object.file).live;
            let pristine = live_pod.then(|| drift::pristine(&workload.pod.to_json()));
            Some(simulate_one(
                &ctx, cluster, settings, i, &workload, pristine,
            ))
        })
        .collect();
    let mut workloads = Vec::with_capacity(per_workload.len());
    for (result, found) in per_workload {
        workloads.push(result);
        diagnostics.extend(found);
    }
    let live = if settings.manual_injector.is_none() {
        let (found, live) = drift::check(ws, &workloads, cluster, default_namespace);
        diagnostics.extend(found);
        live
    } else {
        None
    };
    Simulation {
        workloads,
        diagnostics,
        live,
    }
}

fn simulate_one(
    ctx: &Context<'_>,
    cluster: &Cluster,
    settings: &Settings,
    index: usize,
    workload: &Workload<'_>,
    // The pod before any injection, when it differs from the workload's
    // pod as read (a live pod: see `drift::pristine`).
    pristine: Option<Value>,
) -> (WorkloadResult, Vec<Diagnostic>) {
    let object = workload.object;
    if settings.known_only() {
        return manual_one(ctx, cluster, settings, index, workload);
    }
    let mut decision = decide::decide(ctx, workload);
    if !settings.own_only() {
        decision
            .diagnostics
            .extend(crate::rules::double_injection::check(
                ctx.objects,
                &cluster.webhooks,
                ctx.namespaces,
                workload,
            ));
    }
    let mut pod_before = None;
    let mut pod_after = None;
    let mut added = None;
    let policy_name = decision.policy.map(|i| ctx.policies[i].display_name());
    let template = decision.template.and_then(|i| ctx.catalog.resolved(i));
    let as_created = || pristine.clone().unwrap_or_else(|| workload.pod.to_json());
    let template = match (decision.outcome, template) {
        (Outcome::Inject, Some(t)) => Some(t),
        _ => None,
    };
    let mut injected = None;
    if let Some(template) = template {
        let before = as_created();
        match mutate::inject(
            &before,
            template,
            policy_name.as_deref(),
            &PodFacts {
                name: &object.name,
                namespace: &workload.namespace,
                service_account: &workload.service_account,
            },
            catalog::check_value,
        ) {
            Ok(injection) => injected = Some((template, before, injection)),
            // Measured, not built: the pod would be too large to store.
            Err(too_large) => {
                let id = template.id();
                decision.outcome = Outcome::Deny;
                decision.reasons.push(format!(
                    "template {id} would make a pod of at least {} bytes of JSON, over the limit of {} (INJ312): the injector does not build it and rejects the pod",
                    too_large.at_least, too_large.limit
                ));
                // At the workload's name, as INJ310.
                let (file, span) = match workload.pod_object.root.lookup_pointer("/metadata/name") {
                    Some((node, _)) => (workload.pod_object.file, node.span.clone()),
                    None => (object.file, object.name_span()),
                };
                decision.diagnostics.push(
                    injected_pod_too_large::new(&workload.display_name(), &id, &too_large)
                        .at(file, span)
                        .object(Some(object.object_ref(&workload.namespace)))
                        .path("/metadata/name"),
                );
            }
        }
    }
    if let Some((template, before, injection)) = injected {
        for rejected in &injection.rejected {
            let at = workload
                .pod
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(&rejected.annotation))
                .map_or_else(|| object.name_span(), |n| n.span.clone());
            decision.diagnostics.push(
                parameter_value_rejected::annotation(&workload.display_name(), rejected)
                    .at(workload.pod_object.file, at)
                    .object(Some(object.object_ref(&workload.namespace))),
            );
            decision.reasons.push(format!(
                "parameter {} uses its default: annotation {} is rejected ({})",
                rejected.parameter, rejected.annotation, rejected.problem
            ));
        }
        let no_labels = Labels::new();
        let namespace_labels = ctx
            .namespaces
            .get(&workload.namespace)
            .map_or(&no_labels, |ns| &ns.labels);
        decision
            .diagnostics
            .extend(checks::check_injected(&CheckInput {
                workload,
                objects: ctx.objects,
                limit_objects: &cluster.limit_objects,
                namespace_labels,
                origin: checks::Origin::Template {
                    catalog: ctx.catalog,
                    template,
                },
                pod_before: &before,
                pod_after: &injection.pod,
                added: &injection.added,
                kubernetes_version: settings.kubernetes_version,
            }));
        if injection.collisions.is_empty() {
            added = Some(injection.added);
            pod_after = Some(injection.pod);
            pod_before = Some(before);
        } else {
            // Never emit a pod the API server refuses: `render` leaves the
            // workload as written and `serve` rejects the pod, saying why.
            decision.outcome = Outcome::Deny;
            decision
                .reasons
                .extend(injection.collisions.iter().map(|c| c.reason()));
        }
    }
    let own_intercepts =
        decision.outcome == Outcome::Inject && template.is_some_and(|t| t.intercepts_traffic);
    // Without any policy or template the repository has no injector of its
    // own: nothing points it at the workload, so it stays out of the list.
    let own_present = !ctx.policies.is_empty() || !ctx.catalog.templates.is_empty();
    let mut injectors = vec![InjectorResult {
        injector: OWN_INJECTOR,
        decision: decision.outcome,
        policy: policy_name,
        template: decision.template.map(|i| ctx.catalog.templates[i].id()),
        added,
        reasons: decision.reasons,
    }];
    if !own_present {
        injectors.clear();
    }
    let mut diagnostics = decision.diagnostics;
    if settings.own_only() {
        let result = WorkloadResult::new(index, workload, injectors, pod_before, pod_after);
        return (result, diagnostics);
    }
    let start = pod_after.as_ref().or(pristine.as_ref());
    let known = known::run(ctx.objects, cluster, settings, workload, start);
    let displaced = known.displaced;
    injectors.extend(known.results);
    diagnostics.extend(known.diagnostics);
    if let Some(after) = known.pod_after {
        pod_before.get_or_insert_with(as_created);
        pod_after = Some(after);
    }
    let result = WorkloadResult::new(index, workload, injectors, pod_before, pod_after);
    diagnostics.extend(known::combined_checks(
        &result,
        own_intercepts,
        &displaced,
        workload,
    ));
    (result, diagnostics)
}

/// `--injector NAME`: only that known injector, without the webhook gate.
fn manual_one(
    ctx: &Context<'_>,
    cluster: &Cluster,
    settings: &Settings,
    index: usize,
    workload: &Workload<'_>,
) -> (WorkloadResult, Vec<Diagnostic>) {
    let known = known::run(ctx.objects, cluster, settings, workload, None);
    let pod_before = known.pod_after.as_ref().map(|_| workload.pod.to_json());
    let result = WorkloadResult::new(index, workload, known.results, pod_before, known.pod_after);
    (result, known.diagnostics)
}

/// Checks of the policies themselves: INJ107 (a namespaced policy with a
/// namespaceSelector) and INJ106 (a namespace opted in that nothing covers).
fn check_policies(
    ws: &Workspace,
    catalog: &Catalog,
    policies: &[Policy],
    namespaces: &Namespaces,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for policy in policies {
        let object = &ws.objects[policy.object];
        if let (Some(namespace), Some(_)) = (&policy.namespace, &policy.spec.namespace_selector) {
            let at = object
                .root
                .lookup_pointer("/spec/namespaceSelector")
                .and_then(|(_, key)| key)
                .unwrap_or_else(|| object.name_span());
            out.push(
                namespaced_policy_reach::namespace_selector(&policy.name, namespace)
                    .at(object.file, at)
                    .object(Some(object.object_ref(namespace)))
                    .path("/spec/namespaceSelector"),
            );
        }
        out.extend(catalog::check_policy_references(ws, catalog, policy));
    }
    let mut opted_in: Vec<_> = namespaces
        .iter()
        .filter(|(_, ns)| ns.labels.get(NAMESPACE_LABEL).map(String::as_str) == Some("enabled"))
        .collect();
    opted_in.sort_by_key(|(name, _)| name.as_str());
    for (name, ns) in opted_in {
        let covered = policies
            .iter()
            .any(|p| p.covers_namespace(name, &ns.labels));
        if let (false, Some(object)) = (covered, ns.object) {
            let object = &ws.objects[object];
            let pointer = format!("/metadata/labels/{}", NAMESPACE_LABEL.replace('/', "~1"));
            let at = object
                .root
                .lookup_pointer(&pointer)
                .and_then(|(_, key)| key)
                .unwrap_or_else(|| object.name_span());
            out.push(
                uncovered_namespace::new(name)
                    .at(object.file, at)
                    .object(Some(object.object_ref("")))
                    .path(pointer),
            );
        }
    }
    out
}
