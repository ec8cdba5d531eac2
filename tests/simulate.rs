//! End-to-end runs of `simulate` over `tests/fixtures/simulate/`: every
//! workload kind, every decision step, inheritance, parameters, rollouts.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const FIXTURE: &str = "tests/fixtures/simulate";

fn simulate(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .arg("simulate")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn report() -> Value {
    let (code, stdout) = simulate(&["--format", "json", FIXTURE]);
    assert_eq!(code, Some(1), "the fixture has one deliberate INJ101");
    serde_json::from_str(&stdout).unwrap()
}

/// `kind/namespace/name` → the own injector's entry.
fn decision(report: &Value, workload: &str) -> Value {
    let found = report["workloads"].as_array().unwrap().iter().find(|w| {
        let id = |k: &str| w[k].as_str().unwrap().to_owned();
        format!("{}/{}/{}", id("kind"), id("namespace"), id("name")) == workload
    });
    found.unwrap_or_else(|| panic!("{workload} is simulated"))["injectors"][0].clone()
}

#[test]
fn every_decision_step() {
    let r = report();
    let d = |w| decision(&r, w);
    // 1. hostNetwork and system namespaces.
    assert_eq!(d("DaemonSet/shop/node-agent")["decision"], "skip");
    assert!(
        d("DaemonSet/shop/node-agent")["reasons"][0]
            .as_str()
            .unwrap()
            .contains("hostNetwork")
    );
    assert_eq!(
        d("ReplicationController/kube-system/older")["decision"],
        "skip"
    );
    // 2. The namespace switch.
    assert!(
        d("ReplicaSet/legacy/old")["reasons"][0]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    // 3. Candidates: a higher priority skip beats the mesh default; a namespaced policy applies in its namespace.
    assert_eq!(d("CronJob/shop/report")["policy"], "no-jobs");
    assert_eq!(d("CronJob/shop/report")["decision"], "skip");
    assert_eq!(d("Pod/cart/checkout")["policy"], "cart/cart-canary-off");
    // 4. A pod opting in against a skipping policy.
    assert_eq!(d("Job/shop/opt-in")["decision"], "inject");
    assert_eq!(d("Job/shop/opt-in")["policy"], "mesh-default");
    // 5. Template: the pod's annotation, else the rollout (100 %), else the policy's.
    assert_eq!(
        d("PodTemplate/shop/pinned")["template"],
        "envoy-proxy@1.4.0"
    );
    assert_eq!(d("Deployment/shop/web")["template"], "envoy-proxy@1.5.0");
    assert_eq!(d("Pod/cart/checkout")["template"], "envoy-proxy@1.4.0");
    // A template that does not exist: the injector rejects the pod.
    assert_eq!(d("Rollout/shop/canary")["decision"], "deny");
    assert_eq!(r["diagnostics"][0]["rule"], "INJ101");
    // Every pod-carrying kind: an OpenShift DeploymentConfig, and an Argo
    // Rollout whose pods come from the Deployment its workloadRef names.
    assert_eq!(d("DeploymentConfig/shop/legacy-ui")["decision"], "inject");
    assert_eq!(d("Rollout/cart/checkout")["decision"], "inject");
    assert_eq!(d("Rollout/cart/checkout")["template"], "envoy-proxy@1.4.0");
    assert_eq!(r["summary"]["workloads"], 13);
    assert_eq!(r["summary"]["injected"], 8);
}

#[test]
fn inheritance_and_native_sidecars_shape_what_is_added() {
    let r = report();
    // 1.5.0 extends 1.4.0 extends base-proxy and turns on native sidecars.
    let web = decision(&r, "Deployment/shop/web");
    assert_eq!(
        web["added"]["initContainers"],
        serde_json::json!(["proxy-init", "proxy"])
    );
    assert_eq!(web["added"]["containers"], serde_json::json!([]));
    assert_eq!(web["added"]["volumes"], serde_json::json!(["proxy-certs"]));
    let checkout = decision(&r, "Pod/cart/checkout");
    assert_eq!(
        checkout["added"]["containers"],
        serde_json::json!(["proxy"])
    );
}

#[test]
fn diff_shows_parameters_and_interpolation() {
    let (_, out) = simulate(&["--diff", FIXTURE]);
    let web = out.split("Deployment/shop/web:").nth(1).unwrap();
    let web = web.split("StatefulSet/shop/db:").next().unwrap();
    // The pod's parameter annotation (250m) replaces the default (100m).
    assert!(web.contains("\"cpu\":\"250m\""), "{web}");
    assert!(web.contains("\"restartPolicy\":\"Always\""), "{web}");
    assert!(web.contains("[\"--namespace\",\"shop\"]"), "{web}");
    assert!(
        web.contains("proxy.example/template: \"envoy-proxy@1.5.0\""),
        "{web}"
    );
}

#[test]
fn explain_prints_the_reason_chain() {
    let (_, out) = simulate(&["--explain", FIXTURE]);
    assert!(out.contains(
        "Job/shop/opt-in (tests/fixtures/simulate/workloads.yaml:37) kubectl-inject: inject"
    ));
    assert!(out.contains("  2. pod annotation kubectl-inject.dev/inject=\"true\""));
}

#[test]
fn human_output_is_a_table_then_findings() {
    let (code, out) = simulate(&[FIXTURE]);
    assert_eq!(code, Some(1));
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("WORKLOAD")
            && header.contains("DECISION")
            && header.contains("TEMPLATE")
    );
    assert!(out.contains("Rollout/shop/canary"));
    assert!(out.ends_with("simulate: 1 error, 0 warnings, 0 infos in 4 files (22 documents, 13 workloads, 8 injected)\n"), "{out}");
}

#[test]
fn rollout_buckets_are_deterministic() {
    let first = report();
    let second = report();
    assert_eq!(first["workloads"], second["workloads"]);
    // docs/commands.md documents the bucket so users can predict it.
    let bucket =
        kubectl_inject::injectors::own::policy::rollout_bucket("shop", "Deployment", "web");
    assert!(
        decision(&first, "Deployment/shop/web")["reasons"][1]
            .as_str()
            .unwrap()
            .contains(&format!("bucket is {bucket}"))
    );
}

#[test]
fn lint_runs_the_same_checks_without_the_table() {
    Command::cargo_bin("kubectl-inject")
        .unwrap()
        .args(["lint", FIXTURE])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("INJ101"))
        .stdout(predicate::str::contains("WORKLOAD").not());
}

#[test]
fn enforcement_priority_service_accounts_and_selectors() {
    let (code, stdout) = simulate(&["--format", "json", "tests/fixtures/decisions"]);
    assert_eq!(code, Some(0));
    let r: Value = serde_json::from_str(&stdout).unwrap();
    // Enforced cluster policy beats the tenant's skip (namespace selected with In, NotIn, DoesNotExist).
    let vault = decision(&r, "Deployment/team/card-vault");
    assert_eq!(
        (vault["decision"].as_str(), vault["policy"].as_str()),
        (Some("inject"), Some("pci-audit"))
    );
    assert_eq!(vault["template"], "audit@2.0.0");
    // A namespaced policy beats a cluster policy of any priority.
    let blog = decision(&r, "Deployment/team/blog");
    assert_eq!(
        (blog["decision"].as_str(), blog["policy"].as_str()),
        (Some("skip"), Some("team/tenant-skip"))
    );
    // The service-account allow-list selects only the `payments` pods.
    let payments = decision(&r, "Deployment/team/payments");
    assert_eq!(payments["policy"], "team/payments-only");
    assert_eq!(payments["template"], "proxy@1.0.0");
}

/// A cluster keeps one object per name, so each template version is its own
/// object `NAME-VERSION`: `envoy-proxy-1.5.0` at version 1.5.0 is template
/// `envoy-proxy@1.5.0` for policies, pod annotations, `extends` and
/// `${template.name}`; a name whose suffix is not its version stays whole.
#[test]
fn template_objects_named_by_version() {
    let dir = "tests/fixtures/template-names";
    let (code, stdout) = simulate(&["--format", "json", dir]);
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(code, Some(0), "no findings: {:#}", r["diagnostics"]);
    let web = decision(&r, "Deployment/shop/web");
    assert_eq!(
        (web["decision"].as_str(), web["policy"].as_str()),
        (Some("inject"), Some("mesh"))
    );
    assert_eq!(web["template"], "envoy-proxy@1.5.0");
    assert_eq!(
        decision(&r, "Deployment/shop/pinned")["template"],
        "envoy-proxy@1.5.0",
        "the highest version of `envoy-proxy`"
    );
    assert_eq!(
        decision(&r, "Deployment/shop/worker")["template"],
        "agent-2.0.0@1.0.0"
    );

    // The injected pod: the parent's (1.4.0) fields merged, names without the version.
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .args(["render", dir])
        .output()
        .unwrap();
    let rendered = String::from_utf8(output.stdout).unwrap();
    assert!(rendered.contains("value: envoy-proxy@1.5.0"), "{rendered}");
    assert!(
        rendered.contains(r#"\"template\":\"envoy-proxy\",\"version\":\"1.5.0\""#),
        "the status annotation names the template: {rendered}"
    );
}
