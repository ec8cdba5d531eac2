//! Drift of live pods (`simulate --live`): what each running pod carries
//! against what the injectors would give it if it were created now (a
//! sidecar missing, outdated or unexpected: facts that the rules INJ401,
//! INJ402 and INJ403 report), and the counts of the live summary.
//!
//! A running pod is judged by what recreating it would give: the
//! simulation of the controller that recreates it (found through
//! `ownerReferences` among the inputs: Pod → ReplicaSet → Deployment or
//! Argo Rollout, StatefulSet, DaemonSet, Job), so a pod is bucketed into a
//! rollout with its Deployment and judged by the Deployment's current pod
//! template; a pod whose controller is not among the inputs (or that has
//! none) is judged by its own simulation, which starts from the pod with
//! every earlier injection stripped ([`pristine`]). Only pods read from a
//! cluster are judged: in a repository, pods are written before injection.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

use super::{Cluster, InjectorResult, OWN_INJECTOR, WorkloadResult};
use crate::config::Config;
use crate::injectors::known::additions::{self, Additions};
use crate::injectors::known::vocabulary;
use crate::injectors::own::decide::Outcome;
use crate::injectors::own::mutate::{self, STATUS_ANNOTATION, Status};
use crate::load::Workspace;
use crate::model::Object;

/// The live summary of a run (`"live"` in the JSON report): how many of the
/// running pods carry the sidecars they should.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSummary {
    /// Running pods judged (finished and static pods are left out).
    pub pods: usize,
    /// `injected + missing + outdated`.
    pub should_have_sidecar: usize,
    /// `injected`.
    pub with_expected_sidecar: usize,
    /// `with_expected_sidecar / should_have_sidecar`; 1.0 when no pod
    /// should have a sidecar.
    pub success_rate: f64,
    pub outcomes: LiveOutcomes,
}

/// Each judged pod counted once, in its worst bucket (missing > outdated >
/// unexpected > injected > not injected). An injector that would deny the
/// pod, or whose policies conflict, puts the pod in no bucket of its own
/// (INJ103, INJ203, … say why). The counts are taken before suppressions
/// and configured severities: they describe the cluster, not the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveOutcomes {
    /// Should carry a sidecar and carries the expected one.
    pub injected: usize,
    /// INJ401.
    pub missing: usize,
    /// INJ402.
    pub outdated: usize,
    /// INJ403.
    pub unexpected: usize,
    /// Nothing would inject it and nothing did.
    pub not_injected: usize,
}

impl LiveSummary {
    fn new(outcomes: LiveOutcomes) -> LiveSummary {
        let pods = outcomes.injected
            + outcomes.missing
            + outcomes.outdated
            + outcomes.unexpected
            + outcomes.not_injected;
        let should = outcomes.injected + outcomes.missing + outcomes.outdated;
        LiveSummary {
            pods,
            should_have_sidecar: should,
            with_expected_sidecar: outcomes.injected,
            success_rate: if should == 0 {
                1.0
            } else {
                outcomes.injected as f64 / should as f64
            },
            outcomes,
        }
    }
}

/// A running pod whose sidecar differs from what it would get if it were
/// created now: one injector's finding on one pod, in the words the report
/// uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Index of the live pod's object in the workspace.
    pub object: usize,
    /// The pod's namespace, as the simulation resolved it.
    pub namespace: String,
    /// `Pod/namespace/name`.
    pub pod: String,
    pub difference: Difference,
    /// The controller whose pod template decides (`kind/namespace/name`),
    /// when it is not the pod itself.
    pub judged_by: Option<String>,
    /// The command (Markdown code) that recreates the pod.
    pub restart: String,
    /// The field of the pod the drift is about (a JSON pointer).
    pub pointer: String,
}

/// How a running pod's sidecar differs from what it would get now; the
/// texts are complete phrases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The pod should carry `sidecar` (e.g. "Istio's sidecar
    /// (`istio-proxy`)") and does not (INJ401).
    Missing { sidecar: String },
    /// The pod was injected with `running` (e.g. "template
    /// `envoy-proxy@1.4.0`"), but `now` (e.g. "policy `mesh` selects
    /// `envoy-proxy@1.5.0` now") (INJ402).
    Outdated { running: String, now: String },
    /// The pod carries `sidecar` that it would not get now, because of
    /// `why` (the decision's reason) (INJ403).
    Unexpected { sidecar: String, why: String },
}

impl Difference {
    /// Which is worse, for the pod's bucket in the live summary (missing >
    /// outdated > unexpected).
    fn rank(&self) -> u8 {
        match self {
            Difference::Missing { .. } => 3,
            Difference::Outdated { .. } => 2,
            Difference::Unexpected { .. } => 1,
        }
    }
}

/// Which of the known injectors' versions the run knows for sure (from the
/// configuration or the injector's own objects among the inputs), so that
/// a running sidecar can be called outdated. Without them the tool's
/// built-in defaults would call every pod of an older mesh outdated.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownVersions {
    /// Istio's proxy image: `injectors.istio.proxyImage`, or the
    /// `istio-sidecar-injector` ConfigMap.
    pub istio_image: bool,
    /// Istio's revision: `injectors.istio.revision`, or the ConfigMap.
    pub istio_revision: bool,
    /// Linkerd's proxy version: `injectors.linkerd.version`.
    pub linkerd_version: bool,
}

impl KnownVersions {
    pub fn from_config(config: &Config, istio_configmap: bool) -> KnownVersions {
        let istio = config.injectors.istio.as_ref();
        KnownVersions {
            istio_image: istio_configmap || istio.is_some_and(|i| i.proxy_image.is_some()),
            istio_revision: istio_configmap || istio.is_some_and(|i| i.revision.is_some()),
            linkerd_version: config
                .injectors
                .linkerd
                .as_ref()
                .is_some_and(|l| l.version.is_some()),
        }
    }
}

// ---------------------------------------------------------------------------
// What a running pod carries.

/// How a known injector's injection shows on a pod (`recognised_by` in
/// `additions.yaml`: its status annotation, and the containers of `previous`
/// that no app would name so; Open Service Mesh and App Mesh both add
/// `envoy`, so their init containers tell them apart).
struct Marker {
    injector: &'static str,
    /// Written on every pod the injector mutates.
    annotation: Option<&'static str>,
    /// A status label written with it (Consul labels its pods as it
    /// annotates them).
    label: Option<&'static str>,
    containers: &'static [String],
}

/// The known injectors' markers, in the data's order, read once.
fn markers() -> &'static [Marker] {
    static MARKERS: OnceLock<Vec<Marker>> = OnceLock::new();
    MARKERS.get_or_init(|| {
        additions::recognitions()
            .map(|(injector, r)| Marker {
                injector,
                annotation: r.annotation.as_deref(),
                label: r.label.as_deref(),
                containers: &r.containers,
            })
            .collect()
    })
}

fn annotation<'a>(pod: &'a Value, key: &str) -> Option<&'a str> {
    pod.pointer("/metadata/annotations")?.get(key)?.as_str()
}

fn annotation_pointer(key: &str) -> String {
    format!(
        "/metadata/annotations/{}",
        crate::yaml::pointer::escape(key)
    )
}

/// The container `name` (in `containers`, else `initContainers`): its
/// pointer and value.
fn container<'a>(pod: &'a Value, name: &str) -> Option<(String, &'a Value)> {
    ["containers", "initContainers"]
        .into_iter()
        .find_map(|list| {
            let items = pod.pointer(&format!("/spec/{list}"))?.as_array()?;
            let i = items
                .iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(name))?;
            Some((format!("/spec/{list}/{i}"), &items[i]))
        })
}

/// Where a known injector's injection shows on `pod`, if it does: its
/// status annotation, else its container; with the container's name.
fn carried_known(pod: &Value, marker: &Marker) -> Option<(String, Option<&'static str>)> {
    let by_container = marker
        .containers
        .iter()
        .find_map(|name| container(pod, name).map(|(pointer, _)| (pointer, name.as_str())));
    let status = marker
        .annotation
        .filter(|key| annotation(pod, key).is_some_and(|v| !v.is_empty()));
    match (status, by_container) {
        (Some(key), found) => Some((annotation_pointer(key), found.map(|(_, n)| n))),
        (None, Some((pointer, name))) => Some((pointer, Some(name))),
        (None, None) => None,
    }
}

/// The pod as its controller created it, before any injection: what the
/// repository's own injector added (as its status annotation names it) and
/// what each known injector whose injection shows added (as it would strip
/// it before injecting again), with their status annotations. The engine
/// simulates a live pod from this, so an injector does not see its own
/// earlier sidecar ("already injected") and the checks do not see the
/// sidecars twice.
pub(super) fn pristine(pod: &Value) -> Value {
    let mut pod = pod.clone();
    mutate::uninject(&mut pod);
    for marker in markers() {
        if carried_known(&pod, marker).is_none() {
            continue;
        }
        pod = additions::apply(&pod, marker.injector, &Additions::default()).pod;
        if let Some(key) = marker.annotation
            && let Some(map) = pod
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
        {
            map.remove(key);
        }
    }
    if let Some(labels) = pod
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        for key in markers().iter().filter_map(|m| m.label) {
            labels.remove(key);
        }
    }
    pod
}

// ---------------------------------------------------------------------------
// Who recreates a pod.

/// The controller that recreates a pod, and how to make it do so.
struct Recreate {
    /// Index of the object whose simulation says what the pod gets now.
    judge: Option<usize>,
    /// The command (Markdown code) that recreates the pod.
    command: String,
}

/// The controlling owner reference of an object (`controller: true`, else
/// the first one): kind and name.
fn owner(object: &Object) -> Option<(String, String)> {
    let mut refs = object.owner_references().peekable();
    let first = refs.peek().copied();
    refs.find(|(_, _, controller)| *controller)
        .or(first)
        .map(|(kind, name, _)| (kind.to_owned(), name.to_owned()))
}

/// The controllers among the inputs, by kind, namespace and name (live
/// objects win over files of the same identity).
struct Controllers<'a> {
    objects: &'a [Object],
    index: HashMap<(&'a str, &'a str, &'a str), usize>,
}

const CONTROLLER_KINDS: &[&str] = &[
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Rollout",
    "ReplicationController",
];

impl<'a> Controllers<'a> {
    fn new(ws: &'a Workspace, default_namespace: &'a str) -> Controllers<'a> {
        let mut index = HashMap::new();
        for (i, o) in ws.objects.iter().enumerate() {
            if !CONTROLLER_KINDS.contains(&o.kind.as_str()) {
                continue;
            }
            let key = (
                o.kind.as_str(),
                o.namespace.as_deref().unwrap_or(default_namespace),
                o.name.as_str(),
            );
            let live = ws.sources.get(o.file).live;
            if live || !index.contains_key(&key) {
                index.insert(key, i);
            }
        }
        Controllers {
            objects: &ws.objects,
            index,
        }
    }

    fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<usize> {
        self.index.get(&(kind, namespace, name)).copied()
    }

    fn recreate(&self, pod: &Object, namespace: &str) -> Recreate {
        let delete =
            |note: &str| format!("`kubectl delete pod {} -n {namespace}` ({note})", pod.name);
        let rollout = |kind: &str, name: &str| {
            format!(
                "`kubectl rollout restart {}/{name} -n {namespace}`",
                kind.to_ascii_lowercase()
            )
        };
        let Some((kind, name)) = owner(pod) else {
            return Recreate {
                judge: None,
                command: delete(
                    "a bare pod: nothing recreates it, create it again from its manifest",
                ),
            };
        };
        let found = self.find(&kind, namespace, &name);
        match kind.as_str() {
            "ReplicaSet" => {
                let parent = found.and_then(|rs| owner(&self.objects[rs]));
                match parent {
                    Some((parent_kind, parent_name))
                        if matches!(parent_kind.as_str(), "Deployment" | "Rollout") =>
                    {
                        let top = self.find(&parent_kind, namespace, &parent_name);
                        let command = if parent_kind == "Deployment" {
                            rollout("deployment", &parent_name)
                        } else {
                            format!("`kubectl argo rollouts restart {parent_name} -n {namespace}`")
                        };
                        Recreate {
                            judge: top.or(found),
                            command,
                        }
                    }
                    _ => Recreate {
                        judge: found,
                        command: delete(&format!("ReplicaSet {name} creates a new one")),
                    },
                }
            }
            "StatefulSet" | "DaemonSet" => Recreate {
                judge: found,
                command: rollout(&kind, &name),
            },
            "Node" => Recreate {
                judge: None,
                command: "edit the static pod's manifest on its node".to_owned(),
            },
            _ => Recreate {
                judge: found,
                command: delete(&format!("{kind} {name} creates a new one")),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Judging one pod.

/// How one injector's sidecar on a running pod compares with what it
/// would get now.
enum Verdict {
    Injected,
    NotInjected,
    /// The injector would deny the pod or its policies conflict: others
    /// report why; nothing to compare.
    Undecided,
    Drifted(Difference),
}

/// What one pod is judged with.
struct Judging<'a> {
    pod: &'a Value,
    display: String,
    /// The simulation that says what the pod gets now.
    expected: &'a WorkloadResult,
    /// The controller judging the pod, when not the pod itself.
    judged_by: Option<String>,
    restart: String,
    cluster: &'a Cluster,
}

fn display(injector: &str) -> String {
    vocabulary()
        .injector(injector)
        .map_or(injector, |i| i.display.as_str())
        .to_owned()
}

/// "the sidecar of template `envoy-proxy@1.5.0` (policy `mesh`)".
fn own_sidecar(template: &str, policy: Option<&str>) -> String {
    match policy {
        Some(p) => format!("the sidecar of template `{template}` (policy `{p}`)"),
        None => format!("the sidecar of template `{template}` (asked for by pod annotation)"),
    }
}

/// "Istio's sidecar (`istio-init`, `istio-proxy`)".
fn known_sidecar(injector: &str, names: &[String]) -> String {
    let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    if listed.is_empty() {
        format!("{}'s sidecar", display(injector))
    } else {
        format!("{}'s sidecar ({})", display(injector), listed.join(", "))
    }
}

/// Why an injector would not inject now: its decision's last reason.
fn why_not(result: Option<&InjectorResult>, injector: &str) -> String {
    match result.and_then(|r| r.reasons.last()) {
        Some(reason) => reason.clone(),
        None if injector == OWN_INJECTOR => "no policy selects the pod".to_owned(),
        None => format!("nothing asks {} to inject the pod", display(injector)),
    }
}

impl Judging<'_> {
    fn own(&self, result: &InjectorResult) -> Pointed {
        let status_text = annotation(self.pod, STATUS_ANNOTATION);
        let pointer = annotation_pointer(STATUS_ANNOTATION);
        match (result.decision, status_text) {
            (Outcome::Deny | Outcome::Conflict, _) => Verdict::Undecided.into(),
            (Outcome::Inject, None) => {
                let template = result.template.as_deref().unwrap_or("?");
                Verdict::Drifted(Difference::Missing {
                    sidecar: own_sidecar(template, result.policy.as_deref()),
                })
                .at("/spec/containers")
            }
            (Outcome::Inject, Some(text)) => {
                let Ok(status) = serde_json::from_str::<Status>(text) else {
                    return Verdict::Injected.into();
                };
                let was = format!("{}@{}", status.template, status.version);
                match result.template.as_deref() {
                    Some(now) if now != was => {
                        let by = match &result.policy {
                            Some(p) => format!("policy `{p}` selects `{now}` now"),
                            None => format!("the pod's annotation selects `{now}` now"),
                        };
                        Verdict::Drifted(Difference::Outdated {
                            running: format!("template `{was}`"),
                            now: by,
                        })
                        .at(&pointer)
                    }
                    _ => Verdict::Injected.into(),
                }
            }
            (Outcome::Skip, Some(text)) => {
                let what = match serde_json::from_str::<Status>(text) {
                    Ok(s) => format!(
                        "the sidecar of template `{}@{}` ({STATUS_ANNOTATION})",
                        s.template, s.version
                    ),
                    Err(_) => format!("the repository's injection ({STATUS_ANNOTATION})"),
                };
                Verdict::Drifted(Difference::Unexpected {
                    sidecar: what,
                    why: why_not(Some(result), OWN_INJECTOR),
                })
                .at(&pointer)
            }
            (Outcome::Skip, None) => Verdict::NotInjected.into(),
        }
    }

    fn known(&self, marker: &Marker, result: Option<&InjectorResult>) -> Pointed {
        let injector = marker.injector;
        let carried = carried_known(self.pod, marker);
        match (result.map(|r| r.decision), carried) {
            (Some(Outcome::Deny | Outcome::Conflict), _) => Verdict::Undecided.into(),
            (Some(Outcome::Inject), None) => {
                let names: Vec<String> = result
                    .and_then(|r| r.added.as_ref())
                    .map(|a| {
                        a.init_containers
                            .iter()
                            .chain(&a.containers)
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                Verdict::Drifted(Difference::Missing {
                    sidecar: known_sidecar(injector, &names),
                })
                .at("/spec/containers")
            }
            (Some(Outcome::Inject), Some(_)) => self.known_outdated(injector),
            (_, Some((pointer, name))) => {
                let names: Vec<String> = name.map(str::to_owned).into_iter().collect();
                Verdict::Drifted(Difference::Unexpected {
                    sidecar: known_sidecar(injector, &names),
                    why: why_not(result, injector),
                })
                .at(&pointer)
            }
            (_, None) => Verdict::NotInjected.into(),
        }
    }

    /// An outdated injection of Istio (proxy image, revision) or Linkerd
    /// (proxy version), where the run knows what the injector uses now.
    fn known_outdated(&self, injector: &str) -> Pointed {
        let after = self.expected.pod_after.as_ref();
        let settings = &self.cluster.known;
        let versions = self.cluster.known_versions;
        let mut running = Vec::new();
        let mut now = Vec::new();
        let mut pointer = None;
        match injector {
            "istio" => {
                let revision_of = |pod: &Value| {
                    annotation(pod, "sidecar.istio.io/status")
                        .and_then(|s| serde_json::from_str::<Value>(s).ok())
                        .and_then(|s| s.get("revision")?.as_str().map(str::to_owned))
                };
                let current_revision = revision_of(self.pod)
                    .or_else(|| annotation(self.pod, "istio.io/rev").map(str::to_owned));
                let expected_revision = after.and_then(revision_of).unwrap_or_else(|| {
                    if settings.istio.revision.is_empty() {
                        "default".to_owned()
                    } else {
                        settings.istio.revision.clone()
                    }
                });
                if versions.istio_revision
                    && let Some(current) = current_revision
                    && current != expected_revision
                {
                    running.push(format!("revision `{current}`"));
                    now.push(format!("revision `{expected_revision}`"));
                    pointer = Some(annotation_pointer("sidecar.istio.io/status"));
                }
                let image_of = |pod: &Value| {
                    container(pod, "istio-proxy")
                        .and_then(|(p, c)| Some((p, c.get("image")?.as_str()?.to_owned())))
                };
                let expected_image = after
                    .and_then(image_of)
                    .map_or_else(|| settings.istio.proxy_image.clone(), |(_, image)| image);
                if versions.istio_image
                    && let Some((at, current)) = image_of(self.pod)
                    && current != expected_image
                {
                    running.push(format!("proxy image `{current}`"));
                    now.push(format!("image `{expected_image}`"));
                    pointer.get_or_insert(format!("{at}/image"));
                }
            }
            "linkerd" => {
                const VERSION: &str = "linkerd.io/proxy-version";
                let pinned = versions.linkerd_version
                    || annotation(self.pod, "config.linkerd.io/proxy-version").is_some();
                let expected = after
                    .and_then(|a| annotation(a, VERSION))
                    .map_or_else(|| settings.linkerd.version.clone(), str::to_owned);
                if pinned
                    && let Some(current) = annotation(self.pod, VERSION)
                    && current != expected
                {
                    running.push(format!("proxy version `{current}`"));
                    now.push(format!("version `{expected}`"));
                    pointer = Some(annotation_pointer(VERSION));
                }
            }
            _ => {}
        }
        let Some(pointer) = pointer else {
            return Verdict::Injected.into();
        };
        Verdict::Drifted(Difference::Outdated {
            running: format!("{}'s {}", display(injector), running.join(" and ")),
            now: format!(
                "{} would inject {} now",
                display(injector),
                now.join(" and ")
            ),
        })
        .at(&pointer)
    }
}

/// A verdict, with the field path it is about.
struct Pointed(Verdict, String);

impl Verdict {
    fn at(self, pointer: &str) -> Pointed {
        Pointed(self, pointer.to_owned())
    }
}

impl From<Verdict> for Pointed {
    fn from(v: Verdict) -> Pointed {
        Pointed(v, String::new())
    }
}

/// Whether a pod is one the injectors could still act on: running or about
/// to (not finished, not being deleted, not a node's static pod).
fn judged(object: &Object) -> bool {
    let phase = object
        .root
        .get("status")
        .and_then(|s| s.get_str("phase"))
        .unwrap_or("");
    let deleting = object
        .root
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some();
    let static_pod = owner(object).is_some_and(|(kind, _)| kind == "Node");
    !matches!(phase, "Succeeded" | "Failed") && !deleting && !static_pod
}

/// The drift of every live pod among `workloads` (in the order of the
/// pods, each pod's own injector first), and the live summary (`None` when
/// the run has no live pod).
pub(super) fn judge(
    ws: &Workspace,
    workloads: &[WorkloadResult],
    cluster: &Cluster,
    default_namespace: &str,
) -> (Vec<Drift>, Option<LiveSummary>) {
    let is_live_pod = |w: &&WorkloadResult| w.kind == "Pod" && ws.sources.get(w.file).live;
    if !workloads.iter().any(|w| is_live_pod(&w)) {
        return (Vec::new(), None);
    }
    let by_object: HashMap<usize, &WorkloadResult> =
        workloads.iter().map(|w| (w.object, w)).collect();
    let controllers = Controllers::new(ws, default_namespace);
    let mut drifts = Vec::new();
    let mut outcomes = LiveOutcomes::default();
    for result in workloads.iter().filter(is_live_pod) {
        let object = &ws.objects[result.object];
        if !judged(object) {
            continue;
        }
        let pod = object.root.to_json();
        let recreate = controllers.recreate(object, &result.namespace);
        let judge = recreate
            .judge
            .and_then(|i| by_object.get(&i).copied())
            .filter(|w| w.object != result.object);
        let judging = Judging {
            pod: &pod,
            display: format!("{}/{}/{}", result.kind, result.namespace, result.name),
            expected: judge.unwrap_or(result),
            judged_by: judge.map(|w| format!("{}/{}/{}", w.kind, w.namespace, w.name)),
            restart: recreate.command,
            cluster,
        };
        let mut verdicts: Vec<Pointed> = Vec::new();
        let expected = judging.expected;
        if let Some(own) = expected
            .injectors
            .iter()
            .find(|r| r.injector == OWN_INJECTOR)
        {
            verdicts.push(judging.own(own));
        }
        for marker in markers() {
            let result = expected
                .injectors
                .iter()
                .find(|r| r.injector == marker.injector);
            verdicts.push(judging.known(marker, result));
        }
        let mut worst = 0;
        let mut any_injected = false;
        for Pointed(verdict, pointer) in verdicts {
            match verdict {
                Verdict::Drifted(difference) => {
                    worst = worst.max(difference.rank());
                    drifts.push(Drift {
                        object: result.object,
                        namespace: result.namespace.clone(),
                        pod: judging.display.clone(),
                        difference,
                        judged_by: judging.judged_by.clone(),
                        restart: judging.restart.clone(),
                        pointer,
                    });
                }
                Verdict::Injected => any_injected = true,
                Verdict::NotInjected | Verdict::Undecided => {}
            }
        }
        match (worst, any_injected) {
            (3, _) => outcomes.missing += 1,
            (2, _) => outcomes.outdated += 1,
            (1, _) => outcomes.unexpected += 1,
            (_, true) => outcomes.injected += 1,
            (_, false) => outcomes.not_injected += 1,
        }
    }
    (drifts, Some(LiveSummary::new(outcomes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::injectors::known::settings::KnownSettings;
    use crate::injectors::own::mutate::PodFacts;
    use serde_json::json;

    /// The markers name containers that the injectors' own additions add
    /// (`additions.yaml`), so the table cannot drift from the data.
    #[test]
    fn markers_match_the_additions() {
        let pod = json!({
            "metadata": {"name": "p", "annotations": {
                "dapr.io/app-id": "p",
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": "r"
            }},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}
        });
        let facts = PodFacts {
            name: "p",
            namespace: "ns",
            service_account: "default",
        };
        let settings = KnownSettings::default();
        for marker in markers() {
            let adds = additions::additions(marker.injector, &pod, &facts, &settings)
                .unwrap_or_else(|e| panic!("{}: {e}", marker.injector));
            let applied = additions::apply(&pod, marker.injector, &adds);
            let names: Vec<&String> = applied
                .added
                .init_containers
                .iter()
                .chain(&applied.added.containers)
                .collect();
            assert!(
                marker.containers.iter().any(|c| names.contains(&c)),
                "{}: {:?} adds none of {:?}",
                marker.injector,
                names,
                marker.containers
            );
            let injected = &applied.pod;
            assert!(
                carried_known(injected, marker).is_some(),
                "{}: an injected pod shows the injection",
                marker.injector
            );
            // Stripping undoes the injection (the app container stays).
            let stripped = pristine(injected);
            assert!(
                carried_known(&stripped, marker).is_none(),
                "{}: stripped {stripped}",
                marker.injector
            );
            assert!(container(&stripped, "app").is_some());
        }
    }

    #[test]
    fn rates_and_buckets_add_up() {
        let s = LiveSummary::new(LiveOutcomes {
            injected: 9,
            missing: 1,
            outdated: 0,
            unexpected: 2,
            not_injected: 0,
        });
        assert_eq!(
            (s.pods, s.should_have_sidecar, s.with_expected_sidecar),
            (12, 10, 9)
        );
        assert!((s.success_rate - 0.9).abs() < 1e-9);
        assert_eq!(LiveSummary::new(LiveOutcomes::default()).success_rate, 1.0);
    }
}
