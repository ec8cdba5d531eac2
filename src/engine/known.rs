//! The known injectors in the simulation of one workload: each one the
//! API server would call, in its order, decides (gate 1, then its own
//! checks), mutates the pod the previous ones left, and has its additions
//! checked like the repository's own (INJ3xx).

use serde_json::Value;

use super::{Cluster, InjectorResult, Settings};
use crate::checks::{self, CheckInput, Origin};
use crate::diagnostic::Diagnostic;
use crate::injectors::known::additions::{self, ensure_object};
use crate::injectors::known::decide::{self, Mode, PodInput};
use crate::injectors::known::vocabulary;
use crate::injectors::own::decide::Outcome;
use crate::injectors::own::mutate::PodFacts;
use crate::model::Object;
use crate::model::namespace::NAME_LABEL;
use crate::model::security_context;
use crate::model::selector::Labels;
use crate::model::workload::Workload;

/// What the known injectors did to one workload.
pub(super) struct KnownRun {
    pub results: Vec<InjectorResult>,
    pub diagnostics: Vec<Diagnostic>,
    /// The pod after the last mutation, when any injector mutated it.
    pub pod_after: Option<Value>,
    /// Injectors that skip only because an earlier one's sidecar is there:
    /// on the pod as written they would inject (INJ206 counts them).
    pub displaced: Vec<&'static str>,
}

/// The namespace's labels and annotations (an unknown namespace still has
/// the name label the API server sets).
fn namespace_metadata(cluster: &Cluster, namespace: &str) -> (Labels, Labels) {
    match cluster.namespaces.get(namespace) {
        Some(ns) => (ns.labels.clone(), ns.annotations.clone()),
        None => (
            [(NAME_LABEL.to_owned(), namespace.to_owned())].into(),
            Labels::new(),
        ),
    }
}

/// Runs the known injectors on `workload`, starting from `pod` (the pod
/// template as JSON after the repository's own injector, or `None` to read
/// it from the workload when needed).
pub(super) fn run(
    objects: &[Object],
    cluster: &Cluster,
    settings: &Settings,
    workload: &Workload<'_>,
    pod: Option<&Value>,
) -> KnownRun {
    let mut run = KnownRun {
        results: Vec::new(),
        diagnostics: Vec::new(),
        pod_after: None,
        displaced: Vec::new(),
    };
    let (ns_labels, ns_annotations) = namespace_metadata(cluster, &workload.namespace);
    let mode = if settings.manual_injector.is_some() {
        Mode::Manual
    } else {
        Mode::Admission
    };
    let candidates: Vec<&'static str> = match settings.manual_injector {
        Some(only) => vec![only],
        None => {
            // Ask first without the spec: most workloads concern no known
            // injector, and their pods need not be copied.
            let null = Value::Null;
            let probe = PodInput {
                kind: &workload.object.kind,
                name: &workload.object.name,
                namespace: &workload.namespace,
                labels: &workload.labels,
                annotations: &workload.annotations,
                namespace_labels: &ns_labels,
                namespace_annotations: &ns_annotations,
                spec: &null,
            };
            cluster
                .gate
                .call_order()
                .into_iter()
                .filter(|i| decide::concerned(i, &probe, &cluster.gate, mode))
                .collect()
        }
    };
    if candidates.is_empty() {
        return run;
    }
    let mut current = pod.cloned().unwrap_or_else(|| workload.pod.to_json());
    let original = current.clone();
    let mut mutated = false;
    for injector in candidates {
        let labels = string_map(&current, "labels");
        let annotations = string_map(&current, "annotations");
        let null = Value::Null;
        let input = PodInput {
            kind: &workload.object.kind,
            name: &workload.object.name,
            namespace: &workload.namespace,
            labels: &labels,
            annotations: &annotations,
            namespace_labels: &ns_labels,
            namespace_annotations: &ns_annotations,
            spec: current.get("spec").unwrap_or(&null),
        };
        let Some(mut decision) =
            decide::decide(injector, &input, &cluster.gate, &cluster.known, mode)
        else {
            continue;
        };
        if mutated && decision.outcome == Outcome::Skip {
            let labels = string_map(&original, "labels");
            let annotations = string_map(&original, "annotations");
            let as_written = PodInput {
                labels: &labels,
                annotations: &annotations,
                spec: original.get("spec").unwrap_or(&null),
                ..input
            };
            let unmutated =
                decide::decide(injector, &as_written, &cluster.gate, &cluster.known, mode);
            if unmutated.is_some_and(|d| d.outcome == Outcome::Inject) {
                run.displaced.push(injector);
                decision.reasons.push(
                    "on the pod as written it would inject: an earlier injector's sidecar keeps it out".into(),
                );
            }
        }
        let mut added = None;
        if decision.outcome == Outcome::Inject {
            let facts = PodFacts {
                name: &workload.object.name,
                namespace: &workload.namespace,
                service_account: &workload.service_account,
            };
            if injector == "linkerd" {
                inherit_linkerd_annotations(&mut current, &ns_annotations);
            }
            match additions::additions(injector, &current, &facts, &cluster.known) {
                Err(reason) => {
                    decision.outcome = Outcome::Deny;
                    decision.reasons.push(reason);
                }
                Ok(adds) => {
                    let applied = additions::apply(&current, injector, &adds);
                    let display = vocabulary()
                        .injector(injector)
                        .map_or(injector, |i| i.display.as_str());
                    let trigger = trigger_pointer(workload, injector);
                    run.diagnostics.extend(checks::check_injected(&CheckInput {
                        workload,
                        objects,
                        limit_objects: &cluster.limit_objects,
                        namespace_labels: &ns_labels,
                        origin: Origin::Known {
                            injector,
                            display,
                            placed: &applied.placed,
                            trigger: trigger.as_deref(),
                        },
                        pod_before: &current,
                        pod_after: &applied.pod,
                        added: &applied.added,
                        kubernetes_version: settings.kubernetes_version,
                    }));
                    current = applied.pod;
                    added = Some(applied.added);
                    mutated = true;
                }
            }
        }
        run.results.push(InjectorResult {
            injector,
            decision: decision.outcome,
            policy: None,
            template: None,
            added,
            reasons: decision.reasons,
        });
    }
    if mutated {
        run.pod_after = Some(current);
    }
    run
}

/// Linkerd copies its proxy settings from the namespace onto a pod that
/// does not set them (`AppendNamespaceAnnotations` in
/// <https://github.com/linkerd/linkerd2/blob/b24cd4059841f8cee2fb7a9c2ac23a693c583579/pkg/inject/inject.go>);
/// a few keys are not inherited.
fn inherit_linkerd_annotations(pod: &mut Value, namespace_annotations: &Labels) {
    const NOT_INHERITED: &[&str] = &[
        "config.linkerd.io/proxy-cpu-ratio-limit",
        "config.beta.linkerd.io/proxy-enable-native-sidecar",
    ];
    let inherited: Vec<(&String, &String)> = namespace_annotations
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("config.linkerd.io/") || k.starts_with("config.alpha.linkerd.io/"))
                && !NOT_INHERITED.contains(&k.as_str())
                && k.as_str() != "config.linkerd.io/admission-webhooks"
        })
        .collect();
    if inherited.is_empty() {
        return;
    }
    let Some(pod) = pod.as_object_mut() else {
        return;
    };
    let annotations = ensure_object(ensure_object(pod, "metadata"), "annotations");
    for (key, value) in inherited {
        annotations
            .entry(key.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
}

/// `labels` or `annotations` of a pod template as JSON.
fn string_map(pod: &Value, field: &str) -> Labels {
    pod.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    // A bool where Kubernetes wants a string (INJ201 says
                    // so) still reads as its text.
                    let text = match v {
                        Value::Bool(b) => b.to_string(),
                        other => other.as_str()?.to_owned(),
                    };
                    Some((k.clone(), text))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The pointer of the first pod-template label or annotation of `injector`
/// (what asked for the injection), from the root of the object holding the
/// pod template.
fn trigger_pointer(workload: &Workload<'_>, injector: &str) -> Option<String> {
    let known = vocabulary().injector(injector)?;
    let metadata = workload.pod.get("metadata")?;
    ["labels", "annotations"].into_iter().find_map(|field| {
        metadata.get(field)?.as_map()?.iter().find_map(|entry| {
            known.key(&entry.key)?;
            Some(format!(
                "{}/metadata/{field}/{}",
                workload.pod_path,
                crate::yaml::pointer::escape(&entry.key)
            ))
        })
    })
}

/// Injectors whose proxy redirects the pod's traffic (their init containers
/// add `NET_ADMIN`: `additions.yaml`, with sources).
pub const INTERCEPTING: &[&str] = &["istio", "linkerd", "consul", "kuma", "osm", "appmesh"];

/// The user Istio's proxy runs as, whose traffic its redirection lets
/// through (the `runAsUser` of `istio-proxy` and the `-u` of `istio-init` in
/// `additions.yaml`; a test checks they agree).
const ISTIO_PROXY_UID: i64 = 1337;

/// Init containers that install an intercepting proxy's redirection, with
/// the proxy they redirect to (`additions.yaml`, with sources), and CNI validators: with a
/// CNI plugin the redirection exists before any init container runs.
const REDIRECTING_INITS: &[(&str, &str)] = &[
    ("istio-init", "istio-proxy"),
    ("linkerd-init", "linkerd-proxy"),
    ("consul-connect-inject-init", "consul-dataplane"),
    ("kuma-init", "kuma-sidecar"),
    ("osm-init", "envoy"),
    ("proxyinit", "envoy"),
];
const CNI_VALIDATORS: &[(&str, &str)] = &[
    ("istio-validation", "istio-proxy"),
    ("linkerd-network-validator", "linkerd-proxy"),
];

/// Checks across the injectors of one workload: INJ206 (two intercepting
/// injectors) and INJ309 (an init container that needs the network after a
/// proxy's redirection).
pub(super) fn combined_checks(
    result: &super::WorkloadResult,
    own_intercepts: bool,
    displaced: &[&str],
    workload: &Workload<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let intercepting: Vec<&InjectorResult> = result
        .injectors
        .iter()
        .filter(|r| r.decision == Outcome::Inject || displaced.contains(&r.injector))
        .filter(|r| {
            if r.injector == super::OWN_INJECTOR {
                own_intercepts
            } else {
                INTERCEPTING.contains(&r.injector)
            }
        })
        .collect();
    if intercepting.len() > 1 {
        let names: Vec<String> = intercepting.iter().map(|r| display(r.injector)).collect();
        let second = intercepting[1].injector;
        let pointer = trigger_pointer(workload, second)
            .unwrap_or_else(|| format!("{}/metadata", workload.pod_path));
        out.push(at_workload(
            crate::rules::competing_interceptors::new(&workload.display_name(), &names),
            workload,
            &pointer,
        ));
    }
    if let Some(pod) = &result.pod_after {
        out.extend(init_after_redirect(pod, workload));
    }
    out
}

fn display(injector: &str) -> String {
    if injector == super::OWN_INJECTOR {
        return "the repository's own template".into();
    }
    vocabulary()
        .injector(injector)
        .map_or(injector, |i| i.display.as_str())
        .to_owned()
}

/// A finding at `pointer` of the object holding the pod template (its
/// name when the pointer does not resolve).
fn at_workload(d: Diagnostic, workload: &Workload<'_>, pointer: &str) -> Diagnostic {
    let object = workload.pod_object;
    let span = object
        .root
        .lookup_pointer(pointer)
        .map(|(node, key)| key.unwrap_or_else(|| node.span.clone()))
        .unwrap_or_else(|| object.name_span());
    d.at(object.file, span)
        .object(Some(workload.object.object_ref(&workload.namespace)))
        .path(pointer.to_owned())
}

/// INJ309 on the injected pod.
fn init_after_redirect(pod: &Value, workload: &Workload<'_>) -> Vec<Diagnostic> {
    let inits = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let name = |c: &Value| {
        c.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    // Where the redirection starts: after the proxy's init container, or
    // before every init container with a CNI plugin.
    let cni = inits.iter().find_map(|c| {
        let n = name(c);
        CNI_VALIDATORS.iter().find(|(v, _)| *v == n).copied()
    });
    let classic = || {
        inits.iter().enumerate().find_map(|(i, c)| {
            let n = name(c);
            REDIRECTING_INITS
                .iter()
                .find(|(init, _)| *init == n)
                .map(|pair| (i + 1, *pair))
        })
    };
    let Some((start, (redirect, proxy))) = cni.map(|pair| (0, pair)).or_else(classic) else {
        return Vec::new();
    };
    let redirect = if cni.is_some() {
        format!("the CNI plugin (checked by `{redirect}`)")
    } else {
        format!("`{redirect}`")
    };
    let annotations = string_map(pod, "annotations");
    let mut out = Vec::new();
    for (i, container) in inits.iter().enumerate().skip(start) {
        let n = name(container);
        if CNI_VALIDATORS.iter().any(|(v, _)| *v == n) {
            continue;
        }
        // A native proxy started before it: traffic has somewhere to go.
        let native_proxy_before = inits[..i].iter().any(|c| {
            name(c) == proxy && c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
        });
        if native_proxy_before || REDIRECTING_INITS.iter().any(|(init, _)| *init == n) {
            continue;
        }
        if container.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            continue;
        }
        // Istio lets the proxy's own user through; exclusions are the
        // documented workaround.
        let uid =
            security_context::effective(container, pod, "/runAsUser").and_then(|(v, _)| v.as_i64());
        if proxy == "istio-proxy"
            && (uid == Some(ISTIO_PROXY_UID)
                || annotations.contains_key("traffic.sidecar.istio.io/excludeOutboundIPRanges")
                || annotations.contains_key("traffic.sidecar.istio.io/excludeOutboundPorts"))
        {
            continue;
        }
        if proxy == "linkerd-proxy"
            && (annotations.contains_key("config.linkerd.io/skip-outbound-ports")
                || annotations.contains_key("config.linkerd.io/skip-subnets"))
        {
            continue;
        }
        let Some(why) = needs_network(container) else {
            continue;
        };
        let fix = if n == "vault-agent-init" && cni.is_some() {
            "make the proxy a native sidecar (it then starts before Vault's init), exclude Vault's address from interception (`traffic.sidecar.istio.io/excludeOutboundIPRanges`), or skip the init with `vault.hashicorp.com/agent-pre-populate: \"false\"`"
        } else if n == "vault-agent-init" {
            "set `vault.hashicorp.com/agent-init-first: \"true\"` (Vault's init then runs before the redirection), make the proxy a native sidecar, or exclude Vault's address from interception"
        } else {
            "make the proxy a native sidecar (e.g. `sidecar.istio.io/nativeSidecar: \"true\"`), exclude the destination from interception (`traffic.sidecar.istio.io/excludeOutboundIPRanges`, `config.linkerd.io/skip-outbound-ports`), or run the init container as the proxy's user id"
        };
        let d = crate::rules::init_container_after_proxy_init::new(
            &workload.display_name(),
            &n,
            &why,
            &redirect,
            proxy,
            fix,
        );
        // The workload's own init container, else what asked for the
        // injected one (Vault's annotation).
        let own = workload
            .pod
            .get("spec")
            .and_then(|s| s.get("initContainers"))
            .and_then(|l| l.as_seq())
            .and_then(|l| l.iter().position(|c| c.get_str("name") == Some(n.as_str())));
        let pointer = match own {
            Some(k) => format!("{}/spec/initContainers/{k}/name", workload.pod_path),
            None => trigger_pointer(workload, "vault")
                .unwrap_or_else(|| format!("{}/metadata", workload.pod_path)),
        };
        out.push(at_workload(d, workload, &pointer));
    }
    out
}

/// Why an init container needs the network, if it visibly does.
fn needs_network(container: &Value) -> Option<String> {
    let name = container.get("name").and_then(Value::as_str).unwrap_or("");
    if name == "vault-agent-init" {
        return Some("it logs in to Vault and fetches secrets".into());
    }
    let mut words: Vec<&str> = Vec::new();
    for field in ["command", "args"] {
        if let Some(list) = container.get(field).and_then(Value::as_array) {
            words.extend(list.iter().filter_map(Value::as_str));
        }
    }
    const CALLS: &[&str] = &[
        "curl ",
        "wget ",
        "http://",
        "https://",
        "nslookup ",
        "pg_isready",
        "mysqladmin ",
        "redis-cli ",
        "git clone",
        "nc -z",
    ];
    words.iter().find_map(|w| {
        let w = format!("{w} ");
        CALLS
            .iter()
            .find(|c| w.contains(*c))
            .map(|c| format!("it runs `{}`", c.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::injectors::known::settings::KnownSettings;
    use serde_json::json;

    /// The proxy user the init-container check lets through is the one
    /// Istio's injection gives its proxy and tells its redirection.
    #[test]
    fn the_istio_proxy_uid_is_the_injected_one() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}
        });
        let facts = PodFacts {
            name: "p",
            namespace: "ns",
            service_account: "default",
        };
        let adds = additions::additions("istio", &pod, &facts, &KnownSettings::default()).unwrap();
        let injected = additions::apply(&pod, "istio", &adds).pod;
        let named = |name: &str| {
            ["containers", "initContainers"]
                .iter()
                .filter_map(|list| injected["spec"][list].as_array())
                .flatten()
                .find(|c| c["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name}: {injected}"))
        };
        let proxy = named("istio-proxy");
        assert_eq!(proxy["securityContext"]["runAsUser"], ISTIO_PROXY_UID);
        let init = named("istio-init");
        let args: Vec<&str> = init["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let u = args.iter().position(|a| *a == "-u").unwrap();
        assert_eq!(args[u + 1], ISTIO_PROXY_UID.to_string());
    }
}
