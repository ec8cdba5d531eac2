//! `admission`: bytes → the webhook's pure handlers, `inject` (`/inject`)
//! and `validate` (`/validate`), with the repository's `testdata/` policy
//! set loaded once (as `serve --offline` loads it) and the namespace labels
//! of its Namespace objects.
//!
//! The first byte chooses how the rest is read:
//!
//! - `P`: a pod's JSON, wrapped in an AdmissionReview asking to create it
//!   (in a namespace chosen by the input: injected, opted out, unknown), so
//!   that the engine sees many pods rather than JSON syntax errors;
//! - `O`: a `kubectl-inject.dev` object's JSON, wrapped in a CREATE or UPDATE
//!   review, for `validate` (checked with the loaded set);
//! - anything else: the whole input is the request body, given to both.
//!
//! Checks: no panic, no hang; the HTTP status is 200 or 400; the body is an
//! AdmissionReview v1 with a response whose `allowed` is the audit record's;
//! a 200 answers the request's `uid`; a patch comes only with `allowed`, is
//! a base64 JSONPatch and applies to the request's object (as the API
//! server applies it to the object it sent); the answer from the injection
//! cache (the same input again) is the first answer; another replica of the
//! pod (its token volume renamed) is injected alike; `validate` never
//! patches.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kubectl_inject::config::Config;
use kubectl_inject::model::selector::Labels;
use kubectl_inject::source::DiscoverOptions;
use kubectl_inject::webhook::admission::{OnError, inject, validate};
use kubectl_inject::webhook::pod_shape::{rename_volume, token_volume};
use kubectl_inject::webhook::review::Answer;
use kubectl_inject::webhook::policy_sets::{Loaded, SetOptions, directory_inputs};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const TEMPLATE_NAMESPACE: &str = "kubectl-inject-system";

/// The namespaces a wrapped pod is created in: labelled for injection,
/// restricted, opted out, not among the set's objects.
const NAMESPACES: &[&str] = &["shop", "payments", "platform", "batch", "nowhere"];

struct Fixture {
    options: SetOptions,
    loaded: Loaded,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let paths: Vec<PathBuf> = [
            "testdata/policy/templates",
            "testdata/policy/cluster-policies.yaml",
            "testdata/policy/payments-policy.yaml",
            "testdata/namespaces",
        ]
        .iter()
        .map(|p| root.join(p))
        .collect();
        let discover = DiscoverOptions {
            ignore: Vec::new(),
            ignore_root: root.clone(),
        };
        let (inputs, _) = directory_inputs(&paths, &discover).expect("the testdata policy set");
        let options = SetOptions {
            config: Config::default(),
            default_namespace: "default".to_owned(),
        };
        let loaded = options
            .build(inputs, 1)
            .unwrap_or_else(|refused| panic!("the testdata policy set is refused: {refused}"));
        Fixture { options, loaded }
    })
}

fn review(request: Value) -> Vec<u8> {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": request,
    })
    .to_string()
    .into_bytes()
}

/// A CREATE review of `pod` in `namespace`.
fn pod_review(pod: Value, namespace: &str, dry_run: bool) -> Vec<u8> {
    review(json!({
        "uid": "fuzz-pod",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""),
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
        "object": pod,
        "dryRun": dry_run,
    }))
}

/// A CREATE or UPDATE review of a `kubectl-inject.dev` object.
fn object_review(object: Value, update: bool) -> Vec<u8> {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("ClusterInjectionPolicy")
        .to_owned();
    let resource = format!("{}s", kind.to_lowercase());
    review(json!({
        "uid": "fuzz-object",
        "kind": {"group": "kubectl-inject.dev", "version": "v1alpha1", "kind": kind},
        "resource": {"group": "kubectl-inject.dev", "version": "v1alpha1", "resource": resource},
        "name": object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""),
        "namespace": object.pointer("/metadata/namespace"),
        "operation": if update { "UPDATE" } else { "CREATE" },
        "userInfo": {"username": "kubernetes-admin"},
        "oldObject": if update { object.clone() } else { Value::Null },
        "object": object,
    }))
}

/// The request's `uid` and `object` when the body is JSON whose `request`
/// is a map, as the API server sends it. (serde also reads a struct from a
/// list of its fields in order, as kube's `AdmissionRequest` did: for such
/// a body nothing is known here, and only the answer's shape is checked.)
fn request_parts(body: &[u8]) -> Option<(Option<String>, Option<Value>)> {
    let review = serde_json::from_slice::<Value>(body).ok()?;
    let request = review.get("request")?.as_object()?;
    Some((
        request
            .get("uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        request.get("object").cloned(),
    ))
}

/// The invariants of every answer; the decoded patch, if any.
fn check(answer: &Answer, body: &[u8], endpoint: &str) -> Option<json_patch::Patch> {
    assert!(
        matches!(answer.status, 200 | 400),
        "{endpoint}: HTTP {}",
        answer.status
    );
    let text = String::from_utf8_lossy(&answer.body);
    let reply: Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{endpoint}: the answer is not JSON ({e}): {text}"));
    assert_eq!(
        reply["apiVersion"], "admission.k8s.io/v1",
        "{endpoint}: {text}"
    );
    assert_eq!(reply["kind"], "AdmissionReview", "{endpoint}: {text}");
    let response = &reply["response"];
    let allowed = response["allowed"]
        .as_bool()
        .unwrap_or_else(|| panic!("{endpoint}: no response.allowed: {text}"));
    assert_eq!(
        allowed, answer.record.allowed,
        "{endpoint}: the audit record says otherwise: {text}"
    );
    assert!(!answer.record.outcome.is_empty(), "{endpoint}: no outcome");
    let uid = response["uid"]
        .as_str()
        .unwrap_or_else(|| panic!("{endpoint}: no response.uid: {text}"));
    if answer.status == 200
        && let Some((asked, _)) = request_parts(body)
    {
        assert_eq!(
            Some(uid),
            asked.as_deref(),
            "{endpoint}: another uid: {text}"
        );
    }
    let patch = response.get("patch")?;
    assert!(allowed, "{endpoint}: a patch on a refusal: {text}");
    assert_eq!(response["patchType"], "JSONPatch", "{endpoint}: {text}");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch.as_str().expect("the patch is a string"))
        .unwrap_or_else(|e| panic!("{endpoint}: the patch is not base64 ({e}): {text}"));
    Some(
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{endpoint}: the patch is not a JSONPatch ({e}): {text}")),
    )
}

/// Another replica of the pod in `body`: its token volume (and the mounts
/// of it) renamed, as the next pod of a ReplicaSet comes. Its answer, from
/// the cache or not, must inject it as the first was injected.
fn replica_is_answered_alike(
    loaded: &Loaded,
    lookup: &(dyn Fn(&str) -> Option<(Labels, Labels)> + Sync),
    on_error: OnError,
    body: &[u8],
    first: &Answer,
) {
    const OTHER: &str = "kube-api-access-q0q0q";
    let Ok(mut review) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if String::from_utf8_lossy(body).contains(OTHER) {
        return;
    }
    let Some(pod) = review.pointer_mut("/request/object") else {
        return;
    };
    let Some(token) = token_volume(pod) else {
        return;
    };
    rename_volume(pod, &token, OTHER);
    let replica_pod = pod.clone();
    let replica_body = serde_json::to_vec(&review).unwrap();
    let replica = inject(loaded, &replica_body, lookup, on_error);
    let patched = |answer: &Answer, mut pod: Value| -> Option<Value> {
        let reply: Value = serde_json::from_slice(&answer.body).ok()?;
        if let Some(patch) = reply["response"]["patch"].as_str() {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(patch)
                .ok()?;
            let patch: json_patch::Patch = serde_json::from_slice(&bytes).ok()?;
            json_patch::patch(&mut pod, &patch).ok()?;
        }
        Some(json!([reply["response"]["allowed"], pod]))
    };
    let Some((_, Some(first_pod))) = request_parts(body) else {
        return;
    };
    let first_after = patched(first, first_pod).map(|v| v.to_string());
    let replica_after =
        patched(&replica, replica_pod).map(|v| v.to_string().replace(OTHER, &token));
    assert_eq!(
        replica_after,
        first_after,
        "a replica ({} cache) is injected otherwise than the first",
        replica.record.cache.unwrap_or("no")
    );
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let loaded = &fixture.loaded;
    let lookup = |name: &str| -> Option<(Labels, Labels)> {
        loaded
            .namespaces
            .get(name)
            .map(|ns| (ns.labels.clone(), ns.annotations.clone()))
    };
    let on_error = if data.len().is_multiple_of(3) {
        OnError::Allow
    } else {
        OnError::Deny
    };

    let (first, rest) = data.split_first().unwrap_or((&b'{', &[]));
    let body = match first {
        b'P' => {
            let Ok(pod) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            let namespace = NAMESPACES[data.len() % NAMESPACES.len()];
            pod_review(pod, namespace, data.len() % 7 == 2)
        }
        b'O' => {
            let Ok(object) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            object_review(object, data.len() % 2 == 1)
        }
        _ => data.to_vec(),
    };

    let answer = inject(loaded, &body, &lookup, on_error);
    let patch = check(&answer, &body, "inject");
    if let Some(patch) = &patch
        && let Some((_, object)) = request_parts(&body)
    {
        // The API server applies the patch to the object it sent.
        let mut pod = object.expect("a patch for a request without an object");
        json_patch::patch(&mut pod, patch).unwrap_or_else(|e| {
            panic!(
                "inject: the patch does not apply to the pod ({e}): {}",
                String::from_utf8_lossy(&answer.body)
            )
        });
    }
    if answer.record.cache == Some("miss") {
        let again = inject(loaded, &body, &lookup, on_error);
        // An answer that names the pod's own token volume is not kept.
        let may_miss = request_parts(&body)
            .and_then(|(_, pod)| pod)
            .is_some_and(|pod| token_volume(&pod).is_some());
        assert!(
            again.record.cache == Some("hit") || may_miss,
            "the same pod again: {:?}",
            again.record.cache
        );
        assert_eq!(
            String::from_utf8_lossy(&again.body),
            String::from_utf8_lossy(&answer.body),
            "the cached answer differs from the first"
        );
        replica_is_answered_alike(loaded, &lookup, on_error, &body, &answer);
    }

    // `/validate` only reads kubectl-inject.dev objects; the raw bytes and
    // the wrapped objects go there (a wrapped pod is ignored at once).
    if *first != b'P' {
        for set in [Some(loaded), None] {
            let answer = validate(set, &fixture.options, &body, TEMPLATE_NAMESPACE);
            assert!(
                check(&answer, &body, "validate").is_none(),
                "validate patched"
            );
        }
    }
});
