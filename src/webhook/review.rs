//! The AdmissionReview on the wire: the request as read (only the fields the
//! handlers use), the response, the HTTP answer around it, and the audit
//! record of every answer.

use std::sync::Arc;

use kube::core::admission::Operation;
use kube::core::{GroupVersionKind, ObjectMeta, Status};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

pub(super) fn record_pod(record: &Record) -> String {
    format!("pod {}/{}", record.namespace, record.name)
}

/// An AdmissionReview v1 as the API server sends it, the parts the
/// handlers read. Not kube's `AdmissionReview<DynamicObject>`: reading the
/// object into a `DynamicObject` (its `#[serde(flatten)]` buffers it) and
/// back into JSON took a quarter of the time of an answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Review {
    pub(super) api_version: String,
    pub(super) kind: String,
    #[serde(default)]
    pub(super) request: Option<Request>,
}

/// The fields kube's `AdmissionRequest` requires are required here too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Request {
    pub(super) uid: String,
    pub(super) kind: GroupVersionKind,
    #[serde(rename = "resource")]
    pub(super) _resource: IgnoredAny,
    #[serde(default)]
    pub(super) sub_resource: Option<String>,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) namespace: Option<String>,
    pub(super) operation: Operation,
    #[serde(rename = "userInfo")]
    pub(super) _user_info: IgnoredAny,
    #[serde(default)]
    pub(super) object: Option<Value>,
    #[serde(default)]
    pub(super) dry_run: bool,
}

/// The request of an AdmissionReview v1, or the answer to a malformed one.
pub(super) fn parse(body: &[u8]) -> Result<Request, Box<Answer>> {
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
pub(super) fn readable_object(object: &Value) -> Result<(), String> {
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
pub(super) struct Response {
    pub(super) uid: String,
    pub(super) allowed: bool,
    pub(super) status: Status,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "shared_str")]
    pub(super) patch: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) warnings: Option<Vec<String>>,
}

pub(super) fn shared_str<S: serde::Serializer>(
    text: &Option<Arc<str>>,
    out: S,
) -> Result<S::Ok, S::Error> {
    text.as_deref().serialize(out)
}

impl Response {
    pub(super) fn allow(uid: &str) -> Response {
        Response {
            uid: uid.to_owned(),
            allowed: true,
            status: Status::default(),
            patch: None,
            patch_type: None,
            warnings: None,
        }
    }

    pub(super) fn deny(mut self, message: String) -> Response {
        self.allowed = false;
        self.status.message = message;
        self
    }

    /// `--on-error allow`: the pod goes in unmodified, and the client is
    /// told why.
    pub(super) fn admit_without_injection(mut self, message: &str) -> Response {
        self.warnings = Some(vec![format!("{message} (admitted without injection)")]);
        self
    }

    /// `base64`: the JSONPatch, base64-encoded.
    pub(super) fn with_patch(mut self, base64: Arc<str>) -> Response {
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

pub(super) fn ignored(response: Response, mut record: Record, why: &str) -> Answer {
    record.outcome = "ignored";
    record.allowed = true;
    record.reasons = vec![why.to_owned()];
    answer(200, response, record)
}

pub(super) fn answer(status: u16, response: Response, record: Record) -> Answer {
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
    pub(super) fn of(endpoint: &'static str, request: &Request) -> Record {
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
