//! The admission requests, bytes in and an answer out (no I/O, so the
//! fuzzer and the tests call them without a server):
//!
//! - `/inject`: a Pod being created → a JSONPatch from the engine `render`
//!   uses, the repository's own injector alone;
//! - `/validate`: a `kubectl-inject.dev` object being created or updated →
//!   checked with `lint`'s schemas and rules together with the set it
//!   would join, refused on errors.

use std::sync::Arc;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use serde::Serialize;
use serde_json::{Value, json};

use crate::diagnostic::Severity;
use crate::engine::OWN_INJECTOR;
use crate::injectors::own::decide::Outcome;
use crate::model::namespace::Namespaces;
use crate::model::selector::Labels;
use crate::model::workload::pod_template_path;
use crate::model::{GROUP, Object};
use crate::source::FileId;
use crate::yaml::Node;

use super::policy_sets::{Loaded, SetInput, SetOptions, cluster_object, one_line};

/// What to answer when the injector cannot inject a pod it should (a
/// missing template, tied policies, a deadline missed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Refuse the pod, with the reason: nothing runs without its sidecar.
    Deny,
    /// Let the pod in unmodified, with a warning.
    Allow,
}

/// An HTTP answer and what the audit log records of it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub record: Record,
}

/// One decision, as the audit log writes it (the server adds the time and
/// the latency).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    pub endpoint: &'static str,
    pub uid: String,
    pub operation: String,
    pub kind: String,
    pub namespace: String,
    /// The pod's name, or its `generateName` (a controller's pods are named
    /// after admission).
    pub name: String,
    /// The workload the pod was judged as (`Deployment/web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub dry_run: bool,
    /// `inject`, `skip`, `deny`, `conflict` (the engine's decision), or
    /// `ignored` (not ours to judge), `invalid` (a malformed request),
    /// `valid`/`refused` (`/validate`), `error` (deadline, internal error).
    pub outcome: &'static str,
    pub allowed: bool,
    pub patched: bool,
    pub policy: Option<String>,
    pub template: Option<String>,
    pub template_version: Option<String>,
    pub reasons: Vec<String>,
    /// `hit` or `miss` in the injection cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An injection worked out once for a pod shape, reused for its replicas.
#[derive(Debug, Clone)]
pub struct Cached {
    pub outcome: Outcome,
    pub workload: String,
    pub policy: Option<String>,
    /// `name@version`.
    pub template: Option<String>,
    pub reasons: Vec<String>,
    pub patch: Option<json_patch::Patch>,
    /// Findings about the injected pod (INJ301 …), as API warnings.
    pub warnings: Vec<String>,
}

/// The namespace labels and annotations the webhook knows, by name.
pub type NamespaceLookup<'a> = &'a (dyn Fn(&str) -> Option<(Labels, Labels)> + Sync);

/// At most this many API warnings per answer (the API server truncates
/// long lists anyway).
const MAX_WARNINGS: usize = 10;

/// `/inject`.
pub fn inject(
    loaded: &Loaded,
    body: &[u8],
    namespaces: NamespaceLookup<'_>,
    on_error: OnError,
) -> Answer {
    let request = match parse(body) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let mut record = Record::of("inject", &request);
    let response = AdmissionResponse::from(&request);
    if !request.kind.group.is_empty() || request.kind.kind != "Pod" {
        return ignored(response, record, "not a Pod");
    }
    if request.operation != Operation::Create {
        return ignored(response, record, "only pods being created are injected");
    }
    if request.sub_resource.is_some() {
        return ignored(response, record, "a subresource");
    }
    let Some(object) = &request.object else {
        return invalid(400, "a CREATE request without an object".into(), record);
    };
    let pod = match serde_json::to_value(object) {
        Ok(pod) => pod,
        Err(e) => return invalid(400, format!("the pod cannot be read: {e}"), record),
    };
    let namespace = request
        .namespace
        .clone()
        .or_else(|| object.metadata.namespace.clone())
        .unwrap_or_else(|| "default".to_owned());
    record.namespace.clone_from(&namespace);
    let labels = namespaces(&namespace);

    let key = cache_key(&pod, &namespace, labels.as_ref());
    let (cached, hit) = match loaded.cache.get(key) {
        Some(cached) => (cached, true),
        None => {
            let cached = Arc::new(decide(loaded, pod, &namespace, labels));
            loaded.cache.insert(key, cached.clone());
            (cached, false)
        }
    };
    record.cache = Some(if hit { "hit" } else { "miss" });
    respond(response, record, &cached, on_error)
}

/// Works out the injection of `pod` with the set's engine.
fn decide(
    loaded: &Loaded,
    mut pod: Value,
    namespace: &str,
    labels: Option<(Labels, Labels)>,
) -> Cached {
    // The object the engine sees: the controller that would recreate the
    // pod, as `simulate` and `render` see it in the repository (its name
    // and kind choose the rollout bucket and `${pod.name}`).
    if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata
            .entry("namespace")
            .or_insert_with(|| Value::String(namespace.to_owned()));
    }
    let workload = as_workload(&pod, namespace);
    let workload_name = format!(
        "{}/{}",
        workload["kind"].as_str().unwrap_or("Pod"),
        workload["metadata"]["name"].as_str().unwrap_or_default()
    );
    let namespaces = match labels {
        Some((labels, annotations)) => Namespaces::single(namespace, labels, annotations),
        None => Namespaces::default(),
    };
    let error = |reason: String| Cached {
        outcome: Outcome::Deny,
        workload: workload_name.clone(),
        policy: None,
        template: None,
        reasons: vec![reason],
        patch: None,
        warnings: Vec::new(),
    };
    let Some(object) = Object::from_root(FileId(u32::MAX), 0, Node::from_json(&workload)) else {
        return error("the pod has no apiVersion or kind".into());
    };
    let Some((result, diagnostics)) = loaded.set.simulate(&object, &namespaces) else {
        return error("the pod has no pod template the injector can read".into());
    };
    let Some(own) = result
        .injectors
        .into_iter()
        .find(|i| i.injector == OWN_INJECTOR)
    else {
        // No policy and no template: nothing points the injector at the pod.
        return Cached {
            outcome: Outcome::Skip,
            workload: workload_name,
            policy: None,
            template: None,
            reasons: vec!["no policy or template is loaded".into()],
            patch: None,
            warnings: Vec::new(),
        };
    };
    let patch = match (&result.pod_before, &result.pod_after) {
        (Some(before), Some(after)) if own.decision == Outcome::Inject => {
            Some(json_patch::diff(before, after)).filter(|p| !p.0.is_empty())
        }
        _ => None,
    };
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .take(MAX_WARNINGS)
        .map(|d| format!("{}: {}", d.rule.id, d.message))
        .collect();
    Cached {
        outcome: own.decision,
        workload: workload_name,
        policy: own.policy,
        template: own.template,
        reasons: own.reasons,
        patch,
        warnings,
    }
}

fn respond(
    response: AdmissionResponse,
    mut record: Record,
    cached: &Cached,
    on_error: OnError,
) -> Answer {
    record.outcome = cached.outcome.as_str();
    record.workload = Some(cached.workload.clone());
    record.policy.clone_from(&cached.policy);
    if let Some((name, version)) = cached.template.as_deref().and_then(|t| t.split_once('@')) {
        record.template = Some(name.to_owned());
        record.template_version = Some(version.to_owned());
    }
    record.reasons.clone_from(&cached.reasons);
    let mut response = match (cached.outcome, &cached.patch) {
        (Outcome::Inject, Some(patch)) => match response.clone().with_patch(patch.clone()) {
            Ok(patched) => {
                record.patched = true;
                patched
            }
            Err(e) => response.deny(format!("kubectl-inject: the patch cannot be written: {e}")),
        },
        (Outcome::Inject | Outcome::Skip, _) => response,
        (Outcome::Deny | Outcome::Conflict, _) => {
            let message = format!(
                "kubectl-inject cannot inject {} ({}): {}",
                record_pod(&record),
                cached.outcome.as_str(),
                cached.reasons.join("; ")
            );
            record.message = Some(message.clone());
            match on_error {
                OnError::Deny => response.deny(message),
                OnError::Allow => {
                    let mut allowed = response;
                    allowed.warnings =
                        Some(vec![format!("{message} (admitted without injection)")]);
                    allowed
                }
            }
        }
    };
    if !cached.warnings.is_empty() && response.allowed {
        response
            .warnings
            .get_or_insert_with(Vec::new)
            .extend(cached.warnings.iter().cloned());
    }
    record.allowed = response.allowed;
    answer(200, response, record)
}

fn record_pod(record: &Record) -> String {
    format!("pod {}/{}", record.namespace, record.name)
}

/// `/validate`.
pub fn validate(
    loaded: Option<&Loaded>,
    options: &SetOptions,
    body: &[u8],
    template_namespace: &str,
) -> Answer {
    let request = match parse(body) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let mut record = Record::of("validate", &request);
    let response = AdmissionResponse::from(&request);
    if request.kind.group != GROUP {
        return ignored(response, record, "not a kubectl-inject.dev object");
    }
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return ignored(
            response,
            record,
            "only objects being created or updated are checked",
        );
    }
    let Some(object) = &request.object else {
        return invalid(400, "a request without an object".into(), record);
    };
    let candidate = match serde_json::to_value(object) {
        Ok(value) => cluster_object(value, template_namespace),
        Err(e) => return invalid(400, format!("the object cannot be read: {e}"), record),
    };
    let SetInput::Object { name: display, .. } = &candidate else {
        unreachable!("cluster_object makes objects");
    };
    let display = display.clone();
    // The set the object would join: the loaded one without the object's
    // earlier version (cluster sources; a directory is read as it is).
    let mut inputs: Vec<SetInput> = loaded
        .map(|l| l.inputs.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !matches!(i, SetInput::Object { name, .. } if *name == display))
        .collect();
    inputs.push(candidate);
    let (ws, diagnostics) = options.check(&inputs);
    let candidate_file = ws.sources.len().checked_sub(1).map(|i| FileId(i as u32));
    let own_ref = ws
        .objects
        .iter()
        .find(|o| Some(o.file) == candidate_file)
        .map(|o| o.object_ref(&options.default_namespace));
    let about_candidate = |d: &&crate::diagnostic::Diagnostic| {
        d.at.as_ref()
            .is_some_and(|at| Some(at.file) == candidate_file)
            || (own_ref.is_some() && d.object == own_ref)
    };
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    for d in diagnostics.iter().filter(about_candidate) {
        let line = one_line(&ws, d);
        let line = line
            .split_once(": ")
            .map_or(line.as_str(), |(_, rest)| rest);
        let help = d
            .help
            .as_deref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        // A policy may be applied before the template it names (`kubectl
        // apply -f dir/` goes by file name): a missing reference warns. A
        // duplicate of a repository object is not one in the cluster.
        match (d.severity, d.rule.id) {
            (_, "INJ004") => {}
            (Severity::Error, "INJ101") => warnings.push(format!("{line}{help}")),
            (Severity::Error, _) => refusals.push(format!("{line}{help}")),
            (Severity::Warning, _) => warnings.push(format!("{line}{help}")),
            _ => {}
        }
    }
    record.reasons = refusals.clone();
    let mut response = response;
    if refusals.is_empty() {
        record.outcome = "valid";
    } else {
        record.outcome = "refused";
        let message = format!(
            "kubectl-inject: {display} is invalid:\n- {}",
            refusals.join("\n- ")
        );
        record.message = Some(message.clone());
        response = response.deny(message);
    }
    if !warnings.is_empty() {
        warnings.truncate(MAX_WARNINGS);
        response.warnings = Some(warnings);
    }
    record.allowed = response.allowed;
    answer(200, response, record)
}

/// The request of an AdmissionReview v1, or the answer to a malformed one.
fn parse(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, Box<Answer>> {
    let record = Record {
        endpoint: "",
        ..Record::default()
    };
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).map_err(|e| {
        Box::new(invalid(
            400,
            format!("the body is not an AdmissionReview: {e}"),
            record.clone(),
        ))
    })?;
    if review.types.api_version != "admission.k8s.io/v1" || review.types.kind != "AdmissionReview" {
        return Err(Box::new(invalid(
            400,
            format!(
                "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got `{}` `{}` (set admissionReviewVersions: [v1] on the webhook)",
                review.types.api_version, review.types.kind
            ),
            record,
        )));
    }
    review.try_into().map_err(|_| {
        Box::new(invalid(
            400,
            "the AdmissionReview has no request".into(),
            record,
        ))
    })
}

/// An answer that says what was wrong with the request itself.
pub fn invalid(status: u16, message: String, mut record: Record) -> Answer {
    record.outcome = "invalid";
    record.message = Some(message.clone());
    let mut response = AdmissionResponse::invalid(&message);
    response.result.code = status;
    answer(status, response, record)
}

fn ignored(response: AdmissionResponse, mut record: Record, why: &str) -> Answer {
    record.outcome = "ignored";
    record.allowed = true;
    record.reasons = vec![why.to_owned()];
    answer(200, response, record)
}

fn answer(status: u16, response: AdmissionResponse, record: Record) -> Answer {
    let body = serde_json::to_value(response.into_review())
        .map(base64_patch)
        .and_then(|review| serde_json::to_vec(&review))
        .unwrap_or_else(|e| {
            json!({"kind": "Status", "status": "Failure", "message": e.to_string()})
                .to_string()
                .into_bytes()
        });
    Answer {
        status,
        body,
        record,
    }
}

/// The API server reads `response.patch` as base64 (a Go `[]byte`);
/// kube-core writes the bytes as a JSON array of numbers
/// (kube-rs/kube#1781), so the patch is re-encoded here.
fn base64_patch(mut review: Value) -> Value {
    use base64::Engine;
    if let Some(patch) = review.pointer_mut("/response/patch")
        && let Some(numbers) = patch.as_array()
    {
        let bytes: Vec<u8> = numbers
            .iter()
            .filter_map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect();
        *patch = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    review
}

impl Record {
    fn of(endpoint: &'static str, request: &AdmissionRequest<DynamicObject>) -> Record {
        let metadata = request.object.as_ref().map(|o| &o.metadata);
        let name = match request.name.as_str() {
            "" => metadata
                .and_then(|m| m.name.clone().or_else(|| m.generate_name.clone()))
                .unwrap_or_default(),
            name => name.to_owned(),
        };
        Record {
            endpoint,
            uid: request.uid.clone(),
            operation: format!("{:?}", request.operation).to_uppercase(),
            kind: request.kind.kind.clone(),
            namespace: request.namespace.clone().unwrap_or_default(),
            name,
            dry_run: request.dry_run,
            ..Record::default()
        }
    }
}

/// The pod's injection depends on the pod and on its namespace's labels
/// and annotations, and on nothing else (the set has a cache of its own).
fn cache_key(pod: &Value, namespace: &str, labels: Option<&(Labels, Labels)>) -> u64 {
    let mut text = serde_json::to_string(pod).unwrap_or_default();
    text.push('\0');
    text.push_str(namespace);
    if let Some((labels, annotations)) = labels {
        for (k, v) in labels.iter().chain(annotations) {
            text.push('\0');
            text.push_str(k);
            text.push('=');
            text.push_str(v);
        }
    } else {
        text.push_str("\0unknown");
    }
    crate::hash::fnv1a64(text.as_bytes())
}

/// The workload a pod is judged as: the controller that would recreate it,
/// from its controller owner reference (a ReplicaSet's pods are taken as
/// its Deployment's, by the `pod-template-hash` label; a Job named
/// `NAME-<minutes>` as CronJob `NAME`'s), with the pod as its pod template;
/// else the pod itself.
pub fn as_workload(pod: &Value, namespace: &str) -> Value {
    let Some((kind, name)) = controller(pod) else {
        let mut pod = pod.clone();
        // A pod named by the API server after admission: its prefix, as
        // the name `${pod.name}` and the rollout bucket see.
        if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut)
            && metadata
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str)
        {
            let name = prefix.trim_end_matches('-').to_owned();
            metadata.insert("name".into(), Value::String(name));
        }
        return pod;
    };
    let api_version = match kind {
        "Job" | "CronJob" => "batch/v1",
        "ReplicationController" => "v1",
        _ => "apps/v1",
    };
    let template = json!({
        "metadata": pod.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "spec": pod.get("spec").cloned().unwrap_or_else(|| json!({})),
    });
    let mut workload = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    });
    let path = pod_template_path(kind).unwrap_or("/spec/template");
    let mut slot = &mut workload;
    for segment in path.split('/').skip(1) {
        slot = &mut slot[segment];
    }
    *slot = template;
    workload
}

fn controller(pod: &Value) -> Option<(&'static str, String)> {
    let metadata = pod.get("metadata")?;
    let owners = metadata.get("ownerReferences")?.as_array()?;
    let owner = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| owners.first())?;
    let name = owner.get("name")?.as_str()?;
    let kind = owner.get("kind")?.as_str()?;
    let label = |key: &str| {
        metadata
            .get("labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    Some(match kind {
        "ReplicaSet" => match label("pod-template-hash")
            .and_then(|hash| name.strip_suffix(hash)?.strip_suffix('-'))
        {
            Some(deployment) => ("Deployment", deployment.to_owned()),
            None => ("ReplicaSet", name.to_owned()),
        },
        "Job" => match name.rsplit_once('-') {
            Some((cronjob, minutes)) if scheduled_recently(minutes) => {
                ("CronJob", cronjob.to_owned())
            }
            _ => ("Job", name.to_owned()),
        },
        "StatefulSet" => ("StatefulSet", name.to_owned()),
        "DaemonSet" => ("DaemonSet", name.to_owned()),
        "ReplicationController" => ("ReplicationController", name.to_owned()),
        _ => return None,
    })
}

/// Whether a Job name's suffix is what the CronJob controller appends: the
/// scheduled time in minutes since 1970, within the last year (so a Job
/// named `backup-20241115` by hand stays a Job).
fn scheduled_recently(minutes: &str) -> bool {
    let Ok(minutes) = minutes.parse::<u64>() else {
        return false;
    };
    let now = jiff::Timestamp::now().as_second().max(0) as u64 / 60;
    minutes <= now + 24 * 60 && minutes + 366 * 24 * 60 >= now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replicaset_pod_is_judged_as_its_deployment() {
        let pod = json!({
            "metadata": {"generateName": "web-7d4b9c-", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d4b9c", "controller": true}]},
            "spec": {"containers": [{"name": "web"}]}});
        let workload = as_workload(&pod, "shop");
        assert_eq!(workload["kind"], "Deployment");
        assert_eq!(workload["metadata"]["name"], "web");
        assert_eq!(workload["metadata"]["namespace"], "shop");
        assert_eq!(workload["spec"]["template"]["spec"], pod["spec"]);
    }

    #[test]
    fn a_cronjob_pod_is_judged_as_its_cronjob() {
        let minutes = jiff::Timestamp::now().as_second() / 60 - 90;
        let job = format!("nightly-{minutes}");
        let pod = json!({"metadata": {"ownerReferences": [{"kind": "Job", "name": job, "controller": true}]}});
        let workload = as_workload(&pod, "batch");
        assert_eq!(workload["kind"], "CronJob");
        assert_eq!(workload["metadata"]["name"], "nightly");
        assert!(
            workload
                .pointer("/spec/jobTemplate/spec/template/metadata")
                .is_some()
        );
        for job in ["migrate-2", "backup-20241115", "nightly-28391230"] {
            let pod = json!({"metadata": {"ownerReferences": [{"kind": "Job", "name": job, "controller": true}]}});
            assert_eq!(as_workload(&pod, "batch")["kind"], "Job", "{job}");
        }
    }

    #[test]
    fn bare_pods_and_foreign_owners_stay_pods() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "debug"}});
        assert_eq!(as_workload(&pod, "ns"), pod);
        let pod = json!({"kind": "Pod", "metadata": {"generateName": "train-", "ownerReferences": [{"kind": "Workflow", "name": "w"}]}});
        let workload = as_workload(&pod, "ns");
        assert_eq!(workload["kind"], "Pod");
        assert_eq!(workload["metadata"]["name"], "train");
    }
}
