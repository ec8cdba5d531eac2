//! The mutation: a resolved template applied to a pod template, and the
//! status annotation that makes it undoable (so injection is idempotent).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::ResolvedTemplate;
use super::interpolate::{Vars, interpolate};
use super::template::Parameter;
use crate::injectors::pod_lists;

/// Pod annotation recording what the injector added.
pub const STATUS_ANNOTATION: &str = "kubectl-inject.dev/status";

/// The content of [`STATUS_ANNOTATION`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub template: String,
    pub version: String,
    /// `None` when a pod annotation alone asked for injection.
    pub policy: Option<String>,
    #[serde(default)]
    pub init_containers: Vec<String>,
    #[serde(default)]
    pub containers: Vec<String>,
    #[serde(default)]
    pub volumes: Vec<String>,
}

/// Names of what an injection adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Added {
    pub init_containers: Vec<String>,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
}

/// A parameter annotation whose value the parameter rejects (INJ104); the
/// default is used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedParameter {
    pub parameter: String,
    pub annotation: String,
    pub value: String,
    pub problem: String,
}

/// The result of injecting one pod.
#[derive(Debug, Clone)]
pub struct Injection {
    /// The injected pod template (`metadata` and `spec`).
    pub pod: Value,
    pub added: Added,
    pub rejected: Vec<RejectedParameter>,
    /// Added names the pod already uses: the API server refuses such a pod,
    /// so the injector must reject it instead of emitting it (the pod is
    /// kept for the checks that point at both definitions).
    pub collisions: Vec<NameCollision>,
}

/// An added container or volume whose name the pod already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCollision {
    /// `container` (containers and init containers share one namespace of
    /// names) or `volume`.
    pub kind: &'static str,
    pub name: String,
}

impl NameCollision {
    /// Why the injector rejects the pod, for decisions and admission.
    pub fn reason(&self) -> String {
        format!(
            "the pod already has a {kind} named `{name}` that the injector did not add, and the template adds one; the API server refuses a pod with two {kind}s of one name, so the injector rejects the pod",
            kind = self.kind,
            name = self.name
        )
    }
}

/// Added names that `pod` (before the injection, after undoing an earlier
/// one) already uses, in the order they are added.
fn collisions(pod: &Value, added: &Added) -> Vec<NameCollision> {
    let present = |lists: &[&str]| -> Vec<&str> {
        lists
            .iter()
            .filter_map(|list| pod.get("spec")?.get(*list)?.as_array())
            .flatten()
            .filter_map(|item| item.get("name")?.as_str())
            .collect()
    };
    let containers = present(&["initContainers", "containers", "ephemeralContainers"]);
    let volumes = present(&["volumes"]);
    let mut out: Vec<NameCollision> = Vec::new();
    let added_containers = added.init_containers.iter().chain(&added.containers);
    let candidates = added_containers
        .map(|name| ("container", name, &containers))
        .chain(added.volumes.iter().map(|name| ("volume", name, &volumes)));
    for (kind, name, taken) in candidates {
        let collision = NameCollision {
            kind,
            name: name.clone(),
        };
        if taken.contains(&name.as_str()) && !out.contains(&collision) {
            out.push(collision);
        }
    }
    out
}

/// The pod facts interpolation may use.
pub struct PodFacts<'a> {
    /// The workload's name (a template's pods get generated names).
    pub name: &'a str,
    pub namespace: &'a str,
    pub service_account: &'a str,
}

/// Removes what a previous injection added, as its status annotation
/// names it. Returns the old status, if there was one.
pub fn uninject(pod: &mut Value) -> Option<Status> {
    let status_text = pod
        .pointer(&format!(
            "/metadata/annotations/{}",
            STATUS_ANNOTATION.replace('/', "~1")
        ))?
        .as_str()?
        .to_owned();
    let status: Status = serde_json::from_str(&status_text).ok()?;
    if let Some(annotations) = pod
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        annotations.shift_remove(STATUS_ANNOTATION);
    }
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        pod_lists::remove_named(spec, "initContainers", &status.init_containers);
        pod_lists::remove_named(spec, "containers", &status.containers);
        pod_lists::remove_named(spec, "volumes", &status.volumes);
    }
    Some(status)
}

/// Injects `template` into `pod` (first undoing an earlier injection).
/// `check` validates a parameter value against its pattern/enum.
pub fn inject(
    pod: &Value,
    template: &ResolvedTemplate,
    policy: Option<&str>,
    facts: &PodFacts<'_>,
    check: impl Fn(&Parameter, &str) -> Result<(), String>,
) -> Injection {
    let mut pod = pod.clone();
    uninject(&mut pod);
    let annotations = pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();

    let mut rejected = Vec::new();
    let mut params = BTreeMap::new();
    for parameter in &template.parameters {
        let from_pod = parameter
            .annotation
            .as_ref()
            .and_then(|key| Some((key, annotations.get(key)?.as_str()?)));
        let value = match from_pod {
            Some((key, value)) => match check(parameter, value) {
                Ok(()) => Some(value.to_owned()),
                Err(problem) => {
                    rejected.push(RejectedParameter {
                        parameter: parameter.name.clone(),
                        annotation: key.clone(),
                        value: value.to_owned(),
                        problem,
                    });
                    parameter.default.clone()
                }
            },
            None => parameter.default.clone(),
        };
        params.insert(parameter.name.clone(), value.unwrap_or_default());
    }
    let vars = Vars {
        params,
        pod_name: facts.name.to_owned(),
        pod_namespace: facts.namespace.to_owned(),
        service_account: facts.service_account.to_owned(),
        template_name: template.name.clone(),
        template_version: template.version.to_string(),
    };

    let render =
        |items: &[Value]| -> Vec<Value> { items.iter().map(|v| interpolate(v, &vars)).collect() };
    let init_containers = render(&template.init_containers);
    let mut sidecars = render(&template.containers);
    let volumes = render(&template.volumes);
    let names = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .filter_map(|v| v.get("name")?.as_str().map(str::to_owned))
            .collect()
    };

    let mut added = Added {
        init_containers: names(&init_containers),
        containers: names(&sidecars),
        volumes: names(&volumes),
    };
    // Native sidecars are init containers that keep running.
    let mut new_init = init_containers;
    if template.native_sidecar {
        for sidecar in &mut sidecars {
            if let Some(c) = sidecar.as_object_mut() {
                c.insert("restartPolicy".into(), Value::String("Always".into()));
            }
        }
        added.init_containers.append(&mut added.containers);
        new_init.append(&mut sidecars);
    }
    let collisions = collisions(&pod, &added);

    let root = ensure_object(&mut pod);
    let spec = ensure_object(
        root.entry("spec")
            .or_insert_with(|| Value::Object(Map::new())),
    );
    // The injector's init containers run first (they set up what the app's
    // init containers may need); its sidecars run after the app's containers.
    if !new_init.is_empty() {
        pod_lists::edit_list(spec, "initContainers", |existing| {
            new_init.extend(existing);
            new_init
        });
    }
    if !sidecars.is_empty() {
        pod_lists::edit_list(spec, "containers", |mut containers| {
            containers.extend(sidecars);
            containers
        });
    }
    if !volumes.is_empty() {
        pod_lists::edit_list(spec, "volumes", |mut existing| {
            existing.extend(volumes);
            existing
        });
    }

    let metadata = ensure_object(
        root.entry("metadata")
            .or_insert_with(|| Value::Object(Map::new())),
    );
    // The pod's own labels and annotations win over the template's.
    merge_strings(metadata, "labels", &template.pod_labels, &vars);
    merge_strings(metadata, "annotations", &template.pod_annotations, &vars);
    let status = Status {
        template: template.name.clone(),
        version: template.version.to_string(),
        policy: policy.map(str::to_owned),
        init_containers: added.init_containers.clone(),
        containers: added.containers.clone(),
        volumes: added.volumes.clone(),
    };
    let annotations = ensure_object(
        metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new())),
    );
    annotations.insert(
        STATUS_ANNOTATION.into(),
        Value::String(serde_json::to_string(&status).expect("status is plain data")),
    );
    Injection {
        pod,
        added,
        rejected,
        collisions,
    }
}

fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("just made an object")
}

fn merge_strings(
    metadata: &mut Map<String, Value>,
    field: &str,
    values: &BTreeMap<String, String>,
    vars: &Vars,
) {
    if values.is_empty() {
        return;
    }
    let map = ensure_object(
        metadata
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new())),
    );
    for (key, value) in values {
        map.entry(key.clone())
            .or_insert_with(|| interpolate(&Value::String(value.clone()), vars));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(native: bool) -> ResolvedTemplate {
        ResolvedTemplate {
            name: "envoy-proxy".into(),
            version: semver::Version::new(1, 4, 0),
            chain: vec![0],
            native_sidecar: native,
            intercepts_traffic: true,
            parameters: vec![Parameter {
                name: "proxyCPU".into(),
                annotation: Some("sidecar.kubectl-inject.dev/proxy-cpu".into()),
                default: Some("100m".into()),
                pattern: Some("^[0-9]+m?$".into()),
                allowed: None,
                description: None,
            }],
            init_containers: vec![json!({"name": "proxy-init", "image": "init:1"})],
            containers: vec![
                json!({"name": "proxy", "image": "envoy:1", "args": ["--ns", "${pod.namespace}"],
                "resources": {"requests": {"cpu": "${params.proxyCPU}"}}}),
            ],
            volumes: vec![json!({"name": "proxy-certs", "emptyDir": {}})],
            pod_annotations: [(
                "proxy.example/version".to_owned(),
                "${template.version}".to_owned(),
            )]
            .into(),
            pod_labels: BTreeMap::new(),
            index: 0,
            namespace: None,
            origins: BTreeMap::new(),
        }
    }

    fn facts() -> PodFacts<'static> {
        PodFacts {
            name: "web",
            namespace: "shop",
            service_account: "web",
        }
    }

    fn pattern_check(p: &Parameter, v: &str) -> Result<(), String> {
        let ok = p.pattern.as_deref() != Some("^[0-9]+m?$")
            || v.trim_end_matches('m').parse::<u32>().is_ok();
        if ok {
            Ok(())
        } else {
            Err(format!("`{v}` does not match"))
        }
    }

    fn pod() -> Value {
        json!({"metadata": {"labels": {"app": "web"}, "annotations": {"sidecar.kubectl-inject.dev/proxy-cpu": "250m"}},
               "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "web"}]}})
    }

    #[test]
    fn names_the_pod_already_uses_are_collisions_but_its_own_injection_is_not() {
        let mut pod = pod();
        pod["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "proxy-init"}));
        pod["spec"]["volumes"] = json!([{"name": "proxy-certs"}]);
        let out = inject(&pod, &template(false), None, &facts(), pattern_check);
        let found: Vec<(&str, &str)> = out
            .collisions
            .iter()
            .map(|c| (c.kind, c.name.as_str()))
            .collect();
        assert_eq!(
            found,
            [("container", "proxy-init"), ("volume", "proxy-certs")]
        );
        // Injecting the injected pod again undoes the first injection.
        let once = inject(
            &self::pod(),
            &template(false),
            None,
            &facts(),
            pattern_check,
        );
        assert!(once.collisions.is_empty());
        let twice = inject(&once.pod, &template(false), None, &facts(), pattern_check);
        assert!(twice.collisions.is_empty(), "{:?}", twice.collisions);
        assert_eq!(twice.pod, once.pod);
    }

    #[test]
    fn injects_in_order_with_parameters_and_status() {
        let out = inject(
            &pod(),
            &template(false),
            Some("mesh-default"),
            &facts(),
            pattern_check,
        );
        let spec = &out.pod["spec"];
        assert_eq!(spec["initContainers"][0]["name"], "proxy-init");
        assert_eq!(spec["initContainers"][1]["name"], "migrate");
        assert_eq!(spec["containers"][1]["name"], "proxy");
        assert_eq!(spec["containers"][1]["args"][1], "shop");
        assert_eq!(
            spec["containers"][1]["resources"]["requests"]["cpu"],
            "250m"
        );
        assert_eq!(
            out.pod["metadata"]["annotations"]["proxy.example/version"],
            "1.4.0"
        );
        let status: Status = serde_json::from_str(
            out.pod["metadata"]["annotations"][STATUS_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(status.containers, ["proxy"]);
        assert_eq!(status.policy.as_deref(), Some("mesh-default"));
        assert_eq!(out.added.volumes, ["proxy-certs"]);
        assert!(out.rejected.is_empty());
    }

    #[test]
    fn injection_is_idempotent() {
        let once = inject(&pod(), &template(false), None, &facts(), pattern_check);
        let twice = inject(&once.pod, &template(false), None, &facts(), pattern_check);
        assert_eq!(once.pod, twice.pod);
        let mut back = once.pod.clone();
        uninject(&mut back);
        back["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("proxy.example/version");
        assert_eq!(back, pod());
    }

    #[test]
    fn native_sidecars_become_restartable_init_containers() {
        let out = inject(&pod(), &template(true), None, &facts(), pattern_check);
        let init = out.pod["spec"]["initContainers"].as_array().unwrap();
        let names: Vec<_> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["proxy-init", "proxy", "migrate"]);
        assert_eq!(init[1]["restartPolicy"], "Always");
        assert_eq!(out.pod["spec"]["containers"].as_array().unwrap().len(), 1);
        assert_eq!(out.added.init_containers, ["proxy-init", "proxy"]);
        assert!(out.added.containers.is_empty());
    }

    #[test]
    fn rejected_parameter_values_fall_back_to_the_default() {
        let mut p = pod();
        p["metadata"]["annotations"]["sidecar.kubectl-inject.dev/proxy-cpu"] = json!("lots");
        let out = inject(&p, &template(false), None, &facts(), pattern_check);
        assert_eq!(
            out.pod["spec"]["containers"][1]["resources"]["requests"]["cpu"],
            "100m"
        );
        assert_eq!(out.rejected[0].value, "lots");
    }
}
