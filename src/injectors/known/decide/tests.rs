use serde_json::json;

use super::istio::{InjectValue, parse_inject};
use super::*;
use crate::injectors::webhooks::Webhooks;
use crate::model::selector::LabelSelector;

fn map(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

struct Case {
    kind: &'static str,
    namespace: &'static str,
    labels: Labels,
    annotations: Labels,
    ns_labels: Labels,
    ns_annotations: Labels,
    spec: serde_json::Value,
}

impl Case {
    fn new() -> Case {
        Case {
            kind: "Deployment",
            namespace: "shop",
            labels: Labels::new(),
            annotations: Labels::new(),
            ns_labels: map(&[("kubernetes.io/metadata.name", "shop")]),
            ns_annotations: Labels::new(),
            spec: json!({"containers": [{"name": "app", "image": "app:1"}]}),
        }
    }
    fn label(mut self, k: &str, v: &str) -> Case {
        self.labels.insert(k.into(), v.into());
        self
    }
    fn annotation(mut self, k: &str, v: &str) -> Case {
        self.annotations.insert(k.into(), v.into());
        self
    }
    fn ns_label(mut self, k: &str, v: &str) -> Case {
        self.ns_labels.insert(k.into(), v.into());
        self
    }
    fn ns_annotation(mut self, k: &str, v: &str) -> Case {
        self.ns_annotations.insert(k.into(), v.into());
        self
    }
    fn decide_with(
        &self,
        injector: &'static str,
        settings: &KnownSettings,
        mode: Mode,
    ) -> Option<KnownDecision> {
        let pod = PodInput {
            kind: self.kind,
            name: "web",
            namespace: self.namespace,
            labels: &self.labels,
            annotations: &self.annotations,
            namespace_labels: &self.ns_labels,
            namespace_annotations: &self.ns_annotations,
            spec: &self.spec,
        };
        let gate = Gate::build(&Webhooks::default(), settings);
        decide(injector, &pod, &gate, settings, mode)
    }
    fn outcome(&self, injector: &'static str) -> Option<Outcome> {
        self.decide_with(injector, &KnownSettings::default(), Mode::Admission)
            .map(|d| d.outcome)
    }
}

#[test]
fn istio_values_parse_by_version() {
    for (value, old, new) in [
        ("true", InjectValue::Yes, InjectValue::Yes),
        ("yes", InjectValue::Yes, InjectValue::Rejected),
        ("On", InjectValue::Yes, InjectValue::Rejected),
        ("false", InjectValue::No, InjectValue::No),
        ("enabled", InjectValue::No, InjectValue::Rejected),
        ("False", InjectValue::No, InjectValue::Rejected),
        ("", InjectValue::Default, InjectValue::Default),
    ] {
        assert_eq!(parse_inject(value, (1, 26)), old, "{value} on 1.26");
        assert_eq!(parse_inject(value, (1, 27)), new, "{value} on 1.27");
    }
}

#[test]
fn istio_follows_both_gates() {
    let enabled = || Case::new().ns_label("istio-injection", "enabled");
    assert_eq!(enabled().outcome("istio"), Some(Outcome::Inject));
    // Gate 1: the label `false` keeps every webhook away.
    assert_eq!(
        enabled()
            .label("sidecar.istio.io/inject", "false")
            .outcome("istio"),
        Some(Outcome::Skip)
    );
    // Gate 2: the annotation `false` reaches istiod, which skips.
    let d = enabled()
        .annotation("sidecar.istio.io/inject", "false")
        .decide_with("istio", &KnownSettings::default(), Mode::Admission)
        .unwrap();
    assert_eq!(d.outcome, Outcome::Skip);
    assert!(
        d.reasons[0].contains("namespace.sidecar-injector.istio.io"),
        "{:?}",
        d.reasons
    );
    // Annotation-only opt-in never reaches istiod.
    let d = Case::new()
        .annotation("sidecar.istio.io/inject", "true")
        .decide_with("istio", &KnownSettings::default(), Mode::Admission)
        .unwrap();
    assert_eq!(d.outcome, Outcome::Skip);
    assert!(d.reasons[0].contains("only sees labels"), "{:?}", d.reasons);
    // The pod label opts in an unlabelled namespace.
    assert_eq!(
        Case::new()
            .label("sidecar.istio.io/inject", "true")
            .outcome("istio"),
        Some(Outcome::Inject)
    );
    // hostNetwork and ignored namespaces.
    let mut host = enabled();
    host.spec = json!({"hostNetwork": true, "containers": []});
    assert_eq!(host.outcome("istio"), Some(Outcome::Skip));
    // Nothing Istio: no entry at all.
    assert_eq!(Case::new().outcome("istio"), None);
    // disabled beats every pod opt-in.
    assert_eq!(
        Case::new()
            .ns_label("istio-injection", "disabled")
            .label("sidecar.istio.io/inject", "true")
            .outcome("istio"),
        Some(Outcome::Skip)
    );
}

#[test]
fn istio_selectors_and_policy() {
    let mut settings = KnownSettings::default();
    settings.istio.never_inject_selector =
        vec![LabelSelector::from_json(&json!({"matchLabels": {"app": "batch"}})).unwrap()];
    settings.istio.policy = "disabled".into();
    let case = Case::new().ns_label("istio-injection", "enabled");
    let d = case
        .decide_with("istio", &settings, Mode::Admission)
        .unwrap();
    assert_eq!(d.outcome, Outcome::Skip);
    assert!(d.reasons.last().unwrap().contains("policy is disabled"));
    let batch = Case::new()
        .ns_label("istio-injection", "enabled")
        .label("app", "batch")
        .label("sidecar.istio.io/inject", "true");
    // An explicit value beats the selectors.
    assert_eq!(
        batch
            .decide_with("istio", &settings, Mode::Admission)
            .unwrap()
            .outcome,
        Outcome::Inject
    );
    settings.istio.always_inject_selector =
        vec![LabelSelector::from_json(&json!({"matchLabels": {"tier": "web"}})).unwrap()];
    let web = Case::new()
        .ns_label("istio-injection", "enabled")
        .label("tier", "web");
    assert_eq!(
        web.decide_with("istio", &settings, Mode::Admission)
            .unwrap()
            .outcome,
        Outcome::Inject
    );
    // 1.26 reads `enabled` as an explicit no; 1.27+ warns and uses the default.
    let yes = Case::new()
        .ns_label("istio-injection", "enabled")
        .annotation("sidecar.istio.io/inject", "enabled");
    let mut old = KnownSettings::default();
    old.istio.version = (1, 26);
    assert_eq!(
        yes.decide_with("istio", &old, Mode::Admission)
            .unwrap()
            .outcome,
        Outcome::Skip
    );
    assert_eq!(yes.outcome("istio"), Some(Outcome::Inject));
}

#[test]
fn linkerd_inherits_from_the_namespace() {
    let ns_on = || Case::new().ns_annotation("linkerd.io/inject", "enabled");
    assert_eq!(ns_on().outcome("linkerd"), Some(Outcome::Inject));
    assert_eq!(
        ns_on()
            .annotation("linkerd.io/inject", "disabled")
            .outcome("linkerd"),
        Some(Outcome::Skip)
    );
    assert_eq!(
        Case::new()
            .ns_annotation("linkerd.io/inject", "disabled")
            .annotation("linkerd.io/inject", "enabled")
            .outcome("linkerd"),
        Some(Outcome::Inject)
    );
    assert_eq!(
        Case::new()
            .annotation("linkerd.io/inject", "true")
            .outcome("linkerd"),
        Some(Outcome::Skip)
    );
    // kube-system is outside the webhook's namespaceSelector.
    let mut system = ns_on();
    system.namespace = "kube-system";
    system.ns_labels = map(&[("kubernetes.io/metadata.name", "kube-system")]);
    assert_eq!(system.outcome("linkerd"), Some(Outcome::Skip));
    // An Istio proxy already there.
    let mut istio = ns_on();
    istio.spec = json!({"containers": [{"name": "app"}, {"name": "istio-proxy"}]});
    assert_eq!(istio.outcome("linkerd"), Some(Outcome::Skip));
    // The CLI refuses it instead.
    let d = istio
        .decide_with("linkerd", &KnownSettings::default(), Mode::Manual)
        .unwrap();
    assert_eq!(d.outcome, Outcome::Deny);
}

#[test]
fn the_others_trigger_and_deny() {
    let consul = |v: &str| Case::new().annotation("consul.hashicorp.com/connect-inject", v);
    assert_eq!(consul("true").outcome("consul"), Some(Outcome::Inject));
    assert_eq!(consul("F").outcome("consul"), Some(Outcome::Skip));
    assert_eq!(consul("enabled").outcome("consul"), Some(Outcome::Deny));
    let vault = |v: &str| Case::new().annotation("vault.hashicorp.com/agent-inject", v);
    assert_eq!(vault("1").outcome("vault"), Some(Outcome::Inject));
    assert_eq!(vault("yes please").outcome("vault"), Some(Outcome::Deny));
    let dapr = Case::new().annotation("dapr.io/enabled", "True");
    assert_eq!(dapr.outcome("dapr"), Some(Outcome::Inject));
    assert_eq!(
        Case::new()
            .annotation("dapr.io/enabled", "true")
            .annotation("dapr.io/app-id", "My_App")
            .outcome("dapr"),
        Some(Outcome::Deny)
    );
    let kuma = Case::new()
        .ns_label("kuma.io/sidecar-injection", "enabled")
        .label("kuma.io/sidecar-injection", "on");
    assert_eq!(kuma.outcome("kuma"), Some(Outcome::Deny));
    assert_eq!(
        Case::new()
            .ns_label("kuma.io/sidecar-injection", "true")
            .outcome("kuma"),
        Some(Outcome::Inject)
    );
    let otel = Case::new()
        .annotation("sidecar.opentelemetry.io/inject", "true")
        .ns_annotation("sidecar.opentelemetry.io/inject", "my-collector");
    let d = otel
        .decide_with("otel", &KnownSettings::default(), Mode::Admission)
        .unwrap();
    assert_eq!(d.outcome, Outcome::Inject);
    assert!(d.reasons.last().unwrap().contains("my-collector"));
    let osm = Case::new()
        .ns_label("openservicemesh.io/monitored-by", "osm")
        .ns_annotation("openservicemesh.io/sidecar-injection", "enabled");
    assert_eq!(osm.outcome("osm"), Some(Outcome::Inject));
    assert_eq!(
        osm.annotation("openservicemesh.io/sidecar-injection", "maybe")
            .outcome("osm"),
        Some(Outcome::Deny)
    );
    let appmesh = Case::new().ns_label("appmesh.k8s.aws/sidecarInjectorWebhook", "enabled");
    assert_eq!(appmesh.outcome("appmesh"), Some(Outcome::Inject));
}

/// The triggers INJ212 reads (`triggers.yaml`) state again what the
/// decisions here do: every value a trigger accepts injects a pod in an
/// ordinary namespace (opted in where the injector's webhook needs it), a
/// pod in a namespace the trigger lists is not injected, nor a hostNetwork
/// pod when the trigger says the injector skips those; Istio's list is its
/// ignored namespaces.
#[test]
fn triggers_agree_with_the_decisions() {
    use crate::injectors::known::Where;
    use crate::injectors::known::placement::triggers;
    let istio_trigger = triggers().iter().find(|t| t.injector == "Istio").unwrap();
    assert_eq!(istio_trigger.namespaces, istio::IGNORED_NAMESPACES);
    for trigger in triggers().iter().skip(1) {
        let id: &'static str = super::super::vocabulary()
            .injectors
            .iter()
            .find(|i| i.display == trigger.injector)
            .map(|i| i.name.as_str())
            .unwrap();
        let values: Vec<&str> = if trigger.accepts.any_value {
            vec!["default"]
        } else {
            trigger.accepts.values.iter().map(String::as_str).collect()
        };
        assert!(!values.is_empty(), "{}", trigger.key);
        for value in values {
            let case = |namespace: &'static str| {
                let mut case = Case::new();
                case.namespace = namespace;
                case.ns_labels = map(&[("kubernetes.io/metadata.name", namespace)]);
                case = match trigger.placement {
                    Where::PodLabel => case.label(&trigger.key, value),
                    _ => case.annotation(&trigger.key, value),
                };
                match id {
                    // The annotation alone never reaches the webhook.
                    "istio" if trigger.placement == Where::PodAnnotation => {
                        case.ns_label("istio-injection", "enabled")
                    }
                    "kuma" => case.ns_label("kuma.io/sidecar-injection", "enabled"),
                    "osm" => case.ns_label("openservicemesh.io/monitored-by", "osm"),
                    _ => case,
                }
            };
            let at = format!("{} {}={value:?}", trigger.injector, trigger.key);
            assert_eq!(case("shop").outcome(id), Some(Outcome::Inject), "{at}");
            for namespace in &trigger.namespaces {
                let namespace = namespace.as_str();
                assert_ne!(
                    case(namespace).outcome(id),
                    Some(Outcome::Inject),
                    "{at} in {namespace}"
                );
            }
            let mut host = case("shop");
            host.spec =
                json!({"hostNetwork": true, "containers": [{"name": "app", "image": "app:1"}]});
            assert_eq!(
                host.outcome(id) == Some(Outcome::Inject),
                trigger.host_network.is_none(),
                "{at} with hostNetwork"
            );
        }
    }
}
