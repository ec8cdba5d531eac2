//! `inheritance`: bytes → SidecarTemplates with `extends` → the catalogue's
//! resolution (cycles, depths, the 32-`extends` cap of INJ111, merged
//! templates, parameters along a lineage) → one injection measured and built.
//!
//! Input: a first byte 0 makes the rest a compact description of templates
//! (names, versions, namespaces, `extends`, parameters, entries, labels; a
//! chain of up to 47 templates first, so lineages past the cap are common),
//! written out as a YAML stream of JSON documents; any other input is read
//! as a YAML stream itself (`seeds/inheritance/*.yaml`).
//!
//! Checks: no panic, no hang; every template's depth agrees with its parent's
//! (cycles and missing parents have none); a template resolves exactly when
//! it is at most 32 `extends` from its root, its chain is its lineage (at
//! most 33 templates); the merged template equals the one the old
//! per-level merge builds (a reference implementation below); parameters
//! looked up along a lineage equal the merged ones; INJ111 fires once per
//! template exactly 33 `extends` deep; every finding's spans are valid. One
//! resolved template is injected into a pod under a limit chosen by the
//! input: a pod let through is at most that size (less its status
//! annotation, plus the keys of lists and maps it lacked), and a refused one
//! would really have been larger (the count is exact but for a few commas).

#![no_main]

mod common;

use std::collections::{BTreeMap, HashMap};

use kubectl_inject::injectors::own::catalog::{
    Catalog, MAX_INHERITANCE_DEPTH, Parent, ResolvedTemplate, check_value,
};
use kubectl_inject::injectors::own::mutate::{PodFacts, STATUS_ANNOTATION, inject_within};
use kubectl_inject::injectors::own::template::{Parameter, Section};
use kubectl_inject::rules::simulation::template_findings;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    let ws = match data.split_first() {
        Some((0, rest)) => common::load_bytes(templates(rest).as_bytes()),
        _ => common::load_bytes(data),
    };
    let catalog = Catalog::new(&ws.objects);
    let diagnostics = template_findings(&catalog, &ws.objects, "default");
    common::check_diagnostics(&ws.sources, &diagnostics);
    check_depths(&catalog);
    let too_deep = diagnostics.iter().filter(|d| d.rule.id == "INJ111").count();
    let at_33 = (0..catalog.templates.len())
        .filter(|&i| catalog.depth(i) == Some(MAX_INHERITANCE_DEPTH + 1))
        .count();
    assert_eq!(too_deep, at_33, "one INJ111 per template 33 `extends` deep");
    check_merges(&catalog);
    let choice = data.last().copied().unwrap_or(0);
    if let Some(t) = (0..catalog.templates.len())
        .cycle()
        .skip(usize::from(choice))
        .take(catalog.templates.len())
        .find_map(|i| catalog.resolved(i))
    {
        check_injection(t, choice);
    }
});

/// Depths, resolution and lineages agree with the parent links.
fn check_depths(catalog: &Catalog) {
    let in_cycle: Vec<bool> = {
        let mut marks = vec![false; catalog.templates.len()];
        for cycle in &catalog.cycles {
            for &i in cycle {
                marks[i] = true;
            }
        }
        marks
    };
    for i in 0..catalog.templates.len() {
        let depth = catalog.depth(i);
        let expected = match &catalog.parents[i] {
            _ if in_cycle[i] => None,
            Parent::None => Some(0),
            Parent::Found(p) => catalog.depth(*p).map(|d| d + 1),
            Parent::Missing(_) => None,
        };
        assert_eq!(depth, expected, "depth of template {i}");
        let resolves = depth.is_some_and(|d| d <= MAX_INHERITANCE_DEPTH);
        assert_eq!(catalog.resolves(i), resolves, "template {i}");
        let lineage: Vec<usize> = catalog.lineage(i).collect();
        assert!(lineage.len() <= MAX_INHERITANCE_DEPTH + 1);
        assert_eq!(lineage[0], i);
        let resolved = catalog.resolved(i);
        assert_eq!(resolved.is_some(), resolves, "template {i} resolved");
        if let (Some(d), Some(r)) = (depth, resolved) {
            assert_eq!(lineage.len(), d + 1, "lineage of template {i}");
            assert_eq!(r.chain, lineage, "chain of template {i}");
            let root = *lineage.last().expect("not empty");
            assert_eq!(catalog.parents[root], Parent::None);
            assert_eq!(r.index, i);
        }
    }
}

/// Every merged template equals the reference merge, and the parameters
/// seen along its lineage are its merged parameters.
fn check_merges(catalog: &Catalog) {
    let mut memo: HashMap<usize, Reference> = HashMap::new();
    for i in 0..catalog.templates.len() {
        let Some(resolved) = catalog.resolved(i) else {
            continue;
        };
        let expected = reference(catalog, i, &mut memo);
        assert_eq!(resolved.native_sidecar, expected.native_sidecar);
        assert_eq!(resolved.intercepts_traffic, expected.intercepts_traffic);
        assert_eq!(resolved.parameters, expected.parameters, "template {i}");
        for section in Section::ALL {
            assert_eq!(
                resolved.section(section),
                expected.section(section),
                "template {i}, {}",
                section.key()
            );
        }
        assert_eq!(resolved.pod_annotations, expected.pod_annotations);
        assert_eq!(resolved.pod_labels, expected.pod_labels);
        assert_eq!(resolved.origins, expected.origins, "template {i}");
        let names: Vec<&str> = resolved
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(catalog.parameter_names(i), names, "template {i}");
        for (k, p) in resolved.parameters.iter().enumerate() {
            let merged = catalog
                .parameter_at(i, &p.name)
                .expect("a merged parameter is declared along the lineage");
            assert_eq!(&merged.parameter, p);
            assert!(catalog.declares(i, &p.name));
            for field in ["annotation", "default", "pattern", "enum", "description"] {
                assert_eq!(
                    merged.source(field),
                    catalog.source(resolved, &format!("/parameters/{k}/{field}")),
                    "template {i}, parameter {}, {field}",
                    p.name
                );
            }
        }
    }
}

/// What merging produced before memoisation: the parent's merged template,
/// copied whole, with the child's own contents merged onto it (quadratic in
/// a lineage, but obviously right). Memoised here only to keep the target
/// fast.
#[derive(Clone, Default)]
struct Reference {
    native_sidecar: bool,
    intercepts_traffic: bool,
    parameters: Vec<Parameter>,
    init_containers: Vec<Value>,
    containers: Vec<Value>,
    volumes: Vec<Value>,
    pod_annotations: BTreeMap<String, String>,
    pod_labels: BTreeMap<String, String>,
    origins: BTreeMap<String, usize>,
}

impl Reference {
    fn section(&self, section: Section) -> &[Value] {
        match section {
            Section::InitContainers => &self.init_containers,
            Section::Containers => &self.containers,
            Section::Volumes => &self.volumes,
        }
    }

    fn section_mut(&mut self, section: Section) -> &mut Vec<Value> {
        match section {
            Section::InitContainers => &mut self.init_containers,
            Section::Containers => &mut self.containers,
            Section::Volumes => &mut self.volumes,
        }
    }
}

fn reference(catalog: &Catalog, i: usize, memo: &mut HashMap<usize, Reference>) -> Reference {
    if let Some(done) = memo.get(&i) {
        return done.clone();
    }
    let mut r = match catalog.parents[i] {
        Parent::Found(p) => reference(catalog, p, memo),
        _ => Reference::default(),
    };
    let spec = &catalog.templates[i].spec;
    if let Some(native) = spec.native_sidecar {
        r.native_sidecar = native;
        r.origins.insert("nativeSidecar".into(), i);
    }
    if let Some(intercepts) = spec.intercepts_traffic {
        r.intercepts_traffic = intercepts;
        r.origins.insert("interceptsTraffic".into(), i);
    }
    for param in &spec.parameters {
        let name = &param.name;
        r.origins.insert(format!("parameters/{name}"), i);
        for (field, set) in [
            ("annotation", param.annotation.is_some()),
            ("default", param.default.is_some()),
            ("pattern", param.pattern.is_some()),
            ("enum", param.allowed.is_some()),
            ("description", param.description.is_some()),
        ] {
            if set {
                r.origins.insert(format!("parameters/{name}/{field}"), i);
            }
        }
        match r.parameters.iter_mut().find(|p| p.name == *name) {
            Some(old) => {
                let p = param.clone();
                old.annotation = p.annotation.or(old.annotation.take());
                old.default = p.default.or(old.default.take());
                old.pattern = p.pattern.or(old.pattern.take());
                old.allowed = p.allowed.or(old.allowed.take());
                old.description = p.description.or(old.description.take());
            }
            None => r.parameters.push(param.clone()),
        }
    }
    for section in Section::ALL {
        for entry in catalog.templates[i].section(section) {
            let Some(name) = entry.get("name").and_then(Value::as_str) else {
                r.section_mut(section).push(entry.clone());
                continue;
            };
            let key = section.key();
            r.origins.insert(format!("{key}/{name}"), i);
            if let Value::Object(fields) = entry {
                for field in fields.keys() {
                    r.origins.insert(format!("{key}/{name}/{field}"), i);
                }
            }
            let list = r.section_mut(section);
            let existing = list
                .iter_mut()
                .find(|e| e.get("name").and_then(Value::as_str) == Some(name));
            match (existing, entry) {
                (Some(Value::Object(old)), Value::Object(new)) => {
                    for (field, value) in new {
                        old.insert(field.clone(), value.clone());
                    }
                }
                (Some(old), _) => *old = entry.clone(),
                (None, _) => list.push(entry.clone()),
            }
        }
    }
    for (key, value) in &spec.pod_annotations {
        r.pod_annotations.insert(key.clone(), value.clone());
        r.origins.insert(format!("podAnnotations/{key}"), i);
    }
    for (key, value) in &spec.pod_labels {
        r.pod_labels.insert(key.clone(), value.clone());
        r.origins.insert(format!("podLabels/{key}"), i);
    }
    memo.insert(i, r.clone());
    r
}

/// Injects `template` into a small pod under a limit chosen by `choice`.
fn check_injection(template: &ResolvedTemplate, choice: u8) {
    let annotations: Map<String, Value> = template
        .parameters
        .iter()
        .filter_map(|p| p.annotation.clone())
        .take(usize::from(choice % 3))
        .map(|key| (key, json!("250m")))
        .collect();
    let pod = json!({
        "metadata": {"labels": {"app": "web"}, "annotations": annotations},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    });
    let facts = PodFacts {
        name: "web",
        namespace: "shop",
        service_account: "web",
    };
    let limit = [usize::MAX, 300, 1_000, 3_000, 10_000, 1 << 20][usize::from(choice % 6)];
    // The keys a pod may lack and an injection adds (`,"volumes":[]`, …),
    // and a comma counted per list or map the pod had empty.
    const KEYS: usize = 128;
    const COMMAS: usize = 8;
    let size_without_status = |pod: &Value| {
        let mut pod = pod.clone();
        if let Some(a) = pod
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.remove(STATUS_ANNOTATION);
        }
        serde_json::to_vec(&pod).expect("a pod serialises").len()
    };
    match inject_within(&pod, template, None, &facts, check_value, limit) {
        Ok(injection) => {
            let size = size_without_status(&injection.pod);
            assert!(
                size <= limit.saturating_add(KEYS),
                "let through at {size} bytes, over the limit of {limit}"
            );
        }
        Err(too_large) => {
            assert_eq!(too_large.limit, limit);
            assert!(too_large.at_least > limit);
            let full = inject_within(&pod, template, None, &facts, check_value, usize::MAX)
                .expect("no limit");
            let size = size_without_status(&full.pod);
            // A template's own value of the status annotation is counted,
            // then overwritten by the status.
            let overwritten = template
                .pod_annotations
                .get(STATUS_ANNOTATION)
                .map_or(0, |v| STATUS_ANNOTATION.len() + v.len() * 6 + 6);
            assert!(
                too_large.at_least <= size + COMMAS + overwritten,
                "refused at {} bytes counted, but the pod takes {size}",
                too_large.at_least
            );
        }
    }
}

/// Reads bytes one at a time (zeros once they run out).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> usize {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                usize::from(b)
            }
            None => 0,
        }
    }

    fn pick<'p>(&mut self, pool: &[&'p str]) -> &'p str {
        pool[self.next() % pool.len()]
    }

    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

const NAMES: &[&str] = &[
    "a", "b", "c", "base", "proxy", "c-0", "c-31", "c-32", "c-33",
];
const VERSIONS: &[&str] = &["1.0.0", "1.1.0", "2.0.0"];
const PARAMS: &[&str] = &["cpu", "mem", "x", "y"];
const ENTRY_NAMES: &[&str] = &["proxy", "init", "certs", "agent"];
const FIELDS: &[&str] = &["image", "args", "command", "restartPolicy", "env"];
const STRINGS: &[&str] = &[
    "${params.cpu}",
    "${params.mem}${params.mem}${params.mem}",
    "${params.nope}",
    "${pod.name}.${pod.namespace}",
    "${template.name}@${template.version}",
    "$${params.cpu}",
    "${unterminated",
    "plain",
    "",
    "\"quoted\\\" \n\t\u{1}é✓",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];
const PATTERNS: &[&str] = &["^[0-9]+m$", "(", "^a|b$", ".*"];

/// The YAML stream (JSON documents) that `bytes` describe.
fn templates(bytes: &[u8]) -> String {
    let mut b = Bytes(bytes);
    let mut docs = Vec::new();
    // A chain `c-0` … `c-{n-1}`, each extending the one before (and the
    // versions they name, some missing).
    let chain = b.next() % 48;
    for i in 0..chain {
        let mut spec = json!({"version": "1.0.0"});
        if i > 0 {
            spec["extends"] = json!(format!("c-{}@1.0.0", i - 1));
        }
        if b.next() % 4 == 0 {
            spec["containers"] = json!([{"name": ENTRY_NAMES[i % 4], "image": format!("img:{i}")}]);
        }
        docs.push(template(&format!("c-{i}"), None, spec));
    }
    while !b.done() && docs.len() < 96 {
        let name = b.pick(NAMES);
        let namespace = match b.next() % 6 {
            0 => Some("shop"),
            1 => Some("other"),
            _ => None,
        };
        let mut spec = json!({"version": b.pick(VERSIONS)});
        match b.next() % 8 {
            0..=2 => {}
            3 | 4 => spec["extends"] = json!(b.pick(NAMES)),
            5 => spec["extends"] = json!(format!("{}@{}", b.pick(NAMES), b.pick(VERSIONS))),
            6 => spec["extends"] = json!(name),
            _ => spec["extends"] = json!("gone"),
        }
        let flags = b.next();
        if flags & 1 != 0 {
            spec["nativeSidecar"] = json!(flags & 2 != 0);
        }
        if flags & 4 != 0 {
            spec["interceptsTraffic"] = json!(flags & 8 != 0);
        }
        let parameters: Vec<Value> = (0..b.next() % 4)
            .map(|_| {
                let name = b.pick(PARAMS);
                let mut p = json!({"name": name});
                let fields = b.next();
                if fields & 1 != 0 {
                    p["annotation"] = json!(format!("x.dev/{name}"));
                }
                if fields & 2 != 0 {
                    p["default"] = json!(b.pick(STRINGS));
                }
                if fields & 4 != 0 {
                    p["pattern"] = json!(b.pick(PATTERNS));
                }
                if fields & 8 != 0 {
                    p["enum"] = json!([b.pick(STRINGS), "250m"]);
                }
                if fields & 16 != 0 {
                    p["description"] = json!(b.pick(STRINGS));
                }
                p
            })
            .collect();
        if !parameters.is_empty() {
            spec["parameters"] = Value::Array(parameters);
        }
        for section in ["initContainers", "containers", "volumes"] {
            let entries: Vec<Value> = (0..b.next() % 4).map(|_| entry(&mut b)).collect();
            if !entries.is_empty() {
                spec[section] = Value::Array(entries);
            }
        }
        for field in ["podAnnotations", "podLabels"] {
            let map: Map<String, Value> = (0..b.next() % 3)
                .map(|_| (format!("x.dev/{}", b.pick(PARAMS)), json!(b.pick(STRINGS))))
                .collect();
            if !map.is_empty() {
                spec[field] = Value::Object(map);
            }
        }
        docs.push(template(name, namespace, spec));
    }
    docs.join("---\n")
}

/// A container or volume: usually named, with a few fields.
fn entry(b: &mut Bytes<'_>) -> Value {
    let shape = b.next();
    if shape % 8 == 0 {
        return json!(b.pick(STRINGS));
    }
    let mut entry = Map::new();
    if shape % 8 != 1 {
        entry.insert("name".into(), json!(b.pick(ENTRY_NAMES)));
    }
    for _ in 0..b.next() % 4 {
        let field = b.pick(FIELDS);
        let value = match field {
            "args" | "command" => json!(
                (0..b.next() % 4)
                    .map(|_| b.pick(STRINGS))
                    .collect::<Vec<_>>()
            ),
            "env" => json!([{"name": "X", "value": b.pick(STRINGS)}]),
            _ => json!(b.pick(STRINGS)),
        };
        entry.insert(field.into(), value);
    }
    Value::Object(entry)
}

fn template(name: &str, namespace: Option<&str>, spec: Value) -> String {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    let doc = json!({
        "apiVersion": "kubectl-inject.dev/v1alpha1",
        "kind": "SidecarTemplate",
        "metadata": metadata,
        "spec": spec,
    });
    format!("{doc}\n")
}
