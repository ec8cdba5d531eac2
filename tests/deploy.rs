//! `deploy/`: the CRDs generated from the JSON Schemas, the injector's
//! manifests and the cert-manager variant.
//!
//! - `deploy/crds.yaml` is `kubectl inject schema --crd`, byte for byte
//!   (`UPDATE_DEPLOY=1 cargo nextest run --test deploy` rewrites it).
//! - The CRDs are accepted by a real kube-apiserver (1.20, see
//!   tests/common/apiserver.rs; these tests skip as the other live tests do
//!   when there is none), and so are the repository's own policies and
//!   templates under them, and every manifest of `deploy/` (server dry run).
//! - `kubectl inject lint deploy/` finds nothing, and
//!   `kubectl kustomize deploy/cert-manager` builds the webhooks of
//!   `deploy/webhooks/` with cert-manager's CA injection.
//!
//! The CRDs go to the server under a group of this process's own
//! (`<suffix>.kubectl-inject.dev`), deleted at the end: a CRD's scope cannot
//! change once it is established, the server outlives test runs, and other
//! tests may install CRDs of the real group (tests/live.rs installs
//! stand-ins of its own). Nothing of the group applies to the server for
//! real but the namespace `kubectl-inject-system`: the Deployment, the
//! Service and the webhooks are server dry runs only (a real
//! MutatingWebhookConfiguration with failurePolicy Fail and no server behind
//! it would refuse every pod the other tests create).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::apiserver::{Apiserver, apiserver, unique};
use kubectl_inject::schema::crd;
use serde_json::Value;

fn root() -> &'static Path {
    common::package_root()
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

const REGENERATE: &str = "regenerate it: `cargo run -- schema --crd > deploy/crds.yaml` \
     (or `UPDATE_DEPLOY=1 cargo nextest run --test deploy`)";

#[test]
fn crds_yaml_is_the_generated_output() {
    let generated = crd::yaml(None).expect("the CRDs serialise");
    let path = deploy().join("crds.yaml");
    if std::env::var_os("UPDATE_DEPLOY").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "{} differs from the CRDs the schemas give (first at line {line}); it is generated, \
             do not edit it: {REGENERATE}",
            path.display()
        );
    }
    // The command prints the same.
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-inject"))
        .args(["schema", "--crd"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), generated);
    assert!(generated.starts_with('#'), "a comment header");
    assert!(generated.contains("kubectl inject schema --crd > deploy/crds.yaml"));
}

#[test]
fn schema_crd_prints_one_kind_and_refuses_the_others() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kubectl-inject"))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let one = run(&["schema", "--crd", "sidecartemplate"]);
    assert!(one.status.success());
    let text = String::from_utf8(one.stdout).unwrap();
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 1);
    assert!(text.contains("name: sidecartemplates.kubectl-inject.dev"));

    let test = run(&["schema", "--crd", "InjectionTest"]);
    assert_eq!(test.status.code(), Some(2));
    let stderr = String::from_utf8(test.stderr).unwrap();
    assert!(stderr.contains("not a cluster resource"), "{stderr}");
}

/// `text` (CRDs, or objects of the group) with the group renamed to `group`:
/// the CRDs' `metadata.name` and `spec.group`, the objects' `apiVersion`.
/// Descriptions keep the real group.
fn regroup(text: &str, group: &str) -> (String, usize) {
    let mut count = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let renamed = if line == "  group: kubectl-inject.dev" {
                Some(format!("  group: {group}"))
            } else if let Some(plural) = line
                .strip_prefix("  name: ")
                .and_then(|n| n.strip_suffix(".kubectl-inject.dev"))
            {
                Some(format!("  name: {plural}.{group}"))
            } else if line == "apiVersion: kubectl-inject.dev/v1alpha1" {
                Some(format!("apiVersion: {group}/v1alpha1"))
            } else {
                None
            };
            match renamed {
                Some(r) => {
                    count += 1;
                    r
                }
                None => line.to_owned(),
            }
        })
        .collect();
    (lines.join("\n") + "\n", count)
}

/// Deletes this process's CRDs (and with them their objects) at the end.
struct Crds<'a> {
    api: &'a Apiserver,
    group: String,
}

impl Drop for Crds<'_> {
    fn drop(&mut self) {
        for kind in crd::kinds() {
            let name = crd::crd(kind).unwrap()["spec"]["names"]["plural"]
                .as_str()
                .unwrap()
                .to_owned();
            let _ = self.api.try_kubectl(
                &[
                    "delete",
                    "crd",
                    &format!("{name}.{}", self.group),
                    "--ignore-not-found",
                    "--wait=false",
                ],
                None,
            );
        }
    }
}

#[test]
fn the_api_server_accepts_the_crds_and_our_objects() {
    let Some(api) = apiserver() else { return };
    let group = format!("{}.kubectl-inject.dev", unique("crd"));
    let crds = std::fs::read_to_string(deploy().join("crds.yaml")).unwrap();
    let (crds, renamed) = regroup(&crds, &group);
    assert_eq!(renamed, 6, "three CRDs, each with a name and a group");
    let _cleanup = Crds {
        api,
        group: group.clone(),
    };

    // Structural schemas, or the server refuses them; applying twice changes nothing.
    for _ in 0..2 {
        api.kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=deploy-test",
                "-f",
                "-",
            ],
            Some(&crds),
        );
    }
    let names: Vec<String> = [
        "sidecartemplates",
        "injectionpolicies",
        "clusterinjectionpolicies",
    ]
    .iter()
    .map(|p| format!("crd/{p}.{group}"))
    .collect();
    let mut wait = vec!["wait", "--for=condition=established", "--timeout=60s"];
    wait.extend(names.iter().map(String::as_str));
    api.kubectl(&wait, None);
    for name in &names {
        let conditions = api.kubectl(
            &["get", name, "-o", "jsonpath={.status.conditions[*].type}"],
            None,
        );
        assert!(
            !conditions.contains("NonStructuralSchema"),
            "{name}: {conditions}"
        );
    }

    // The repository's own templates and policies (the tenant's in a namespace of ours).
    let tenant = unique("deploy-payments");
    api.kubectl(&["create", "namespace", &tenant], None);
    let policy = root().join("testdata/policy");
    let mut files: Vec<PathBuf> = [policy.join("templates"), policy.clone()]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut kinds = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .unwrap()
            .replace("namespace: payments\n", &format!("namespace: {tenant}\n"));
        let (text, renamed) = regroup(&text, &group);
        assert!(renamed > 0, "{} holds objects of the group", file.display());
        let out = api.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&text));
        kinds.extend(
            out.lines()
                .map(|l| l.split('.').next().unwrap_or_default().to_owned()),
        );
    }
    for kind in [
        "sidecartemplate",
        "injectionpolicy",
        "clusterinjectionpolicy",
    ] {
        assert!(
            kinds.contains(&kind.to_owned()),
            "no {kind} applied: {kinds:?}"
        );
    }

    // The schema is in force: a wrong enum, type and duplicate are refused.
    let bad = format!(
        "apiVersion: {group}/v1alpha1
kind: ClusterInjectionPolicy
metadata: {{name: bad}}
spec: {{action: maybe, priority: high, serviceAccounts: [web, web]}}
"
    );
    let out = api.try_kubectl(
        &["apply", "--dry-run=server", "--validate=false", "-f", "-"],
        Some(&bad),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {bad}");
    for field in ["spec.action", "spec.priority", "spec.serviceAccounts[1]"] {
        assert!(stderr.contains(field), "{field} not refused: {stderr}");
    }

    // One object per template version, `NAME-VERSION`, with the printer columns.
    let template = format!(
        "apiVersion: {group}/v1alpha1
kind: SidecarTemplate
metadata: {{name: envoy-proxy-1.5.0, namespace: {tenant}}}
spec:
  version: 1.5.0
  extends: base-proxy@1.0.0
  containers: [{{name: proxy, image: example/envoy:1.5.0, ports: [{{containerPort: 15001}}]}}]
"
    );
    api.kubectl(&["apply", "-f", "-"], Some(&template));
    let table = api.kubectl(
        &["get", &format!("sidecartemplates.{group}"), "-n", &tenant],
        None,
    );
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "VERSION", "EXTENDS", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row[..3],
        ["envoy-proxy-1.5.0", "1.5.0", "base-proxy@1.0.0"],
        "{table}"
    );
    // Kubernetes objects inside a template are kept whole, not pruned.
    let port = api.kubectl(
        &[
            "get",
            &format!("sidecartemplates.{group}"),
            "envoy-proxy-1.5.0",
            "-n",
            &tenant,
            "-o",
            "jsonpath={.spec.containers[0].ports[0].containerPort}",
        ],
        None,
    );
    assert_eq!(port, "15001");
}

/// The files `kubectl apply -f deploy/` applies (not `crds.yaml`, which the
/// test above checks under a group of its own), in kubectl's order.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("crds.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_api_server_accepts_the_manifests() {
    let Some(api) = apiserver() else { return };
    let files = manifests();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "00-namespace.yaml",
            "10-rbac.yaml",
            "20-deployment.yaml",
            "30-service.yaml",
            "40-pdb.yaml"
        ]
    );
    // The namespace for real (the others are server dry runs in it). Once
    // more if another test created it between apply's read and its create.
    let apply = ["apply", "-f", files[0].to_str().unwrap()];
    if !api.try_kubectl(&apply, None).status.success() {
        api.kubectl(&apply, None);
    }
    let serves_policy_v1 = api
        .kubectl(&["api-versions"], None)
        .lines()
        .any(|l| l == "policy/v1");
    let mut applied = String::new();
    for file in &files[1..] {
        let text = std::fs::read_to_string(file).unwrap();
        let text = if text.contains("\nkind: PodDisruptionBudget\n") && !serves_policy_v1 {
            // Kubernetes 1.20 serves PodDisruptionBudget as policy/v1beta1
            // only (policy/v1 from 1.21); the fields are the same.
            assert!(text.contains("\napiVersion: policy/v1\n"), "{text}");
            text.replace(
                "\napiVersion: policy/v1\n",
                "\napiVersion: policy/v1beta1\n",
            )
        } else {
            text
        };
        applied += &api.kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&text));
    }
    // The webhooks, as a directory: kubectl skips the extension-less `Kustomization`.
    let webhooks = deploy().join("webhooks");
    applied += &api.kubectl(
        &[
            "apply",
            "--dry-run=server",
            "-f",
            webhooks.to_str().unwrap(),
        ],
        None,
    );
    for object in [
        "serviceaccount/kubectl-inject",
        "clusterrole.rbac.authorization.k8s.io/kubectl-inject",
        "clusterrolebinding.rbac.authorization.k8s.io/kubectl-inject",
        "deployment.apps/kubectl-inject",
        "service/kubectl-inject",
        "poddisruptionbudget.policy/kubectl-inject",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/kubectl-inject",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/kubectl-inject",
    ] {
        assert!(
            applied.contains(&format!("{object} created (server dry run)"))
                || applied.contains(&format!("{object} configured (server dry run)"))
                || applied.contains(&format!("{object} unchanged (server dry run)")),
            "{object} not applied:\n{applied}"
        );
    }
}

#[test]
fn lint_of_deploy_finds_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-inject"))
        .args(["lint", "--format", "json", "--fail-on", "info", "deploy/"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["diagnostics"], serde_json::json!([]), "{report:#}");
    // Every file read: the manifests, the CRDs, and what Kustomize read to
    // build deploy/cert-manager (its kustomization and certificates, the
    // webhooks and their kustomization).
    assert_eq!(report["summary"]["files"], 11, "{:#}", report["summary"]);
    assert_eq!(report["summary"]["skipped_documents"], 0);
    assert_eq!(report["summary"]["workloads"], 1, "the Deployment");
}

fn have_kubectl() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: kubectl (its kustomize) is not on PATH");
    }
    found
}

/// The documents of a YAML stream, as JSON.
fn documents(text: &str) -> Vec<Value> {
    let parsed = kubectl_inject::yaml::parse_stream(text, &Default::default());
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    parsed.documents.iter().map(|(_, n)| n.to_json()).collect()
}

#[test]
fn kustomize_builds_the_cert_manager_variant() {
    if !have_kubectl() {
        return;
    }
    let out = Command::new("kubectl")
        .args(["kustomize", "deploy/cert-manager"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = documents(&String::from_utf8(out.stdout).unwrap());
    let kinds = |group: &str| -> Vec<String> {
        let mut kinds: Vec<String> = built
            .iter()
            .filter(|d| d["apiVersion"].as_str().unwrap().starts_with(group))
            .map(|d| {
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        kinds("cert-manager.io/"),
        [
            "Certificate/kubectl-inject-ca",
            "Certificate/kubectl-inject-serving",
            "Issuer/kubectl-inject-ca",
            "Issuer/kubectl-inject-selfsigned",
        ]
    );
    let serving = built
        .iter()
        .find(|d| d["metadata"]["name"] == "kubectl-inject-serving")
        .unwrap();
    assert_eq!(serving["spec"]["secretName"], "kubectl-inject-tls");
    assert_eq!(
        serving["spec"]["dnsNames"],
        serde_json::json!([
            "kubectl-inject.kubectl-inject-system.svc",
            "kubectl-inject.kubectl-inject-system.svc.cluster.local"
        ])
    );

    // The webhooks are deploy/webhooks/ plus the annotation, nothing else.
    assert_eq!(kinds("admissionregistration.k8s.io/").len(), 2);
    for file in ["mutating.yaml", "validating.yaml"] {
        let text = std::fs::read_to_string(deploy().join("webhooks").join(file)).unwrap();
        let plain = documents(&text).remove(0);
        let mut patched = built
            .iter()
            .find(|d| d["kind"] == plain["kind"])
            .unwrap_or_else(|| panic!("{file} is built"))
            .clone();
        let annotations = patched["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations")
            .unwrap();
        assert_eq!(
            annotations,
            serde_json::json!({
                "cert-manager.io/inject-ca-from": "kubectl-inject-system/kubectl-inject-serving"
            })
        );
        assert_eq!(patched, plain, "{file}");
    }
}
