//! The mutation: a resolved template applied to a pod template, and the
//! status annotation that makes it undoable (so injection is idempotent).
//!
//! An injection is measured before it is built: one whose pod would take
//! more than [`MAX_INJECTED_POD_BYTES`] of JSON is refused (INJ312) without
//! rendering anything, so a small template that interpolates a large
//! parameter into many strings cannot make the injector allocate a huge pod.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::ResolvedTemplate;
use super::interpolate::{Piece, Vars, interpolate, pieces};
use super::template::Parameter;
use crate::injectors::pod_lists;

/// Pod annotation recording what the injector added.
pub const STATUS_ANNOTATION: &str = "kubectl-inject.dev/status";

/// The most JSON (compact, as the API server receives it) an injected pod
/// may take (INJ312): 1 MiB. etcd refuses a request over 1.5 MiB by
/// default (`--max-request-bytes`), and what is stored is more than the pod
/// as injected: `metadata.managedFields`, the status the kubelet writes; the
/// webhook's answer carries the change base64-encoded (a third larger) in an
/// AdmissionReview. A pod near 1.5 MiB is refused by the API server anyway;
/// one that size is almost certainly a template gone wrong.
pub const MAX_INJECTED_POD_BYTES: usize = 1 << 20;

/// An injection refused because its pod would be too large (INJ312).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The pod's size before injection (JSON bytes; past the limit, where
    /// counting stopped).
    pub before: usize,
    /// A lower bound of the injected pod's size, over `limit`: counting
    /// stops soon after the limit.
    pub at_least: usize,
    pub limit: usize,
}

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
/// `check` validates a parameter value against its pattern/enum. `Err` when
/// the injected pod would take more than [`MAX_INJECTED_POD_BYTES`] of JSON:
/// nothing is rendered then.
pub fn inject(
    pod: &Value,
    template: &ResolvedTemplate,
    policy: Option<&str>,
    facts: &PodFacts<'_>,
    check: impl Fn(&Parameter, &str) -> Result<(), String>,
) -> Result<Injection, TooLarge> {
    inject_within(pod, template, policy, facts, check, MAX_INJECTED_POD_BYTES)
}

/// [`inject`] with another limit (for the tests).
pub fn inject_within(
    pod: &Value,
    template: &ResolvedTemplate,
    policy: Option<&str>,
    facts: &PodFacts<'_>,
    check: impl Fn(&Parameter, &str) -> Result<(), String>,
    limit: usize,
) -> Result<Injection, TooLarge> {
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
    measure(&pod, template, &vars, limit)?;

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
    Ok(Injection {
        pod,
        added,
        rejected,
        collisions,
    })
}

/// Checks, without rendering, that `pod` with `template` injected (its
/// entries, and the labels and annotations the pod does not have yet) takes
/// at most `limit` bytes of JSON. Counting stops soon after the limit, so it
/// costs at most the limit's worth of work more than reading the template.
fn measure(
    pod: &Value,
    template: &ResolvedTemplate,
    vars: &Vars,
    limit: usize,
) -> Result<(), TooLarge> {
    let mut size = Size { bytes: 0, limit };
    size.value(pod);
    let before = size.bytes;
    let metadata = pod.get("metadata");
    for (field, values) in [
        ("labels", &template.pod_labels),
        ("annotations", &template.pod_annotations),
    ] {
        let existing = metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_object);
        for (key, value) in values {
            if size.over() {
                break;
            }
            if existing.is_some_and(|e| e.contains_key(key)) {
                continue;
            }
            // `,"key":"value"`
            size.add(1 + json_string_len(key) + 1);
            size.interpolated(value, Some(vars));
        }
    }
    for (items, native) in [
        (&template.init_containers, false),
        (&template.containers, template.native_sidecar),
        (&template.volumes, false),
    ] {
        for item in items {
            if size.over() {
                break;
            }
            size.add(1);
            match item {
                // A native sidecar gets `"restartPolicy":"Always"`: 25
                // bytes each, more than an entry as small as `{}` takes.
                Value::Object(map) if native => size.native_sidecar(map, vars),
                _ => size.rendered(item, Some(vars)),
            }
        }
    }
    if size.over() {
        return Err(TooLarge {
            before,
            at_least: size.bytes,
            limit,
        });
    }
    Ok(())
}

/// A running count of JSON bytes that stops counting past its limit.
struct Size {
    bytes: usize,
    limit: usize,
}

impl Size {
    fn over(&self) -> bool {
        self.bytes > self.limit
    }

    fn add(&mut self, n: usize) {
        self.bytes = self.bytes.saturating_add(n);
    }

    /// `value` as compact JSON.
    fn value(&mut self, value: &Value) {
        self.rendered(value, None);
    }

    /// `value` interpolated with `vars` (if any), as compact JSON (what
    /// `serde_json::to_vec(&interpolate(value, vars))` would write, without
    /// building it).
    fn rendered(&mut self, value: &Value, vars: Option<&Vars>) {
        if self.over() {
            return;
        }
        match value {
            Value::Null => self.add(4),
            Value::Bool(b) => self.add(if *b { 4 } else { 5 }),
            Value::Number(n) => {
                let mut counter = Counter(0);
                let _ = serde_json::to_writer(&mut counter, n);
                self.add(counter.0);
            }
            Value::String(s) => self.interpolated(s, vars),
            Value::Array(items) => {
                self.add(2 + items.len().saturating_sub(1));
                for item in items {
                    self.rendered(item, vars);
                    if self.over() {
                        return;
                    }
                }
            }
            Value::Object(map) => {
                self.add(2 + map.len().saturating_sub(1));
                for (key, item) in map {
                    self.add(json_string_len(key) + 1);
                    self.rendered(item, vars);
                    if self.over() {
                        return;
                    }
                }
            }
        }
    }

    /// A sidecar `map` as injected natively: interpolated, with
    /// `restartPolicy` set to `Always` (where it was, else last).
    fn native_sidecar(&mut self, map: &Map<String, Value>, vars: &Vars) {
        const POLICY: &str = "restartPolicy";
        let fields = map.len() + usize::from(!map.contains_key(POLICY));
        self.add(2 + fields - 1);
        for (key, item) in map {
            self.add(json_string_len(key) + 1);
            if key == POLICY {
                self.add(json_string_len("Always"));
            } else {
                self.rendered(item, Some(vars));
            }
            if self.over() {
                return;
            }
        }
        if !map.contains_key(POLICY) {
            self.add(json_string_len(POLICY) + 1 + json_string_len("Always"));
        }
    }

    /// A string interpolated with `vars` (if any), quoted and escaped.
    fn interpolated(&mut self, s: &str, vars: Option<&Vars>) {
        let Some(vars) = vars.filter(|_| s.contains('$')) else {
            self.add(json_string_len(s));
            return;
        };
        self.add(2);
        for piece in pieces(s) {
            let text = match piece {
                Piece::Text(t) => t,
                Piece::Reference(whole, name) => vars.get(name).unwrap_or(whole),
            };
            self.add(json_string_len(text) - 2);
            if self.over() {
                return;
            }
        }
    }
}

/// The length of `s` as a JSON string: quoted, with `"`, `\` and control
/// characters escaped as serde_json escapes them.
fn json_string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// An `io::Write` that only counts.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
    fn injects_in_order_with_parameters_and_status() {
        let out = inject(
            &pod(),
            &template(false),
            Some("mesh-default"),
            &facts(),
            pattern_check,
        )
        .unwrap();
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
    fn names_the_pod_already_uses_are_collisions_but_its_own_injection_is_not() {
        let mut pod = pod();
        pod["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "proxy-init"}));
        pod["spec"]["volumes"] = json!([{"name": "proxy-certs"}]);
        let out = inject(&pod, &template(false), None, &facts(), pattern_check).unwrap();
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
        )
        .unwrap();
        assert!(once.collisions.is_empty());
        let twice = inject(&once.pod, &template(false), None, &facts(), pattern_check).unwrap();
        assert!(twice.collisions.is_empty(), "{:?}", twice.collisions);
        assert_eq!(twice.pod, once.pod);
    }

    #[test]
    fn injection_is_idempotent() {
        let once = inject(&pod(), &template(false), None, &facts(), pattern_check).unwrap();
        let twice = inject(&once.pod, &template(false), None, &facts(), pattern_check).unwrap();
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
        let out = inject(&pod(), &template(true), None, &facts(), pattern_check).unwrap();
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
        let out = inject(&p, &template(false), None, &facts(), pattern_check).unwrap();
        assert_eq!(
            out.pod["spec"]["containers"][1]["resources"]["requests"]["cpu"],
            "100m"
        );
        assert_eq!(out.rejected[0].value, "lots");
    }

    /// The counting writes no JSON, but counts what serde_json would write.
    #[test]
    fn sizes_are_counted_as_serde_json_writes_them() {
        let vars = Vars {
            params: BTreeMap::from([
                ("q".to_owned(), "say \"hi\"\n\u{1}é".to_owned()),
                ("empty".to_owned(), String::new()),
            ]),
            pod_name: "web-0".into(),
            ..Vars::default()
        };
        let values = [
            json!(null),
            json!([true, false, 0, -12, 3.5, 1e300, u64::MAX, "", {}]),
            json!({"a\"b": "${params.q}/${params.q}", "c": ["$${pod.name}", "${pod.name}${params.empty}", "${nope}", "$x ${unterminated"]}),
            json!({"tab\there": "\u{7f}\u{1f}\\ ✓", "nested": [[[{"k": "${params.q}"}]]]}),
        ];
        for value in &values {
            let mut size = Size {
                bytes: 0,
                limit: usize::MAX,
            };
            size.rendered(value, Some(&vars));
            let written = serde_json::to_vec(&interpolate(value, &vars)).unwrap();
            assert_eq!(size.bytes, written.len(), "{value}");
            let mut plain = Size {
                bytes: 0,
                limit: usize::MAX,
            };
            plain.value(value);
            assert_eq!(
                plain.bytes,
                serde_json::to_vec(value).unwrap().len(),
                "{value}"
            );
        }
    }

    /// The measure is the injected pod's size less its status annotation
    /// and the one list the pod did not have (`,"volumes":[]`): a limit at
    /// the pod's size lets it through, one that many bytes under refuses it.
    /// Native sidecars count their `restartPolicy` (25 bytes each: more than
    /// an entry as small as `{"name":"s1"}`).
    #[test]
    fn the_measure_is_the_injected_pods_size_less_its_status() {
        for native in [false, true] {
            let mut template = template(native);
            template
                .containers
                .extend((0..50).map(|i| json!({"name": format!("s{i}")})));
            let out = inject(&pod(), &template, None, &facts(), pattern_check).unwrap();
            let mut without_status = out.pod.clone();
            without_status["metadata"]["annotations"]
                .as_object_mut()
                .unwrap()
                .remove(STATUS_ANNOTATION);
            let actual = serde_json::to_vec(&without_status).unwrap().len();
            let within =
                |limit| inject_within(&pod(), &template, None, &facts(), pattern_check, limit);
            assert!(within(actual).is_ok(), "native: {native}");
            let refused = within(actual - ",\"volumes\":[]".len()).unwrap_err();
            assert!(refused.at_least > refused.limit, "native: {native}");
            assert_eq!(refused.before, serde_json::to_vec(&pod()).unwrap().len());
        }
    }

    /// A 430 KB template that names a 100 KB default 3,000 times renders to
    /// 300 MB: refused after counting about the limit's worth, nothing built.
    #[test]
    fn an_amplifying_template_is_refused_before_it_is_built() {
        let mut template = template(false);
        template.parameters[0].default = Some("x".repeat(100_000));
        template.parameters[0].pattern = None;
        let args: Vec<Value> = (0..3_000).map(|_| json!("${params.proxyCPU}")).collect();
        template.containers[0]["args"] = Value::Array(args);
        let mut pod = pod();
        pod["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .clear();
        let started = std::time::Instant::now();
        let refused = inject(&pod, &template, None, &facts(), pattern_check).unwrap_err();
        assert!(
            started.elapsed().as_secs_f64() < 1.0,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(refused.limit, MAX_INJECTED_POD_BYTES);
        assert!(
            (MAX_INJECTED_POD_BYTES..MAX_INJECTED_POD_BYTES + 200_000).contains(&refused.at_least),
            "{}",
            refused.at_least
        );
        // The pod's own annotation counts as well: a short value fits.
        pod["metadata"]["annotations"]["sidecar.kubectl-inject.dev/proxy-cpu"] = json!("5m");
        let out = inject(&pod, &template, None, &facts(), pattern_check).unwrap();
        assert_eq!(out.pod["spec"]["containers"][1]["args"][2999], "5m");
    }
}
