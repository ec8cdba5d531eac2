//! The webhook gate: `admissionregistration.k8s.io/v1`
//! `MutatingWebhookConfiguration` objects among the inputs, read into typed
//! webhooks in the order the API server calls them, and which of them it
//! calls for a pod CREATE.
//!
//! Field defaults follow `kubernetes/api: admissionregistration/v1/types.go`
//! (`failurePolicy: Fail`, `timeoutSeconds: 10`, `reinvocationPolicy: Never`,
//! `matchPolicy: Equivalent`, an absent selector matches everything). The API
//! server sorts configurations by `metadata.name` and calls their webhooks in
//! list order (`MutatingWebhookConfigurationSorter.ByName` in
//! `apiserver/pkg/admission/configuration/mutating_webhook_manager.go`).

use std::ops::Range;

use serde_json::Value;

use crate::model::Object;
use crate::model::selector::{LabelSelector, Labels};

/// The group/version and kind read here.
pub const API_VERSION: &str = "admissionregistration.k8s.io/v1";
pub const KIND: &str = "MutatingWebhookConfiguration";

/// `failurePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

/// Where the API server sends the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    Service {
        namespace: String,
        name: String,
        path: Option<String>,
    },
    Url(String),
    /// No (readable) `clientConfig`: the schema check reports that.
    Missing,
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Service {
                namespace,
                name,
                path,
            } => write!(
                f,
                "service {namespace}/{name}{}",
                path.as_deref().unwrap_or("")
            ),
            Client::Url(url) => write!(f, "{url}"),
            Client::Missing => f.write_str("(no clientConfig)"),
        }
    }
}

/// One entry of `rules`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookRule {
    pub operations: Vec<String>,
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    /// `*` when absent.
    pub scope: String,
}

impl WebhookRule {
    /// Whether the rule covers a CREATE of a core/v1 Pod.
    pub fn matches_pod_create(&self) -> bool {
        let any = |list: &[String], wanted: &str| list.iter().any(|v| v == "*" || v == wanted);
        any(&self.operations, "CREATE")
            && any(&self.api_groups, "")
            && any(&self.api_versions, "v1")
            // `*/*` is every resource and subresource; `pods/*` only pods'
            // subresources, which a CREATE of a pod is not.
            && self
                .resources
                .iter()
                .any(|r| r == "pods" || r == "*" || r == "*/*")
            && (self.scope == "*" || self.scope == "Namespaced")
    }
}

/// One webhook of a configuration.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Index of the configuration in the workspace's `objects`.
    pub object: usize,
    /// Position in the configuration's `webhooks`.
    pub index: usize,
    pub name: String,
    /// The configuration's `metadata.name`.
    pub configuration: String,
    pub client: Client,
    pub rules: Vec<WebhookRule>,
    /// `None` when malformed (never matches; the API server would refuse the
    /// configuration). Absent or `null` is the empty selector.
    pub namespace_selector: Option<LabelSelector>,
    pub object_selector: Option<LabelSelector>,
    pub failure_policy: FailurePolicy,
    /// As written, else 10.
    pub timeout_seconds: i64,
    pub reinvocation_policy: String,
    pub match_policy: String,
    pub side_effects: Option<String>,
    /// Number of `matchConditions` (CEL, not evaluated here).
    pub match_conditions: usize,
    /// Span of the webhook's `name` value (or of the configuration's name).
    pub name_span: Range<usize>,
}

impl Webhook {
    /// JSON pointer of this webhook in its configuration.
    pub fn pointer(&self) -> String {
        format!("/webhooks/{}", self.index)
    }

    /// Whether the API server calls this webhook for a pod CREATE in a
    /// namespace with `namespace_labels`, for a pod with `pod_labels`
    /// (`matchConditions` are not evaluated: see [`Webhook::match_conditions`]).
    pub fn matches_pod(&self, namespace_labels: &Labels, pod_labels: &Labels) -> bool {
        self.rules.iter().any(WebhookRule::matches_pod_create)
            && selectors_match(
                self.namespace_selector.as_ref(),
                self.object_selector.as_ref(),
                namespace_labels,
                pod_labels,
            )
    }

    /// Which known injector this webhook calls, if any (see [`IDENTITIES`]).
    pub fn injector(&self) -> Option<&'static str> {
        identify(&self.name, &self.client)
    }

    /// What makes two webhooks the same injector: the known injector, else
    /// the service or URL they call.
    pub fn identity(&self) -> Option<String> {
        if let Some(known) = self.injector() {
            return Some(known.to_owned());
        }
        match &self.client {
            Client::Service {
                namespace, name, ..
            } => Some(format!("service {namespace}/{name}")),
            Client::Url(url) => Some(url.clone()),
            Client::Missing => None,
        }
    }
}

/// Whether a webhook's namespaceSelector and objectSelector both match
/// (`None`: a malformed selector, which never matches).
pub fn selectors_match(
    namespace_selector: Option<&LabelSelector>,
    object_selector: Option<&LabelSelector>,
    namespace_labels: &Labels,
    pod_labels: &Labels,
) -> bool {
    namespace_selector.is_some_and(|s| s.matches(namespace_labels))
        && object_selector.is_some_and(|s| s.matches(pod_labels))
}

/// How a known injector's webhook is recognised: by the name of the Service
/// it calls (a prefix) or by the webhook's name (a suffix). Sources, from the
/// projects' charts and install manifests:
/// - istio: `istio-control/istio-discovery/templates/mutatingwebhook.yaml`
///   (service `istiod[-<rev>]`, webhooks `*.sidecar-injector.istio.io`);
/// - linkerd: `charts/linkerd-control-plane/templates/proxy-injector-rbac.yaml`
///   (service `linkerd-proxy-injector`);
/// - vault: `vault-k8s: deploy/injector-mutating-webhook.yaml` (`vault-agent-injector-svc`);
/// - consul: `consul-k8s: charts/consul/templates/connect-inject-mutatingwebhookconfiguration.yaml`
///   (`consul-connect-injector`);
/// - kuma: `kuma: deployments/charts/kuma/templates/cp-webhooks-and-secrets.yaml`
///   (`kuma-control-plane`);
/// - dapr: `dapr: charts/dapr/charts/dapr_sidecar_injector` (`dapr-sidecar-injector`);
/// - otel: `opentelemetry-operator` (`opentelemetry-operator-webhook-service`);
/// - osm: `osm: charts/osm/templates/osm-injector-*` (`osm-injector`).
pub const IDENTITIES: &[(&str, &str, Option<&str>)] = &[
    // (injector, service name prefix, webhook name suffix)
    ("istio", "istiod", Some("sidecar-injector.istio.io")),
    ("linkerd", "linkerd-proxy-injector", None),
    ("vault", "vault-agent-injector", None),
    ("consul", "consul-connect-injector", None),
    ("kuma", "kuma-control-plane", None),
    ("dapr", "dapr-sidecar-injector", None),
    ("otel", "opentelemetry-operator", None),
    ("osm", "osm-injector", None),
];

/// The known injector a webhook named `name` calling `client` belongs to.
pub fn identify(name: &str, client: &Client) -> Option<&'static str> {
    let service = match client {
        Client::Service { name, .. } => Some(name.as_str()),
        _ => None,
    };
    IDENTITIES
        .iter()
        .find(|(_, prefix, suffix)| {
            service.is_some_and(|s| s.starts_with(prefix))
                || suffix.is_some_and(|suffix| name.ends_with(suffix))
        })
        .map(|(injector, _, _)| *injector)
}

/// Every mutating webhook among the inputs, in call order.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    pub webhooks: Vec<Webhook>,
}

impl Webhooks {
    pub fn from_objects(objects: &[Object]) -> Webhooks {
        let mut configurations: Vec<(usize, &Object)> = objects
            .iter()
            .enumerate()
            .filter(|(_, o)| o.kind == KIND && o.api_version == API_VERSION && !o.shadowed)
            .collect();
        // Stable: configurations of the same name keep their input order.
        configurations.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        let webhooks = configurations
            .into_iter()
            .flat_map(|(i, object)| read_configuration(i, object))
            .collect();
        Webhooks { webhooks }
    }

    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Webhook> {
        self.webhooks.iter()
    }

    /// The webhooks the API server calls, in order, for a pod CREATE.
    pub fn matching(&self, namespace_labels: &Labels, pod_labels: &Labels) -> Vec<&Webhook> {
        self.webhooks
            .iter()
            .filter(|w| w.matches_pod(namespace_labels, pod_labels))
            .collect()
    }
}

fn read_configuration(object_index: usize, object: &Object) -> Vec<Webhook> {
    let Some(items) = object.root.get("webhooks").and_then(|w| w.as_seq()) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(index, node)| {
            let json = node.to_json();
            let str_at = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
            Webhook {
                object: object_index,
                index,
                name: str_at("name").unwrap_or_default(),
                configuration: object.name.clone(),
                client: client(json.get("clientConfig")),
                rules: json
                    .get("rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(rule)
                    .collect(),
                namespace_selector: selector(json.get("namespaceSelector")),
                object_selector: selector(json.get("objectSelector")),
                failure_policy: match str_at("failurePolicy").as_deref() {
                    Some("Ignore") => FailurePolicy::Ignore,
                    _ => FailurePolicy::Fail,
                },
                timeout_seconds: json
                    .get("timeoutSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(10),
                reinvocation_policy: str_at("reinvocationPolicy")
                    .unwrap_or_else(|| "Never".to_owned()),
                match_policy: str_at("matchPolicy").unwrap_or_else(|| "Equivalent".to_owned()),
                side_effects: str_at("sideEffects"),
                match_conditions: json
                    .get("matchConditions")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
                name_span: node
                    .get("name")
                    .map_or_else(|| object.name_span(), |n| n.span.clone()),
            }
        })
        .collect()
}

fn client(config: Option<&Value>) -> Client {
    let Some(config) = config else {
        return Client::Missing;
    };
    if let Some(service) = config.get("service") {
        let field = |k: &str| service.get(k).and_then(Value::as_str).map(str::to_owned);
        if let (Some(namespace), Some(name)) = (field("namespace"), field("name")) {
            return Client::Service {
                namespace,
                name,
                path: field("path"),
            };
        }
    }
    config
        .get("url")
        .and_then(Value::as_str)
        .map_or(Client::Missing, |u| Client::Url(u.to_owned()))
}

fn rule(value: &Value) -> WebhookRule {
    let list = |k: &str| -> Vec<String> {
        value
            .get(k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    WebhookRule {
        operations: list("operations"),
        api_groups: list("apiGroups"),
        api_versions: list("apiVersions"),
        resources: list("resources"),
        scope: value
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("*")
            .to_owned(),
    }
}

fn selector(value: Option<&Value>) -> Option<LabelSelector> {
    match value {
        None | Some(Value::Null) => Some(LabelSelector::default()),
        Some(v) => LabelSelector::from_json(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    const ISTIO: &str = include_str!("../../tests/fixtures/INJ405/fires.yaml");

    fn objects(text: &str) -> Vec<Object> {
        parse_stream(text, &Limits::default())
            .documents
            .into_iter()
            .filter_map(|(i, root)| Object::from_root(FileId(0), i, root))
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn configurations_are_called_by_name_then_in_order() {
        let hooks = Webhooks::from_objects(&objects(ISTIO));
        let order: Vec<_> = hooks
            .iter()
            .map(|w| (w.configuration.as_str(), w.name.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (
                    "istio-revision-tag-default",
                    "rev.namespace.sidecar-injector.istio.io"
                ),
                (
                    "istio-revision-tag-default",
                    "namespace.sidecar-injector.istio.io"
                ),
                (
                    "istio-sidecar-injector",
                    "rev.namespace.sidecar-injector.istio.io"
                ),
                (
                    "istio-sidecar-injector",
                    "namespace.sidecar-injector.istio.io"
                ),
                ("istio-sidecar-injector", "object.sidecar-injector.istio.io"),
            ]
        );
        assert!(hooks.iter().all(|w| w.injector() == Some("istio")));
        let first = &hooks.webhooks[0];
        assert_eq!(first.failure_policy, FailurePolicy::Fail);
        assert_eq!(first.timeout_seconds, 10);
        assert_eq!(first.reinvocation_policy, "Never");
    }

    #[test]
    fn matching_follows_both_selectors() {
        let hooks = Webhooks::from_objects(&objects(ISTIO));
        let ns = labels(&[("istio-injection", "enabled")]);
        let names = |pod: &Labels| -> Vec<String> {
            hooks
                .matching(&ns, pod)
                .iter()
                .map(|w| format!("{}:{}", w.configuration, w.name))
                .collect()
        };
        assert_eq!(
            names(&labels(&[])),
            [
                "istio-revision-tag-default:namespace.sidecar-injector.istio.io",
                "istio-sidecar-injector:namespace.sidecar-injector.istio.io"
            ]
        );
        assert!(names(&labels(&[("sidecar.istio.io/inject", "false")])).is_empty());
        let plain = labels(&[]);
        assert_eq!(
            hooks
                .matching(&plain, &labels(&[("sidecar.istio.io/inject", "true")]))
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>(),
            ["object.sidecar-injector.istio.io"]
        );
    }

    #[test]
    fn rules_and_identities() {
        let rule = |ops: &[&str], resources: &[&str], scope: &str| WebhookRule {
            operations: ops.iter().map(|s| s.to_string()).collect(),
            api_groups: vec![String::new()],
            api_versions: vec!["v1".into()],
            resources: resources.iter().map(|s| s.to_string()).collect(),
            scope: scope.into(),
        };
        assert!(rule(&["CREATE"], &["pods"], "*").matches_pod_create());
        assert!(rule(&["*"], &["*/*"], "Namespaced").matches_pod_create());
        assert!(!rule(&["UPDATE"], &["pods"], "*").matches_pod_create());
        assert!(!rule(&["CREATE"], &["pods/*"], "*").matches_pod_create());
        assert!(!rule(&["CREATE"], &["pods"], "Cluster").matches_pod_create());
        let service = |name: &str| Client::Service {
            namespace: "x".into(),
            name: name.into(),
            path: None,
        };
        assert_eq!(identify("a", &service("istiod-1-16")), Some("istio"));
        assert_eq!(
            identify(
                "linkerd-proxy-injector.linkerd.io",
                &service("linkerd-proxy-injector")
            ),
            Some("linkerd")
        );
        assert_eq!(
            identify(
                "x.sidecar-injector.istio.io",
                &Client::Url("https://a".into())
            ),
            Some("istio")
        );
        assert_eq!(identify("mine", &service("my-injector")), None);
    }
}
