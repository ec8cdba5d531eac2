//! The admission requests, bytes in and an answer out (no I/O, so the
//! fuzzer and the tests call them without a server):
//!
//! - `/inject`: a Pod being created → a JSONPatch from the engine `render`
//!   uses, the repository's own injector alone;
//! - `/validate`: a `kubectl-inject.dev` object being created or updated →
//!   checked with `lint`'s schemas and rules together with the set it
//!   would join, refused on errors.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use base64::Engine;
use kube::core::admission::Operation;
use kube::core::{GroupVersionKind, ObjectMeta, Status};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
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

use super::cache::{Cached, InjectionCache};
use super::policy_sets::{Loaded, SetInput, SetOptions, one_line};
use crate::live::object::cluster_object;

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
    let response = Response::allow(&request.uid);
    if !request.kind.group.is_empty() || request.kind.kind != "Pod" {
        return ignored(response, record, "not a Pod");
    }
    if request.operation != Operation::Create {
        return ignored(response, record, "only pods being created are injected");
    }
    if request.sub_resource.is_some() {
        return ignored(response, record, "a subresource");
    }
    let Some(mut pod) = request.object else {
        return invalid(400, "a CREATE request without an object".into(), record);
    };
    // The request's namespace is the pod's (an empty one in the pod, as
    // some clients send, means the same).
    let namespace = request
        .namespace
        .filter(|ns| !ns.is_empty())
        .or_else(|| {
            pod.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "default".to_owned());
    record.namespace.clone_from(&namespace);
    let labels = namespaces(&namespace);

    // Replicas differ in their token volume's name alone: the key leaves
    // it out, and an answer that names it is not kept for the others.
    let token = token_volume(&pod);
    let renamed = match &token {
        Some(token) => rename_volume(&mut pod, token, TOKEN_VOLUME_KEY),
        None => Vec::new(),
    };
    let key = cache_key(&loaded.cache, &pod, &namespace, labels.as_ref());
    // Back by pointer: only the names renamed above.
    for pointer in renamed {
        if let (Some(name), Some(token)) = (pod.pointer_mut(&pointer), &token) {
            *name = Value::String(token.clone());
        }
    }
    let (cached, hit) = match loaded.cache.get(key) {
        Some(cached) => (cached, true),
        None => {
            let cached = Arc::new(decide(loaded, pod, &namespace, labels, token.as_deref()));
            if !cached.names_its_token {
                loaded.cache.insert(key, cached.clone());
            }
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
    token: Option<&str>,
) -> Cached {
    // The API server applies the patch to the pod it sent, which is not
    // quite the engine's view of it (below; an empty `spec` where the pod
    // has none).
    let sent = pod.clone();
    // The object the engine sees: the controller that would recreate the
    // pod, as `simulate` and `render` see it in the repository (its name
    // and kind choose the rollout bucket and `${pod.name}`).
    if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        let slot = metadata.entry("namespace").or_insert(Value::Null);
        if slot.as_str().is_none_or(str::is_empty) {
            *slot = Value::String(namespace.to_owned());
        }
    }
    let workload = into_workload(pod, namespace);
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
        names_its_token: false,
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
            names_its_token: false,
        };
    };
    let names =
        |text: &[u8]| token.is_some_and(|t| memchr::memmem::find(text, t.as_bytes()).is_some());
    let mut names_its_token = false;
    let patch = match (&result.pod_before, &result.pod_after) {
        (Some(before), Some(after)) if own.decision == Outcome::Inject => {
            let patch = json_patch::diff(before, after);
            let mut applied = sent;
            if patch.0.is_empty() {
                None
            } else if let Err(e) = json_patch::patch(&mut applied, &patch) {
                // Found by the `admission` fuzz target: a pod without
                // `spec` got `add /spec/initContainers`. The API server
                // would fail the request with its own error; this way it
                // is an injection error, answered per `--on-error`.
                return error(format!(
                    "the injection does not apply as a patch to the pod as sent ({e})"
                ));
            } else {
                match serde_json::to_vec(&patch) {
                    Ok(bytes) => {
                        names_its_token = names(&bytes);
                        Some(Arc::from(
                            base64::engine::general_purpose::STANDARD.encode(bytes),
                        ))
                    }
                    Err(e) => return error(format!("the patch cannot be written: {e}")),
                }
            }
        }
        _ => None,
    };
    let warnings = diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .take(MAX_WARNINGS)
        .map(|d| format!("{}: {}", d.rule.id, d.message))
        .collect::<Vec<String>>();
    names_its_token |= own
        .reasons
        .iter()
        .chain(&warnings)
        .any(|line| names(line.as_bytes()));
    Cached {
        outcome: own.decision,
        workload: workload_name,
        policy: own.policy,
        template: own.template,
        reasons: own.reasons,
        patch,
        warnings,
        names_its_token,
    }
}

fn respond(response: Response, mut record: Record, cached: &Cached, on_error: OnError) -> Answer {
    record.outcome = cached.outcome.as_str();
    record.workload = Some(cached.workload.clone());
    record.policy.clone_from(&cached.policy);
    if let Some((name, version)) = cached.template.as_deref().and_then(|t| t.split_once('@')) {
        record.template = Some(name.to_owned());
        record.template_version = Some(version.to_owned());
    }
    record.reasons.clone_from(&cached.reasons);
    let mut response = match (cached.outcome, &cached.patch) {
        (Outcome::Inject, Some(patch)) => {
            record.patched = true;
            response.with_patch(patch.clone())
        }
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
                OnError::Allow => response.admit_without_injection(&message),
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
    let response = Response::allow(&request.uid);
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
    let Some(mut object) = request.object else {
        return invalid(400, "a request without an object".into(), record);
    };
    // The metadata as the API types read it (parse checked it reads).
    if let Some(metadata) = object.get_mut("metadata")
        && let Ok(typed) = ObjectMeta::deserialize(&*metadata)
        && let Ok(value) = serde_json::to_value(typed)
    {
        *metadata = value;
    }
    let candidate = cluster_object(object, template_namespace);
    let display = candidate.name.clone();
    // The set the object would join: the loaded one without the object's
    // earlier version (cluster sources; a directory is read as it is).
    let mut inputs: Vec<SetInput> = loaded
        .map(|l| l.inputs.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !matches!(i, SetInput::Object { name, .. } if *name == display))
        .collect();
    inputs.push(candidate.into());
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

/// An AdmissionReview v1 as the API server sends it, the parts the
/// handlers read. Not kube's `AdmissionReview<DynamicObject>`: reading the
/// object into a `DynamicObject` (its `#[serde(flatten)]` buffers it) and
/// back into JSON took a quarter of the time of an answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    api_version: String,
    kind: String,
    #[serde(default)]
    request: Option<Request>,
}

/// The fields kube's `AdmissionRequest` requires are required here too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    uid: String,
    kind: GroupVersionKind,
    #[serde(rename = "resource")]
    _resource: IgnoredAny,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    #[serde(rename = "userInfo")]
    _user_info: IgnoredAny,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    dry_run: bool,
}

/// The request of an AdmissionReview v1, or the answer to a malformed one.
fn parse(body: &[u8]) -> Result<Request, Box<Answer>> {
    let malformed = |message: String| Box::new(invalid(400, message, Record::default()));
    // JSON is UTF-8, and the fields read as `IgnoredAny` are skipped
    // without checking their strings: checked here, for all of them.
    let text = std::str::from_utf8(body).map_err(|e| {
        malformed(format!(
            "the body is not an AdmissionReview: it is not UTF-8 ({e})"
        ))
    })?;
    let review: Review = serde_json::from_str(text)
        .map_err(|e| malformed(format!("the body is not an AdmissionReview: {e}")))?;
    if review.api_version != "admission.k8s.io/v1" || review.kind != "AdmissionReview" {
        return Err(malformed(format!(
            "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got `{}` `{}` (set admissionReviewVersions: [v1] on the webhook)",
            review.api_version, review.kind
        )));
    }
    let Some(request) = review.request else {
        return Err(malformed("the AdmissionReview has no request".into()));
    };
    if let Some(object) = &request.object {
        readable_object(object)
            .map_err(|e| malformed(format!("the body is not an AdmissionReview: {e}")))?;
    }
    Ok(request)
}

/// What a Kubernetes object must be to be read at all (as kube's
/// `DynamicObject` requires): a map whose `metadata`, if any, is an
/// `ObjectMeta` (string labels and annotations, owner references…).
fn readable_object(object: &Value) -> Result<(), String> {
    let Some(map) = object.as_object() else {
        return Err(format!(
            "request.object: expected an object, got {}",
            match object {
                Value::Array(_) => "a list",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ));
    };
    if let Some(metadata) = map.get("metadata") {
        ObjectMeta::deserialize(metadata).map_err(|e| format!("request.object.metadata: {e}"))?;
    }
    Ok(())
}

/// The `response` of an answer: kube's `AdmissionResponse` less its patch
/// (kube-core writes the bytes as a JSON array of numbers,
/// kube-rs/kube#1781; the API server reads base64, a Go `[]byte`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    uid: String,
    allowed: bool,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared_str")]
    patch: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Vec<String>>,
}

fn shared_str<S: serde::Serializer>(text: &Option<Arc<str>>, out: S) -> Result<S::Ok, S::Error> {
    text.as_deref().serialize(out)
}

impl Response {
    fn allow(uid: &str) -> Response {
        Response {
            uid: uid.to_owned(),
            allowed: true,
            status: Status::default(),
            patch: None,
            patch_type: None,
            warnings: None,
        }
    }

    fn deny(mut self, message: String) -> Response {
        self.allowed = false;
        self.status.message = message;
        self
    }

    /// `--on-error allow`: the pod goes in unmodified, and the client is
    /// told why.
    fn admit_without_injection(mut self, message: &str) -> Response {
        self.warnings = Some(vec![format!("{message} (admitted without injection)")]);
        self
    }

    /// `base64`: the JSONPatch, base64-encoded.
    fn with_patch(mut self, base64: Arc<str>) -> Response {
        self.patch = Some(base64);
        self.patch_type = Some("JSONPatch");
        self
    }
}

/// The answer when the injector could not decide (a missed deadline, no
/// policy set, an internal error) about the request in `body`: admitted
/// without injection when `allow`, else refused with code 500.
pub fn failed(body: Option<&[u8]>, message: String, allow: bool) -> Answer {
    #[derive(Deserialize)]
    struct Review {
        request: Option<Uid>,
    }
    #[derive(Deserialize)]
    struct Uid {
        uid: String,
    }
    let uid = body
        .and_then(|b| serde_json::from_slice::<Review>(b).ok())
        .and_then(|r| r.request)
        .map(|r| r.uid)
        .unwrap_or_default();
    let response = if allow {
        Response::allow(&uid).admit_without_injection(&message)
    } else {
        let mut denied = Response::allow(&uid).deny(message.clone());
        denied.status.code = 500;
        denied
    };
    let record = Record {
        uid,
        outcome: "error",
        allowed: allow,
        message: Some(message),
        ..Record::default()
    };
    answer(200, response, record)
}

/// An answer that says what was wrong with the request itself.
pub fn invalid(status: u16, message: String, mut record: Record) -> Answer {
    let response = Response {
        uid: String::new(),
        allowed: false,
        status: Status::failure(&message, "InvalidRequest").with_code(status),
        patch: None,
        patch_type: None,
        warnings: None,
    };
    record.outcome = "invalid";
    record.message = Some(message);
    answer(status, response, record)
}

fn ignored(response: Response, mut record: Record, why: &str) -> Answer {
    record.outcome = "ignored";
    record.allowed = true;
    record.reasons = vec![why.to_owned()];
    answer(200, response, record)
}

fn answer(status: u16, response: Response, record: Record) -> Answer {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Out<'a> {
        api_version: &'static str,
        kind: &'static str,
        response: &'a Response,
    }
    let review = Out {
        api_version: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: &response,
    };
    let body = serde_json::to_vec(&review).unwrap_or_else(|e| {
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

impl Record {
    fn of(endpoint: &'static str, request: &Request) -> Record {
        let metadata = |field: &str| {
            request
                .object
                .as_ref()
                .and_then(|o| o.get("metadata")?.get(field)?.as_str())
                .map(str::to_owned)
        };
        let name = match request.name.as_str() {
            "" => metadata("name")
                .or_else(|| metadata("generateName"))
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

/// The ServiceAccount admission plugin, which runs before the webhooks,
/// names each pod's token volume `kube-api-access-` and five random
/// characters: the one thing in which the replicas of a ReplicaSet differ.
const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";

/// What the token volume is called in the cache key (not a valid volume
/// name, so no pod has one by that name).
const TOKEN_VOLUME_KEY: &str = "kube-api-access-*";

/// The name of the pod's service account token volume, if it has one.
pub fn token_volume(pod: &Value) -> Option<String> {
    pod.pointer("/spec/volumes")?
        .as_array()?
        .iter()
        .filter(|volume| volume.get("projected").is_some())
        .filter_map(|volume| volume.get("name")?.as_str())
        .find(|name| {
            name.strip_prefix(TOKEN_VOLUME_PREFIX)
                .is_some_and(|suffix| suffix.len() == 5)
        })
        .map(str::to_owned)
}

/// Renames volume `from` to `to` where the pod names it (its volume and the
/// containers' mounts); the pointers of the names changed.
pub fn rename_volume(pod: &mut Value, from: &str, to: &str) -> Vec<String> {
    let mut renamed = Vec::new();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return renamed;
    };
    let mut rename = |pointer: String, name: &mut Value| {
        if name.as_str() == Some(from) {
            *name = Value::String(to.to_owned());
            renamed.push(pointer);
        }
    };
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for (i, volume) in volumes.iter_mut().enumerate() {
            if let Some(name) = volume.get_mut("name") {
                rename(format!("/spec/volumes/{i}/name"), name);
            }
        }
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for (c, container) in containers.iter_mut().enumerate() {
            let Some(mounts) = container
                .get_mut("volumeMounts")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for (m, mount) in mounts.iter_mut().enumerate() {
                if let Some(name) = mount.get_mut("name") {
                    rename(format!("/spec/{list}/{c}/volumeMounts/{m}/name"), name);
                }
            }
        }
    }
    renamed
}

/// The pod's injection depends on the pod and on its namespace's labels
/// and annotations, and on nothing else (the set has a cache of its own).
/// Hashed with the cache's random key: an answer cannot be had for another
/// pod by making a pod whose key collides with its key.
fn cache_key(
    cache: &InjectionCache,
    pod: &Value,
    namespace: &str,
    labels: Option<&(Labels, Labels)>,
) -> u64 {
    /// The JSON text of the pod goes straight into the hasher.
    struct Into<'a, H: Hasher>(&'a mut H);
    impl<H: Hasher> std::io::Write for Into<'_, H> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = cache.hasher().build_hasher();
    let _ = serde_json::to_writer(Into(&mut hasher), pod);
    let mut text = |part: &str| hasher.write(part.as_bytes());
    text("\0");
    text(namespace);
    if let Some((labels, annotations)) = labels {
        for (k, v) in labels.iter().chain(annotations) {
            text("\0");
            text(k);
            text("=");
            text(v);
        }
    } else {
        text("\0unknown");
    }
    hasher.finish()
}

/// The workload a pod is judged as: the controller that would recreate it,
/// from its controller owner reference (a ReplicaSet's pods are taken as
/// its Deployment's, by the `pod-template-hash` label; a Job named
/// `NAME-<minutes>` as CronJob `NAME`'s), with the pod as its pod template;
/// else the pod itself.
pub fn into_workload(mut pod: Value, namespace: &str) -> Value {
    let Some((kind, name)) = controller(&pod) else {
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
    let mut take = |field: &str| pod.get_mut(field).map_or_else(|| json!({}), Value::take);
    let template = json!({
        "metadata": take("metadata"),
        "spec": take("spec"),
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

    fn set_options() -> SetOptions {
        SetOptions {
            config: crate::config::Config::default(),
            default_namespace: "default".into(),
        }
    }

    /// The AdmissionReview of a pod, as text.
    fn pod_review(request_kind: &str) -> String {
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "requestKind": {"group": "", "version": "v1", "kind": request_kind},
                "namespace": "shop", "operation": "CREATE", "userInfo": {},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}}
            }
        })
        .to_string()
    }

    fn message(answer: &Answer) -> String {
        let review: Value = serde_json::from_slice(&answer.body).unwrap();
        review["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Found by the `admission` fuzz target: invalid UTF-8 in a field the
    /// handlers skip (`requestKind`) was not noticed by serde_json, so a
    /// body that is not JSON was answered as a request.
    #[test]
    fn a_body_that_is_not_utf8_is_refused_even_in_skipped_fields() {
        let text = pod_review("Pod-XX");
        let at = text.find("Pod-XX").unwrap() + 4;
        let mut body = text.into_bytes();
        body[at] = 0xff;
        body[at + 1] = 0xfe;
        let loaded = set_options().build(Vec::new(), 1).unwrap();
        let lookup = |_: &str| None;
        for answer in [
            inject(&loaded, &body, &lookup, OnError::Deny),
            validate(
                Some(&loaded),
                &set_options(),
                &body,
                "kubectl-inject-system",
            ),
        ] {
            assert_eq!(answer.status, 400);
            assert_eq!(answer.record.outcome, "invalid");
            assert!(
                message(&answer).contains("not UTF-8"),
                "{}",
                message(&answer)
            );
        }
        // The same body in UTF-8 is a request.
        let body = pod_review("Pod");
        let answer = inject(&loaded, body.as_bytes(), &lookup, OnError::Deny);
        assert_eq!(answer.status, 200, "{}", message(&answer));
    }

    /// A set of one template (`proxy@1.0.0`, container `proxy`) and a
    /// policy injecting it in namespaces labelled `mesh: on`.
    fn proxy_mesh() -> Loaded {
        let template = r#"{"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "SidecarTemplate",
            "metadata": {"name": "proxy", "namespace": "kubectl-inject-system"},
            "spec": {"version": "1.0.0", "containers": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}],
                     "volumes": [{"name": "proxy-certs", "emptyDir": {}}]}}"#;
        let policy = r#"{"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "ClusterInjectionPolicy",
            "metadata": {"name": "mesh"},
            "spec": {"namespaceSelector": {"matchLabels": {"mesh": "on"}}, "action": "inject", "template": "proxy@1.0.0"}}"#;
        let inputs = [template, policy]
            .iter()
            .map(|json| {
                cluster_object(serde_json::from_str(json).unwrap(), "kubectl-inject-system").into()
            })
            .collect();
        set_options().build(inputs, 1).unwrap()
    }

    /// Namespace `shop` is labelled `mesh: on`.
    fn shop_in_mesh(ns: &str) -> Option<(Labels, Labels)> {
        (ns == "shop").then(|| {
            let labels: Labels = [("mesh".to_owned(), "on".to_owned())].into_iter().collect();
            (labels, Labels::default())
        })
    }

    /// A pod that already has a container or volume of a name the template
    /// adds (by hand, without the status annotation) is rejected with the
    /// reason: the patch used to add a second `proxy`, which the API server
    /// refuses with a less helpful message.
    #[test]
    fn a_pod_already_using_an_injected_name_is_rejected_not_patched() {
        let loaded = proxy_mesh();
        for (list, entry, what) in [
            (
                "containers",
                json!({"name": "proxy", "image": "example/proxy:1"}),
                "a container named `proxy`",
            ),
            (
                "initContainers",
                json!({"name": "proxy", "image": "example/setup:1"}),
                "a container named `proxy`",
            ),
            (
                "volumes",
                json!({"name": "proxy-certs", "emptyDir": {}}),
                "a volume named `proxy-certs`",
            ),
        ] {
            let mut review: Value = serde_json::from_str(&pod_review("Pod")).unwrap();
            let spec = &mut review["request"]["object"]["spec"];
            match spec.get_mut(list).and_then(Value::as_array_mut) {
                Some(items) => items.push(entry),
                None => spec[list] = json!([entry]),
            }
            let body = review.to_string();
            let denied = inject(&loaded, body.as_bytes(), &shop_in_mesh, OnError::Deny);
            assert_eq!(denied.status, 200, "{}", message(&denied));
            let reply: Value = serde_json::from_slice(&denied.body).unwrap();
            assert_eq!(reply["response"]["allowed"], false, "{list}: {reply:#}");
            assert!(reply["response"]["patch"].is_null(), "{list}: {reply:#}");
            assert!(
                message(&denied).contains(what),
                "{list}: {}",
                message(&denied)
            );
            assert_eq!(denied.record.outcome, "deny");
            // `--on-error allow`: admitted as sent, never with the patch.
            let admitted = inject(&loaded, body.as_bytes(), &shop_in_mesh, OnError::Allow);
            let reply: Value = serde_json::from_slice(&admitted.body).unwrap();
            assert_eq!(reply["response"]["allowed"], true, "{list}: {reply:#}");
            assert!(reply["response"]["patch"].is_null(), "{list}: {reply:#}");
        }
        // Without the clash the pod is injected.
        let body = pod_review("Pod");
        let injected = inject(&loaded, body.as_bytes(), &shop_in_mesh, OnError::Deny);
        let reply: Value = serde_json::from_slice(&injected.body).unwrap();
        assert!(reply["response"]["patch"].is_string(), "{reply:#}");
    }

    /// A pod whose `metadata.namespace` is `""` lands in the request's
    /// namespace, as the API server puts it: it was judged in namespace
    /// `""`, which no policy selects, and admitted without injection.
    #[test]
    fn an_empty_namespace_in_the_pod_is_the_requests() {
        let loaded = proxy_mesh();
        let lookup = shop_in_mesh;
        for pod_namespace in [json!(""), json!(null)] {
            let mut review: Value = serde_json::from_str(&pod_review("Pod")).unwrap();
            review["request"]["object"]["metadata"]["namespace"] = pod_namespace.clone();
            let answer = inject(
                &loaded,
                review.to_string().as_bytes(),
                &lookup,
                OnError::Deny,
            );
            assert_eq!(answer.status, 200, "{}", message(&answer));
            let reply: Value = serde_json::from_slice(&answer.body).unwrap();
            assert!(
                reply["response"]["patch"].is_string(),
                "namespace {pod_namespace}: injected as in `shop`: {reply:#}"
            );
            assert_eq!(answer.record.namespace, "shop");
        }
    }

    #[test]
    fn an_object_that_is_not_a_map_or_has_unreadable_metadata_is_malformed() {
        let loaded = set_options().build(Vec::new(), 1).unwrap();
        let lookup = |_: &str| None;
        let mut review: Value = serde_json::from_str(&pod_review("Pod")).unwrap();
        for (object, expected) in [
            (json!("web"), "expected an object, got a string"),
            (json!([1]), "expected an object, got a list"),
            (
                json!({"metadata": {"labels": ["a"]}}),
                "request.object.metadata",
            ),
            (json!({"metadata": null}), "request.object.metadata"),
        ] {
            review["request"]["object"] = object;
            let answer = inject(
                &loaded,
                review.to_string().as_bytes(),
                &lookup,
                OnError::Deny,
            );
            assert_eq!(answer.status, 400);
            assert!(message(&answer).contains(expected), "{}", message(&answer));
        }
    }

    /// The repository's testdata policy set, as `serve --offline` loads it.
    fn testdata_set() -> Loaded {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let paths: Vec<_> = [
            "testdata/policy/templates",
            "testdata/policy/cluster-policies.yaml",
            "testdata/namespaces",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        let discover = crate::source::DiscoverOptions {
            ignore: Vec::new(),
            ignore_root: root.to_owned(),
        };
        let (inputs, _) = super::super::policy_sets::directory_inputs(&paths, &discover).unwrap();
        set_options().build(inputs, 1).unwrap()
    }

    /// Found by the `admission` fuzz target: the engine sees an empty
    /// `spec` where a pod has none, so the patch added
    /// `/spec/initContainers` to a pod without `/spec`, which the API
    /// server cannot apply. Now every patch is applied to the pod as sent
    /// first; one that does not apply is an injection error.
    #[test]
    fn a_patch_that_does_not_apply_to_the_pod_as_sent_is_an_injection_error() {
        let loaded = testdata_set();
        let labels = |name: &str| {
            loaded
                .namespaces
                .get(name)
                .map(|ns| (ns.labels.clone(), ns.annotations.clone()))
        };
        let mut review: Value = serde_json::from_str(&pod_review("Pod")).unwrap();
        // A ReplicaSet's pod: the engine sees its Deployment, whose pod
        // template has a `spec` even when the pod has none.
        review["request"]["object"]["metadata"] = json!({
            "generateName": "web-5d4f8-",
            "labels": {"app": "web", "pod-template-hash": "5d4f8"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "web-5d4f8", "uid": "x", "controller": true}]
        });
        let answer = inject(
            &loaded,
            review.to_string().as_bytes(),
            &labels,
            OnError::Deny,
        );
        let response = serde_json::from_slice::<Value>(&answer.body).unwrap()["response"].clone();
        assert!(response["patch"].is_string(), "injected: {response}");

        review["request"]["object"]
            .as_object_mut()
            .unwrap()
            .remove("spec");
        let body = review.to_string();
        let denied = inject(&loaded, body.as_bytes(), &labels, OnError::Deny);
        let response = serde_json::from_slice::<Value>(&denied.body).unwrap()["response"].clone();
        assert_eq!(response["allowed"], false, "{response}");
        assert!(response.get("patch").is_none(), "{response}");
        assert!(
            message(&denied).contains("does not apply"),
            "{}",
            message(&denied)
        );
        let admitted = inject(&loaded, body.as_bytes(), &labels, OnError::Allow);
        let response = serde_json::from_slice::<Value>(&admitted.body).unwrap()["response"].clone();
        assert_eq!(response["allowed"], true, "{response}");
        assert!(response.get("patch").is_none(), "{response}");
        assert!(
            response["warnings"][0]
                .as_str()
                .unwrap()
                .contains("admitted without injection")
        );
    }

    #[test]
    fn a_cached_answer_is_the_first_answer_with_its_own_uid() {
        let loaded = set_options().build(Vec::new(), 1).unwrap();
        let lookup = |_: &str| None;
        let first = inject(
            &loaded,
            pod_review("Pod").as_bytes(),
            &lookup,
            OnError::Deny,
        );
        let again = pod_review("Pod").replace("\"u1\"", "\"u2\"");
        let again = inject(&loaded, again.as_bytes(), &lookup, OnError::Deny);
        assert_eq!(
            (first.record.cache, again.record.cache),
            (Some("miss"), Some("hit"))
        );
        let uid = |a: &Answer| {
            serde_json::from_slice::<Value>(&a.body).unwrap()["response"]["uid"].clone()
        };
        assert_eq!((uid(&first), uid(&again)), (json!("u1"), json!("u2")));
        assert_eq!(
            String::from_utf8_lossy(&first.body).replace("u1", "u2"),
            String::from_utf8_lossy(&again.body)
        );
    }

    #[test]
    fn an_undecided_request_is_admitted_or_refused_with_its_uid() {
        let body = pod_review("Pod");
        let uid = serde_json::from_str::<Value>(&body).unwrap()["request"]["uid"].clone();
        let allowed = failed(Some(body.as_bytes()), "too slow".into(), true);
        let review: Value = serde_json::from_slice(&allowed.body).unwrap();
        assert_eq!(review["response"]["uid"], uid);
        assert_eq!(review["response"]["allowed"], true);
        assert_eq!(
            review["response"]["warnings"][0],
            "too slow (admitted without injection)"
        );
        assert_eq!(
            (allowed.record.outcome, allowed.record.allowed),
            ("error", true)
        );
        let refused = failed(Some(body.as_bytes()), "too slow".into(), false);
        let review: Value = serde_json::from_slice(&refused.body).unwrap();
        assert_eq!(review["response"]["allowed"], false);
        assert_eq!(review["response"]["status"]["code"], 500);
        assert_eq!(review["response"]["status"]["message"], "too slow");
    }

    #[test]
    fn a_replicaset_pod_is_judged_as_its_deployment() {
        let pod = json!({
            "metadata": {"generateName": "web-7d4b9c-", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d4b9c", "controller": true}]},
            "spec": {"containers": [{"name": "web"}]}});
        let workload = into_workload(pod.clone(), "shop");
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
        let workload = into_workload(pod.clone(), "batch");
        assert_eq!(workload["kind"], "CronJob");
        assert_eq!(workload["metadata"]["name"], "nightly");
        assert!(
            workload
                .pointer("/spec/jobTemplate/spec/template/metadata")
                .is_some()
        );
        for job in ["migrate-2", "backup-20241115", "nightly-28391230"] {
            let pod = json!({"metadata": {"ownerReferences": [{"kind": "Job", "name": job, "controller": true}]}});
            assert_eq!(into_workload(pod.clone(), "batch")["kind"], "Job", "{job}");
        }
    }

    #[test]
    fn bare_pods_and_foreign_owners_stay_pods() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "debug"}});
        assert_eq!(into_workload(pod.clone(), "ns"), pod);
        let pod = json!({"kind": "Pod", "metadata": {"generateName": "train-", "ownerReferences": [{"kind": "Workflow", "name": "w"}]}});
        let workload = into_workload(pod.clone(), "ns");
        assert_eq!(workload["kind"], "Pod");
        assert_eq!(workload["metadata"]["name"], "train");
    }
}
