//! INJ301: the injected pod breaks the namespace's Pod Security level.

use serde_json::Value;

use super::injected_pod::{CheckInput, InjectedEntry, as_int};
use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::catalog::join;
use crate::model::security_context;
use crate::yaml::pointer;

pub const RULE: super::Rule = super::Rule {
    id: "INJ301",
    name: "pod-security-violation",
    severity: Severity::Error,
    summary: "the injected pod breaks the namespace's Pod Security level (`pod-security.kubernetes.io/enforce`)",
    explain: include_str!("pod_security_violation.md"),
};

/// `what`: the injected entry and what it breaks.
pub fn new(workload: &str, level: &str, what: &str, restricted: bool) -> Diagnostic {
    let help = if restricted {
        "give the injected containers `securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}` and drop added capabilities (use a CNI plugin instead of an init container for traffic redirection), or exempt the namespace from this level"
    } else {
        "remove the added capabilities, privileged mode, host ports and hostPath volumes from the template (use a CNI plugin instead of an init container for traffic redirection), or exempt the namespace from this level"
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: the pod will be rejected at admission by Pod Security (level {level}): {what}"
        ),
    )
    .label("breaks the namespace's Pod Security level")
    .help(help)
}

/// The namespace label that sets the enforced level.
pub(crate) const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";

/// Capabilities the baseline level allows to add.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// One broken rule: what, and where in the template entry (pointers tried in
/// order, the first that exists in the defining file wins).
struct Breach {
    reason: String,
    at: Vec<String>,
}

fn breach(reason: String, at: &[&str]) -> Breach {
    Breach {
        reason,
        at: at.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn container_breaches(entry: &InjectedEntry<'_>, pod: &Value, restricted: bool) -> Vec<Breach> {
    let c = entry.value;
    // The container's own field, else the pod's where a pod may set it for
    // all its containers, as the kubelet and Pod Security Admission read it.
    let field = |path: &str| security_context::effective(c, pod, path).map(|(v, _)| v);
    let mut out = Vec::new();
    if field("/privileged").and_then(Value::as_bool) == Some(true) {
        out.push(breach(
            "runs privileged".into(),
            &["/securityContext/privileged"],
        ));
    }
    let adds: Vec<&str> = field("/capabilities/add")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let forbidden: Vec<(usize, &str)> = adds
        .iter()
        .enumerate()
        .filter(|(_, cap)| {
            if restricted {
                **cap != "NET_BIND_SERVICE"
            } else {
                !BASELINE_CAPABILITIES.contains(cap)
            }
        })
        .map(|(i, cap)| (i, *cap))
        .collect();
    if let Some((i, _)) = forbidden.first() {
        let caps = join(forbidden.iter().map(|(_, c)| (*c).to_owned()));
        let noun = if forbidden.len() == 1 {
            "capability"
        } else {
            "capabilities"
        };
        out.push(breach(
            format!("adds {noun} {caps}"),
            &[
                &format!("/securityContext/capabilities/add/{i}"),
                "/securityContext/capabilities",
            ],
        ));
    }
    for (j, port) in c
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(host) = port.get("hostPort").and_then(as_int)
            && host != 0
        {
            out.push(breach(
                format!("uses host port {host}"),
                &[&format!("/ports/{j}/hostPort")],
            ));
        }
    }
    if !restricted {
        return out;
    }
    let drops_all = field("/capabilities/drop")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|x| x.as_str() == Some("ALL")));
    if !drops_all {
        out.push(breach(
            "does not drop ALL capabilities".into(),
            &["/securityContext/capabilities", "/securityContext", "/name"],
        ));
    }
    let non_root = field("/runAsNonRoot").and_then(Value::as_bool);
    if non_root != Some(true) {
        out.push(breach(
            "does not set `runAsNonRoot: true`".into(),
            &["/securityContext/runAsNonRoot", "/securityContext", "/name"],
        ));
    }
    let user = field("/runAsUser").and_then(as_int);
    if user == Some(0) {
        out.push(breach(
            "runs as root (`runAsUser: 0`)".into(),
            &["/securityContext/runAsUser", "/securityContext", "/name"],
        ));
    }
    if field("/allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
        out.push(breach(
            "does not set `allowPrivilegeEscalation: false`".into(),
            &[
                "/securityContext/allowPrivilegeEscalation",
                "/securityContext",
                "/name",
            ],
        ));
    }
    let seccomp = field("/seccompProfile/type").and_then(Value::as_str);
    if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
        out.push(breach(
            "has no seccomp profile `RuntimeDefault` or `Localhost`".into(),
            &[
                "/securityContext/seccompProfile",
                "/securityContext",
                "/name",
            ],
        ));
    }
    out
}

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let Some(level) = input.namespace_labels.get(ENFORCE_LABEL) else {
        return Vec::new();
    };
    let restricted = match level.as_str() {
        "restricted" => true,
        "baseline" => false,
        _ => return Vec::new(),
    };
    let namespace_label = input
        .objects
        .iter()
        .find(|o| o.kind == "Namespace" && o.name == input.workload.namespace)
        .and_then(|o| {
            let pointer = format!("/metadata/labels/{}", pointer::escape(ENFORCE_LABEL));
            let (node, _) = o.root.lookup_pointer(&pointer)?;
            Some((o.file, node.span.clone()))
        });
    let mut out = Vec::new();
    for entry in input.injected() {
        let breaches = if entry.is_container() {
            container_breaches(&entry, input.pod_after, restricted)
        } else if entry.value.get("hostPath").is_some() {
            vec![breach("mounts a hostPath".into(), &["/hostPath", "/name"])]
        } else {
            Vec::new()
        };
        let Some(first) = breaches.first() else {
            continue;
        };
        let kind = if entry.is_container() {
            "container"
        } else {
            "volume"
        };
        let what = format!(
            "injected {kind} `{}` {}",
            entry.name(),
            join(breaches.iter().map(|b| b.reason.clone()))
        );
        let pointer = first
            .at
            .iter()
            .map(|tail| entry.template_pointer(tail))
            .find(|p| input.template_span(p).is_some())
            .unwrap_or_else(|| entry.template_pointer("/name"));
        let mut d = input.at_template(new(&input.display(), level, &what, restricted), &pointer);
        d = d.label(first.reason.clone());
        // The other breaches that have a field of their own in the template.
        let mut seen = vec![d.at.as_ref().map(|a| a.span.clone())];
        for other in &breaches[1..] {
            let Some((file, span, _)) = other
                .at
                .first()
                .and_then(|tail| input.template_span(&entry.template_pointer(tail)))
            else {
                continue;
            };
            if !seen.contains(&Some(span.clone())) {
                seen.push(Some(span.clone()));
                d = d.with_label(file, span, other.reason.clone());
            }
        }
        if let Some((file, span)) = &namespace_label {
            d = d.with_label(
                *file,
                span.clone(),
                format!(
                    "namespace `{}` enforces `{level}`",
                    input.workload.namespace
                ),
            );
        }
        out.push(d);
    }
    out
}
