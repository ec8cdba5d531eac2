//! `kubectl inject serve` end to end: a real kube-apiserver (1.20, see
//! tests/common/apiserver.rs for where it comes from and when these tests
//! skip) calls the webhook over HTTPS, registered with
//! Mutating/ValidatingWebhookConfigurations whose `clientConfig.url` is the
//! server on loopback and whose `caBundle` is the test's own CA. Pods created
//! with kubectl come back injected (the API server decodes the base64
//! JSONPatch and applies it: the wire format is proven here, not assumed),
//! and kubectl-inject.dev objects the repository's checks refuse are refused
//! by the API server.
//!
//! The server is shared with every other test binary, which create pods and
//! kubectl-inject.dev objects of their own at the same time. So every webhook
//! configuration here selects only this test's objects: the mutating ones by
//! a namespace label `kubectl-inject-e2e: <configuration name>`, the
//! validating one by the same label on the objects themselves; names carry a
//! per-process suffix ([`unique`]); and the configurations are deleted when
//! the test ends, also when it fails (a Drop guard). Namespaces stay (the
//! server has no controller-manager to finish deleting them).
//!
//! A configuration takes effect when the API server's informer has seen it,
//! a moment after `kubectl apply` returns: the tests wait for that with
//! server-side dry runs (nothing is stored) before they create anything that
//! counts.

mod common;

use std::time::{Duration, Instant};

use common::apiserver::{Apiserver, apiserver, namespace, pod, unique};
use common::webhook::{HttpsClient, Pki, Webhook};
use kubectl_inject::injectors::own::policy::rollout_bucket;
use serde_json::Value;

/// The policy repository of testdata (relative to the package root, the
/// server's working directory).
const POLICY_PATHS: &[&str] = &[
    "testdata/policy/templates",
    "testdata/policy/cluster-policies.yaml",
    "testdata/policy/payments-policy.yaml",
];

const ENABLED: &str = "kubectl-inject.dev/injection: enabled";

/// The label that limits the webhook configurations to this test's
/// namespaces and objects; its value is the configuration's name.
const SELECT: &str = "kubectl-inject-e2e";

// ---- the server and its registration ------------------------------------------

/// `kubectl-inject serve` with the API server's kubeconfig (context `test`)
/// and `args` (policy PATHS, or nothing: the cluster's objects), in the
/// package root; waits until `/readyz` answers 200.
fn serve(api: &Apiserver, pki: &Pki, args: &[&str]) -> Webhook {
    let kubeconfig = api.kubeconfig.to_str().unwrap();
    let mut all = vec!["--kubeconfig", kubeconfig, "--context", "test"];
    all.extend_from_slice(args);
    let webhook = Webhook::start_in(pki, &all, Some(common::package_root()));
    let client = HttpsClient::new(&pki.ca_pem, false);
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = client.get(&webhook.url("/readyz"));
        if reply.status == 200 {
            return webhook;
        }
        assert!(
            Instant::now() < until,
            "serve never became ready ({}: {}):\n{}",
            reply.status,
            reply.text(),
            webhook.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ca_bundle(pki: &Pki) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem)
}

/// The injection webhook at `webhook`, for pods created in namespaces
/// labelled `kubectl-inject-e2e: NAME`.
fn mutating_configuration(name: &str, webhook: &Webhook, pki: &Pki) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
  - name: inject.kubectl-inject.dev
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    clientConfig:
      url: {url}
      caBundle: {ca}
    namespaceSelector:
      matchLabels: {{{SELECT}: {name}}}
    rules:
      - operations: [CREATE]
        apiGroups: [\"\"]
        apiVersions: [v1]
        resources: [pods]
        scope: Namespaced
",
        url = webhook.url("/inject"),
        ca = ca_bundle(pki),
    )
}

/// The validating webhook at `webhook`, for kubectl-inject.dev objects
/// labelled `kubectl-inject-e2e: NAME`.
fn validating_configuration(name: &str, webhook: &Webhook, pki: &Pki) -> String {
    format!(
        "apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {name}
webhooks:
  - name: validate.kubectl-inject.dev
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: Fail
    timeoutSeconds: 10
    clientConfig:
      url: {url}
      caBundle: {ca}
    objectSelector:
      matchLabels: {{{SELECT}: {name}}}
    rules:
      - operations: [CREATE, UPDATE]
        apiGroups: [kubectl-inject.dev]
        apiVersions: [v1alpha1]
        resources: [sidecartemplates, injectionpolicies, clusterinjectionpolicies]
        scope: \"*\"
",
        url = webhook.url("/validate"),
        ca = ca_bundle(pki),
    )
}

// ---- objects ---------------------------------------------------------------------

/// The names of a pod's containers and init containers.
fn container_names(pod: &Value) -> (Vec<String>, Vec<String>) {
    let names = |key: &str| -> Vec<String> {
        pod["spec"][key]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    (names("containers"), names("initContainers"))
}

fn status_annotation(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/annotations/kubectl-inject.dev~1status")
        .and_then(Value::as_str)
}

/// Creates `yaml` as a server-side dry run (admission runs, nothing is
/// stored): the object as the API server would store it, or kubectl's
/// stderr.
fn dry_run(api: &Apiserver, yaml: &str) -> Result<Value, String> {
    let out = api.try_kubectl(
        &["create", "--dry-run=server", "-o", "json", "-f", "-"],
        Some(yaml),
    );
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Waits (up to 30 s) until a dry run of `yaml` satisfies `done`: the API
/// server has taken a webhook configuration (or the server a policy) into
/// use.
fn wait_for_dry_run(
    api: &Apiserver,
    webhook: &Webhook,
    yaml: &str,
    what: &str,
    done: impl Fn(&Result<Value, String>) -> bool,
) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let result = dry_run(api, yaml);
        if done(&result) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{what}: never happened; the last dry run gave {result:#?}\nthe server's log:\n{}",
            webhook.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get_pod(api: &Apiserver, ns: &str, name: &str) -> Value {
    let json = api.kubectl(&["get", "pod", name, "-n", ns, "-o", "json"], None);
    serde_json::from_str(&json).expect("kubectl prints JSON")
}

/// Asserts `pod` carries the sidecar of envoy-proxy (testdata: the `proxy`
/// container, in `containers`, or in `initContainers` as a native sidecar
/// of the 1.5.0 canary, and base-proxy's `proxy-validation` init
/// container), the status annotation, and its own container first.
fn assert_injected(pod: &Value, sidecar: &str, init: Option<&str>) {
    let (containers, inits) = container_names(pod);
    assert!(
        containers.iter().chain(&inits).any(|n| n == sidecar),
        "the pod has no `{sidecar}` container: {pod:#}"
    );
    if let Some(init) = init {
        assert!(
            inits.iter().any(|n| n == init),
            "the pod has no `{init}` init container: {pod:#}"
        );
    }
    assert!(containers.iter().any(|n| n == "app"), "{pod:#}");
    assert!(
        status_annotation(pod).is_some(),
        "no kubectl-inject.dev/status annotation: {pod:#}"
    );
}

fn assert_not_injected(pod: &Value) {
    let (containers, inits) = container_names(pod);
    assert_eq!(containers, ["app"], "{pod:#}");
    assert!(inits.is_empty(), "{pod:#}");
    assert!(status_annotation(pod).is_none(), "{pod:#}");
}

// ---- what the server recorded ---------------------------------------------------------

/// The sum of `kubectl_inject_admission_decisions_total` samples with
/// `outcome` and `allowed`, from `/metrics`.
fn decisions(metrics: &str, outcome: &str, allowed: bool) -> f64 {
    let (outcome, allowed) = (
        format!("outcome=\"{outcome}\""),
        format!("allowed=\"{allowed}\""),
    );
    metrics
        .lines()
        .filter(|l| l.starts_with("kubectl_inject_admission_decisions_total{"))
        .filter(|l| l.contains(&outcome) && l.contains(&allowed))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn metrics(webhook: &Webhook, pki: &Pki) -> String {
    let reply = HttpsClient::new(&pki.ca_pem, false).get(&webhook.url("/metrics"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.text()
}

/// The audit records of `endpoint` about `name` in `namespace` that were
/// not dry runs.
fn audited(webhook: &Webhook, endpoint: &str, namespace: &str, name: &str) -> Vec<Value> {
    webhook
        .audit_lines()
        .into_iter()
        .filter(|r| {
            r["endpoint"] == endpoint
                && r["namespace"] == namespace
                && r["name"] == name
                && r["dry_run"] == false
        })
        .collect()
}

// ---- the CRDs ---------------------------------------------------------------------------

/// Installs the CRDs users install (`deploy/crds.yaml`, shared with
/// tests/live.rs) and returns the scope of SidecarTemplates.
fn ensure_crds(api: &Apiserver) -> String {
    api.install_crds();
    api.kubectl(
        &[
            "get",
            "crd",
            "sidecartemplates.kubectl-inject.dev",
            "-o",
            "jsonpath={.spec.scope}",
        ],
        None,
    )
    .trim()
    .to_owned()
}

/// A ClusterInjectionPolicy `name` injecting `template` into namespaces
/// with `labels` (`key: value` each).
fn injection_policy(name: &str, labels: &[&str], template: &str) -> String {
    let labels: String = labels.iter().map(|l| format!("\n      {l}")).collect();
    format!(
        "apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: {name}
spec:
  namespaceSelector:
    matchLabels:{labels}
  action: inject
  template: {template}
"
    )
}

// ---- the tests ---------------------------------------------------------------------------

/// `rollout.percent` of ClusterInjectionPolicy/mesh-default in
/// testdata/policy/cluster-policies.yaml: workloads in buckets below it get
/// the envoy-proxy 1.5.0 canary.
const CANARY_PERCENT: u32 = 10;

/// The first of `base`, `base-1`, `base-2` … whose pod in `namespace` is in
/// (`canary`) or out of mesh-default's canary: the bucket hashes the
/// namespace, and the test's namespaces are named at random.
fn pod_name(namespace: &str, base: &str, canary: bool) -> String {
    (0..)
        .map(|i| match i {
            0 => base.to_owned(),
            i => format!("{base}-{i}"),
        })
        .find(|name| (rollout_bucket(namespace, "Pod", name) < CANARY_PERCENT) == canary)
        .expect("some name falls in each bucket range")
}

/// The testdata policy repository as PATHS: a pod with an `app` label in a
/// namespace labelled `kubectl-inject.dev/injection: enabled` gets
/// envoy-proxy (ClusterInjectionPolicy/mesh-default); a pod in a namespace
/// without the label, which the webhook is asked about too, does not. A pod
/// in the policy's canary gets envoy-proxy 1.5.0, a native sidecar, which
/// this 1.20 API server refuses: the webhook's INJ311 warning (the cluster's
/// version, read from the API server) says why.
#[test]
fn pods_created_with_kubectl_are_injected_from_policy_paths() {
    let Some(api) = apiserver() else { return };
    let pki = Pki::new();
    let webhook = serve(api, &pki, POLICY_PATHS);

    let mwc = unique("e2e-inject-paths");
    let mesh = unique("e2e-mesh");
    let plain = unique("e2e-plain");
    let (probe, web_name) = (
        pod_name(&mesh, "probe", false),
        pod_name(&mesh, "web", false),
    );
    let selected = format!("{SELECT}: {mwc}");
    api.apply(&format!(
        "{}{}",
        namespace(&mesh, &[ENABLED, &selected]),
        namespace(&plain, &[&selected]),
    ));
    let _mwc = api.delete_on_drop("mutatingwebhookconfiguration", &mwc);
    api.apply(&mutating_configuration(&mwc, &webhook, &pki));
    wait_for_dry_run(
        api,
        &webhook,
        &pod(&mesh, &probe),
        "the API server calls the injection webhook",
        |r| r.as_ref().is_ok_and(|p| status_annotation(p).is_some()),
    );

    api.kubectl(&["create", "-f", "-"], Some(&pod(&mesh, &web_name)));
    api.apply(&pod(&plain, "solo"));

    let web = get_pod(api, &mesh, &web_name);
    assert_injected(&web, "proxy", Some("proxy-validation"));
    let status = status_annotation(&web).unwrap();
    assert!(
        status.contains("envoy-proxy") && status.contains("mesh-default"),
        "the status names the template and the policy: {status}"
    );
    // The sidecar is the repository's template, rendered for this pod.
    let proxy = web["spec"]["containers"]
        .as_array()
        .into_iter()
        .chain(web["spec"]["initContainers"].as_array())
        .flatten()
        .find(|c| c["name"] == "proxy")
        .unwrap();
    assert!(
        proxy["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("docker.io/envoyproxy/envoy:v1.3")),
        "{proxy:#}"
    );
    assert!(
        proxy["args"].to_string().contains(&mesh),
        "${{pod.namespace}} is rendered: {proxy:#}"
    );

    let solo = get_pod(api, &plain, "solo");
    assert_not_injected(&solo);

    // The decisions, as the server recorded them.
    let web_audit = audited(&webhook, "inject", &mesh, &web_name);
    assert_eq!(web_audit.len(), 1, "{web_audit:#?}");
    let record = &web_audit[0];
    assert_eq!(record["outcome"], "inject", "{record:#}");
    assert_eq!(record["allowed"], true, "{record:#}");
    assert_eq!(record["patched"], true, "{record:#}");
    assert_eq!(record["policy"], "mesh-default", "{record:#}");
    assert_eq!(record["template"], "envoy-proxy", "{record:#}");
    assert_eq!(record["template_version"], "1.4.0", "{record:#}");
    let solo_audit = audited(&webhook, "inject", &plain, "solo");
    assert_eq!(solo_audit.len(), 1, "{solo_audit:#?}");
    let record = &solo_audit[0];
    assert_ne!(record["outcome"], "inject", "{record:#}");
    assert_eq!(record["allowed"], true, "{record:#}");
    assert_eq!(record["patched"], false, "{record:#}");

    // The canary: injected with 1.5.0's native sidecar, which a 1.20 API
    // server refuses (probes on an init container); the webhook's warning,
    // printed by kubectl beside the refusal, names the cause.
    let canary = pod_name(&mesh, "canary", true);
    let created = api.try_kubectl(&["create", "-f", "-"], Some(&pod(&mesh, &canary)));
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(!created.status.success(), "{stderr}");
    assert!(
        stderr.contains("must not be set for init containers"),
        "the API server refuses the native sidecar: {stderr}"
    );
    assert!(
        stderr.contains("Warning: INJ311") && stderr.contains("1.20"),
        "the webhook's warning names the rule and the cluster's version: {stderr}"
    );
    let canary_audit = audited(&webhook, "inject", &mesh, &canary);
    assert_eq!(canary_audit.len(), 1, "{canary_audit:#?}");
    assert_eq!(
        canary_audit[0]["template_version"], "1.5.0",
        "{:#}",
        canary_audit[0]
    );
    assert!(
        webhook
            .log_text()
            .contains("Kubernetes version 1.20 (from the API server)"),
        "{}",
        webhook.log_text()
    );

    let metrics = metrics(&webhook, &pki);
    // The dry runs count too: at least the real pod.
    assert!(decisions(&metrics, "inject", true) >= 1.0, "{metrics}");
    assert!(
        decisions(&metrics, "skip", true) + decisions(&metrics, "ignored", true) >= 1.0,
        "{metrics}"
    );
}

/// Without PATHS the server watches the cluster's kubectl-inject.dev
/// objects: a SidecarTemplate applied before it starts and a
/// ClusterInjectionPolicy applied while it runs inject a pod created
/// afterwards.
#[test]
fn pods_are_injected_from_the_clusters_policies() {
    let Some(api) = apiserver() else { return };
    let scope = ensure_crds(api);
    let mwc = unique("e2e-inject-crs");
    let mesh = unique("e2e-crs-mesh");
    let plain = unique("e2e-crs-plain");
    let templates = unique("e2e-crs-templates");
    let template = unique("e2e-sidecar");
    let policy = unique("e2e-policy");
    let selected = format!("{SELECT}: {mwc}");

    // A SidecarTemplate in --template-namespace is cluster-wide when the CRD
    // is namespaced; a cluster-scoped one is anyway.
    let template_namespace = match scope.as_str() {
        "Namespaced" => format!("\n  namespace: {templates}"),
        _ => String::new(),
    };
    api.apply(&namespace(&templates, &[]));
    let _template =
        api.delete_in_on_drop("sidecartemplates.kubectl-inject.dev", &template, &templates);
    api.apply(&format!(
        "apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: {template}{template_namespace}
spec:
  version: 2.0.0
  initContainers:
    - name: e2e-init
      image: registry.example.com/e2e-init:2.0.0
      resources:
        requests: {{cpu: 10m, memory: 16Mi}}
        limits: {{cpu: 10m, memory: 16Mi}}
  containers:
    - name: e2e-sidecar
      image: registry.example.com/e2e-sidecar:2.0.0
      args: [\"--pod=${{pod.name}}\"]
      resources:
        requests: {{cpu: 100m, memory: 128Mi}}
        limits: {{cpu: 100m, memory: 128Mi}}
      readinessProbe:
        httpGet: {{path: /ready, port: 15021}}
"
    ));

    // A policy whose template has not been applied yet (`kubectl apply -f
    // dir/` goes by file name) holds back nothing else.
    let early = unique("e2e-early-policy");
    let _early = api.delete_on_drop("clusterinjectionpolicies.kubectl-inject.dev", &early);
    api.apply(&injection_policy(
        &early,
        &[&format!("{SELECT}: {early}")],
        &format!("{early}-template"),
    ));

    let pki = Pki::new();
    let webhook = serve(api, &pki, &["--template-namespace", &templates]);
    webhook.wait_for_log(|log| log.contains("waiting for its template") && log.contains(&early));

    // The policy arrives through the watch.
    let _policy = api.delete_on_drop("clusterinjectionpolicies.kubectl-inject.dev", &policy);
    api.apply(&injection_policy(
        &policy,
        &[ENABLED, &selected],
        &format!("{template}@2.0.0"),
    ));
    api.apply(&format!(
        "{}{}",
        namespace(&mesh, &[ENABLED, &selected]),
        namespace(&plain, &[&selected]),
    ));
    let _mwc = api.delete_on_drop("mutatingwebhookconfiguration", &mwc);
    api.apply(&mutating_configuration(&mwc, &webhook, &pki));
    wait_for_dry_run(
        api,
        &webhook,
        &pod(&mesh, "probe"),
        "the watched policy injects the pod",
        |r| r.as_ref().is_ok_and(|p| status_annotation(p).is_some()),
    );

    api.kubectl(&["create", "-f", "-"], Some(&pod(&mesh, "web")));
    api.kubectl(&["create", "-f", "-"], Some(&pod(&plain, "solo")));
    let web = get_pod(api, &mesh, "web");
    assert_injected(&web, "e2e-sidecar", Some("e2e-init"));
    let sidecar = web["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "e2e-sidecar")
        .unwrap();
    assert_eq!(sidecar["args"][0], "--pod=web", "{sidecar:#}");
    let status = status_annotation(&web).unwrap();
    assert!(
        status.contains(&template) && status.contains(&policy),
        "{status}"
    );
    assert_not_injected(&get_pod(api, &plain, "solo"));

    let record = audited(&webhook, "inject", &mesh, "web");
    assert_eq!(record.len(), 1, "{record:#?}");
    assert_eq!(record[0]["outcome"], "inject", "{:#}", record[0]);
    assert_eq!(record[0]["policy"], policy.as_str(), "{:#}", record[0]);
    assert_eq!(record[0]["template_version"], "2.0.0", "{:#}", record[0]);
    let record = audited(&webhook, "inject", &plain, "solo");
    assert_eq!(record.len(), 1, "{record:#?}");
    assert_eq!(record[0]["patched"], false, "{:#}", record[0]);

    let metrics = metrics(&webhook, &pki);
    assert!(decisions(&metrics, "inject", true) >= 1.0, "{metrics}");
    assert!(
        metrics.contains("kubectl_inject_reloads_total{what=\"policies\",result=\"success\"}"),
        "{metrics}"
    );
}

/// The validating webhook refuses kubectl-inject.dev objects that the
/// repository's checks refuse, with the finding, and lets good ones in.
#[test]
fn invalid_policies_are_refused_by_the_api_server() {
    let Some(api) = apiserver() else { return };
    ensure_crds(api);
    let pki = Pki::new();
    let webhook = serve(api, &pki, &[]);
    let vwc = unique("e2e-validate");
    let bad = unique("e2e-bad-policy");
    let good = unique("e2e-good-policy");
    let scope = unique("e2e-validate-scope");
    let policy = |name: &str, spec: &str| {
        format!(
            "apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: {name}
  labels: {{{SELECT}: {vwc}}}
spec:
{spec}"
        )
    };
    // `action: inject` needs a `template` (INJ002): a rule of the JSON
    // Schema (`if`/`then`) that no CRD schema carries, so only the webhook
    // can refuse it, whatever CRDs are installed.
    let no_template = policy(&bad, "  action: inject\n");
    // Never stored, also if the API server somehow let it in.
    let _bad = api.delete_on_drop("clusterinjectionpolicies.kubectl-inject.dev", &bad);
    let _good = api.delete_on_drop("clusterinjectionpolicies.kubectl-inject.dev", &good);
    let _vwc = api.delete_on_drop("validatingwebhookconfiguration", &vwc);
    api.apply(&validating_configuration(&vwc, &webhook, &pki));
    wait_for_dry_run(
        api,
        &webhook,
        &no_template,
        "the API server calls the validating webhook",
        |r| r.as_ref().is_err_and(|e| e.contains("denied the request")),
    );

    let out = api.try_kubectl(&["apply", "-f", "-"], Some(&no_template));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the bad policy was accepted: {stderr}"
    );
    assert!(
        stderr.contains("validate.kubectl-inject.dev")
            && stderr.contains("denied the request")
            && stderr.contains(&format!("ClusterInjectionPolicy/{bad} is invalid"))
            && stderr.contains("INJ002")
            && stderr.contains("template"),
        "{stderr}"
    );
    let out = api.try_kubectl(
        &["get", "clusterinjectionpolicies.kubectl-inject.dev", &bad],
        None,
    );
    assert!(!out.status.success(), "the refused policy is not stored");

    // A value outside the enum: the webhook's INJ002, or the API server's own
    // refusal when the CRD's schema has the enum.
    let out = api.try_kubectl(
        &["apply", "-f", "-"],
        Some(&policy(&bad, "  action: injekt\n  template: envoy-proxy\n")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "`injekt` was accepted: {stderr}");
    assert!(
        (stderr.contains("denied the request") && stderr.contains("INJ002"))
            || stderr.contains("Unsupported value"),
        "{stderr}"
    );

    // A good one is let in, and breaking it on update is refused.
    let good_spec =
        format!("  namespaceSelector:\n    matchLabels: {{{SELECT}: {scope}}}\n  action: skip\n");
    api.apply(&policy(&good, &good_spec));
    api.kubectl(
        &["get", "clusterinjectionpolicies.kubectl-inject.dev", &good],
        None,
    );
    let out = api.try_kubectl(
        &["apply", "-f", "-"],
        Some(&policy(&good, &good_spec.replace("skip", "inject"))),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the update was accepted: {stderr}");
    assert!(
        stderr.contains("denied the request") && stderr.contains("INJ002"),
        "{stderr}"
    );

    let records: Vec<Value> = webhook
        .audit_lines()
        .into_iter()
        .filter(|r| r["endpoint"] == "validate" && r["dry_run"] == false)
        .collect();
    let of = |name: &str, operation: &str, outcome: &str| {
        records
            .iter()
            .any(|r| r["name"] == name && r["operation"] == operation && r["outcome"] == outcome)
    };
    assert!(of(&bad, "CREATE", "refused"), "{records:#?}");
    assert!(of(&good, "CREATE", "valid"), "{records:#?}");
    assert!(of(&good, "UPDATE", "refused"), "{records:#?}");
    let metrics = metrics(&webhook, &pki);
    assert!(decisions(&metrics, "refused", false) >= 2.0, "{metrics}");
    assert!(decisions(&metrics, "valid", true) >= 1.0, "{metrics}");
}
