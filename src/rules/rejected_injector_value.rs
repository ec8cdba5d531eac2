//! INJ203: a value the injector does not accept for that key, saying what
//! the injector then does (denies the pod, skips injection, ignores the
//! setting) or how Istio versions disagree on it.
//!
//! The validators are [`crate::injectors::known::values`]; which one a key
//! gets, and what the injector does with a bad value, is data in the
//! vocabulary (`format`, `invalid`, `invalid_note`).

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::known::values::{self, Format};
use crate::injectors::known::{Invalid, KeySpec, PodKey, Where, vocabulary};
use crate::model::Object;
use crate::yaml::{Entry, Node};

pub const RULE: super::Rule = super::Rule {
    id: "INJ203",
    name: "rejected-injector-value",
    severity: Severity::Error,
    summary: "a value the injector does not accept for that key (say when the pod would be denied, or when versions disagree on it)",
    explain: include_str!("rejected_injector_value.md"),
};

/// `key: "value"`, the value JSON-quoted (control characters escaped).
fn shown(key: &str, value: &str) -> String {
    format!(
        "`{key}: {}`",
        serde_json::to_string(value).unwrap_or_default()
    )
}

fn is_namespace(placement: Where) -> bool {
    matches!(
        placement,
        Where::NamespaceLabel | Where::NamespaceAnnotation
    )
}

/// What `injector` does with the bad value, in `placement`.
fn consequence(spec: &KeySpec, invalid: Invalid, placement: Where, injector: &str) -> String {
    let note = spec.invalid_note.as_deref();
    let with_note = |text: String| match note {
        Some(note) => format!("{text} ({note})"),
        None => text,
    };
    let namespace = is_namespace(placement);
    match invalid {
        Invalid::Deny => {
            let why = note.map_or_else(|| format!("{injector}'s webhook denies it"), str::to_owned);
            if namespace {
                format!(
                    "pods in this namespace that take the value from it will be rejected at \
                     admission ({why})"
                )
            } else {
                format!("the pod will be rejected at admission ({why})")
            }
        }
        Invalid::Skip if namespace => with_note(format!(
            "{injector} silently injects no pod in this namespace"
        )),
        Invalid::Skip => with_note(format!("{injector} skips injection silently")),
        Invalid::Ignored => with_note(format!(
            "{injector} silently ignores it and uses its default"
        )),
        Invalid::Default => with_note(format!("{injector} treats it as unset")),
    }
}

/// A value `spec`'s injector rejects with `problem`.
pub fn new(
    key: &str,
    value: &str,
    placement: Where,
    injector: &str,
    spec: &KeySpec,
    invalid: Invalid,
    problem: &str,
) -> Diagnostic {
    let label = match invalid {
        Invalid::Deny => "rejected at admission",
        Invalid::Skip => "injection skipped",
        Invalid::Ignored => "ignored",
        Invalid::Default => "treated as unset",
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{} is not accepted by {injector}: {problem}; {}",
            shown(key, value),
            consequence(spec, invalid, placement, injector)
        ),
    )
    .label(label)
    .help(help(spec))
}

fn help(spec: &KeySpec) -> String {
    if !spec.values.is_empty() {
        let values = spec
            .values
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return format!("use one of {values}");
    }
    use crate::injectors::known::ValueType;
    match (spec.value_type, spec.format) {
        (ValueType::Bool, _) => "write \"true\" or \"false\"",
        (ValueType::Cidrs, _) => {
            "give every address its prefix length (`/32` for one IPv4 address, `/128` for IPv6), separated by commas without spaces"
        }
        (ValueType::Quantity, _) => "use a Kubernetes quantity such as `500m`, `0.5`, `128Mi` or `1Gi`",
        (ValueType::Port, Some(Format::Int32)) => "use a port number",
        (ValueType::Port, _) => "use a port number from 0 to 65535",
        (ValueType::Ports, _) => "list port numbers from 0 to 65535, separated by commas",
        (ValueType::Int, Some(Format::Uint32)) => "use a whole number from 0 to 4294967295",
        (ValueType::Int, _) => "use a whole number",
        (ValueType::Duration, _) => "use a Go duration such as `300ms`, `10s` or `1h2m`",
        (ValueType::Json, _) => "write valid JSON",
        _ => "fix the value, or remove the key to get the injector's default",
    }
    .to_owned()
}

/// `sidecar.istio.io/inject` with a value other than exactly "true" or
/// "false" (`injectRequired`; the parsing changed in Istio 1.27), as
/// `placement`.
pub fn istio_inject(
    key: &str,
    value: &str,
    placement: Where,
    version: (u64, u64),
) -> Option<Diagnostic> {
    if value == "true" || value == "false" || value.is_empty() {
        return None;
    }
    let truthy = values::istio_truthy(value);
    let old_reading = if truthy {
        "read it as true"
    } else {
        "read it as an explicit \"false\""
    };
    let (major, minor) = version;
    let mut message = if version >= (1, 27) {
        format!(
            "{} is not accepted by Istio 1.27 and later (this configuration: Istio \
             {major}.{minor}): istiod warns and falls back to its default policy (Istio 1.26 \
             and earlier {old_reading})",
            shown(key, value)
        )
    } else if truthy {
        format!(
            "{} is read as true only by Istio 1.26 and earlier (this configuration: Istio \
             {major}.{minor}); Istio 1.27 and later do not accept it: istiod warns and falls \
             back to its default policy",
            shown(key, value)
        )
    } else {
        format!(
            "{} is read as an explicit \"false\" by Istio 1.26 and earlier (this configuration: \
             Istio {major}.{minor}: only y, yes, true and on, in any case, inject); Istio 1.27 \
             and later do not accept it: istiod warns and falls back to its default policy",
            shown(key, value)
        )
    };
    if truthy && placement == Where::PodLabel {
        message.push_str(
            "; and the webhook's objectSelector compares the label exactly (`In [\"true\"]`), so \
             in a namespace without Istio injection labels the pod never reaches istiod",
        );
    }
    Some(
        Diagnostic::new(&RULE, message)
            .label("not \"true\" or \"false\"")
            .help("write exactly \"true\" or \"false\""),
    )
}

/// The finding for `key: value` in `placement`, if its injector rejects it.
fn finding(key: &str, value: &str, placement: Where, known: &KnownSettings) -> Option<Diagnostic> {
    let injector = vocabulary().injector_of(key)?;
    let spec = injector.key(key)?;
    if spec.generated || !spec.placements.contains(&placement) {
        return None;
    }
    if spec.format == Some(Format::IstioInject) {
        return istio_inject(key, value, placement, known.istio.version);
    }
    let invalid = spec.invalid?;
    let problem = values::check(spec, value).err()?;
    Some(new(
        key,
        value,
        placement,
        &injector.display,
        spec,
        invalid,
        &problem,
    ))
}

/// A finding per label or annotation of `object` (its pod template's, or a
/// Namespace's own) whose value its injector does not accept.
/// `keys` are the object's [`pod_keys`](crate::injectors::known::pod_keys).
pub fn check(
    object: &Object,
    default_namespace: &str,
    keys: &[PodKey<'_>],
    known: &KnownSettings,
) -> Vec<Diagnostic> {
    if object.kind == "Namespace" && object.group().is_empty() {
        return check_namespace(object, default_namespace, known);
    }
    keys.iter()
        .filter_map(|pod_key| {
            let value = pod_key.entry.value.as_str()?;
            let d = finding(&pod_key.entry.key, value, pod_key.placement, known)?;
            Some(super::injection_controls::at_key(
                d,
                pod_key,
                object,
                default_namespace,
            ))
        })
        .collect()
}

fn check_namespace(
    object: &Object,
    default_namespace: &str,
    known: &KnownSettings,
) -> Vec<Diagnostic> {
    let metadata = object.root.get("metadata");
    let mut found = Vec::new();
    for (placement, field) in [
        (Where::NamespaceLabel, "labels"),
        (Where::NamespaceAnnotation, "annotations"),
    ] {
        let entries: &[Entry] = metadata
            .and_then(|m| m.get(field))
            .and_then(Node::as_map)
            .unwrap_or_default();
        for entry in entries {
            let Some(value) = entry.value.as_str() else {
                continue;
            };
            let Some(d) = finding(&entry.key, value, placement, known) else {
                continue;
            };
            found.push(
                d.at(object.file, entry.key_span.clone())
                    .path(format!(
                        "/metadata/{field}/{}",
                        crate::yaml::pointer::escape(&entry.key)
                    ))
                    .object(Some(object.object_ref(default_namespace))),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;
    use crate::yaml::{Limits, parse_stream};

    fn messages(text: &str, version: (u64, u64)) -> Vec<String> {
        let objects: Vec<Object> = parse_stream(text, &Limits::default())
            .documents
            .into_iter()
            .filter_map(|(i, root)| Object::from_root(FileId(0), i, root))
            .collect();
        let mut known = KnownSettings::default();
        known.istio.version = version;
        objects
            .iter()
            .flat_map(|o| {
                let keys = crate::injectors::known::pod_keys(o, "default");
                check(o, "default", &keys, &known)
            })
            .map(|d| d.message)
            .collect()
    }

    fn pod(labels: &str, annotations: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, labels: {{{labels}}}, annotations: \
             {{{annotations}}}}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"
        )
    }

    #[test]
    fn istio_versions_disagree_on_non_canonical_inject_values() {
        let yes = pod("sidecar.istio.io/inject: \"yes\"", "");
        let new = messages(&yes, (1, 28));
        assert_eq!(new.len(), 1);
        assert!(
            new[0].contains("not accepted by Istio 1.27 and later"),
            "{}",
            new[0]
        );
        assert!(
            new[0].contains("1.26 and earlier read it as true"),
            "{}",
            new[0]
        );
        assert!(new[0].contains("never reaches istiod"), "{}", new[0]);
        let old = messages(&yes, (1, 26));
        assert!(
            old[0].contains("read as true only by Istio 1.26 and earlier"),
            "{}",
            old[0]
        );

        let enabled = pod("", "sidecar.istio.io/inject: enabled");
        let old = messages(&enabled, (1, 26));
        assert!(
            old[0].contains("explicit \"false\" by Istio 1.26"),
            "{}",
            old[0]
        );
        assert!(!old[0].contains("never reaches"), "annotation: {}", old[0]);
        let new = messages(&enabled, (1, 27));
        assert!(
            new[0].contains("earlier read it as an explicit"),
            "{}",
            new[0]
        );

        for fine in ["true", "false", ""] {
            let p = pod(&format!("sidecar.istio.io/inject: \"{fine}\""), "");
            assert!(messages(&p, (1, 26)).is_empty(), "{fine}");
            assert!(messages(&p, (1, 28)).is_empty(), "{fine}");
        }
    }

    #[test]
    fn consequences_follow_the_injector() {
        let m = messages(
            &pod("", "consul.hashicorp.com/connect-inject: enabled"),
            (1, 28),
        );
        assert!(m[0].contains("not a Go bool"), "{}", m[0]);
        assert!(m[0].contains("rejected at admission"), "{}", m[0]);
        let m = messages(&pod("", "linkerd.io/inject: \"true\""), (1, 28));
        assert!(
            m[0].contains("Linkerd skips injection silently"),
            "{}",
            m[0]
        );
        let m = messages(&pod("", "config.linkerd.io/admin-port: x"), (1, 28));
        assert!(m[0].contains("ignores it"), "{}", m[0]);
        let m = messages(&pod("", "sidecar.istio.io/proxyCPU: lots"), (1, 28));
        assert!(
            m[0].contains("istiod validates this annotation"),
            "{}",
            m[0]
        );
        // Generated keys and unchecked keys stay quiet.
        assert!(messages(&pod("", "sidecar.istio.io/status: nope"), (1, 28)).is_empty());
        assert!(messages(&pod("", "config.linkerd.io/skip-subnets: nope"), (1, 28)).is_empty());
        // A key in a placement its injector does not read is other rules' business.
        assert!(messages(&pod("linkerd.io/inject: \"true\"", ""), (1, 28)).is_empty());
    }

    #[test]
    fn namespaces_are_checked_for_namespace_keys() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {kuma.io/sidecar-injection: \"on\", istio-injection: \"true\"}, annotations: {linkerd.io/inject: \"true\"}}\n";
        let m = messages(ns, (1, 28));
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("pods in this namespace"), "{}", m[0]);
        assert!(m[1].contains("Istio silently injects no pod"), "{}", m[1]);
        assert!(m[2].contains("Linkerd silently injects no pod"), "{}", m[2]);
    }
}
