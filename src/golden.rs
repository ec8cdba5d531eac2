//! Golden tests: `kind: InjectionTest` documents name input manifests and
//! the decision expected for each workload (and optionally the expected
//! injected manifest). `kubectl inject test` runs them with the same pipeline
//! as `lint` and `simulate`, and reports mismatches as structural diffs.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::Config;
use crate::diff::diff;
use crate::engine::{OWN_INJECTOR, WorkloadResult};
use crate::lint::Analysis;
use crate::load::{LoadOptions, Workspace, load};
use crate::model::workload::pod_template_path;
use crate::rules::reading;

/// API version of InjectionTest documents.
pub const API_VERSION: &str = "kubectl-inject.dev/v1alpha1";
/// Kind of the golden test documents.
pub const KIND: &str = "InjectionTest";

/// One InjectionTest document.
#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: String,
    /// The file holding the test, as the loader named it.
    pub file: String,
    /// Directory of `file`: inputs and outputs are relative to it.
    pub dir: PathBuf,
    pub inputs: Vec<String>,
    pub namespace: Option<String>,
    pub expect: Vec<Expectation>,
    /// Problems with the document itself (a missing or ill-typed field).
    pub errors: Vec<String>,
}

/// One `spec.expect[]` entry.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub injector: String,
    pub decision: String,
    /// `None`: not checked; `Some(None)`: no policy expected.
    pub policy: Option<Option<String>>,
    pub template: Option<String>,
    pub output: Option<String>,
}

/// What running one test came to.
#[derive(Debug, Clone)]
pub enum Verdict {
    Pass,
    /// Mismatch lines, one per problem (diff lines included).
    Fail(Vec<String>),
    /// The test could not run (an input is missing): exit code 2.
    Error(String),
}

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub verdict: Verdict,
    /// Expected output files rewritten by `--update`.
    pub updated: Vec<PathBuf>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    /// Tests that could not run (counted in `failed` as well).
    pub errors: usize,
}

/// Finds every InjectionTest under `dir`, in file order.
pub fn discover_tests(dir: &Path) -> Result<Vec<TestCase>, String> {
    if !dir.exists() {
        return Err(format!("{}: no such directory", dir.display()));
    }
    let ws = load(
        &[dir.to_path_buf()],
        &LoadOptions::default(),
        std::io::empty(),
    )?;
    let mut tests: Vec<TestCase> = ws
        .objects
        .iter()
        .filter(|o| o.api_version == API_VERSION && o.kind == KIND)
        .map(|o| {
            let file = ws.sources.get(o.file).name.clone();
            parse_test(&o.root.to_json(), &file)
        })
        .collect();
    tests.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(tests)
}

fn parse_test(root: &Value, file: &str) -> TestCase {
    let mut errors = Vec::new();
    let name = root["metadata"]["name"]
        .as_str()
        .unwrap_or("<unnamed>")
        .to_owned();
    let spec = &root["spec"];
    let inputs: Vec<String> = match spec["inputs"].as_array() {
        Some(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        None => Vec::new(),
    };
    if inputs.is_empty() {
        errors.push("spec.inputs: expected a non-empty list of paths".to_owned());
    }
    let namespace = spec["namespace"].as_str().map(str::to_owned);
    let mut expect = Vec::new();
    match spec["expect"].as_array() {
        Some(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match parse_expectation(item) {
                    Ok(e) => expect.push(e),
                    Err(message) => errors.push(format!("spec.expect[{i}]: {message}")),
                }
            }
        }
        _ => errors.push("spec.expect: expected a non-empty list".to_owned()),
    }
    let dir = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    TestCase {
        name,
        file: file.to_owned(),
        dir,
        inputs,
        namespace,
        expect,
        errors,
    }
}

fn parse_expectation(item: &Value) -> Result<Expectation, String> {
    let text = |v: &Value, field: &str| -> Result<Option<String>, String> {
        match v {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Null => Ok(None),
            _ => Err(format!("{field}: expected a string")),
        }
    };
    let workload = &item["workload"];
    let kind = text(&workload["kind"], "workload.kind")?.ok_or("workload.kind is required")?;
    let name = text(&workload["name"], "workload.name")?.ok_or("workload.name is required")?;
    let decision = text(&item["decision"], "decision")?.ok_or("decision is required")?;
    if !["inject", "skip", "deny", "conflict"].contains(&decision.as_str()) {
        return Err(format!(
            "decision `{decision}`: expected inject, skip, deny or conflict"
        ));
    }
    let policy = match item.get("policy") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => return Err("policy: expected a string or null".to_owned()),
    };
    Ok(Expectation {
        kind,
        name,
        namespace: text(&workload["namespace"], "workload.namespace")?,
        injector: text(&item["injector"], "injector")?.unwrap_or_else(|| OWN_INJECTOR.to_owned()),
        decision,
        policy,
        template: text(&item["template"], "template")?,
        output: text(&item["output"], "output")?,
    })
}

/// Runs one test: loads its inputs, simulates, compares.
pub fn run_test(case: &TestCase, config: &Config, update: bool) -> TestResult {
    let mut result = TestResult {
        name: case.name.clone(),
        file: case.file.clone(),
        verdict: Verdict::Pass,
        updated: Vec::new(),
    };
    if !case.errors.is_empty() {
        result.verdict = Verdict::Fail(case.errors.clone());
        return result;
    }
    let mut paths = Vec::new();
    for input in &case.inputs {
        let path = case.dir.join(input);
        if !path.exists() {
            result.verdict = Verdict::Error(format!(
                "input `{input}` ({}) does not exist",
                path.display()
            ));
            return result;
        }
        paths.push(path);
    }
    // The inputs of a test are one cluster, Kustomize roots and all.
    let analysis = Analysis {
        namespace: case.namespace.clone(),
        one_cluster: true,
        ..Analysis::new(paths, config)
    };
    let (ws, outcome) = match analysis.run(std::io::empty()) {
        Ok(done) => done,
        Err(message) => {
            result.verdict = Verdict::Error(message);
            return result;
        }
    };
    let expected_namespace = case.namespace.as_deref().unwrap_or("default");
    let mut failures = Vec::new();
    for expectation in &case.expect {
        let namespace = expectation
            .namespace
            .as_deref()
            .unwrap_or(expected_namespace);
        let label = format!("{}/{}/{}", expectation.kind, namespace, expectation.name);
        let Some(workload) = outcome.simulation.workloads.iter().find(|w| {
            w.kind == expectation.kind && w.name == expectation.name && w.namespace == namespace
        }) else {
            failures.push(format!("workload {label} not found in the inputs"));
            continue;
        };
        check(
            case,
            expectation,
            &label,
            workload,
            &ws,
            update,
            &mut failures,
            &mut result.updated,
        );
    }
    if !failures.is_empty() {
        result.verdict = Verdict::Fail(failures);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn check(
    case: &TestCase,
    expectation: &Expectation,
    label: &str,
    workload: &WorkloadResult,
    ws: &Workspace,
    update: bool,
    failures: &mut Vec<String>,
    updated: &mut Vec<PathBuf>,
) {
    let Some(injector) = workload
        .injectors
        .iter()
        .find(|i| i.injector == expectation.injector)
    else {
        failures.push(format!(
            "{label}: injector {} has no decision for this workload",
            expectation.injector
        ));
        return;
    };
    let got = injector.decision.as_str().to_owned();
    let prefix = if case.expect.len() > 1 {
        format!("{label}: ")
    } else {
        String::new()
    };
    if got != expectation.decision {
        failures.push(format!(
            "{prefix}decision: expected {}, got {got}",
            expectation.decision
        ));
    }
    let show = |v: Option<&str>| v.unwrap_or("none").to_owned();
    if let Some(policy) = &expectation.policy
        && policy.as_deref() != injector.policy.as_deref()
    {
        failures.push(format!(
            "{prefix}policy: expected {}, got {}",
            show(policy.as_deref()),
            show(injector.policy.as_deref())
        ));
    }
    if let Some(template) = &expectation.template
        && Some(template.as_str()) != injector.template.as_deref()
    {
        failures.push(format!(
            "{prefix}template: expected {template}, got {}",
            show(injector.template.as_deref())
        ));
    }
    let Some(output) = &expectation.output else {
        return;
    };
    let path = case.dir.join(output);
    let actual = injected_object(workload, ws);
    // `--update` writes only below the test's folder.
    if let Some(problem) = crate::source::leaves_its_folder(output) {
        failures.push(format!(
            "{prefix}output `{output}` {problem}: outputs are written below the test's folder"
        ));
        return;
    }
    if update {
        let mut text = serde_json::to_string_pretty(&actual).unwrap_or_default();
        text.push('\n');
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        match written {
            Ok(()) => updated.push(path),
            Err(e) => failures.push(format!("{prefix}writing {}: {e}", path.display())),
        }
        return;
    }
    let expected = match read_first_document(&path) {
        Ok(value) => value,
        Err(message) => {
            failures.push(format!("{prefix}output: {message}"));
            return;
        }
    };
    let changes = diff(&expected, &actual);
    if !changes.is_empty() {
        failures.push(format!(
            "{prefix}output differs from {} (- expected, + actual):",
            path.display()
        ));
        failures.extend(changes.iter().map(|c| format!("  {c}")));
    }
}

/// The workload as injection leaves it: for a Pod the whole object, for
/// other kinds the object with its pod template replaced by the injected one.
pub fn injected_object(workload: &WorkloadResult, ws: &Workspace) -> Value {
    let mut object = ws.objects[workload.object].root.to_json();
    let Some(pod) = &workload.pod_after else {
        return object;
    };
    match pod_template_path(&workload.kind) {
        Some("") | None => pod.clone(),
        Some(path) => {
            if let Some(slot) = object.pointer_mut(path) {
                *slot = pod.clone();
            }
            object
        }
    }
}

/// The first document of `path`, read with the crate's own loader.
fn read_first_document(path: &Path) -> Result<Value, String> {
    if !path.is_file() {
        return Err(format!(
            "expected output {} does not exist (run with --update to write it)",
            path.display()
        ));
    }
    let ws = load(
        &[path.to_path_buf()],
        &LoadOptions::default(),
        std::io::empty(),
    )?;
    if let Some(problem) = ws.problems.first() {
        let finding = reading::load_finding(problem);
        return Err(format!("{}: {}", path.display(), finding.message));
    }
    ws.objects
        .first()
        .map(|o| o.root.to_json())
        .ok_or_else(|| format!("{}: no Kubernetes object found", path.display()))
}

/// Runs every test under `dir`, writing the report to `out`.
pub fn run_all(
    dir: &Path,
    config: &Config,
    update: bool,
    out: &mut impl Write,
) -> Result<Summary, String> {
    let tests = discover_tests(dir)?;
    let mut summary = Summary::default();
    let io = |e: std::io::Error| format!("writing the report: {e}");
    if tests.is_empty() {
        writeln!(out, "no InjectionTest found under {}", dir.display()).map_err(io)?;
    }
    for case in &tests {
        let result = run_test(case, config, update);
        match &result.verdict {
            Verdict::Pass => {
                summary.passed += 1;
                writeln!(out, "PASS {} ({})", result.name, result.file).map_err(io)?;
            }
            Verdict::Fail(lines) => {
                summary.failed += 1;
                writeln!(out, "FAIL {} ({})", result.name, result.file).map_err(io)?;
                for line in lines {
                    writeln!(out, "    {line}").map_err(io)?;
                }
            }
            Verdict::Error(message) => {
                summary.failed += 1;
                summary.errors += 1;
                writeln!(out, "ERROR {} ({})", result.name, result.file).map_err(io)?;
                writeln!(out, "    {message}").map_err(io)?;
            }
        }
        for path in &result.updated {
            writeln!(out, "    updated {}", path.display()).map_err(io)?;
        }
    }
    writeln!(out, "{} passed, {} failed", summary.passed, summary.failed).map_err(io)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_an_expectation_with_null_policy() {
        let e = parse_expectation(&json!({
            "workload": {"kind": "Pod", "name": "p"},
            "decision": "inject",
            "policy": null,
            "template": "t@1.0.0"
        }))
        .unwrap();
        assert_eq!(e.policy, Some(None));
        assert_eq!(e.injector, OWN_INJECTOR);
        assert_eq!(e.namespace, None);
    }

    #[test]
    fn absent_policy_is_not_checked() {
        let e = parse_expectation(&json!({
            "workload": {"kind": "Pod", "name": "p"},
            "decision": "skip"
        }))
        .unwrap();
        assert_eq!(e.policy, None);
    }

    #[test]
    fn rejects_unknown_decisions() {
        let e = parse_expectation(&json!({
            "workload": {"kind": "Pod", "name": "p"},
            "decision": "maybe"
        }));
        assert!(e.unwrap_err().contains("maybe"));
    }
}
