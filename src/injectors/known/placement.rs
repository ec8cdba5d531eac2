//! Where injector keys live and where injectors look: INJ207 (a pod-level key
//! on the workload's own metadata) and INJ212 (injection asked for a pod the
//! injector skips). The triggers and skips are data, with their sources, in
//! `triggers.yaml`.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::injectors::own::decide::{INJECT_ANNOTATION, TEMPLATE_ANNOTATION};

use super::{Where, vocabulary};

/// Prefix of the own injector's template parameter annotations
/// (`sidecar.kubectl-inject.dev/proxy-cpu`).
pub const PARAMETER_PREFIX: &str = "sidecar.kubectl-inject.dev/";

/// Who reads a pod-level key, and where it belongs on the pod.
pub struct PodLevelKey {
    /// Injector display name (`Istio`, `kubectl-inject`).
    pub owner: String,
    /// The placement the key should have on the pod template.
    pub placement: Where,
}

/// The owner and the pod placement of `key`, found in the label (`label`)
/// or annotation map of some metadata, when an injector reads it on pods.
/// Keys the injector writes itself are left out: nobody authors them.
pub fn pod_level_key(key: &str, label: bool) -> Option<PodLevelKey> {
    if key == INJECT_ANNOTATION || key == TEMPLATE_ANNOTATION || key.starts_with(PARAMETER_PREFIX) {
        return Some(PodLevelKey {
            owner: "kubectl-inject".to_owned(),
            placement: Where::PodAnnotation,
        });
    }
    let injector = vocabulary().injector_of(key)?;
    let spec = injector.key(key)?;
    if spec.generated {
        return None;
    }
    let found = if label {
        Where::PodLabel
    } else {
        Where::PodAnnotation
    };
    let other = if label {
        Where::PodAnnotation
    } else {
        Where::PodLabel
    };
    let supported = |w: Where| spec.placements.contains(&w) && spec.deprecation(w).is_none();
    let placement = if supported(found) {
        found
    } else if supported(other) {
        other
    } else if spec.placements.contains(&found) {
        found
    } else if spec.placements.contains(&other) {
        other
    } else {
        return None;
    };
    Some(PodLevelKey {
        owner: injector.display.clone(),
        placement,
    })
}

/// How an injector is asked to inject a pod, and which pods it skips anyway.
#[derive(Debug)]
pub struct Trigger {
    /// Injector display name.
    pub injector: &'static str,
    /// The key and where it is read; the first of an injector's triggers
    /// present on the pod decides (Istio: the label beats the annotation).
    pub key: String,
    pub placement: Where,
    /// Which values ask for injection ([`Trigger::asks`]).
    pub accepts: Accepts,
    /// Why the injector skips hostNetwork pods, if it does.
    pub host_network: Option<String>,
    /// Namespaces the injector never injects, and why.
    pub namespaces: Vec<String>,
    pub namespaces_why: String,
}

/// The values of a trigger key that ask for injection (`asks` in
/// `triggers.yaml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepts {
    /// The accepted values.
    #[serde(default)]
    pub values: Vec<String>,
    /// `values` are compared without ASCII case.
    #[serde(default)]
    pub ignore_case: bool,
    /// Every non-empty value asks (`istio.io/rev`: a revision name).
    #[serde(default)]
    pub any_value: bool,
}

impl Trigger {
    /// Whether `value` asks for injection.
    pub fn asks(&self, value: &str) -> bool {
        let a = &self.accepts;
        if a.any_value {
            return !value.is_empty();
        }
        a.values.iter().any(|v| {
            if a.ignore_case {
                v.eq_ignore_ascii_case(value)
            } else {
                v == value
            }
        })
    }
}

/// The triggers file, embedded.
const TRIGGERS_FILE: &str = include_str!("triggers.yaml");

/// `triggers.yaml` (keys described there).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerFile {
    injectors: Vec<InjectorTriggers>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectorTriggers {
    injector: String,
    #[serde(default)]
    host_network: Option<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default)]
    namespaces_why: String,
    #[allow(dead_code)]
    source: String,
    triggers: Vec<TriggerKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerKey {
    key: String,
    #[serde(rename = "where")]
    placement: Where,
    asks: Accepts,
    #[allow(dead_code)]
    source: String,
}

/// The repository's own injector's opt-in (its decision step 1), then the
/// known injectors' from `triggers.yaml`. Every key but the own one is in
/// the vocabulary (a test checks).
pub fn triggers() -> &'static [Trigger] {
    static PARSED: OnceLock<Vec<Trigger>> = OnceLock::new();
    PARSED.get_or_init(|| parse(TRIGGERS_FILE).unwrap_or_else(|e| panic!("triggers.yaml: {e}")))
}

fn parse(text: &str) -> Result<Vec<Trigger>, String> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    if let Some(problem) = parsed.problems.first() {
        return Err(format!("{problem:?}"));
    }
    let (_, root) = parsed.documents.first().ok_or("no document")?;
    let file: TriggerFile = serde_json::from_value(root.to_json()).map_err(|e| e.to_string())?;
    let mut triggers = vec![Trigger {
        injector: "kubectl-inject",
        key: INJECT_ANNOTATION.to_owned(),
        placement: Where::PodAnnotation,
        accepts: Accepts {
            values: vec!["true".to_owned()],
            ..Accepts::default()
        },
        host_network: Some(
            "kubectl-inject never injects hostNetwork pods: the pod shares the node's network (decision step 1)".to_owned(),
        ),
        namespaces: ["kube-system", "kube-public", "kube-node-lease"]
            .map(str::to_owned)
            .to_vec(),
        namespaces_why: "kubectl-inject never injects the system namespaces kube-system, kube-public and kube-node-lease (decision step 1)".to_owned(),
    }];
    for injector in file.injectors {
        let display = vocabulary()
            .injector(&injector.injector)
            .map(|i| i.display.as_str())
            .ok_or_else(|| format!("unknown injector `{}`", injector.injector))?;
        for trigger in injector.triggers {
            triggers.push(Trigger {
                injector: display,
                key: trigger.key,
                placement: trigger.placement,
                accepts: trigger.asks,
                host_network: injector.host_network.clone(),
                namespaces: injector.namespaces.clone(),
                namespaces_why: injector.namespaces_why.clone(),
            });
        }
    }
    Ok(triggers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::namespace::is_system;

    #[test]
    fn triggers_are_vocabulary_keys_in_their_placement() {
        let triggers = triggers();
        assert_eq!(triggers[0].key, INJECT_ANNOTATION);
        for trigger in triggers.iter().skip(1) {
            let injector = vocabulary().injector_of(&trigger.key).unwrap();
            assert_eq!(injector.display, trigger.injector, "{}", trigger.key);
            let spec = injector.key(&trigger.key).unwrap();
            assert!(
                spec.placements.contains(&trigger.placement),
                "{}",
                trigger.key
            );
            assert_eq!(
                trigger.namespaces.is_empty(),
                trigger.namespaces_why.is_empty()
            );
        }
        for ns in &triggers[0].namespaces {
            assert!(is_system(ns), "{ns}");
        }
    }

    /// The accepted values read as the injectors read them (what the code
    /// said before the values were data).
    #[test]
    fn trigger_values_ask_as_the_injectors_read_them() {
        let asks = |injector: &str, key: &str, placement: Where, value: &str| {
            triggers()
                .iter()
                .find(|t| t.injector == injector && t.key == key && t.placement == placement)
                .unwrap_or_else(|| panic!("{injector} {key}"))
                .asks(value)
        };
        let istio_label = |v| asks("Istio", "sidecar.istio.io/inject", Where::PodLabel, v);
        let istio_annotation =
            |v| asks("Istio", "sidecar.istio.io/inject", Where::PodAnnotation, v);
        let rev = |v| asks("Istio", "istio.io/rev", Where::PodLabel, v);
        let linkerd = |v| asks("Linkerd", "linkerd.io/inject", Where::PodAnnotation, v);
        let consul = |v| {
            asks(
                "Consul",
                "consul.hashicorp.com/connect-inject",
                Where::PodAnnotation,
                v,
            )
        };
        let kuma = |v| asks("Kuma", "kuma.io/sidecar-injection", Where::PodLabel, v);
        let osm = |v| {
            asks(
                "Open Service Mesh",
                "openservicemesh.io/sidecar-injection",
                Where::PodAnnotation,
                v,
            )
        };
        let own = |v| asks("kubectl-inject", INJECT_ANNOTATION, Where::PodAnnotation, v);
        for (value, want) in [("true", true), ("True", false), ("yes", false), ("", false)] {
            assert_eq!(istio_label(value), want, "{value:?}");
            assert_eq!(istio_annotation(value), want, "{value:?}");
            assert_eq!(own(value), want, "{value:?}");
        }
        assert!(rev("canary") && rev("default") && !rev(""));
        assert!(linkerd("enabled") && linkerd("ingress"));
        assert!(!linkerd("true") && !linkerd("Enabled") && !linkerd("disabled"));
        for value in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(consul(value), "{value:?}");
        }
        for value in ["tRuE", "yes", "on", "0", "false", ""] {
            assert!(!consul(value), "{value:?}");
        }
        assert!(kuma("enabled") && kuma("true") && kuma("yes"));
        assert!(!kuma("Enabled") && !kuma("TRUE") && !kuma("disabled") && !kuma("on"));
        for value in ["enabled", "ENABLED", "Yes", "yes", "TRUE", "true"] {
            assert!(osm(value), "{value:?}");
        }
        assert!(!osm("disabled") && !osm("on") && !osm(""));
    }

    #[test]
    fn pod_level_keys_and_their_placement() {
        let at = |key, label| pod_level_key(key, label).map(|k| (k.owner, k.placement));
        assert_eq!(
            at("sidecar.istio.io/inject", false),
            Some(("Istio".into(), Where::PodLabel))
        );
        assert_eq!(
            at("linkerd.io/inject", true),
            Some(("Linkerd".into(), Where::PodAnnotation))
        );
        assert_eq!(
            at("sidecar.kubectl-inject.dev/proxy-cpu", false),
            Some(("kubectl-inject".into(), Where::PodAnnotation))
        );
        assert_eq!(at("sidecar.istio.io/status", false), None);
        assert_eq!(at("istio-injection", true), None);
        assert_eq!(at("app.kubernetes.io/name", true), None);
    }
}
