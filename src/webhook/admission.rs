//! The admission requests, bytes in and an answer out (no I/O, so the
//! fuzzer and the tests call them without a server):
//!
//! - `/inject`: a Pod being created → a JSONPatch from the engine `render`
//!   uses, the repository's own injector alone;
//! - `/validate`: a `kubectl-inject.dev` object being created or updated →
//!   checked with `lint`'s schemas and rules together with the set it
//!   would join, refused on errors.

use std::sync::Arc;

use base64::Engine;
use kube::core::ObjectMeta;
use kube::core::admission::Operation;
use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::Severity;
use crate::engine::OWN_INJECTOR;
use crate::injectors::own::decide::Outcome;
use crate::model::namespace::Namespaces;
use crate::model::selector::Labels;
use crate::model::{GROUP, Object};
use crate::source::FileId;
use crate::yaml::Node;

use super::cache::Cached;
use super::policy_sets::{Loaded, SetInput, SetOptions, one_line};
use crate::live::object::cluster_object;

use super::owner::into_workload;
use super::pod_shape::{TOKEN_VOLUME_KEY, cache_key, rename_volume, token_volume};
use super::review::{Answer, Record, Response, answer, ignored, invalid, parse, record_pod};

/// What to answer when the injector cannot inject a pod it should (a
/// missing template, tied policies, a deadline missed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Refuse the pod, with the reason: nothing runs without its sidecar.
    Deny,
    /// Let the pod in unmodified, with a warning.
    Allow,
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
    let simulator = loaded.set.simulator(&namespaces);
    let Some(facts) = simulator.single(&object) else {
        return error("the pod has no pod template the injector can read".into());
    };
    let diagnostics = crate::rules::simulation::check_workload(&simulator, &facts);
    let result = facts.into_result(true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::review::failed;
    use serde_json::json;

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
