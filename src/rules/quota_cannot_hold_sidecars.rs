//! INJ308: a ResourceQuota or LimitRange among the inputs that cannot hold
//! the added requests.

use serde_json::Value;

use super::injected_pod::{CheckInput, InjectedEntry};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ308",
    name: "quota-cannot-hold-sidecars",
    severity: Severity::Error,
    summary: "a ResourceQuota or LimitRange among the inputs that cannot hold the added requests",
    explain: include_str!("quota_cannot_hold_sidecars.md"),
};

/// `asked`: e.g. `limits.cpu 2`.
pub fn limit_range(
    workload: &str,
    container: &str,
    asked: &str,
    limit_range: &str,
    max: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected container `{container}` asks for {asked}, above the maximum {max} of LimitRange `{limit_range}`; the LimitRanger admission plugin rejects every pod of the workload"
        ),
    )
    .label(format!("above LimitRange `{limit_range}`'s maximum"))
    .help("lower the sidecar's requests and limits in its template (or through a parameter), or raise the LimitRange's `max`")
}

pub fn resource_quota(
    workload: &str,
    quota: &str,
    key: &str,
    hard: &str,
    before: &str,
    after: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: one pod requests {after} once injected ({before} without the sidecars), more than ResourceQuota `{quota}` allows in all (`{key}: {hard}`); the quota admission rejects its pods"
        ),
    )
    .label("smaller than one injected pod's requests")
    .help("raise the quota to hold the sidecars' requests for every replica, or lower the sidecars' requests in their template")
}

/// A Kubernetes quantity in base units (cores, bytes); `None` when it does
/// not parse.
pub(crate) fn quantity(value: &Value) -> Option<f64> {
    if let Some(n) = value.as_f64() {
        return Some(n);
    }
    let text = value.as_str()?.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

/// The container's `kind` (`requests`/`limits`) of `resource`; a request
/// defaults to the limit.
fn amount(container: &Value, kind: &str, resource: &str) -> Option<f64> {
    let get = |k: &str| {
        container
            .get("resources")?
            .get(k)?
            .get(resource)
            .and_then(quantity)
    };
    match kind {
        "requests" => get("requests").or_else(|| get("limits")),
        _ => get(kind),
    }
}

fn in_namespace(o: &Object, input: &CheckInput<'_>) -> bool {
    o.namespace == input.workload.object.namespace
        || o.namespace.as_deref() == Some(input.workload.namespace.as_str())
}

/// The pod's effective request of `resource`: the long-running containers
/// together, or the largest ordinary init container, whichever is more.
fn pod_request(pod: &Value, resource: &str) -> f64 {
    let list = |name: &str| {
        pod.pointer(&format!("/spec/{name}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut running: f64 = list("containers")
        .iter()
        .filter_map(|c| amount(c, "requests", resource))
        .sum();
    let mut init_max: f64 = 0.0;
    for c in list("initContainers") {
        let r = amount(&c, "requests", resource).unwrap_or(0.0);
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            running += r;
        } else {
            init_max = init_max.max(r);
        }
    }
    running.max(init_max)
}

fn value_span(o: &Object, pointer: &str) -> std::ops::Range<usize> {
    o.root
        .lookup_pointer(pointer)
        .map_or_else(|| o.name_span(), |(n, _)| n.span.clone())
}

fn limit_ranges(input: &CheckInput<'_>, entry: &InjectedEntry<'_>, out: &mut Vec<Diagnostic>) {
    for o in input
        .limit_objects
        .iter()
        .map(|&i| &input.objects[i])
        .filter(|o| o.kind == "LimitRange" && in_namespace(o, input))
    {
        let limits = o.root.to_json();
        let Some(items) = limits.pointer("/spec/limits").and_then(Value::as_array) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            if item.get("type").and_then(Value::as_str) != Some("Container") {
                continue;
            }
            let Some(max) = item.get("max").and_then(Value::as_object) else {
                continue;
            };
            for (resource, cap) in max {
                let Some(cap_value) = quantity(cap) else {
                    continue;
                };
                for kind in ["limits", "requests"] {
                    let Some(asked) = amount(entry.value, kind, resource) else {
                        continue;
                    };
                    if asked <= cap_value {
                        continue;
                    }
                    let written = entry
                        .value
                        .pointer(&format!("/resources/{kind}/{resource}"))
                        .map_or_else(String::new, plain);
                    let d = limit_range(
                        &input.display(),
                        entry.name(),
                        &format!("{kind}.{resource} {written}"),
                        &o.name,
                        &plain(cap),
                    );
                    let mut d = input.at_template(
                        d,
                        &entry.template_pointer(&format!("/resources/{kind}/{resource}")),
                    );
                    let pointer = format!(
                        "/spec/limits/{i}/max/{}",
                        crate::yaml::pointer::escape(resource)
                    );
                    d = d.with_label(
                        o.file,
                        value_span(o, &pointer),
                        format!("LimitRange `{}` allows at most {}", o.name, plain(cap)),
                    );
                    out.push(d);
                    break;
                }
            }
        }
    }
}

fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for entry in input.injected() {
        if entry.is_container() {
            limit_ranges(input, &entry, &mut out);
        }
    }
    for o in input
        .limit_objects
        .iter()
        .map(|&i| &input.objects[i])
        .filter(|o| o.kind == "ResourceQuota" && in_namespace(o, input))
    {
        let root = o.root.to_json();
        let Some(hard) = root.pointer("/spec/hard").and_then(Value::as_object) else {
            continue;
        };
        for (key, cap) in hard {
            let resource = match key.as_str() {
                "requests.cpu" | "cpu" => "cpu",
                "requests.memory" | "memory" => "memory",
                _ => continue,
            };
            let Some(cap_value) = quantity(cap) else {
                continue;
            };
            let before = pod_request(input.pod_before, resource);
            let after = pod_request(input.pod_after, resource);
            if after <= cap_value || before > cap_value {
                continue;
            }
            let d = resource_quota(
                &input.display(),
                &o.name,
                key,
                &plain(cap),
                &format_amount(resource, before),
                &format_amount(resource, after),
            );
            let pointer = format!("/spec/hard/{}", crate::yaml::pointer::escape(key));
            let object = input.workload.object;
            out.push(
                d.at(o.file, value_span(o, &pointer))
                    .object(Some(o.object_ref(&input.workload.namespace)))
                    .path(pointer)
                    .with_label(
                        object.file,
                        object.name_span(),
                        "one injected pod of this workload",
                    ),
            );
        }
    }
    out
}

fn format_amount(resource: &str, amount: f64) -> String {
    if resource == "cpu" {
        format!("{}m", (amount * 1000.0).round())
    } else {
        format!("{}Mi", (amount / 1024f64.powi(2) * 10.0).round() / 10.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity(&json!("100m")), Some(0.1));
        assert_eq!(quantity(&json!("2")), Some(2.0));
        assert_eq!(quantity(&json!(1)), Some(1.0));
        assert_eq!(quantity(&json!("128Mi")), Some(128.0 * 1024.0 * 1024.0));
        assert_eq!(quantity(&json!("1G")), Some(1e9));
        assert_eq!(quantity(&json!("lots")), None);
    }

    #[test]
    fn pod_requests_count_sidecars_and_the_largest_init() {
        let pod = json!({"spec": {
            "initContainers": [
                {"name": "init", "resources": {"requests": {"cpu": "2"}}},
                {"name": "native", "restartPolicy": "Always", "resources": {"limits": {"cpu": "100m"}}},
            ],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}],
        }});
        assert_eq!(pod_request(&pod, "cpu"), 2.0);
        assert_eq!(pod_request(&pod, "memory"), 0.0);
    }
}
