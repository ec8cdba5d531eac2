//! Where injector keys live and where injectors look: INJ207 (a pod-level key
//! on the workload's own metadata) and INJ212 (injection asked for a pod the
//! injector skips). The facts are injectors.md §1.2, §3.1, §4.1, §5.5, §6, §7.

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
pub struct Trigger {
    /// Injector display name.
    pub injector: &'static str,
    /// The key and where it is read; the first of an injector's triggers
    /// present on the pod decides (Istio: the label beats the annotation).
    pub key: &'static str,
    pub placement: Where,
    /// Whether a value asks for injection.
    pub asks: fn(&str) -> bool,
    /// Why the injector skips hostNetwork pods, if it does.
    pub host_network: Option<&'static str>,
    /// Namespaces the injector never injects, and why.
    pub namespaces: &'static [&'static str],
    pub namespaces_why: &'static str,
}

fn parse_bool_true(value: &str) -> bool {
    matches!(value, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

const ISTIO_IGNORED: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
];
const ISTIO_HOST_NETWORK: &str = "Istio never injects hostNetwork pods: its iptables rules would alter the node's routing (injectRequired step 1)";
const ISTIO_NAMESPACES: &str = "Istio ignores the namespaces kube-system, kube-public, kube-node-lease and local-path-storage (injectRequired step 2)";

/// The opt-in keys of the injectors whose skips the reference records
/// (§1.2, §3.1, §4.1, §5.5; Vault, Dapr, OTel and App Mesh record none, so
/// their opt-ins are not listed). Every key but the own one is in the
/// vocabulary (a test checks).
pub static TRIGGERS: &[Trigger] = &[
    Trigger {
        injector: "kubectl-inject",
        key: INJECT_ANNOTATION,
        placement: Where::PodAnnotation,
        asks: |v| v == "true",
        host_network: Some(
            "kubectl-inject never injects hostNetwork pods: the pod shares the node's network (decision step 1)",
        ),
        namespaces: &["kube-system", "kube-public", "kube-node-lease"],
        namespaces_why: "kubectl-inject never injects the system namespaces kube-system, kube-public and kube-node-lease (decision step 1)",
    },
    Trigger {
        injector: "Istio",
        key: "sidecar.istio.io/inject",
        placement: Where::PodLabel,
        asks: |v| v == "true",
        host_network: Some(ISTIO_HOST_NETWORK),
        namespaces: ISTIO_IGNORED,
        namespaces_why: ISTIO_NAMESPACES,
    },
    Trigger {
        injector: "Istio",
        key: "sidecar.istio.io/inject",
        placement: Where::PodAnnotation,
        asks: |v| v == "true",
        host_network: Some(ISTIO_HOST_NETWORK),
        namespaces: ISTIO_IGNORED,
        namespaces_why: ISTIO_NAMESPACES,
    },
    Trigger {
        injector: "Istio",
        key: "istio.io/rev",
        placement: Where::PodLabel,
        asks: |v| !v.is_empty(),
        host_network: Some(ISTIO_HOST_NETWORK),
        namespaces: ISTIO_IGNORED,
        namespaces_why: ISTIO_NAMESPACES,
    },
    Trigger {
        injector: "Linkerd",
        key: "linkerd.io/inject",
        placement: Where::PodAnnotation,
        asks: |v| v == "enabled" || v == "ingress",
        host_network: Some("Linkerd skips hostNetwork pods (\"hostNetwork is enabled\")"),
        namespaces: &["kube-system", "cert-manager"],
        namespaces_why: "Linkerd's webhook excludes the namespaces kube-system and cert-manager (namespaceSelector)",
    },
    Trigger {
        injector: "Consul",
        key: "consul.hashicorp.com/connect-inject",
        placement: Where::PodAnnotation,
        asks: parse_bool_true,
        host_network: None,
        namespaces: &[
            "kube-system",
            "kube-public",
            "local-path-storage",
            "openebs",
            "gmp-system",
            "gke-managed-cim",
        ],
        namespaces_why: "Consul skips kube-system and kube-public in code, and its webhook's namespaceSelector excludes kube-system, local-path-storage, openebs, gmp-system and gke-managed-cim",
    },
    Trigger {
        injector: "Kuma",
        key: "kuma.io/sidecar-injection",
        placement: Where::PodLabel,
        asks: |v| matches!(v, "enabled" | "true" | "yes"),
        host_network: None,
        namespaces: &["kube-system"],
        namespaces_why: "Kuma's webhooks exclude kube-system (namespaceSelector)",
    },
    Trigger {
        injector: "Open Service Mesh",
        key: "openservicemesh.io/sidecar-injection",
        placement: Where::PodAnnotation,
        asks: |v| matches!(v.to_ascii_lowercase().as_str(), "enabled" | "yes" | "true"),
        host_network: Some("Open Service Mesh never injects hostNetwork pods"),
        namespaces: &[],
        namespaces_why: "",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::namespace::is_system;

    #[test]
    fn triggers_are_vocabulary_keys_in_their_placement() {
        for trigger in TRIGGERS.iter().skip(1) {
            let injector = vocabulary().injector_of(trigger.key).unwrap();
            assert_eq!(injector.display, trigger.injector, "{}", trigger.key);
            let spec = injector.key(trigger.key).unwrap();
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
        for ns in TRIGGERS[0].namespaces {
            assert!(is_system(ns), "{ns}");
        }
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
