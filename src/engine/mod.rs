//! The simulation: for one workload, what the injectors decide, why, and
//! what the injected pod looks like ([`Simulator`]); for live pods, how they
//! compare with that ([`drift()`]). Facts only: the rules judge them
//! (`rules::simulation` runs both over every workload of a run, in
//! parallel), and `lint`, `simulate`, `render` and `serve` share them.

mod drift;
mod known;
mod known_settings;
mod policy_set;

pub use drift::{Difference, Drift, KnownVersions, LiveOutcomes, LiveSummary};
pub use policy_set::PolicySet;

use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::injectors::known::additions::Placed;
use crate::injectors::known::gate::Gate;
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::own::catalog::{self, Catalog};
use crate::injectors::own::decide::{self, Context, Outcome, Problem};
use crate::injectors::own::mutate::{self, Added, PodFacts, RejectedParameter, TooLarge};
use crate::injectors::own::policy::Policy;
use crate::injectors::webhooks::Webhooks;
use crate::load::Workspace;
use crate::model::Object;
use crate::model::deployable::{DeployableId, EnvironmentId};
use crate::model::namespace::{NAME_LABEL, Namespaces};
use crate::model::selector::Labels;
use crate::model::workload::Workload;
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
            pod_before: None,
            pod_after: None,
        }
    }
}

/// Everything a run found.
#[derive(Debug, Default)]
pub struct Simulation {
    pub workloads: Vec<WorkloadResult>,
    /// How the running pods compare with what would be injected now
    /// (`simulate --live`); `None` when the run has no live pod.
    pub live: Option<LiveSummary>,
    /// The live pods whose sidecars differ from what they would get now
    /// (reported as INJ401–INJ403 by the rules).
    pub drift: Vec<Drift>,
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
    /// Keep injected workloads' pods in their results (see
    /// [`WorkloadFacts::into_result`]).
    pub keep_pods: bool,
}

impl Settings {
    /// Whether only the repository's own injector runs (`serve`,
    /// `render --injector kubectl-inject`).
    pub fn own_only(&self) -> bool {
        self.manual_injector == Some(OWN_INJECTOR)
    }

    /// Whether one known injector runs alone (`--injector NAME`).
    pub fn known_only(&self) -> bool {
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
    pub fn from_objects(objects: &[Object], config: &Config) -> Cluster {
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

    /// A namespace's labels and annotations, as the known injectors read
    /// them (an unknown namespace still has the name label the API server
    /// sets).
    pub fn namespace_metadata(&self, namespace: &str) -> (Labels, Labels) {
        (
            self.namespace_labels(namespace).into_owned(),
            self.namespaces
                .get(namespace)
                .map(|ns| ns.annotations.clone())
                .unwrap_or_default(),
        )
    }

    /// A namespace's labels as the known injectors read them, borrowed when
    /// the namespace is among the inputs.
    pub fn namespace_labels(&self, namespace: &str) -> std::borrow::Cow<'_, Labels> {
        use std::borrow::Cow;
        match self.namespaces.get(namespace) {
            Some(ns) => Cow::Borrowed(&ns.labels),
            None => Cow::Owned([(NAME_LABEL.to_owned(), namespace.to_owned())].into()),
        }
    }
}

/// The drift of every live pod among `workloads` (what INJ401–INJ403
/// report), and the live summary (`None` when the run has no live pod).
pub fn drift(
    ws: &Workspace,
    workloads: &[WorkloadResult],
    cluster: &Cluster,
    default_namespace: &str,
) -> (Vec<Drift>, Option<LiveSummary>) {
    drift::judge(ws, workloads, cluster, default_namespace)
}

/// The policies of a run, in input order (objects another definition of
/// the same object replaces are left out).
pub fn policies(objects: &[Object], default_namespace: &str) -> Vec<Policy> {
    objects
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.shadowed)
        .filter_map(|(i, o)| Policy::from_object(i, o, default_namespace))
        .collect()
}

/// Everything the simulation of one workload reads, prepared once per run
/// (or once per policy set, for `serve`).
#[derive(Clone, Copy)]
pub struct Simulator<'a> {
    pub objects: &'a [Object],
    pub catalog: &'a Catalog,
    pub policies: &'a [Policy],
    pub namespaces: &'a Namespaces,
    pub cluster: &'a Cluster,
    pub settings: &'a Settings,
}

/// One injector's mutation of a workload's pod: the pods before and after
/// it (indices into [`WorkloadFacts::pods`]) and what it added.
#[derive(Debug)]
pub struct Mutation {
    pub by: Mutator,
    pub before: usize,
    pub after: usize,
    pub added: Added,
}

/// Who mutated the pod.
#[derive(Debug)]
pub enum Mutator {
    /// The repository's own injector, with the template (catalogue index).
    Template(usize),
    /// A known injector (Istio, Linkerd, …).
    Known {
        injector: &'static str,
        /// Where each added entry landed in the pod after the mutation.
        placed: Vec<Placed>,
        /// The pointer of the workload's key that asked for the injection.
        trigger: Option<String>,
    },
}

/// What the simulation of one workload found out: its result, and the facts
/// the rules judge before the result is kept (the pods of every mutation
/// among them, which a large run must not keep).
#[derive(Debug)]
pub struct WorkloadFacts<'w> {
    pub workload: Workload<'w>,
    pub result: WorkloadResult,
    /// What the own injector's decision ran into.
    pub problems: Vec<Problem>,
    /// Parameter annotations the template rejects (their defaults are used).
    pub rejected: Vec<RejectedParameter>,
    /// The own injection would make a pod too large to store: the
    /// template's id and the measure.
    pub too_large: Option<(String, TooLarge)>,
    /// The pod as created, then the pod after each mutation (copied only
    /// when an injector mutates it).
    pub pods: Vec<Value>,
    pub mutations: Vec<Mutation>,
    /// The last pod that is kept (`None`: the pod stays as written).
    pub kept: Option<usize>,
    /// Known injectors that skip only because an earlier one's sidecar is
    /// there: on the pod as written they would inject.
    pub displaced: Vec<&'static str>,
    /// Whether the own injector injects a template that intercepts traffic.
    pub own_intercepts: bool,
}

impl WorkloadFacts<'_> {
    /// The injected pod that is kept, when any.
    pub fn pod_after(&self) -> Option<&Value> {
        self.kept.map(|k| &self.pods[k])
    }

    /// The result, with the pods before and after injection when the pod
    /// is injected and `keep_pods` (the others are dropped).
    pub fn into_result(mut self, keep_pods: bool) -> WorkloadResult {
        if let Some(kept) = self.kept.filter(|_| keep_pods) {
            self.result.pod_after = Some(std::mem::take(&mut self.pods[kept]));
            self.result.pod_before = Some(std::mem::take(&mut self.pods[0]));
        }
        self.result
    }
}

impl<'a> Simulator<'a> {
    fn context(&self) -> Context<'a> {
        Context {
            objects: self.objects,
            catalog: self.catalog,
            policies: self.policies,
            namespaces: self.namespaces,
        }
    }

    /// The simulation of `objects[index]`, when it is a workload; `live`:
    /// it was read from a cluster.
    pub fn object(&self, index: usize, live: bool) -> Option<WorkloadFacts<'a>> {
        let object = &self.objects[index];
        let workload = Workload::resolve(object, self.objects, &self.settings.default_namespace)?;
        // A pod read from a cluster runs as injected: simulate it as its
        // controller would create it again.
        let pristine =
            (live && object.kind == "Pod").then(|| drift::pristine(&workload.pod.to_json()));
        Some(self.workload(index, workload, pristine))
    }

    /// The simulation of `object`, a workload that is not among the inputs
    /// (an admission request's pod); `None` without a pod template.
    pub fn single<'w>(&self, object: &'w Object) -> Option<WorkloadFacts<'w>> {
        let workload = Workload::of(object, &self.settings.default_namespace)?;
        Some(self.workload(usize::MAX, workload, None))
    }

    /// The simulation of `workload` (`index`: its object among the inputs).
    /// `pristine`: the pod before any injection, when it differs from the
    /// workload's pod as read (a live pod: see `drift::pristine`).
    pub fn workload<'w>(
        &self,
        index: usize,
        workload: Workload<'w>,
        pristine: Option<Value>,
    ) -> WorkloadFacts<'w> {
        let mut facts = WorkloadFacts {
            result: WorkloadResult::new(index, &workload, Vec::new()),
            workload,
            problems: Vec::new(),
            rejected: Vec::new(),
            too_large: None,
            pods: Vec::new(),
            mutations: Vec::new(),
            kept: None,
            displaced: Vec::new(),
            own_intercepts: false,
        };
        if self.settings.known_only() {
            // `--injector NAME`: that known injector alone, without the gate,
            // on the pod as read.
            known::run(self, &mut facts, None);
            return facts;
        }
        let mut pristine = pristine;
        self.own(&mut facts, &mut pristine);
        if !self.settings.own_only() {
            known::run(self, &mut facts, pristine);
        }
        facts
    }

    /// The repository's own injector.
    fn own(&self, facts: &mut WorkloadFacts<'_>, pristine: &mut Option<Value>) {
        let ctx = self.context();
        let workload = &facts.workload;
        let object = workload.object;
        let mut decision = decide::decide(&ctx, workload);
        let policy_name = decision.policy.map(|i| self.policies[i].display_name());
        let template = match decision.outcome {
            Outcome::Inject => decision.template.and_then(|i| self.catalog.resolved(i)),
            _ => None,
        };
        let mut added = None;
        if let Some(template) = template {
            let before = pristine.take().unwrap_or_else(|| workload.pod.to_json());
            let injected = mutate::inject(
                &before,
                template,
                policy_name.as_deref(),
                &PodFacts {
                    name: &object.name,
                    namespace: &workload.namespace,
                    service_account: &workload.service_account,
                },
                catalog::check_value,
            );
            facts.pods.push(before);
            match injected {
                Ok(injection) => {
                    for rejected in &injection.rejected {
                        decision.reasons.push(format!(
                            "parameter {} uses its default: annotation {} is rejected ({})",
                            rejected.parameter, rejected.annotation, rejected.problem
                        ));
                    }
                    facts.rejected = injection.rejected;
                    facts.pods.push(injection.pod);
                    facts.mutations.push(Mutation {
                        by: Mutator::Template(decision.template.expect("a resolved template")),
                        before: 0,
                        after: 1,
                        added: injection.added.clone(),
                    });
                    if injection.collisions.is_empty() {
                        added = Some(injection.added);
                        facts.kept = Some(1);
                    } else {
                        // Never emit a pod the API server refuses: `render`
                        // leaves the workload as written and `serve` rejects
                        // the pod, saying why.
                        decision.outcome = Outcome::Deny;
                        decision
                            .reasons
                            .extend(injection.collisions.iter().map(|c| c.reason()));
                    }
                }
                // Measured, not built: the pod would be too large to store.
                Err(too_large) => {
                    let id = template.id();
                    decision.outcome = Outcome::Deny;
                    decision.reasons.push(format!(
                        "template {id} would make a pod of at least {} bytes of JSON, over the limit of {} (INJ312): the injector does not build it and rejects the pod",
                        too_large.at_least, too_large.limit
                    ));
                    facts.too_large = Some((id, too_large));
                }
            }
        }
        facts.own_intercepts =
            decision.outcome == Outcome::Inject && template.is_some_and(|t| t.intercepts_traffic);
        facts.problems = decision.problems;
        // Without any policy or template the repository has no injector of
        // its own: nothing points it at the workload, so it stays out of the
        // list.
        if !self.policies.is_empty() || !self.catalog.templates.is_empty() {
            facts.result.injectors.push(InjectorResult {
                injector: OWN_INJECTOR,
                decision: decision.outcome,
                policy: policy_name,
                template: decision.template.map(|i| self.catalog.templates[i].id()),
                added,
                reasons: decision.reasons,
            });
        }
    }
}
