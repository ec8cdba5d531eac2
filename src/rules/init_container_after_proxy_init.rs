//! INJ309: an init container that needs the network placed after an
//! intercepting proxy's init.

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::WorkloadFacts;
use crate::injectors::known::trigger_pointer;
use crate::model::security_context;
use crate::model::workload::json_string_map;

pub const RULE: super::Rule = super::Rule {
    id: "INJ309",
    name: "init-container-after-proxy-init",
    severity: Severity::Warning,
    summary: "an init container that needs the network placed after an intercepting proxy's init",
    explain: include_str!("init_container_after_proxy_init.md"),
};

/// `container` needs the network (`why`) and runs after `redirect`, which
/// sends its traffic to `proxy` before that proxy runs.
pub fn new(
    workload: &str,
    container: &str,
    why: &str,
    redirect: &str,
    proxy: &str,
    fix: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: init container `{container}` needs the network ({why}) but runs while {redirect} already redirects outbound traffic to `{proxy}`; the proxy is not running yet, so its connections fail and the pod stays in Init"
        ),
    )
    .label("runs while traffic goes to a proxy that has not started")
    .help(fix.to_owned())
}

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

/// INJ309 on the injected pod of `facts`: each init container that needs
/// the network and runs after an intercepting proxy's redirection starts.
pub fn check(facts: &WorkloadFacts<'_>) -> Vec<Diagnostic> {
    let (Some(pod), workload) = (facts.pod_after(), &facts.workload) else {
        return Vec::new();
    };
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
    let annotations = json_string_map(pod, "annotations");
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
        let d = new(&workload.display_name(), &n, &why, &redirect, proxy, fix);
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
        out.push(super::injected_pod::at_pod_pointer(d, workload, &pointer));
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
    use crate::injectors::known::additions;
    use crate::injectors::known::settings::KnownSettings;
    use crate::injectors::own::mutate::PodFacts;
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
