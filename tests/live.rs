//! `kubectl inject simulate --live` against a real kube-apiserver (1.20, from
//! `../shared/tools/kube-apiserver.sh`; see tests/common/apiserver.rs for
//! where the server comes from and when these tests skip or fail).
//!
//! Every test works in namespaces of its own (with a per-process suffix: the
//! server outlives test runs) and names cluster-scoped objects uniquely, so
//! the tests run in parallel, under cargo test and cargo-nextest alike.
//! Assertions look at the objects of the test's own namespaces only: other
//! tests' objects (webhook configurations, namespaces) may be there too.
//!
//! The cluster has no controller-manager and no kubelet: Deployments create no
//! ReplicaSets, ReplicaSets no Pods, and Pods stay Pending. Tests create each
//! level themselves (with real `ownerReferences`) and mark Pods Running.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::apiserver::{
    ADMIN_TOKEN, Apiserver, Run, apiserver, inject, namespace, pod, pod_with, unique,
};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(90);

const ENABLED: &str = "kubectl-inject.dev/injection: enabled";

/// envoy-proxy in three versions: 1.3.0 (what old pods were injected
/// from), 1.4.0 (what the policy selects) and 1.5.0 (the next one).
fn templates() -> String {
    [
        common::envoy_template("1.3.0", "1.30.0"),
        common::envoy_template("1.4.0", "1.31.2"),
        common::envoy_template("1.5.0", "1.32.0"),
    ]
    .join("---\n")
}

/// The platform's policy: envoy-proxy@VERSION in namespaces labelled
/// `kubectl-inject.dev/injection: enabled`.
fn policy(version: &str) -> String {
    common::mesh_policy(&format!("envoy-proxy@{version}"))
}

/// A policy repository (a PATH for `simulate`) whose policy selects
/// envoy-proxy@`version`.
fn policy_dir(version: &str) -> tempfile::TempDir {
    common::tree(&[
        ("templates.yaml", &templates()),
        ("policy.yaml", &policy(version)),
    ])
}

/// `pod(ns, name)` injected by `kubectl-inject render` with the policy
/// repository `policies`, in a namespace labelled for injection (whatever the
/// real namespace's labels are).
fn rendered_pod(policies: &Path, ns: &str, name: &str) -> String {
    render_pod(
        &[policies.to_str().unwrap()],
        &format!("{}{}", namespace(ns, &[ENABLED]), pod(ns, name)),
        "kubectl-inject.dev/status",
    )
}

/// The Pod that `kubectl-inject render ARGS… INPUT` prints, checked to carry
/// the status annotation `status`, as a YAML document to apply.
fn render_pod(args: &[&str], input: &str, status: &str) -> String {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), input).unwrap();
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    all.push(file.path().to_str().unwrap());
    let run = inject(&all, &[], DEADLINE);
    run.expect_code(&[0]);
    let doc = run
        .stdout
        .split("\n---\n")
        .find(|doc| doc.lines().any(|l| l == "kind: Pod"))
        .unwrap_or_else(|| panic!("render printed no Pod:\n{}", run.stdout));
    assert!(doc.contains(status), "render did not inject:\n{doc}");
    format!("{}\n---\n", doc.trim_start_matches("---\n").trim_end())
}

/// `simulate --live -n NS PATHS… --format json EXTRA…` as admin.
fn live(api: &Apiserver, ns: &str, paths: &[&Path], extra: &[&str]) -> Run {
    live_env(api, ns, paths, extra, &[])
}

fn live_env(
    api: &Apiserver,
    ns: &str,
    paths: &[&Path],
    extra: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let kubeconfig = api.kubeconfig.to_str().unwrap();
    let mut args = vec![
        "simulate",
        "--live",
        "--kubeconfig",
        kubeconfig,
        "--context",
        "test",
    ];
    if !extra.contains(&"--format") {
        args.extend(["--format", "json"]);
    }
    if ns == "*" {
        args.push("-A");
    } else {
        args.extend(["-n", ns]);
    }
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend_from_slice(extra);
    inject(&args, env, DEADLINE)
}

// ---- reading the report ------------------------------------------------------

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `(kind, namespace, name)` of a workload entry (top-level fields, or its
/// `object`).
fn workload_key(w: &Value) -> (String, String, String) {
    let get = |k: &str| {
        w.get(k)
            .filter(|v| v.is_string())
            .or_else(|| w.get("object").and_then(|o| o.get(k)))
            .map(|v| text(v).to_owned())
            .unwrap_or_default()
    };
    (get("kind"), get("namespace"), get("name"))
}

fn workloads(report: &Value) -> &[Value] {
    report["workloads"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn diagnostics(report: &Value) -> &[Value] {
    report["diagnostics"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The workload `kind/ns/name`; panics with the report when it is missing.
fn workload<'a>(report: &'a Value, kind: &str, ns: &str, name: &str) -> &'a Value {
    workloads(report)
        .iter()
        .find(|w| workload_key(w) == (kind.into(), ns.into(), name.into()))
        .unwrap_or_else(|| {
            panic!(
                "no workload {kind} {ns}/{name}; workloads: {:?}",
                workloads(report)
                    .iter()
                    .map(workload_key)
                    .collect::<Vec<_>>()
            )
        })
}

/// Names of the workloads of `kind` in `ns`.
fn names(report: &Value, kind: &str, ns: &str) -> Vec<String> {
    let mut names: Vec<String> = workloads(report)
        .iter()
        .map(workload_key)
        .filter(|(k, n, _)| k == kind && n == ns)
        .map(|(_, _, name)| name)
        .collect();
    names.sort();
    names
}

/// Diagnostics about the object `ns/name` (any kind).
fn about<'a>(report: &'a Value, ns: &str, name: &str) -> Vec<&'a Value> {
    diagnostics(report)
        .iter()
        .filter(|d| text(&d["object"]["namespace"]) == ns && text(&d["object"]["name"]) == name)
        .collect()
}

/// The finding of `rule` on `kind` `ns/name`; panics with the report when
/// there is none.
fn finding<'a>(report: &'a Value, rule: &str, kind: &str, ns: &str, name: &str) -> &'a Value {
    diagnostics(report)
        .iter()
        .find(|d| {
            text(&d["rule"]) == rule
                && text(&d["object"]["kind"]) == kind
                && text(&d["object"]["namespace"]) == ns
                && text(&d["object"]["name"]) == name
        })
        .unwrap_or_else(|| {
            panic!(
                "no {rule} on {kind} {ns}/{name}; diagnostics:\n{}",
                serde_json::to_string_pretty(&report["diagnostics"]).unwrap()
            )
        })
}

// ---- drift -------------------------------------------------------------------

#[test]
fn missing_sidecar_is_inj401_and_a_current_one_is_quiet() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-missing");
    let policies = policy_dir("1.4.0");
    let current = rendered_pod(policies.path(), &ns, "current");
    api.apply(&format!(
        "{}{}{current}",
        namespace(&ns, &[ENABLED]),
        pod(&ns, "plain")
    ));
    api.mark_running(&ns, &["plain", "current"]);

    let run = live(api, &ns, &[policies.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();

    let missing = finding(&report, "INJ401", "Pod", &ns, "plain");
    assert_eq!(missing["severity"], "error", "{missing:#}");
    assert!(
        missing["file"].is_null(),
        "live objects have no file: {missing:#}"
    );
    assert!(
        about(&report, &ns, "current").is_empty(),
        "a pod injected from the template the policy selects has nothing to report: {:#?}",
        about(&report, &ns, "current")
    );
    for name in ["plain", "current"] {
        let w = workload(&report, "Pod", &ns, name);
        assert!(w["file"].is_null(), "live workloads have no file: {w:#}");
        let mesh = w["injectors"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["injector"] == "kubectl-inject"))
            .unwrap_or_else(|| panic!("no kubectl-inject decision: {w:#}"));
        assert_eq!(mesh["decision"], "inject", "{w:#}");
        assert_eq!(mesh["template"], "envoy-proxy@1.4.0", "{w:#}");
    }

    // The same in the other formats.
    let human = live(api, &ns, &[policies.path()], &["--format", "human"]);
    human.expect_code(&[1]).expect_no_crash();
    let both = format!("{}{}", human.stdout, human.stderr);
    assert!(
        both.contains("INJ401") && both.contains("plain"),
        "the human report names the rule and the pod:\n{both}"
    );
    let sarif = live(api, &ns, &[policies.path()], &["--format", "sarif"]);
    sarif.expect_code(&[1]).expect_no_crash();
    let sarif = sarif.json();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(
        results.iter().any(|r| r["ruleId"] == "INJ401"),
        "SARIF has the INJ401 result: {sarif:#}"
    );
}

#[test]
fn older_template_is_inj402_and_a_newer_policy_shows_what_would_change() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-outdated");
    let old = policy_dir("1.3.0");
    let now = policy_dir("1.4.0");
    let next = policy_dir("1.5.0");
    let outdated = rendered_pod(old.path(), &ns, "outdated");
    assert!(outdated.contains(r#"\"version\":\"1.3.0\""#), "{outdated}");
    let current = rendered_pod(now.path(), &ns, "current");
    api.apply(&format!(
        "{}{outdated}{current}",
        namespace(&ns, &[ENABLED])
    ));
    api.mark_running(&ns, &["outdated", "current"]);

    // The policy selects 1.4.0: the pod injected from 1.3.0 has drifted.
    let run = live(api, &ns, &[now.path()], &[]);
    run.expect_code(&[0]).expect_no_crash();
    let report = run.json();
    let drift = finding(&report, "INJ402", "Pod", &ns, "outdated");
    assert_eq!(drift["severity"], "warning", "{drift:#}");
    let said = format!("{} {}", text(&drift["message"]), text(&drift["help"]));
    assert!(
        said.contains("1.3.0") && said.contains("1.4.0"),
        "INJ402 names both versions: {drift:#}"
    );
    assert!(
        about(&report, &ns, "current").is_empty(),
        "{:#?}",
        about(&report, &ns, "current")
    );

    // With a policy repository that selects 1.5.0 (a pull request's):
    // both pods would be outdated once it merges.
    let run = live(api, &ns, &[next.path()], &["--fail-on", "warning"]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    for name in ["outdated", "current"] {
        let drift = finding(&report, "INJ402", "Pod", &ns, name);
        let said = format!("{} {}", text(&drift["message"]), text(&drift["help"]));
        assert!(said.contains("1.5.0"), "INJ402 names 1.5.0: {drift:#}");
    }
}

#[test]
fn sidecar_no_policy_selects_is_inj403() {
    let Some(api) = apiserver() else { return };
    // Injected while the namespace was labelled for injection; the label is
    // gone now.
    let ns = unique("live-stray");
    let policies = policy_dir("1.4.0");
    let stray = rendered_pod(policies.path(), &ns, "stray");
    api.apply(&format!(
        "{}{stray}{}",
        namespace(&ns, &["team: shop"]),
        pod(&ns, "bare")
    ));
    api.mark_running(&ns, &["stray", "bare"]);

    let run = live(api, &ns, &[policies.path()], &[]);
    run.expect_code(&[0]).expect_no_crash();
    let report = run.json();
    let unexpected = finding(&report, "INJ403", "Pod", &ns, "stray");
    assert_eq!(unexpected["severity"], "warning", "{unexpected:#}");
    assert!(unexpected["file"].is_null(), "{unexpected:#}");
    assert!(
        about(&report, &ns, "bare").is_empty(),
        "a pod without sidecar where none is due has nothing to report: {:#?}",
        about(&report, &ns, "bare")
    );
}

/// A Deployment, its ReplicaSet and `pods` Pods (Running), linked by real
/// ownerReferences; returns the Pods' names.
fn deployment(api: &Apiserver, ns: &str, name: &str, pods: usize) -> Vec<String> {
    let hash = "5d8f7c9b6";
    let deploy_uid = api.create_uid(&format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: registry.example.com/{name}:1.0.0}}]
"
    ));
    let rs = format!("{name}-{hash}");
    let rs_uid = api.create_uid(&format!(
        "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: {rs}
  namespace: {ns}
  labels: {{app: {name}, pod-template-hash: \"{hash}\"}}
  ownerReferences:
    - {{apiVersion: apps/v1, kind: Deployment, name: {name}, uid: {deploy_uid}, controller: true, blockOwnerDeletion: true}}
spec:
  replicas: {pods}
  selector: {{matchLabels: {{app: {name}, pod-template-hash: \"{hash}\"}}}}
  template:
    metadata: {{labels: {{app: {name}, pod-template-hash: \"{hash}\"}}}}
    spec:
      containers: [{{name: app, image: registry.example.com/{name}:1.0.0}}]
"
    ));
    let names: Vec<String> = (0..pods).map(|i| format!("{rs}-x{i}")).collect();
    let yaml: String = names
        .iter()
        .map(|pod| {
            pod_with(
                ns,
                pod,
                &format!(
                    "labels: {{app: {name}, pod-template-hash: \"{hash}\"}}
  ownerReferences:
    - {{apiVersion: apps/v1, kind: ReplicaSet, name: {rs}, uid: {rs_uid}, controller: true, blockOwnerDeletion: true}}"
                ),
            )
        })
        .collect();
    api.apply(&yaml);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    api.mark_running(ns, &refs);
    names
}

#[test]
fn deployment_pods_name_the_deployment_to_restart() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-deploy");
    let policies = policy_dir("1.4.0");
    api.apply(&namespace(&ns, &[ENABLED]));
    let pods = deployment(api, &ns, "web", 2);

    let run = live(api, &ns, &[policies.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    workload(&report, "Deployment", &ns, "web");
    for pod in &pods {
        workload(&report, "Pod", &ns, pod);
    }
    let missing: Vec<&Value> = diagnostics(&report)
        .iter()
        .filter(|d| d["rule"] == "INJ401" && d["object"]["namespace"] == ns.as_str())
        .collect();
    assert!(
        !missing.is_empty(),
        "INJ401 for the Deployment's pods: {report:#}"
    );
    let restart = format!("kubectl rollout restart deployment/web -n {ns}");
    for d in &missing {
        let said = format!("{} {}", text(&d["message"]), text(&d["help"]));
        assert!(
            said.contains("deployment/web"),
            "INJ401 on a Deployment's pod points at the Deployment to restart \
             (`{restart}`): {d:#}"
        );
        assert!(text(&d["help"]).contains(&restart), "{d:#}");
    }
}

/// The help's command, in the human report, can be copied: whole, on one
/// line (not wrapped inside the namespace's name).
#[test]
fn the_restart_command_can_be_copied_from_the_human_report() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-deploy-human");
    let policies = policy_dir("1.4.0");
    api.apply(&namespace(&ns, &[ENABLED]));
    deployment(api, &ns, "web", 1);
    let restart = format!("kubectl rollout restart deployment/web -n {ns}");
    let human = live(api, &ns, &[policies.path()], &["--format", "human"]);
    human.expect_code(&[1]).expect_no_crash();
    assert!(
        human.stdout.lines().any(|l| l.contains(&restart)),
        "the help's command is on one line of the human report:\n{}",
        human.stdout
    );
}

#[test]
fn every_kind_of_owner_is_read() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-owners");
    let policies = policy_dir("1.4.0");
    api.apply(&namespace(&ns, &[ENABLED]));
    let template = |name: &str| {
        format!(
            "metadata: {{labels: {{app: {name}}}}}
    spec:
      restartPolicy: {}
      containers: [{{name: app, image: registry.example.com/{name}:1.0.0}}]",
            if name.starts_with("nightly") || name.starts_with("once") {
                "Never"
            } else {
                "Always"
            }
        )
    };
    let sts = api.create_uid(&format!(
        "apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    {}
",
        template("db")
    ));
    let ds = api.create_uid(&format!(
        "apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    {}
",
        template("agent")
    ));
    // Kubernetes 1.20 serves CronJob as batch/v1beta1 only.
    let cj = api.create_uid(&format!(
        "apiVersion: batch/v1beta1
kind: CronJob
metadata: {{name: nightly, namespace: {ns}}}
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        {}
",
        template("nightly").replace("\n", "\n    ")
    ));
    let job_of = |name: &str, owner: Option<(&str, &str)>| {
        let owner = owner
            .map(|(kind, uid)| {
                format!(
                    "
  ownerReferences:
    - {{apiVersion: batch/v1beta1, kind: {kind}, name: nightly, uid: {uid}, controller: true}}"
                )
            })
            .unwrap_or_default();
        format!(
            "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: {ns}{owner}
spec:
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      restartPolicy: Never
      containers: [{{name: app, image: registry.example.com/{name}:1.0.0}}]
"
        )
    };
    let nightly_job = api.create_uid(&job_of("nightly-28000000", Some(("CronJob", &cj))));
    let once_job = api.create_uid(&job_of("once", None));
    let owned = |pod: &str, app: &str, api_version: &str, kind: &str, owner: &str, uid: &str| {
        pod_with(
            &ns,
            pod,
            &format!(
                "labels: {{app: {app}}}
  ownerReferences:
    - {{apiVersion: {api_version}, kind: {kind}, name: {owner}, uid: {uid}, controller: true}}"
            ),
        )
    };
    api.apply(
        &[
            owned("db-0", "db", "apps/v1", "StatefulSet", "db", &sts),
            owned("agent-7xk2p", "agent", "apps/v1", "DaemonSet", "agent", &ds),
            owned(
                "nightly-28000000-q8w4r",
                "nightly-28000000",
                "batch/v1",
                "Job",
                "nightly-28000000",
                &nightly_job,
            ),
            owned("once-z9v5c", "once", "batch/v1", "Job", "once", &once_job),
        ]
        .concat(),
    );
    api.mark_running(
        &ns,
        &[
            "db-0",
            "agent-7xk2p",
            "nightly-28000000-q8w4r",
            "once-z9v5c",
        ],
    );

    let run = live(api, &ns, &[policies.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    for (kind, name) in [
        ("Pod", "db-0"),
        ("Pod", "agent-7xk2p"),
        ("Pod", "nightly-28000000-q8w4r"),
        ("Pod", "once-z9v5c"),
        ("StatefulSet", "db"),
        ("DaemonSet", "agent"),
        ("Job", "nightly-28000000"),
        ("Job", "once"),
        ("CronJob", "nightly"),
    ] {
        workload(&report, kind, &ns, name);
    }
}

// ---- webhooks ------------------------------------------------------------------

/// Istio's injection webhook (the chart's namespace selector, plus a label
/// `live-test: NAME` of the test's own, so that this cluster-scoped object
/// leaves other tests' namespaces alone). failurePolicy Ignore and a URL
/// where nothing listens: it never gets in the way of creating pods.
fn istio_webhook(name: &str) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {name}
  labels: {{app: sidecar-injector, istio.io/rev: default}}
webhooks:
  - name: namespace.sidecar-injector.istio.io
    admissionReviewVersions: [v1beta1, v1]
    sideEffects: None
    failurePolicy: Ignore
    timeoutSeconds: 10
    clientConfig:
      url: https://127.0.0.1:1/inject
    namespaceSelector:
      matchLabels: {{istio-injection: enabled, live-test: {name}}}
    rules:
      - operations: [CREATE]
        apiGroups: [\"\"]
        apiVersions: [v1]
        resources: [pods]
"
    )
}

#[test]
fn webhook_configurations_are_read() {
    let Some(api) = apiserver() else { return };
    let mesh = unique("live-mesh");
    let plain = unique("live-nomesh");
    let policies = policy_dir("1.4.0");
    let mwc = unique("live-istio-sidecar-injector");
    // Istio's injector selector, plus a label of this test's own so that the
    // configuration (cluster-scoped) leaves other tests' namespaces alone.
    api.apply(&format!(
        "{}{}{}{}",
        namespace(
            &mesh,
            &["istio-injection: enabled", &format!("live-test: {mwc}")]
        ),
        pod(&mesh, "meshy"),
        namespace(&plain, &[&format!("live-test: {mwc}")]),
        pod(&plain, "solo"),
    ));
    api.mark_running(&mesh, &["meshy"]);
    api.mark_running(&plain, &["solo"]);
    // Created after the pods, with failurePolicy Ignore and a URL where
    // nothing listens: it never gets in the way of creating pods.
    let _cleanup = api.delete_on_drop("mutatingwebhookconfiguration", &mwc);
    api.apply(&istio_webhook(&mwc));

    let run = live(api, &mesh, &[policies.path()], &[]);
    run.expect_code(&[0, 1]).expect_no_crash();
    let report = run.json();
    let meshy = workload(&report, "Pod", &mesh, "meshy");
    let istio = meshy["injectors"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["injector"] == "istio"))
        .unwrap_or_else(|| panic!("the live webhook makes Istio inject meshy: {meshy:#}"));
    assert_eq!(istio["decision"], "inject", "{meshy:#}");
    assert!(
        istio["reasons"].to_string().contains(&mwc),
        "the reason names the live configuration: {istio:#}"
    );
    let ignore = finding(&report, "INJ404", "MutatingWebhookConfiguration", "", &mwc);
    assert!(ignore["file"].is_null(), "{ignore:#}");
    assert!(text(&ignore["message"]).contains("Ignore"), "{ignore:#}");

    let run = live(api, &plain, &[policies.path()], &[]);
    run.expect_code(&[0, 1]).expect_no_crash();
    let report = run.json();
    let solo = workload(&report, "Pod", &plain, "solo");
    assert!(
        !solo["injectors"].as_array().is_some_and(|i| i
            .iter()
            .any(|i| i["injector"] == "istio" && i["decision"] == "inject")),
        "no Istio injection outside istio-injection=enabled: {solo:#}"
    );
}

/// Istio: a pod whose istio-proxy runs another image than the injector's
/// now (here `injectors.istio.proxyImage` in the configuration) is INJ402.
#[test]
fn istio_proxy_image_drift_is_inj402() {
    let Some(api) = apiserver() else { return };
    let mesh = unique("live-istio-drift");
    let mwc = unique("live-istio-drift");
    let config = |version: &str| {
        format!(
            "injectors:
  istio:
    proxyImage: docker.io/istio/proxyv2:{version}
    nativeSidecars: false   # Kubernetes 1.20
"
        )
    };
    let scratch = common::tree(&[
        ("old.yaml", &config("1.20.0")),
        ("now.yaml", &config("1.28.0")),
    ]);
    let at = |f: &str| scratch.path().join(f).to_str().unwrap().to_owned();
    let istio_pod = |cfg: &str, name: &str| {
        render_pod(
            &["--config", &at(cfg), "--injector", "istio"],
            // A service account: the 1.20 API server wants one for the
            // projected token volume Istio adds.
            &pod(&mesh, name).replace("spec:\n", "spec:\n  serviceAccountName: default\n"),
            "sidecar.istio.io/status",
        )
    };
    let (old, now) = (
        istio_pod("old.yaml", "old-proxy"),
        istio_pod("now.yaml", "new-proxy"),
    );
    assert!(old.contains("proxyv2:1.20.0"), "{old}");
    api.apply(&format!(
        "{}{old}{now}",
        namespace(
            &mesh,
            &["istio-injection: enabled", &format!("live-test: {mwc}")]
        ),
    ));
    api.mark_running(&mesh, &["old-proxy", "new-proxy"]);
    let _cleanup = api.delete_on_drop("mutatingwebhookconfiguration", &mwc);
    api.apply(&istio_webhook(&mwc));

    let policies = policy_dir("1.4.0");
    let run = live(
        api,
        &mesh,
        &[policies.path()],
        &["--config", &at("now.yaml")],
    );
    run.expect_code(&[0, 1]).expect_no_crash();
    let report = run.json();
    let drift = finding(&report, "INJ402", "Pod", &mesh, "old-proxy");
    let said = format!("{} {}", text(&drift["message"]), text(&drift["help"]));
    assert!(
        said.contains("1.20.0") && said.contains("1.28.0"),
        "INJ402 names both images: {drift:#}"
    );
    let quiet: Vec<&Value> = about(&report, &mesh, "new-proxy")
        .into_iter()
        .filter(|d| matches!(text(&d["rule"]), "INJ401" | "INJ402" | "INJ403"))
        .collect();
    assert!(
        quiet.is_empty(),
        "the current proxy has not drifted: {quiet:#?}"
    );
}

// ---- the cluster's own policies -------------------------------------------

/// Without PATHS, the policies and templates are the cluster's own
/// (`kubectl-inject.dev` objects), when their CRDs are installed.
#[test]
fn cluster_policies_are_read_without_paths() {
    let Some(api) = apiserver() else { return };
    // The CRDs users install (they stay); the objects are this test's own
    // and go. A SidecarTemplate in the injector's namespace is cluster-wide.
    api.install_crds();
    let _ = api.try_kubectl(&["create", "namespace", "kubectl-inject-system"], None);
    let ns = unique("live-crd");
    let template = unique("crd-proxy");
    let policy = unique("crd-mesh");
    let _template = api.delete_in_on_drop(
        "sidecartemplates.kubectl-inject.dev",
        &template,
        "kubectl-inject-system",
    );
    let _policy = api.delete_on_drop("clusterinjectionpolicies.kubectl-inject.dev", &policy);
    api.apply(&format!(
        "apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: {template}
  namespace: kubectl-inject-system
spec:
  version: 1.4.0
  containers:
    - name: proxy
      image: registry.example.com/envoy:1.31.2
      resources:
        requests: {{cpu: 100m, memory: 128Mi}}
        limits: {{cpu: 100m, memory: 128Mi}}
      readinessProbe:
        httpGet: {{path: /ready, port: 15021}}
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: {policy}
spec:
  namespaceSelector:
    matchLabels: {{live-crd: {ns}}}
  action: inject
  template: {template}@1.4.0
---
{}{}",
        namespace(&ns, &[&format!("live-crd: {ns}")]),
        pod(&ns, "web"),
    ));
    api.mark_running(&ns, &["web"]);

    let run = live(api, &ns, &[], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    let web = workload(&report, "Pod", &ns, "web");
    let own = web["injectors"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["injector"] == "kubectl-inject"))
        .unwrap_or_else(|| panic!("the cluster's policy selects the pod: {web:#}"));
    assert_eq!(own["decision"], "inject", "{web:#}");
    assert_eq!(own["policy"], policy.as_str(), "{web:#}");
    assert_eq!(own["template"], format!("{template}@1.4.0"), "{web:#}");
    finding(&report, "INJ401", "Pod", &ns, "web");
    // The cluster's objects are valid as the API server returns them
    // (uid, managedFields, creationTimestamp…).
    let invalid: Vec<&Value> = diagnostics(&report)
        .iter()
        .filter(|d| {
            matches!(text(&d["rule"]), "INJ002" | "INJ003" | "INJ004")
                && [template.as_str(), policy.as_str()].contains(&text(&d["object"]["name"]))
        })
        .collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
}

// ---- scale and scope ---------------------------------------------------------------

#[test]
fn pagination_reads_every_pod() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-pages");
    let policies = policy_dir("1.4.0");
    let pods: Vec<String> = (0..7).map(|i| format!("p{i}")).collect();
    let yaml: String = pods.iter().map(|p| pod(&ns, p)).collect();
    api.apply(&format!("{}{yaml}", namespace(&ns, &[ENABLED])));
    let refs: Vec<&str> = pods.iter().map(String::as_str).collect();
    api.mark_running(&ns, &refs);

    let run = live_env(
        api,
        &ns,
        &[policies.path()],
        &[],
        &[("KUBECTL_INJECT_PAGE_SIZE", "2")],
    );
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    assert_eq!(names(&report, "Pod", &ns), pods, "every page is read, once");
    let missing: Vec<String> = diagnostics(&report)
        .iter()
        .filter(|d| d["rule"] == "INJ401" && d["object"]["namespace"] == ns.as_str())
        .map(|d| text(&d["object"]["name"]).to_owned())
        .collect();
    assert_eq!(missing.len(), 7, "one INJ401 per pod: {missing:?}");
    assert_eq!(report["live"]["pods"], 7, "{:#}", report["live"]);
}

#[test]
fn all_namespaces() {
    let Some(api) = apiserver() else { return };
    let one = unique("live-all-a");
    let two = unique("live-all-b");
    let policies = policy_dir("1.4.0");
    api.apply(&format!(
        "{}{}{}{}",
        namespace(&one, &[ENABLED]),
        pod(&one, "alpha"),
        namespace(&two, &[]),
        pod(&two, "beta"),
    ));
    api.mark_running(&one, &["alpha"]);
    api.mark_running(&two, &["beta"]);

    let run = live(api, "*", &[policies.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    workload(&report, "Pod", &one, "alpha");
    workload(&report, "Pod", &two, "beta");
    // Each pod is judged by its own namespace's labels.
    finding(&report, "INJ401", "Pod", &one, "alpha");
    assert!(
        about(&report, &two, "beta").is_empty(),
        "{:#?}",
        about(&report, &two, "beta")
    );
}

#[test]
fn live_summary_counts_outcomes() {
    let Some(api) = apiserver() else { return };
    let enabled = unique("live-sum-on");
    let off = unique("live-sum-off");
    let old = policy_dir("1.3.0");
    let now = policy_dir("1.4.0");
    api.apply(&format!(
        "{}{}{}{}{}{}{}",
        namespace(&enabled, &[ENABLED]),
        pod(&enabled, "missing"),
        rendered_pod(now.path(), &enabled, "injected"),
        rendered_pod(old.path(), &enabled, "outdated"),
        namespace(&off, &[]),
        rendered_pod(now.path(), &off, "unexpected"),
        pod(&off, "bare"),
    ));
    api.mark_running(&enabled, &["missing", "injected", "outdated"]);
    api.mark_running(&off, &["unexpected", "bare"]);

    let run = live(api, &enabled, &[now.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    let summary = run.json()["live"].clone();
    assert_eq!(summary["pods"], 3, "{summary:#}");
    assert_eq!(summary["should_have_sidecar"], 3, "{summary:#}");
    assert_eq!(summary["with_expected_sidecar"], 1, "{summary:#}");
    let rate = summary["success_rate"].as_f64().expect("a number");
    assert!((rate - 1.0 / 3.0).abs() < 1e-3, "{summary:#}");
    for (outcome, n) in [
        ("injected", 1),
        ("missing", 1),
        ("outdated", 1),
        ("unexpected", 0),
        ("not_injected", 0),
    ] {
        assert_eq!(summary["outcomes"][outcome], n, "{outcome}: {summary:#}");
    }

    let run = live(api, &off, &[now.path()], &[]);
    run.expect_code(&[0]).expect_no_crash();
    let summary = run.json()["live"].clone();
    assert_eq!(summary["pods"], 2, "{summary:#}");
    assert_eq!(summary["should_have_sidecar"], 0, "{summary:#}");
    assert_eq!(summary["with_expected_sidecar"], 0, "{summary:#}");
    for (outcome, n) in [
        ("injected", 0),
        ("missing", 0),
        ("outdated", 0),
        ("unexpected", 1),
        ("not_injected", 1),
    ] {
        assert_eq!(summary["outcomes"][outcome], n, "{outcome}: {summary:#}");
    }
}

// ---- the cluster's version ---------------------------------------------------

/// The API server's version stands in for `kubernetesVersion`: a template
/// with native sidecars is INJ311 on this 1.20 server, and quiet when the
/// configuration pins a version that has them (the cluster after an upgrade).
#[test]
fn the_clusters_version_judges_native_sidecars() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-version");
    let native = common::envoy_template("1.4.0", "1.31.2").replace(
        "  version: 1.4.0\n",
        "  version: 1.4.0\n  nativeSidecar: true\n",
    );
    assert!(native.contains("nativeSidecar: true"), "{native}");
    let policies = common::tree(&[
        ("templates.yaml", native.as_str()),
        ("policy.yaml", &policy("1.4.0")),
    ]);
    api.apply(&format!(
        "{}{}",
        namespace(&ns, &[ENABLED]),
        pod(&ns, "web")
    ));
    api.mark_running(&ns, &["web"]);

    let run = live(api, &ns, &[policies.path()], &[]);
    run.expect_code(&[1]).expect_no_crash();
    assert!(run.says("on Kubernetes 1.20"), "{}", run.stderr);
    let report = run.json();
    // At the template's `nativeSidecar`, about the live pod.
    let inj311 = finding(&report, "INJ311", "SidecarTemplate", "", "envoy-proxy");
    let message = text(&inj311["message"]);
    assert!(
        message.contains(&format!("Pod/{ns}/web")) && message.contains("Kubernetes 1.20"),
        "{inj311:#}"
    );

    let config = common::tree(&[(".kubectl-inject.yaml", "kubernetesVersion: \"1.30\"\n")]);
    let config_file = config.path().join(".kubectl-inject.yaml");
    let run = live(
        api,
        &ns,
        &[policies.path()],
        &["--config", config_file.to_str().unwrap()],
    );
    run.expect_code(&[1]).expect_no_crash();
    let report = run.json();
    assert!(
        !diagnostics(&report).iter().any(|d| d["rule"] == "INJ311"),
        "a pinned version wins: {:#}",
        report["diagnostics"]
    );
    // The pod still lacks its sidecar either way.
    finding(&report, "INJ401", "Pod", &ns, "web");
}

// ---- RBAC --------------------------------------------------------------------

/// The ClusterRole YAML block in a message, dedented.
fn clusterrole_yaml(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let kind = lines.iter().position(|l| l.trim() == "kind: ClusterRole")?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = indent(lines[kind]);
    let is_key = |l: &str| {
        let t = l.trim_start();
        t.starts_with("- ")
            || t.split_once(':').is_some_and(|(k, rest)| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                    && (rest.is_empty() || rest.starts_with(' '))
            })
    };
    let mut start = kind;
    while start > 0 && indent(lines[start - 1]) == base && is_key(lines[start - 1]) {
        start -= 1;
    }
    let mut end = kind + 1;
    while end < lines.len() && {
        let l = lines[end];
        !l.trim().is_empty() && (indent(l) > base || (indent(l) == base && is_key(l)))
    } {
        end += 1;
    }
    Some(
        lines[start..end]
            .iter()
            .map(|l| l.get(base..).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// A kubeconfig (a temporary file) for `token` on the server.
fn token_kubeconfig(api: &Apiserver, token: &str, ns: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        api.kubeconfig_with("sa", &format!("{{token: \"{token}\"}}"), Some(ns)),
    )
    .unwrap();
    file
}

#[test]
fn forbidden_exits_2_with_a_clusterrole_that_is_enough() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-forbidden");
    let policies = policy_dir("1.4.0");
    api.apply(&format!(
        "{}{}",
        namespace(&ns, &[ENABLED]),
        pod(&ns, "web")
    ));
    api.mark_running(&ns, &["web"]);
    let kubeconfig = api.kubeconfig.to_str().unwrap();
    let policies_path = policies.path().to_str().unwrap();

    // `viewer` may do nothing at all.
    let run = inject(
        &[
            "simulate",
            "--live",
            "--kubeconfig",
            kubeconfig,
            "--context",
            "viewer",
            "-n",
            &ns,
            policies_path,
            "--format",
            "json",
        ],
        &[],
        DEADLINE,
    );
    run.expect_code(&[2]).expect_no_crash();
    assert!(
        run.says("forbidden") || run.says("cannot list") || run.says("cannot get"),
        "the message says what was forbidden:\n{}",
        run.stderr
    );
    assert!(
        run.says("pods") || run.says("namespaces"),
        "the message names the resource:\n{}",
        run.stderr
    );
    let role = clusterrole_yaml(&run.stderr)
        .unwrap_or_else(|| panic!("a ClusterRole to grant:\n{}", run.stderr));

    // What it prints is enough: granted to a fresh identity, the same run
    // gets through.
    let mut role: Value = serde_json::from_str(&api.kubectl(
        &["create", "--dry-run=client", "-o", "json", "-f", "-"],
        Some(&role),
    ))
    .unwrap_or_else(|e| panic!("the printed ClusterRole is not an object ({e}):\n{role}"));
    let name = unique("live-enough");
    role["metadata"]["name"] = Value::from(name.as_str());
    let _role = api.delete_on_drop("clusterrole", &name);
    let _binding = api.delete_on_drop("clusterrolebinding", &name);
    api.apply(&role.to_string());
    let run = simulate_as_service_account(api, &ns, "inject", &name, policies_path);
    run.expect_code(&[0, 1]).expect_no_crash();
    workload(&run.json(), "Pod", &ns, "web");

    // -A with no rights: the same kind of message.
    let run = inject(
        &[
            "simulate",
            "--live",
            "--kubeconfig",
            kubeconfig,
            "--context",
            "viewer",
            "-A",
            policies_path,
        ],
        &[],
        DEADLINE,
    );
    run.expect_code(&[2]).expect_no_crash();
    assert!(run.stderr.contains("kind: ClusterRole"), "{}", run.stderr);
}

/// `simulate --live -n NS POLICIES --format json` as the service account
/// `NS/account`, bound to the ClusterRole `role` (which the caller created).
fn simulate_as_service_account(
    api: &Apiserver,
    ns: &str,
    account: &str,
    role: &str,
    policies: &str,
) -> Run {
    let token = api.service_account_token(ns, account);
    api.kubectl(
        &[
            "create",
            "clusterrolebinding",
            role,
            &format!("--clusterrole={role}"),
            &format!("--serviceaccount={ns}:{account}"),
        ],
        None,
    );
    // The authorizer reads bindings from a cache that follows the API
    // server: wait until it knows the new one.
    let user = format!("--as=system:serviceaccount:{ns}:{account}");
    common::webhook::wait_until("the new binding", Duration::from_secs(20), || {
        let answer = api.try_kubectl(&["auth", "can-i", "list", "pods", "-n", ns, &user], None);
        (answer.stdout == b"yes\n").then_some(())
    });
    let as_sa = token_kubeconfig(api, &token, ns);
    inject(
        &[
            "simulate",
            "--live",
            "--kubeconfig",
            as_sa.path().to_str().unwrap(),
            "-n",
            ns,
            policies,
            "--format",
            "json",
        ],
        &[],
        DEADLINE,
    )
}

#[test]
fn partly_forbidden_warns_and_goes_on() {
    let Some(api) = apiserver() else { return };
    let ns = unique("live-partial");
    let policies = policy_dir("1.4.0");
    api.apply(&format!(
        "{}{}",
        namespace(&ns, &[ENABLED]),
        pod(&ns, "web")
    ));
    api.mark_running(&ns, &["web"]);
    // Everything but mutatingwebhookconfigurations.
    let name = unique("live-partial");
    let _role = api.delete_on_drop("clusterrole", &name);
    let _binding = api.delete_on_drop("clusterrolebinding", &name);
    api.apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {name}}}
rules:
  - apiGroups: [\"\"]
    resources: [namespaces, pods, configmaps]
    verbs: [get, list]
  - apiGroups: [apps]
    resources: [replicasets, deployments, statefulsets, daemonsets]
    verbs: [get, list]
  - apiGroups: [batch]
    resources: [jobs, cronjobs]
    verbs: [get, list]
  - apiGroups: [kubectl-inject.dev]
    resources: [\"*\"]
    verbs: [get, list]
  - apiGroups: [apiextensions.k8s.io]
    resources: [customresourcedefinitions]
    verbs: [get, list]
"
    ));
    let run = simulate_as_service_account(
        api,
        &ns,
        "partial",
        &name,
        policies.path().to_str().unwrap(),
    );
    run.expect_code(&[0, 1]).expect_no_crash();
    assert!(
        run.says("mutatingwebhookconfigurations"),
        "a warning names what was skipped:\n{}",
        run.stderr
    );
    let report = run.json();
    workload(&report, "Pod", &ns, "web");
    finding(&report, "INJ401", "Pod", &ns, "web");
}

// ---- connection failures -----------------------------------------------------------

fn kubeconfig_at(server: &str, context: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: far
  cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}
users:
- name: someone
  user: {{token: {ADMIN_TOKEN}}}
contexts:
- name: {context}
  context: {{cluster: far, user: someone, namespace: default}}
current-context: {context}
"
        ),
    )
    .unwrap();
    file
}

#[test]
fn unreachable_server_exits_2_naming_server_and_context() {
    // Needs no server: nothing listens on port 1.
    let kubeconfig = kubeconfig_at("https://127.0.0.1:1", "nowhere-ctx");
    let run = inject(
        &[
            "simulate",
            "--live",
            "--kubeconfig",
            kubeconfig.path().to_str().unwrap(),
            "-n",
            "shop",
            "--format",
            "json",
        ],
        &[],
        DEADLINE,
    );
    run.expect_code(&[2]).expect_no_crash();
    assert!(
        run.elapsed < Duration::from_secs(15),
        "a refused connection fails fast, took {:?}",
        run.elapsed
    );
    assert!(
        run.says("127.0.0.1:1") && run.says("nowhere-ctx"),
        "the message names the server and the context:\n{}",
        run.stderr
    );
}

#[test]
fn request_timeout_exits_2() {
    // A server that accepts connections (the kernel does, into the backlog)
    // and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().unwrap().to_string();
    let kubeconfig = kubeconfig_at(&format!("https://{address}"), "silent-ctx");
    let run = inject(
        &[
            "simulate",
            "--live",
            "--kubeconfig",
            kubeconfig.path().to_str().unwrap(),
            "-n",
            "shop",
            "--request-timeout",
            "1s",
            "--format",
            "json",
        ],
        &[],
        Duration::from_secs(60),
    );
    drop(listener);
    run.expect_code(&[2]).expect_no_crash();
    assert!(
        run.elapsed < Duration::from_secs(10),
        "--request-timeout 1s gives up within seconds, took {:?}",
        run.elapsed
    );
    assert!(
        run.says("timeout") || run.says("timed out") || run.says("deadline"),
        "the message says it timed out:\n{}",
        run.stderr
    );
    assert!(
        run.says(&address) && run.says("silent-ctx"),
        "the message names the server and the context:\n{}",
        run.stderr
    );
}

// ---- deployables -------------------------------------------------------------

/// A policy repository with two Kustomize overlays, two environments: `a`
/// selects envoy-proxy 1.4.0, `b` 1.5.0.
fn two_environments() -> tempfile::TempDir {
    let overlay = "resources: [template.yaml, policy.yaml]\n";
    common::tree(&[
        ("a/kustomization.yaml", overlay),
        (
            "a/template.yaml",
            &common::envoy_template("1.4.0", "1.31.2"),
        ),
        ("a/policy.yaml", &policy("1.4.0")),
        ("b/kustomization.yaml", overlay),
        (
            "b/template.yaml",
            &common::envoy_template("1.5.0", "1.32.0"),
        ),
        ("b/policy.yaml", &policy("1.5.0")),
    ])
}

#[test]
fn live_objects_join_the_environment_named() {
    let Some(api) = apiserver() else { return };
    if !common::have_kubectl("the Kustomize overlays of a live run") {
        return;
    }
    let ns = unique("live-env");
    let paths = two_environments();
    api.apply(&format!(
        "{}{}",
        namespace(&ns, &[ENABLED]),
        pod(&ns, "plain")
    ));
    api.mark_running(&ns, &["plain"]);
    let (a, b) = (paths.path().join("a"), paths.path().join("b"));

    // Two environments and none named: which cluster is this?
    let run = live(api, &ns, &[&a, &b], &[]);
    run.expect_code(&[2]).expect_no_crash();
    assert!(
        run.stderr.contains("--environment") && run.stderr.contains("2 environments"),
        "{}",
        run.stderr
    );

    for (env, template) in [("b", "envoy-proxy@1.5.0"), ("a", "envoy-proxy@1.4.0")] {
        let environment = paths.path().join(env).display().to_string();
        let run = live(api, &ns, &[&a, &b], &["--environment", &environment]);
        run.expect_code(&[1]).expect_no_crash();
        let report = run.json();
        let w = workload(&report, "Pod", &ns, "plain");
        let mesh = w["injectors"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["injector"] == "kubectl-inject"))
            .unwrap_or_else(|| panic!("no kubectl-inject decision: {w:#}"));
        assert_eq!(mesh["template"], template, "--environment {env}: {w:#}");
        assert_eq!(
            w["deployable"]["environment"],
            environment.as_str(),
            "{w:#}"
        );
        finding(&report, "INJ401", "Pod", &ns, "plain");
    }
}
