//! End-to-end runs of `kubectl inject test`: the example repository's golden
//! tests pass; a fixture with wrong expectations fails with a structural
//! diff; `--update` rewrites a stale expected output.

use std::path::Path;

use assert_cmd::Command;

mod common;

fn run_test(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .arg("test")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_example_repository_passes() {
    let (code, stdout, stderr) = run_test(&["testdata/tests"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let summary = stdout.lines().last().unwrap();
    let (passed, failed) = summary.split_once(" passed, ").expect("summary line");
    assert!(passed.parse::<usize>().unwrap() >= 4, "{stdout}");
    assert_eq!(failed, "0 failed");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for name in [
        "mesh-default-injects-emojivoto",
        "batch-and-host-network-are-skipped",
        "payments-vault-agent",
        "pod-annotations-override",
    ] {
        assert!(stdout.contains(&format!("PASS {name} (")), "{stdout}");
    }
}

#[test]
fn wrong_expectations_fail_with_a_diff_by_field_path() {
    let (code, stdout, _) = run_test(&["tests/fixtures/golden/failing"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL wrong-expectations (tests/fixtures/golden/failing/test.yaml)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    Pod/shop/debug: decision: expected inject, got skip"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            r#"~ spec.template.spec.containers[proxy].image: "example/proxy:0.9" → "example/proxy:1.0""#
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ spec.template.spec.volumes"),
        "the missing volume is shown: {stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("0 passed, 1 failed"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn update_rewrites_the_expected_output() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new("tests/fixtures/golden"), tmp.path());
    let dir = tmp.path().join("stale");
    let dir = dir.to_str().unwrap();
    let expected = tmp.path().join("stale/expected/web.yaml");
    let before = std::fs::read_to_string(&expected).unwrap();

    let (code, stdout, _) = run_test(&[dir]);
    assert_eq!(code, Some(1), "stale before --update: {stdout}");

    let (code, stdout, _) = run_test(&[dir, "--update"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("updated "), "{stdout}");
    let after = std::fs::read_to_string(&expected).unwrap();
    assert_ne!(before, after);
    assert!(after.contains("example/proxy:1.0"), "{after}");
    assert!(after.contains("proxy-certs"), "{after}");

    let (code, stdout, _) = run_test(&[dir]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn update_does_not_hide_a_wrong_decision() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(Path::new("tests/fixtures/golden"), tmp.path());
    let dir = tmp.path().join("failing");
    let (code, stdout, _) = run_test(&[dir.to_str().unwrap(), "--update"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("decision: expected inject, got skip"),
        "{stdout}"
    );
    assert!(!stdout.contains("output differs"), "{stdout}");
}

#[test]
fn a_missing_directory_exits_2() {
    let (code, _, stderr) = run_test(&["tests/fixtures/golden/no-such-dir"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no-such-dir"), "{stderr}");
}

#[test]
fn a_missing_input_exits_2_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("test.yaml"),
        "apiVersion: kubectl-inject.dev/v1alpha1\n\
         kind: InjectionTest\n\
         metadata: {name: lost}\n\
         spec:\n  inputs: [gone.yaml]\n  expect:\n    - workload: {kind: Pod, name: p}\n      decision: skip\n",
    )
    .unwrap();
    let (code, stdout, _) = run_test(&[tmp.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.contains("input `gone.yaml`"), "{stdout}");
}

#[test]
fn a_workload_not_in_the_inputs_fails() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        Path::new("tests/fixtures/golden/inputs"),
        &tmp.path().join("inputs"),
    );
    std::fs::write(
        tmp.path().join("test.yaml"),
        "apiVersion: kubectl-inject.dev/v1alpha1\n\
         kind: InjectionTest\n\
         metadata: {name: ghost}\n\
         spec:\n  inputs: [inputs]\n  namespace: shop\n  expect:\n    - workload: {kind: Deployment, name: api}\n      decision: inject\n",
    )
    .unwrap();
    let (code, stdout, _) = run_test(&[tmp.path().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("workload Deployment/shop/api not found in the inputs"),
        "{stdout}"
    );
}

/// An InjectionTest's inputs are one cluster, whatever their deployables:
/// the policies (plain files) reach the workload of a Kustomize overlay,
/// whose `namespace:` and Namespace decide the injection.
#[test]
fn inputs_that_are_kustomize_overlays_are_one_cluster_with_the_rest() {
    if !common::have_kubectl("a Kustomize overlay as a test input") {
        return;
    }
    let tmp = common::tree(&[
        (
            "policy/templates.yaml",
            &common::envoy_template("1.4.0", "1.31.2"),
        ),
        (
            "policy/mesh.yaml",
            &common::mesh_policy("envoy-proxy@1.4.0"),
        ),
        ("base/kustomization.yaml", "resources: [web.yaml]\n"),
        (
            "base/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1.27}]}\n",
        ),
        (
            "overlays/prod/kustomization.yaml",
            "namespace: prod\nresources: [../../base, namespace.yaml]\n",
        ),
        (
            "overlays/prod/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels: {kubectl-inject.dev/injection: enabled}\n",
        ),
        (
            "tests/prod.yaml",
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: InjectionTest\nmetadata: {name: prod-is-injected}\nspec:\n  inputs: [../policy, ../overlays/prod]\n  namespace: prod\n  expect:\n    - workload: {kind: Deployment, name: web}\n      decision: inject\n      policy: mesh-default\n      template: envoy-proxy@1.4.0\n",
        ),
    ]);
    let (code, stdout, stderr) = run_test(&[tmp.path().join("tests").to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("PASS prod-is-injected"), "{stdout}");
}
