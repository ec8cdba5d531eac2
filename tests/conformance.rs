//! Conformance with the injectors' own golden tests: every Istio and Linkerd
//! injection row of `../shared/corpus/INJECT_PAIRS.tsv` is set up as the
//! upstream test sets it up, `kubectl-inject simulate` runs on it once, and
//! the decision (injected / skipped / rejected) and the names of what was
//! added (init containers, containers, volumes) are compared with what the
//! upstream golden file says. See `tests/conformance/README.md`.
//!
//! Run with `cargo test --test conformance -- --nocapture` to see the table.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kubectl_inject::yaml::{Limits, parse_stream};
use rayon::prelude::*;
use serde_json::{Map, Value, json};

/// Below this match rate (per injector) the test fails.
const THRESHOLD: f64 = 90.0;

const STATUS_KEY: &str = "sidecar.istio.io/status";
const ISTIO_DERIVED: &str = "_derived/istio__istio/pilot_default";
const KUBE_INJECT_TESTDATA: &str = "istio__istio/istioctl/pkg/kubeinject/testdata";

// ---------------------------------------------------------------------------
// The corpus and its rows
// ---------------------------------------------------------------------------

/// `../shared/corpus` beside the crate root (CI clones it there).
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// One row of `INJECT_PAIRS.tsv`.
#[derive(Debug, Clone, Default)]
struct Row {
    /// Line in the TSV (1-based, the header is line 1).
    line: usize,
    injector: String,
    test: String,
    input: String,
    expected: String,
    expected_kind: String,
    config: String,
    overrides: String,
    notes: String,
}

/// Which upstream harness a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `pkg/kube/inject` TestInjection / TestInjectionOlderVersion.
    Istio,
    /// `istioctl kube-inject` with its own config files.
    IstioKubeInject,
    /// `linkerd inject` (CLI, `--manual` or annotation-only).
    LinkerdCli,
    /// The proxy-injector webhook's `TestGetPodPatch` (JSON patches).
    LinkerdWebhook,
}

impl Family {
    fn of(row: &Row) -> Option<Family> {
        match row.injector.as_str() {
            "istio" => Some(Family::Istio),
            "istio (istioctl kube-inject)" => Some(Family::IstioKubeInject),
            "linkerd" => Some(Family::LinkerdCli),
            // Not the opaque-ports annotation patches (TestGetAnnotationPatch).
            "linkerd (proxy-injector webhook)" if row.test.contains("TestGetPodPatch") => {
                Some(Family::LinkerdWebhook)
            }
            _ => None,
        }
    }

    /// The injector name in the report and in the summary.
    fn injector(self) -> &'static str {
        match self {
            Family::Istio | Family::IstioKubeInject => "istio",
            Family::LinkerdCli | Family::LinkerdWebhook => "linkerd",
        }
    }
}

/// A TSV field: `"…"` quoting with `""` for a quote, as spreadsheets write it.
fn unquote(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_owned(),
    }
}

fn read_rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<String> = l.split('\t').map(unquote).collect();
            let get = |n: usize| f.get(n).cloned().unwrap_or_default();
            Row {
                line: i + 1,
                injector: get(0),
                test: get(2),
                input: get(3),
                expected: get(4),
                expected_kind: get(5),
                config: get(6),
                overrides: get(7),
                notes: get(8),
            }
        })
        .collect()
}

/// The test name without the Go file in front (`TestInjection -> x.injected`).
fn short_test(row: &Row) -> String {
    let test = match row.test.split_once(' ') {
        Some((first, rest)) if first.ends_with(".go") => rest.to_owned(),
        _ => row.test.clone(),
    };
    // Name the case where the test name alone does not (TestKubeInject, …).
    let file = if row.expected.is_empty() {
        &row.input
    } else {
        &row.expected
    };
    let file = file.rsplit('/').next().unwrap_or_default();
    if test.contains(file) {
        test
    } else {
        format!("{test} ({file})")
    }
}

// ---------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------

/// Every document of a YAML/JSON stream, as JSON.
fn parse_docs(text: &str) -> Vec<Value> {
    parse_stream(text, &Limits::default())
        .documents
        .iter()
        .map(|(_, node)| node.to_json())
        .collect()
}

fn read_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_docs(&text)
}

/// A `List`'s items (recursively), any other document itself.
fn expand(doc: &Value) -> Vec<&Value> {
    if doc["kind"] == "List" {
        doc["items"]
            .as_array()
            .map(|items| items.iter().flat_map(expand).collect())
            .unwrap_or_default()
    } else {
        vec![doc]
    }
}

const POD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "ReplicationController",
    "DeploymentConfig",
];

fn carries_pod(doc: &Value) -> bool {
    doc["kind"].as_str().is_some_and(|k| POD_KINDS.contains(&k))
}

/// `Kind/name` of a workload.
fn workload_id(doc: &Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// The pod-carrying objects of a stream, `List`s expanded, in order.
fn workloads(docs: &[Value]) -> Vec<&Value> {
    docs.iter()
        .flat_map(expand)
        .filter(|d| carries_pod(d))
        .collect()
}

/// The pod template of a workload (`None` when absent).
fn pod_template(doc: &Value) -> Option<&Value> {
    let t = match doc["kind"].as_str()? {
        "Pod" => doc,
        "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"],
        _ => &doc["spec"]["template"],
    };
    t.is_object().then_some(t)
}

fn pod_template_mut(doc: &mut Value) -> Option<&mut Value> {
    let t = match doc["kind"].as_str()? {
        "Pod" => doc,
        "CronJob" => &mut doc["spec"]["jobTemplate"]["spec"]["template"],
        _ => &mut doc["spec"]["template"],
    };
    t.is_object().then_some(t)
}

// ---------------------------------------------------------------------------
// Names added
// ---------------------------------------------------------------------------

/// Names of what injection added, each list sorted (order is not compared:
/// it is the template's business, not a decision).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Added {
    init_containers: BTreeSet<String>,
    containers: BTreeSet<String>,
    volumes: BTreeSet<String>,
}

impl Added {
    fn from_json(v: &Value) -> Added {
        let set = |key: &str| -> BTreeSet<String> {
            v[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Added {
            init_containers: set("initContainers"),
            containers: set("containers"),
            volumes: set("volumes"),
        }
    }

    /// The names in a pod spec.
    fn of_spec(spec: &Value) -> Added {
        let set = |key: &str| -> BTreeSet<String> {
            spec[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Added {
            init_containers: set("initContainers"),
            containers: set("containers"),
            volumes: set("volumes"),
        }
    }

    fn minus(&self, other: &Added) -> Added {
        Added {
            init_containers: &self.init_containers - &other.init_containers,
            containers: &self.containers - &other.containers,
            volumes: &self.volumes - &other.volumes,
        }
    }

    /// Without what Linkerd injected (`linkerd uninject`, which `linkerd
    /// inject` runs first): every name starting with `linkerd-`.
    fn uninjected(&self) -> Added {
        let keep = |s: &BTreeSet<String>| -> BTreeSet<String> {
            s.iter()
                .filter(|n| !n.starts_with("linkerd-"))
                .cloned()
                .collect()
        };
        Added {
            init_containers: keep(&self.init_containers),
            containers: keep(&self.containers),
            volumes: keep(&self.volumes),
        }
    }

    fn is_empty(&self) -> bool {
        self.init_containers.is_empty() && self.containers.is_empty() && self.volumes.is_empty()
    }

    /// What differs, for the mismatch explanation (`None` when equal).
    fn diff(&self, got: &Added) -> Option<String> {
        let mut out = Vec::new();
        for (label, want, have) in [
            (
                "initContainers",
                &self.init_containers,
                &got.init_containers,
            ),
            ("containers", &self.containers, &got.containers),
            ("volumes", &self.volumes, &got.volumes),
        ] {
            let missing: Vec<_> = want.difference(have).cloned().collect();
            let extra: Vec<_> = have.difference(want).cloned().collect();
            if !missing.is_empty() {
                out.push(format!("{label} missing [{}]", missing.join(",")));
            }
            if !extra.is_empty() {
                out.push(format!("{label} extra [{}]", extra.join(",")));
            }
        }
        (!out.is_empty()).then(|| out.join(", "))
    }
}

/// The first `sidecar.istio.io/status` in any `annotations` map of a document
/// (kube-inject puts a CronJob's on `spec.jobTemplate.metadata`).
fn find_status(v: &Value) -> Option<&str> {
    match v {
        Value::Object(map) => {
            if let Some(s) = map
                .get("annotations")
                .and_then(|a| a.get(STATUS_KEY))
                .and_then(Value::as_str)
            {
                return Some(s);
            }
            map.values().find_map(find_status)
        }
        Value::Array(items) => items.iter().find_map(find_status),
        _ => None,
    }
}

/// The names an Istio status annotation records (JSON `null` = none).
fn parse_istio_status(status: &str) -> Option<Added> {
    serde_json::from_str::<Value>(status)
        .ok()
        .map(|v| Added::from_json(&v))
}

/// Names added by a webhook JSON patch: the `name` of every `add` value at
/// `/spec/initContainers…`, `/spec/containers…`, `/spec/volumes…` (an added
/// whole array contributes its elements' names).
fn patch_added(patch: &Value) -> Added {
    let mut added = Added::default();
    for op in patch.as_array().into_iter().flatten() {
        if op["op"] != "add" {
            continue;
        }
        let path = op["path"].as_str().unwrap_or_default();
        let set = if path.starts_with("/spec/initContainers") {
            &mut added.init_containers
        } else if path.starts_with("/spec/containers") {
            &mut added.containers
        } else if path.starts_with("/spec/volumes") {
            &mut added.volumes
        } else {
            continue;
        };
        let value = &op["value"];
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for item in items {
            if let Some(name) = item["name"].as_str() {
                set.insert(name.to_owned());
            }
        }
    }
    added
}

// ---------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------

/// What the upstream test expects of one workload.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// Injected; `None` = compare the decision only (annotation-only rows).
    Injected(Option<Added>),
    Skipped,
}

/// What the upstream test expects of a row.
#[derive(Debug, Clone, PartialEq)]
enum Expectation {
    /// The injector rejects the input (error, non-zero exit).
    Rejected,
    /// `Kind/name` → expectation, in document order.
    Workloads(Vec<(String, Expect)>),
}

fn expects_error(row: &Row) -> bool {
    row.expected.ends_with(";expect-error") || row.expected_kind.trim() == "error"
}

fn expectation(corpus: &Path, row: &Row, family: Family) -> Expectation {
    if expects_error(row) {
        return Expectation::Rejected;
    }
    match family {
        Family::Istio | Family::IstioKubeInject => {
            let docs = read_docs(&corpus.join(&row.expected));
            Expectation::Workloads(
                workloads(&docs)
                    .into_iter()
                    .map(|w| {
                        let e = match find_status(w) {
                            Some(s) => Expect::Injected(parse_istio_status(s)),
                            None => Expect::Skipped,
                        };
                        (workload_id(w), e)
                    })
                    .collect(),
            )
        }
        Family::LinkerdCli => linkerd_cli_expectation(corpus, row),
        Family::LinkerdWebhook => {
            let input = read_docs(&corpus.join(&row.input));
            let id = input.first().map(workload_id).unwrap_or_default();
            let text = if row.expected.is_empty() {
                String::new()
            } else {
                std::fs::read_to_string(corpus.join(&row.expected)).unwrap_or_default()
            };
            let patch: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let empty = patch.as_array().is_none_or(|a| a.is_empty());
            let e = if empty {
                Expect::Skipped
            } else {
                Expect::Injected(Some(patch_added(&patch)))
            };
            Expectation::Workloads(vec![(id, e)])
        }
    }
}

fn input_paths(corpus: &Path, row: &Row) -> Vec<PathBuf> {
    row.input
        .split(" + ")
        .map(|p| corpus.join(p.trim()))
        .collect()
}

/// `injectProxy=false`: plain `linkerd inject`, which only annotates.
fn annotation_only(row: &Row) -> bool {
    row.overrides.contains("injectProxy=false")
}

fn linkerd_cli_expectation(corpus: &Path, row: &Row) -> Expectation {
    // TestRunInjectCmd rows that exit 1 (hostNetwork, an existing sidecar,
    // automountServiceAccountToken without projection) print nothing.
    let expected_text = if row.expected.is_empty() {
        String::new()
    } else {
        std::fs::read_to_string(corpus.join(&row.expected)).unwrap_or_default()
    };
    if row.notes.contains("exit code 1") && expected_text.trim().is_empty() {
        return Expectation::Rejected;
    }
    let expected = parse_docs(&expected_text);
    let input: Vec<Value> = input_paths(corpus, row)
        .iter()
        .flat_map(|p| read_docs(p))
        .collect();
    let inputs = workloads(&input);
    let mut out = Vec::new();
    for w in workloads(&expected) {
        let id = workload_id(w);
        let before = inputs.iter().find(|i| workload_id(i) == id);
        let e = if annotation_only(row) {
            // Annotation-only rows: `linkerd inject` adds `linkerd.io/inject:
            // enabled` for the webhook to act on later; the proxy is not in
            // the golden, so only the decision is compared (annotated =
            // injected, unchanged = skipped).
            if before.is_some_and(|b| **b == *w) {
                Expect::Skipped
            } else {
                Expect::Injected(None)
            }
        } else {
            let spec = pod_template(w).map(|t| &t["spec"]);
            let names = spec.map(Added::of_spec).unwrap_or_default();
            let injected = names.containers.contains("linkerd-proxy")
                || names.init_containers.contains("linkerd-proxy");
            if injected {
                // `linkerd inject` uninjects first, so an already injected
                // input counts without its linkerd-* entries.
                let old = before
                    .and_then(|b| pod_template(b))
                    .map(|t| Added::of_spec(&t["spec"]).uninjected())
                    .unwrap_or_default();
                Expect::Injected(Some(names.minus(&old)))
            } else {
                Expect::Skipped
            }
        };
        out.push((id, e));
    }
    Expectation::Workloads(out)
}

// ---------------------------------------------------------------------------
// Row setup
// ---------------------------------------------------------------------------

/// A prepared row: the directory to simulate and the command line.
struct Setup {
    dir: tempfile::TempDir,
    /// Run with `--injector` (manual injection) or as the webhook would.
    manual: bool,
    /// Settings the upstream test applies that the tool cannot express.
    not_modelled: Vec<String>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().expect("temp dir"),
            manual: true,
            not_modelled: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config_path(&self) -> PathBuf {
        self.path().join(".kubectl-inject.yaml")
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).expect("write temp file");
    }

    /// `.kubectl-inject.yaml`: Kubernetes 1.33 (upstream's fake nodes run
    /// kubelet 1.33/1.34) and the injector's settings.
    fn write_config(&self, injectors: &str) {
        self.write(
            ".kubectl-inject.yaml",
            &format!("kubernetesVersion: \"1.33\"\ninjectors:\n  {injectors}\n"),
        );
    }

    fn args(&self, injector: &str) -> Vec<String> {
        let mut args = vec!["simulate".to_owned()];
        if self.manual {
            args.extend(["--injector".to_owned(), injector.to_owned()]);
        }
        args.extend([
            "--config".to_owned(),
            self.config_path().display().to_string(),
            "--format".to_owned(),
            "json".to_owned(),
            self.path().display().to_string(),
        ]);
        args
    }
}

/// Sets `a.b.c` in a JSON object, creating the objects on the way.
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut at = root;
    let keys: Vec<&str> = path.split('.').collect();
    for key in &keys[..keys.len() - 1] {
        if !at[*key].is_object() {
            at[*key] = Value::Object(Map::new());
        }
        at = &mut at[*key];
    }
    at[keys[keys.len() - 1]] = value;
}

/// A `--set` value: `true`/`false`/integers as JSON scalars, else a string.
fn set_value(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
    }
}

/// Helm-style deep merge: maps merge, `null` deletes, anything else replaces.
fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                } else if let Some(slot) = b.get_mut(k) {
                    deep_merge(slot, v);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// Applies the `--set` flags of an overrides column to the values.
fn apply_sets(values: &mut Value, overrides: &str) {
    let tokens: Vec<&str> = overrides.split_whitespace().collect();
    for pair in tokens.windows(2) {
        if pair[0] != "--set" {
            continue;
        }
        let assignment = pair[1].trim_end_matches(';');
        let Some((key, raw)) = assignment.split_once('=') else {
            continue;
        };
        let value = set_value(raw);
        if key == "components.cni.enabled" {
            set_path(values, "pilot.cni.enabled", value);
        } else if let Some(path) = key.strip_prefix("values.") {
            // The operator hands `values.cni.*` to istiod as `pilot.cni.*`
            // (the injection template reads `.Values.pilot.cni.provider`).
            if let Some(rest) = path.strip_prefix("cni.") {
                set_path(values, &format!("pilot.cni.{rest}"), value.clone());
            }
            set_path(values, path, value);
        }
    }
}

/// Adds an IstioOperator's `spec.values.sidecarInjectorWebhook.templates` to
/// the `templates:` map of the injector config text, as the chart renders
/// them into the ConfigMap.
fn add_templates(config: &str, templates: &Map<String, Value>) -> String {
    let mut extra = String::new();
    for (name, body) in templates {
        let Some(body) = body.as_str() else { continue };
        let _ = writeln!(extra, "  {name}: |");
        for line in body.lines() {
            if line.is_empty() {
                extra.push('\n');
            } else {
                let _ = writeln!(extra, "    {line}");
            }
        }
    }
    let mut out = String::new();
    let mut done = false;
    for line in config.split_inclusive('\n') {
        out.push_str(line);
        if !done && line.trim_end() == "templates:" {
            out.push_str(&extra);
            done = true;
        }
    }
    if !done {
        out.push_str("\ntemplates:\n");
        out.push_str(&extra);
    }
    out
}

/// Indents text as the content of a YAML literal block scalar.
fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
    out
}

/// The `istio-sidecar-injector` ConfigMap, as it is kept in Git.
fn istio_configmap(config: &str, values: &Value) -> String {
    let values = serde_json::to_string_pretty(values).expect("plain data");
    let simple = |t: &str| {
        t.lines()
            .find(|l| !l.trim().is_empty())
            .is_none_or(|l| !l.starts_with(' '))
            && !t.contains('\t')
    };
    if simple(config) && simple(&values) {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-sidecar-injector\n  \
             namespace: istio-system\ndata:\n  config: |\n{}  values: |\n{}",
            block(config, 4),
            block(&values, 4)
        )
    } else {
        // Leading spaces or tabs: a JSON string is exact where a block is not.
        serde_json::to_string_pretty(&json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
            "data": {"config": config, "values": values},
        }))
        .expect("plain data")
    }
}

/// Reads an IstioOperator file's `spec.values`.
fn iop_values(path: &Path) -> Value {
    read_docs(path)
        .first()
        .map(|d| d["spec"]["values"].clone())
        .unwrap_or(Value::Null)
}

/// The value after a flag in a command line (`--valuesFile testdata/x.yaml`).
fn flag<'a>(command: &'a str, name: &str) -> Option<&'a str> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == name {
            return words.next();
        }
    }
    None
}

/// Copies the input files into the row's directory.
fn copy_inputs(corpus: &Path, row: &Row, setup: &Setup) {
    for (i, p) in input_paths(corpus, row).iter().enumerate() {
        let name = p.file_name().unwrap().to_string_lossy();
        std::fs::copy(p, setup.path().join(format!("in{i}-{name}")))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

fn setup_istio(corpus: &Path, row: &Row, family: Family) -> Setup {
    let mut setup = Setup::new();
    let derived = corpus.join(ISTIO_DERIVED);
    let (mut config, mut values) = if family == Family::IstioKubeInject {
        let testdata = corpus.join(KUBE_INJECT_TESTDATA);
        let file = |flag_value: &str| testdata.join(flag_value.trim_start_matches("testdata/"));
        let config = flag(&row.overrides, "--injectConfigFile")
            .map(|f| std::fs::read_to_string(file(f)).expect("inject config"))
            .unwrap_or_default();
        let values = flag(&row.overrides, "--valuesFile")
            .and_then(|f| read_docs(&file(f)).into_iter().next())
            .unwrap_or_else(|| json!({}));
        let mut values = values;
        if let Some(f) = flag(&row.overrides, "--operatorFileName") {
            deep_merge(&mut values, &iop_values(&file(f)));
        }
        if row.overrides.contains("--meshConfigFile") {
            setup.not_modelled.push("--meshConfigFile".into());
        }
        (config, values)
    } else {
        let config = std::fs::read_to_string(derived.join("sidecar-injector-config.yaml"))
            .expect("derived injector config");
        let values: Value = serde_json::from_str(
            &std::fs::read_to_string(derived.join("sidecar-injector-values.json"))
                .expect("derived values"),
        )
        .expect("values are JSON");
        (config, values)
    };
    apply_sets(&mut values, &row.overrides);
    // An IstioOperator overlay named in the config column.
    for word in row.config.split_whitespace() {
        if word.ends_with(".iop.yaml") {
            let overlay = iop_values(&corpus.join(word));
            if let Some(templates) = overlay["sidecarInjectorWebhook"]["templates"].as_object() {
                config = add_templates(&config, templates);
            }
            deep_merge(&mut values, &overlay);
        }
    }
    for (needle, what) in [
        ("mesh:", "mesh config override"),
        ("platform.OpenShift", "OpenShift platform"),
        ("CompliancePolicy", "FIPS compliance policy"),
    ] {
        if row.overrides.contains(needle) {
            setup.not_modelled.push(what.into());
        }
    }
    setup.write(
        "istio-sidecar-injector.yaml",
        &istio_configmap(&config, &values),
    );
    let old_nodes = row.test.contains("TestInjectionOlderVersion")
        || row.overrides.contains("NativeSidecarModeDisabled");
    setup.write_config(if old_nodes {
        "istio: {nativeSidecars: false}"
    } else {
        "istio: {}"
    });
    copy_inputs(corpus, row, &setup);
    setup
}

/// The Linkerd override segments the tool has no setting for.
fn linkerd_not_modelled(overrides: &str) -> Vec<String> {
    overrides
        .split(';')
        .map(str::trim)
        .filter(|s| {
            !s.is_empty()
                && !s.starts_with("injectProxy=")
                && !s.starts_with("Proxy.NativeSidecar")
                && !s.starts_with("--enable-debug-sidecar")
                && !s.starts_with("namespace annotations")
                && !s.starts_with("linkerd inject")
        })
        .map(str::to_owned)
        .collect()
}

fn setup_linkerd_cli(corpus: &Path, row: &Row) -> Setup {
    let mut setup = Setup::new();
    setup.not_modelled = linkerd_not_modelled(&row.overrides);
    if row.overrides.contains("--enable-debug-sidecar") {
        // `--enable-debug-sidecar` = the pod annotation; the copy is written
        // as JSON, one file per document.
        for (i, p) in input_paths(corpus, row).iter().enumerate() {
            for (j, mut doc) in read_docs(p).into_iter().enumerate() {
                add_debug_annotation(&mut doc);
                setup.write(
                    &format!("in{i}-{j}.json"),
                    &serde_json::to_string_pretty(&doc).unwrap(),
                );
            }
        }
    } else {
        copy_inputs(corpus, row, &setup);
    }
    let native = row.overrides.contains("Proxy.NativeSidecar = true");
    setup.write_config(if native {
        "linkerd: {nativeSidecars: true}"
    } else {
        "linkerd: {}"
    });
    setup
}

fn add_debug_annotation(doc: &mut Value) {
    if doc["kind"] == "List" {
        if let Some(items) = doc["items"].as_array_mut() {
            items.iter_mut().for_each(add_debug_annotation);
        }
        return;
    }
    if !carries_pod(doc) {
        return;
    }
    if let Some(t) = pod_template_mut(doc) {
        if !t["metadata"].is_object() {
            t["metadata"] = json!({});
        }
        if !t["metadata"]["annotations"].is_object() {
            t["metadata"]["annotations"] = json!({});
        }
        t["metadata"]["annotations"]["config.linkerd.io/enable-debug-sidecar"] = json!("true");
    }
}

/// `{a: b, c: 'd'}` from the overrides column (`(…)` remarks dropped).
fn namespace_annotations(overrides: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(start) = overrides.find('{') else {
        return out;
    };
    let Some(len) = overrides[start..].find('}') else {
        return out;
    };
    let inner = &overrides[start + 1..start + len];
    for entry in inner.split(", ") {
        let Some((k, v)) = entry.split_once(": ") else {
            continue;
        };
        let v = v.split(" (").next().unwrap_or_default().trim();
        let v = v.trim_matches('\'').trim_matches('"');
        out.insert(k.trim().to_owned(), Value::String(v.to_owned()));
    }
    out
}

fn setup_linkerd_webhook(corpus: &Path, row: &Row) -> Setup {
    let mut setup = Setup::new();
    setup.manual = false;
    let input = corpus.join(&row.input);
    let text = std::fs::read_to_string(&input).expect("webhook input");
    let doc = parse_docs(&text).into_iter().next().unwrap_or(Value::Null);
    // The upstream test wraps the file in an AdmissionRequest of kind Pod, so
    // its `apiVersion: apps/v1` never matters; the copy says `v1`.
    let text = if doc["kind"] == "Pod" {
        text.replace("apiVersion: apps/v1", "apiVersion: v1")
    } else {
        text
    };
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    setup.write(&format!("in0-{name}"), &text);
    let namespace = doc["metadata"]["namespace"]
        .as_str()
        .unwrap_or("linkerd")
        .to_owned();
    let ns = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": namespace_annotations(&row.overrides)},
    });
    setup.write(
        "namespace.json",
        &serde_json::to_string_pretty(&ns).unwrap(),
    );
    setup.write_config("linkerd: {}");
    setup
}

fn setup(corpus: &Path, row: &Row, family: Family) -> Setup {
    match family {
        Family::Istio | Family::IstioKubeInject => setup_istio(corpus, row, family),
        Family::LinkerdCli => setup_linkerd_cli(corpus, row),
        Family::LinkerdWebhook => setup_linkerd_webhook(corpus, row),
    }
}

// ---------------------------------------------------------------------------
// Running and comparing
// ---------------------------------------------------------------------------

/// One workload of the report, for one injector.
#[derive(Debug, Clone)]
struct GotWorkload {
    id: String,
    /// `inject`, `skip`, `deny`, `conflict`, or `none` (no entry).
    decision: String,
    added: Added,
    reasons: Vec<String>,
}

#[derive(Debug)]
struct Got {
    /// A workload denied, or the input could not be read (invalid YAML): the
    /// upstream CLIs fail the whole run then.
    rejected: bool,
    workloads: Vec<GotWorkload>,
}

fn read_report(report: &Value, injector: &str) -> Got {
    let mut workloads = Vec::new();
    for w in report["workloads"].as_array().into_iter().flatten() {
        let id = format!(
            "{}/{}",
            w["kind"].as_str().unwrap_or("?"),
            w["name"].as_str().unwrap_or("")
        );
        let entry = w["injectors"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["injector"] == injector));
        let (decision, added, reasons) = match entry {
            Some(e) => (
                e["decision"].as_str().unwrap_or("?").to_owned(),
                Added::from_json(&e["added"]),
                e["reasons"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            None => ("none".to_owned(), Added::default(), Vec::new()),
        };
        workloads.push(GotWorkload {
            id,
            decision,
            added,
            reasons,
        });
    }
    let unreadable = report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| d["severity"] == "error" && (d["rule"] == "INJ001" || d["rule"] == "INJ006"));
    Got {
        rejected: unreadable || workloads.iter().any(|w| w.decision == "deny"),
        workloads,
    }
}

fn describe_expectation(e: &Expectation) -> String {
    match e {
        Expectation::Rejected => "rejected".into(),
        Expectation::Workloads(ws) if ws.is_empty() => "no workloads".into(),
        Expectation::Workloads(ws) => ws
            .iter()
            .map(|(id, e)| {
                let d = match e {
                    Expect::Injected(Some(_)) => "inject",
                    Expect::Injected(None) => "inject(decision only)",
                    Expect::Skipped => "skip",
                };
                format!("{id}={d}")
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn describe_got(got: &Got) -> String {
    let ws = got
        .workloads
        .iter()
        .map(|w| format!("{}={}", w.id, w.decision))
        .collect::<Vec<_>>()
        .join(" ");
    match (got.rejected, ws.is_empty()) {
        (true, true) => "rejected".into(),
        (true, false) => format!("rejected ({ws})"),
        (false, true) => "no workloads".into(),
        (false, false) => ws,
    }
}

/// `None` when the report matches the expectation, else why not.
fn compare(expect: &Expectation, got: &Got) -> Option<String> {
    let wanted = match expect {
        Expectation::Rejected => {
            return (!got.rejected).then(|| "expected the injector to reject the input".into());
        }
        Expectation::Workloads(ws) => ws,
    };
    if got.rejected {
        let why: Vec<_> = got
            .workloads
            .iter()
            .filter(|w| w.decision == "deny")
            .map(|w| format!("{}: {}", w.id, w.reasons.join("; ")))
            .collect();
        return Some(format!("rejected: {}", why.join(" | ")));
    }
    let mut used = vec![false; got.workloads.len()];
    let mut problems = Vec::new();
    for (id, e) in wanted {
        let found = got
            .workloads
            .iter()
            .enumerate()
            .find(|(i, w)| !used[*i] && w.id == *id);
        let Some((i, w)) = found else {
            problems.push(format!("{id}: not reported"));
            continue;
        };
        used[i] = true;
        let reasons = || w.reasons.join("; ");
        match (e, w.decision.as_str()) {
            (Expect::Skipped, "skip" | "none") => {}
            (Expect::Injected(None), "inject") => {}
            (Expect::Injected(Some(names)), "inject") => {
                if let Some(d) = names.diff(&w.added) {
                    problems.push(format!("{id}: {d}"));
                }
            }
            (Expect::Skipped, d) => {
                problems.push(format!("{id}: expected skip, got {d} ({})", reasons()));
            }
            (Expect::Injected(_), d) => {
                problems.push(format!("{id}: expected inject, got {d} ({})", reasons()));
            }
        }
    }
    // Workloads the upstream output does not inject must not be injected.
    for (w, _) in got.workloads.iter().zip(&used).filter(|(_, u)| !**u) {
        if w.decision == "inject" {
            problems.push(format!("{}: injected, but not a workload upstream", w.id));
        }
    }
    (!problems.is_empty()).then(|| problems.join(" | "))
}

#[derive(Debug)]
struct Outcome {
    row: Row,
    family: Family,
    expected: String,
    got: String,
    /// `None` = match.
    mismatch: Option<String>,
}

fn run_row(corpus: &Path, row: &Row, family: Family) -> Outcome {
    let expect = expectation(corpus, row, family);
    let setup = setup(corpus, row, family);
    let output = assert_cmd::Command::cargo_bin("kubectl-inject")
        .expect("the binary is built")
        .args(setup.args(family.injector()))
        .output()
        .expect("the binary runs");
    let expected = describe_expectation(&expect);
    let code = output.status.code();
    let report: Option<Value> = serde_json::from_slice(&output.stdout).ok();
    let (got, mismatch) = match (code, report) {
        (Some(0 | 1), Some(report)) => {
            let got = read_report(&report, family.injector());
            let mismatch = compare(&expect, &got).map(|why| {
                if setup.not_modelled.is_empty() {
                    why
                } else {
                    format!("{why} [not modelled: {}]", setup.not_modelled.join("; "))
                }
            });
            (describe_got(&got), mismatch)
        }
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            (
                format!("error (exit {code:?})"),
                Some(format!("the tool failed: {}", first.trim())),
            )
        }
    };
    Outcome {
        row: row.clone(),
        family,
        expected,
        got,
        mismatch,
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

#[test]
fn conformance_with_upstream_injector_tests() {
    let corpus = corpus_dir();
    let tsv = corpus.join("INJECT_PAIRS.tsv");
    if !tsv.is_file() {
        let note = format!("conformance: corpus not found at {}", corpus.display());
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{note} (required in CI)");
        }
        eprintln!("{note}; skipped");
        return;
    }
    let rows = read_rows(&std::fs::read_to_string(&tsv).unwrap());
    let selected: Vec<(Row, Family)> = rows
        .into_iter()
        .filter_map(|r| Family::of(&r).map(|f| (r, f)))
        .collect();
    let outcomes: Vec<Outcome> = selected
        .par_iter()
        .map(|(r, f)| run_row(&corpus, r, *f))
        .collect();

    let mut table = String::new();
    let _ = writeln!(
        table,
        "{:<5} {:<8} {:<58} {:<40} {:<40} result",
        "line", "injector", "test", "expected", "got"
    );
    for o in &outcomes {
        let _ = writeln!(
            table,
            "{:<5} {:<8} {:<58} {:<40} {:<40} {}",
            o.row.line,
            o.family.injector(),
            truncate(&short_test(&o.row), 58),
            truncate(&o.expected, 40),
            truncate(&o.got, 40),
            match &o.mismatch {
                None => "match".to_owned(),
                Some(why) => format!("MISMATCH: {why}"),
            }
        );
    }
    let mut summary = String::new();
    let mut failing = Vec::new();
    for injector in ["istio", "linkerd"] {
        let of: Vec<_> = outcomes
            .iter()
            .filter(|o| o.family.injector() == injector)
            .collect();
        let matched = of.iter().filter(|o| o.mismatch.is_none()).count();
        let rate = if of.is_empty() {
            100.0
        } else {
            100.0 * matched as f64 / of.len() as f64
        };
        let _ = writeln!(summary, "{injector}: {matched}/{} ({rate:.1}%)", of.len());
        if rate < THRESHOLD {
            failing.push(injector);
        }
    }
    println!("{table}\n{summary}");

    let mut mismatches = String::new();
    for o in outcomes.iter().filter(|o| o.mismatch.is_some()) {
        let _ = writeln!(
            mismatches,
            "L{} [{}] {}\n  input:    {}\n  expected: {}\n  got:      {}\n  why:      {}\n",
            o.row.line,
            o.row.injector,
            o.row.test,
            o.row.input,
            o.expected,
            o.got,
            o.mismatch.as_deref().unwrap_or_default()
        );
    }
    mismatches.push_str(&summary);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("conformance-mismatches.txt"), &mismatches);

    assert!(
        failing.is_empty(),
        "match rate below {THRESHOLD}% for {failing:?}:\n{summary}(details in target/conformance-mismatches.txt)"
    );
}

// ---------------------------------------------------------------------------
// The harness's own parsing, on the expected files alone
// ---------------------------------------------------------------------------

/// The corpus, or `None` (with a note) outside CI when it is missing.
fn corpus_or_skip() -> Option<PathBuf> {
    let corpus = corpus_dir();
    if corpus.join("INJECT_PAIRS.tsv").is_file() {
        return Some(corpus);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "corpus missing in CI"
    );
    eprintln!("corpus not found; skipped");
    None
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn corpus_rows(corpus: &Path) -> Vec<Row> {
    read_rows(&std::fs::read_to_string(corpus.join("INJECT_PAIRS.tsv")).unwrap())
}

fn row_at(corpus: &Path, pred: impl Fn(&Row) -> bool) -> Row {
    corpus_rows(corpus)
        .into_iter()
        .find(pred)
        .expect("the row exists")
}

#[test]
fn istio_status_of_hello_names_what_was_added() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let row = row_at(&corpus, |r| {
        r.injector == "istio" && r.test.ends_with("-> hello.yaml.injected")
    });
    let expect = expectation(&corpus, &row, Family::Istio);
    let want = Added {
        init_containers: set(&["istio-init", "istio-proxy"]),
        containers: set(&[]),
        volumes: set(&[
            "workload-socket",
            "credential-socket",
            "workload-certs",
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert",
            "istio-ca-crl",
        ]),
    };
    assert_eq!(
        expect,
        Expectation::Workloads(vec![(
            "Deployment/hello".into(),
            Expect::Injected(Some(want))
        )])
    );
}

#[test]
fn istio_expectations_cover_cronjobs_lists_skips_and_errors() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let find = |suffix: &str| {
        let row = row_at(&corpus, |r| {
            r.injector == "istio" && r.test.ends_with(suffix)
        });
        expectation(&corpus, &row, Family::Istio)
    };
    // The CronJob's status sits on spec.jobTemplate.metadata.
    let Expectation::Workloads(cron) = find("-> cronjob.yaml.injected") else {
        panic!("cronjob is not an error row")
    };
    assert_eq!(cron.len(), 1);
    assert_eq!(cron[0].0, "CronJob/hellocron");
    assert!(matches!(cron[0].1, Expect::Injected(Some(_))));
    // A List: two injected Deployments.
    let Expectation::Workloads(list) = find("-> list.yaml.injected") else {
        panic!()
    };
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|(_, e)| matches!(e, Expect::Injected(_))));
    // hostNetwork: no status annotation = skipped.
    let Expectation::Workloads(host) = find("-> hello-host-network-with-ns.yaml.injected") else {
        panic!()
    };
    assert_eq!(
        host,
        vec![("Deployment/hello-host-network".into(), Expect::Skipped)]
    );
    assert_eq!(
        find("case traffic-annotations-bad-includeipranges.yaml"),
        Expectation::Rejected
    );
    // kube-inject's own tiny template: one init container, one container.
    let row = row_at(&corpus, |r| {
        r.injector == "istio (istioctl kube-inject)" && r.expected.ends_with("hello.yaml.injected")
    });
    assert_eq!(
        expectation(&corpus, &row, Family::IstioKubeInject),
        Expectation::Workloads(vec![(
            "Deployment/hello".into(),
            Expect::Injected(Some(Added {
                init_containers: set(&["istio-init"]),
                containers: set(&["istio-proxy"]),
                volumes: set(&[]),
            }))
        )])
    );
}

#[test]
fn istio_setup_writes_a_valid_configmap_with_overrides() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let row = row_at(&corpus, |r| {
        r.injector == "istio" && r.test.ends_with("-> hello.yaml.cni.injected")
    });
    let setup = setup(&corpus, &row, Family::Istio);
    let docs = read_docs(&setup.path().join("istio-sidecar-injector.yaml"));
    assert_eq!(docs.len(), 1);
    let cm = &docs[0];
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["metadata"]["name"], "istio-sidecar-injector");
    assert_eq!(cm["metadata"]["namespace"], "istio-system");
    let original = std::fs::read_to_string(
        corpus
            .join(ISTIO_DERIVED)
            .join("sidecar-injector-config.yaml"),
    )
    .unwrap();
    let config = cm["data"]["config"].as_str().unwrap();
    assert_eq!(config.trim_end(), original.trim_end());
    let values: Value = serde_json::from_str(cm["data"]["values"].as_str().unwrap()).unwrap();
    assert_eq!(values["pilot"]["cni"]["enabled"], true);
    assert_eq!(values["pilot"]["cni"]["provider"], "default");
    assert_eq!(values["global"]["network"], "network1");
    let conf = std::fs::read_to_string(setup.config_path()).unwrap();
    assert!(conf.contains("kubernetesVersion: \"1.33\""));
    assert!(!conf.contains("nativeSidecars: false"));
    assert!(setup.args("istio").contains(&"--injector".to_owned()));

    // --set parsing: ints, bools and comma lists.
    let mut v = json!({});
    apply_sets(
        &mut v,
        "--set values.global.proxy.statusPort=0 --set values.global.proxy.excludeInboundPorts=4,5,6 --set values.global.mountMtlsCerts=true",
    );
    assert_eq!(v["global"]["proxy"]["statusPort"], 0);
    assert_eq!(v["global"]["proxy"]["excludeInboundPorts"], "4,5,6");
    assert_eq!(v["global"]["mountMtlsCerts"], true);

    // An IstioOperator overlay: values merged (null deletes), templates added.
    let row = row_at(&corpus, |r| {
        r.injector == "istio" && r.test.ends_with("-> custom-template.yaml.injected")
    });
    let setup = setup_istio(&corpus, &row, Family::Istio);
    let cm = &read_docs(&setup.path().join("istio-sidecar-injector.yaml"))[0];
    let config = parse_docs(cm["data"]["config"].as_str().unwrap());
    assert!(config[0]["templates"]["custom"].is_string());
    assert!(config[0]["templates"]["sidecar"].is_string());
    let mut base = json!({"a": {"b": 1, "c": 2}});
    deep_merge(&mut base, &json!({"a": {"b": null, "d": 3}}));
    assert_eq!(base, json!({"a": {"c": 2, "d": 3}}));

    // Old nodes: native sidecars off.
    let row = row_at(&corpus, |r| r.test.contains("TestInjectionOlderVersion"));
    let setup = setup_istio(&corpus, &row, Family::Istio);
    let conf = std::fs::read_to_string(setup.config_path()).unwrap();
    assert!(conf.contains("nativeSidecars: false"));
}

#[test]
fn linkerd_expectations() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let rows = corpus_rows(&corpus);
    let find = |suffix: &str| {
        rows.iter()
            .find(|r| r.injector == "linkerd" && r.test.ends_with(suffix))
            .expect("row")
    };
    // --manual: what the golden has and the input has not.
    let e = linkerd_cli_expectation(&corpus, find(" inject_emojivoto_deployment.golden.yml"));
    let Expectation::Workloads(ws) = e else {
        panic!()
    };
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].0, "Deployment/web");
    let Expect::Injected(Some(added)) = &ws[0].1 else {
        panic!("{:?}", ws[0].1)
    };
    assert!(added.init_containers.contains("linkerd-init"));
    assert!(
        added.init_containers.contains("linkerd-proxy")
            || added.containers.contains("linkerd-proxy")
    );
    assert!(!added.containers.contains("web-svc"));
    assert!(added.volumes.contains("linkerd-identity-end-entity"));
    // Already injected inputs: uninjected first, so the proxy counts.
    let Expectation::Workloads(ws) = linkerd_cli_expectation(
        &corpus,
        find(" inject_emojivoto_already_injected.golden.yml"),
    ) else {
        panic!()
    };
    assert!(
        ws.iter()
            .any(|(_, e)| matches!(e, Expect::Injected(Some(a)) if !a.is_empty()))
    );
    // Annotation-only: decision only.
    let Expectation::Workloads(ws) =
        linkerd_cli_expectation(&corpus, find(" inject_emojivoto_cronjob.golden.yml"))
    else {
        panic!()
    };
    assert_eq!(ws, vec![("CronJob/hello".into(), Expect::Injected(None))]);
    // Disabled: unchanged.
    let Expectation::Workloads(ws) = linkerd_cli_expectation(
        &corpus,
        find(" inject_emojivoto_deployment_injectDisabled.input.yml"),
    ) else {
        panic!()
    };
    assert!(ws.iter().all(|(_, e)| *e == Expect::Skipped));
    // exit code 1 with an empty golden: rejected.
    assert_eq!(
        linkerd_cli_expectation(&corpus, find(" inject_emojivoto_istio.input.yml")),
        Expectation::Rejected
    );
    // Webhook patches.
    let webhook = rows
        .iter()
        .find(|r| {
            Family::of(r) == Some(Family::LinkerdWebhook)
                && r.expected.ends_with("/pod-with-debug.patch.json")
        })
        .unwrap();
    let Expectation::Workloads(ws) = expectation(&corpus, webhook, Family::LinkerdWebhook) else {
        panic!()
    };
    assert_eq!(ws[0].0, "Pod/nginx");
    assert_eq!(
        ws[0].1,
        Expect::Injected(Some(Added {
            init_containers: set(&["linkerd-init", "linkerd-proxy"]),
            containers: set(&["linkerd-debug"]),
            volumes: set(&[
                "linkerd-proxy-init-xtables-lock",
                "linkerd-identity-end-entity",
                "linkerd-identity-token"
            ]),
        }))
    );
    // The annotation patches are not selected, the uninject rows neither.
    assert!(
        rows.iter()
            .filter(|r| r.test.contains("TestGetAnnotationPatch"))
            .all(|r| Family::of(r).is_none())
    );
    assert!(
        rows.iter()
            .filter(|r| r.injector == "linkerd (uninject)")
            .all(|r| Family::of(r).is_none())
    );
    // Webhook setup: a Namespace with the row's annotations, no --injector.
    let row = rows
        .iter()
        .find(|r| r.expected.ends_with("/pod-with-ns-annotations.patch.json"))
        .unwrap();
    let setup = setup_linkerd_webhook(&corpus, row);
    assert!(!setup.args("linkerd").contains(&"--injector".to_owned()));
    let ns = read_docs(&setup.path().join("namespace.json"));
    assert_eq!(ns[0]["metadata"]["name"], "kube-public");
    let ann = &ns[0]["metadata"]["annotations"];
    assert_eq!(ann["linkerd.io/inject"], "enabled");
    assert_eq!(ann["config.linkerd.io/skip-outbound-ports"], "34567");
    assert_eq!(ann["config.linkerd.io/invalid-key"], "invalid-value");
    // The debug sidecar flag becomes the pod annotation.
    let setup = setup_linkerd_cli(
        &corpus,
        find(" inject_emojivoto_deployment_debug.golden.yml"),
    );
    let doc = &read_docs(&setup.path().join("in0-0.json"))[0];
    assert_eq!(
        doc["spec"]["template"]["metadata"]["annotations"]["config.linkerd.io/enable-debug-sidecar"],
        "true"
    );
}
