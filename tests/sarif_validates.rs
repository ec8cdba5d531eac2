//! The SARIF report is valid SARIF 2.1.0, checked with Microsoft's validator
//! (`@microsoft/sarif-multitool validate`, the one the SARIF spec's authors
//! maintain), and agrees with the JSON report.
//!
//! The validator is a Node package pinned in `tools/package.json`; install it
//! once with
//!
//! ```text
//! npm ci --prefix tools
//! ```
//!
//! Without it the structural checks still run and the validation is skipped
//! with a message, except in CI (`CI=true`), where a missing validator fails.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const INSTALL: &str = "npm ci --prefix tools";

/// Manifests that make INJ001, INJ004 (with a related location in another
/// file), INJ005 and INJ008 fire, and one clean file.
const FILES: &[(&str, &str)] = &[
    (
        "apps/broken.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  annotations: {sidecar.istio.io/inject: \"true\"
---
apiVersion: v1
kind: Service
metadata: {name: still-checked}
",
    ),
    (
        "apps/settings.yaml",
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
  mode: slow
",
    ),
    (
        "apps/web.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    lint.kubectl-inject.dev/ignore: \"INJ302\"
spec:
  selector: {matchLabels: {app: wéb}}
  template:
    metadata: {labels: {app: wéb}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
",
    ),
    (
        "apps/web-again.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
",
    ),
    (
        "apps/namespace.yaml",
        "apiVersion: v1
kind: Namespace
metadata: {name: shop}
",
    ),
];

fn tree() -> TempDir {
    // Pin the configuration so none is found above the temporary directory.
    let mut files = vec![(".kubectl-inject.yaml", "namespace: default\n")];
    files.extend_from_slice(FILES);
    common::tree(&files)
}

/// Runs `lint --format FORMAT apps` in `dir` and returns its parsed stdout.
fn lint(dir: &Path, format: &str) -> (Vec<u8>, Value) {
    let output = Command::cargo_bin("kubectl-inject")
        .expect("binary is built")
        .current_dir(dir)
        .env_remove("GITHUB_STEP_SUMMARY")
        .args(["lint", "--format", format, "apps"])
        .output()
        .expect("binary runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "lint should find errors; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "--format {format} is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    (output.stdout, value)
}

#[test]
fn sarif_report_is_valid_and_matches_the_json_report() {
    let dir = tree();
    let (sarif_bytes, sarif) = lint(dir.path(), "sarif");
    let (_, json) = lint(dir.path(), "json");

    check_structure(&sarif, &json);

    let report = dir.path().join("report.sarif");
    fs::write(&report, &sarif_bytes).unwrap();
    validate(dir.path(), "report.sarif");
}

/// `simulate` carries its workloads in the run's properties; the report
/// still validates, and the workloads equal the JSON report's.
#[test]
fn simulate_sarif_is_valid_and_carries_the_workloads() {
    let run = |format: &str| {
        let output = Command::cargo_bin("kubectl-inject")
            .unwrap()
            .args(["simulate", "--format", format, "tests/fixtures/simulate"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let sarif = run("sarif");
    let json = run("json");
    assert_eq!(
        sarif["runs"][0]["properties"]["workloads"],
        json["workloads"]
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("simulate.sarif"),
        serde_json::to_vec_pretty(&sarif).unwrap(),
    )
    .unwrap();
    validate(dir.path(), "simulate.sarif");
}

fn check_structure(sarif: &Value, json: &Value) {
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "kubectl-inject");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    let rules = driver["rules"].as_array().expect("driver.rules");
    for rule in rules {
        let id = rule["id"].as_str().expect("rule id");
        assert!(
            rule["helpUri"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{id} has no helpUri"
        );
        assert!(rule["shortDescription"]["text"].is_string(), "{id}");
        assert!(rule["help"]["markdown"].is_string(), "{id}");
    }

    let results = run["results"].as_array().expect("results");
    let diagnostics = json["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(
        results.len(),
        diagnostics.len(),
        "one SARIF result per JSON diagnostic"
    );
    let artifacts = run["artifacts"].as_array().expect("artifacts");
    for (result, diagnostic) in results.iter().zip(diagnostics) {
        let rule = diagnostic["rule"].as_str().unwrap();
        assert_eq!(result["ruleId"], rule);
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], rule, "ruleIndex of {rule}");
        let level = match diagnostic["severity"].as_str().unwrap() {
            "info" => "note",
            other => other,
        };
        assert_eq!(result["level"], level, "{rule}");
        let text = result["message"]["text"].as_str().unwrap();
        assert!(
            text.starts_with(diagnostic["message"].as_str().unwrap()),
            "{rule}: {text}"
        );
        assert!(
            result["partialFingerprints"]
                .as_object()
                .is_some_and(|f| !f.is_empty()),
            "{rule} has no fingerprint"
        );

        let physical = &result["locations"][0]["physicalLocation"];
        let location = &physical["artifactLocation"];
        assert_eq!(location["uri"], diagnostic["file"], "{rule}");
        assert_eq!(location["uriBaseId"], "%SRCROOT%");
        let artifact = location["index"].as_u64().expect("artifact index") as usize;
        assert_eq!(artifacts[artifact]["location"]["uri"], location["uri"]);
        let region = &physical["region"];
        for (sarif_key, json_key) in [
            ("startLine", "line"),
            ("startColumn", "column"),
            ("endLine", "end_line"),
            ("endColumn", "end_column"),
        ] {
            assert_eq!(
                region[sarif_key], diagnostic[json_key],
                "{rule}: {sarif_key} vs {json_key}"
            );
        }
        if let Some(object) = diagnostic["object"].as_object() {
            let logical = &result["locations"][0]["logicalLocations"][0];
            assert_eq!(logical["kind"], "resource");
            assert_eq!(logical["name"], object["name"]);
        }
    }

    let fired: Vec<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    for rule in ["INJ001", "INJ004", "INJ005", "INJ008"] {
        assert!(fired.contains(&rule), "{rule} did not fire: {fired:?}");
    }
    let duplicate = results.iter().find(|r| r["ruleId"] == "INJ004").unwrap();
    let related = duplicate["relatedLocations"]
        .as_array()
        .expect("INJ004 points at the first definition");
    assert!(related[0]["message"]["text"].is_string());
    assert!(related[0]["physicalLocation"]["region"]["startLine"].is_u64());
    assert!(
        !artifacts
            .iter()
            .any(|a| a["location"]["uri"] == "apps/namespace.yaml"),
        "the clean file has no results, so it is not an artifact"
    );
}

/// `tools/node_modules/.bin/sarif-multitool`, if installed.
fn validator() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/node_modules/.bin");
    let name = if cfg!(windows) {
        "sarif-multitool.cmd"
    } else {
        "sarif-multitool"
    };
    Some(bin.join(name)).filter(|p| p.exists())
}

/// Runs the validator on `file` (relative to `dir`: the npm launcher passes
/// its arguments through a shell) and fails on any error it reports. It
/// exits 0 even when it finds errors, so its own SARIF output is read.
fn validate(dir: &Path, file: &str) {
    let Some(validator) = validator() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the SARIF validator is missing: run `{INSTALL}` before the tests");
        }
        eprintln!("SARIF validation skipped: run `{INSTALL}` to install the validator");
        return;
    };
    let output = Process::new(&validator)
        .current_dir(dir)
        .args(["validate", "--output", "validation.sarif", file])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", validator.display()));
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the validator failed ({}):\n{console}",
        output.status
    );
    let log = fs::read(dir.join("validation.sarif"))
        .unwrap_or_else(|e| panic!("the validator wrote no log ({e}):\n{console}"));
    let log: Value = serde_json::from_slice(&log).expect("the validator's log is JSON");

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for run in log["runs"].as_array().into_iter().flatten() {
        let rules = run["tool"]["driver"]["rules"].as_array();
        for result in run["results"].as_array().into_iter().flatten() {
            // A result without `level` takes its rule's default, else "warning".
            let level = result["level"].as_str().or_else(|| {
                rules?
                    .iter()
                    .find(|r| r["id"] == result["ruleId"])?["defaultConfiguration"]["level"]
                    .as_str()
            });
            let line = format!(
                "{} {}",
                result["ruleId"].as_str().unwrap_or("?"),
                result["message"]["text"].as_str().unwrap_or("")
            );
            match level.unwrap_or("warning") {
                "error" => errors.push(line),
                "warning" => warnings.push(line),
                _ => {}
            }
        }
        for invocation in run["invocations"].as_array().into_iter().flatten() {
            if invocation["executionSuccessful"] == false {
                errors.push("the validator's run did not succeed".to_owned());
            }
            for key in [
                "toolExecutionNotifications",
                "toolConfigurationNotifications",
            ] {
                for note in invocation[key].as_array().into_iter().flatten() {
                    if note["level"] == "error" {
                        errors.push(format!("{key}: {}", note["message"]["text"]));
                    }
                }
            }
        }
    }
    for warning in &warnings {
        eprintln!("SARIF validator warning: {warning}");
    }
    assert!(
        errors.is_empty(),
        "the SARIF validator reports errors:\n{}\n\nconsole:\n{console}",
        errors.join("\n")
    );
}

/// A GitOps tree (two Kustomize overlays of one base): findings mapped to
/// the base, the patches and the kustomization lines, each result naming
/// its deployables; the report still validates.
#[test]
fn sarif_of_deployables_is_valid_and_names_them() {
    if !common::have_kubectl("the Kustomize overlays of the SARIF report") {
        return;
    }
    let run = |format: &str| {
        let output = Command::cargo_bin("kubectl-inject")
            .unwrap()
            .current_dir("tests/fixtures/deployables/kustomize")
            .args(["simulate", "--format", format, "."])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let sarif = run("sarif");
    let json = run("json");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), json["diagnostics"].as_array().unwrap().len());
    for (result, diagnostic) in results.iter().zip(json["diagnostics"].as_array().unwrap()) {
        assert_eq!(
            result["properties"]["deployables"],
            diagnostic["deployables"]
        );
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(
            !uri.starts_with('<'),
            "a rendering is not a location: {result:#}"
        );
    }
    assert!(
        results.iter().any(|r| r["properties"]["deployables"]
            == serde_json::json!(["overlays/dev", "overlays/prod"])),
        "{sarif:#}"
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("deployables.sarif"),
        serde_json::to_vec_pretty(&sarif).unwrap(),
    )
    .unwrap();
    validate(dir.path(), "deployables.sarif");
}
