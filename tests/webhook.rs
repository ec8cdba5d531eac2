//! `kubectl inject serve` over real HTTPS on loopback, with a generated CA.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::package_root;
use common::webhook::{
    BodyEnd, H2_PREFACE_AND_SETTINGS, H2Frame, HttpsClient, KeepAlive, Pki, Reply, Webhook,
    answer_patch, apply_answer, h2_frame_types, h2_post_frames, metric, pod_review, review,
    server_cert_cn, wait_until,
};
use kubectl_inject::config::Config;
use kubectl_inject::engine::OWN_INJECTOR;
use kubectl_inject::injectors::own::decide::Outcome;
use kubectl_inject::lint::Analysis;
use kubectl_inject::model::workload::pod_template_path;
use serde_json::{Value, json};

const POLICY_SET: &[&str] = &[
    "testdata/policy/templates",
    "testdata/policy/cluster-policies.yaml",
    "testdata/policy/payments-policy.yaml",
    "testdata/namespaces",
];

/// The image of envoy-proxy@1.4.0 (mesh-default's template) and of
/// envoy-proxy@1.5.0 (its canary).
const ENVOY_1_4: &str = "docker.io/envoyproxy/envoy:v1.31.2";
const ENVOY_1_5: &str = "docker.io/envoyproxy/envoy:v1.32.1";

/// `serve POLICY_SET --offline ARGS…` in the package root.
fn start(pki: &Pki, extra: &[&str]) -> Webhook {
    let mut args: Vec<&str> = POLICY_SET.to_vec();
    args.push("--offline");
    args.extend_from_slice(extra);
    Webhook::start_in(pki, &args, Some(package_root()))
}

/// A Deployment's pod as its ReplicaSet creates it: `generateName`, the
/// ReplicaSet as controller, the `pod-template-hash` label.
fn deployment_pod(name: &str, namespace: &str, labels: Value, containers: Value) -> Value {
    let mut template = json!({"metadata": {"labels": labels}, "spec": {"containers": containers}});
    as_created("Deployment", name, namespace, &mut template);
    template
}

/// The one container or init container named `name` of a pod.
fn container<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|list| pod["spec"][list].as_array())
        .flatten()
        .find(|c| c["name"] == name)
}

/// Posts a pod to /inject and applies the answer: (allowed, pod after, response).
fn inject(client: &HttpsClient, webhook: &Webhook, uid: &str, pod: &Value) -> (bool, Value, Value) {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let reply = client.post(
        &webhook.url("/inject"),
        pod_review(uid, namespace, pod).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["response"]["uid"], uid, "{answer}");
    apply_answer(pod, &answer)
}

/// The image of the `proxy` sidecar a new pod of Deployment `name` in `shop`
/// gets now (`None`: no proxy).
fn proxy_image(client: &HttpsClient, webhook: &Webhook, name: &str) -> Option<String> {
    let pod = deployment_pod(
        name,
        "shop",
        json!({"app": name}),
        json!([{"name": "app", "image": "registry.example.com/app:1"}]),
    );
    let (allowed, after, response) = inject(client, webhook, "uid-proxy", &pod);
    assert!(allowed, "{response}");
    container(&after, "proxy").map(|c| c["image"].as_str().unwrap().to_owned())
}

#[test]
fn a_pod_in_a_labelled_namespace_is_injected_over_https() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}});
    let reply = client.post(
        &webhook.url("/inject"),
        pod_review("uid-1", "shop", &pod).to_string(),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let (allowed, after, response) = apply_answer(&pod, &reply.json());
    assert!(allowed, "{response}");
    assert_eq!(response["uid"], "uid-1");
    let names: Vec<&str> = after["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"proxy"), "{after}");
    assert_eq!(client.get(&webhook.url("/readyz")).status, 200);
}

// ---------------------------------------------------------------------------
// 1. The webhook injects exactly what `render --injector kubectl-inject` does.

/// The fake `pod-template-hash` of every Deployment's ReplicaSet, and the
/// scheduled time (minutes since the epoch) of every CronJob's Job.
const TEMPLATE_HASH: &str = "5d8f7c9b4";
/// A CronJob's Job is named after its scheduled time: an hour before the
/// test started (read once: a pod sent and the pod expected are named alike
/// even when a minute turns between them).
fn cronjob_minutes() -> i64 {
    static MINUTES: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *MINUTES.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            / 60
            - 60
    })
}

/// Turns `pod` (a workload's pod template, or a bare Pod) of workload
/// `kind`/`name` into the Pod its controller creates in `namespace`:
/// apiVersion/kind, the namespace, a name or `generateName`, the controller
/// owner reference, and the labels the controller adds.
fn as_created(kind: &str, name: &str, namespace: &str, pod: &mut Value) {
    let object = pod.as_object_mut().unwrap();
    object.insert("apiVersion".into(), "v1".into());
    object.insert("kind".into(), "Pod".into());
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .unwrap();
    metadata
        .entry("namespace")
        .or_insert_with(|| namespace.into());
    if kind == "Pod" {
        return;
    }
    let (owner_api, owner_kind, owner) = match kind {
        "Deployment" => ("apps/v1", "ReplicaSet", format!("{name}-{TEMPLATE_HASH}")),
        "CronJob" => ("batch/v1", "Job", format!("{name}-{}", cronjob_minutes())),
        "Job" => ("batch/v1", "Job", name.to_owned()),
        "StatefulSet" | "DaemonSet" => ("apps/v1", kind, name.to_owned()),
        other => panic!("no fixture workload is a {other}: teach this test its pods"),
    };
    if kind == "StatefulSet" {
        // A StatefulSet names its pods itself (`NAME-0`), so `${pod.name}`
        // must still come out as the workload's name, as render has it.
        metadata.insert("name".into(), format!("{name}-0").into());
    } else {
        metadata.insert("generateName".into(), format!("{owner}-").into());
    }
    metadata.insert(
        "ownerReferences".into(),
        json!([{"apiVersion": owner_api, "kind": owner_kind, "name": owner,
                "uid": "6f1c1b8e-0b1e-4c43-9a55-0d2b4f6c1a10",
                "controller": true, "blockOwnerDeletion": true}]),
    );
    if kind == "Deployment" {
        let labels = metadata.entry("labels").or_insert_with(|| json!({}));
        labels["pod-template-hash"] = TEMPLATE_HASH.into();
    }
}

/// The name of the service account token volume the API server's
/// ServiceAccount admission plugin adds before any webhook runs.
const TOKEN_VOLUME: &str = "kube-api-access-x7k2p";

/// What the API server does to a pod before mutating webhooks see it: its
/// defaulting (pod and container fields) and the built-in admission
/// plugins (ServiceAccount, DefaultTolerationSeconds, Priority). Container
/// fields are defaulted for the containers named in `containers` only (in
/// render's output, the sidecars are added later and defaulted after the
/// webhook). The token volume and mounts are added with `token`.
fn api_server_defaults(pod: &mut Value, containers: &[String], token: bool) {
    let spec = pod["spec"].as_object_mut().unwrap();
    for (key, value) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
        ("serviceAccountName", json!("default")),
        ("priority", json!(0)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
    ] {
        spec.entry(key).or_insert(value);
    }
    let account = spec["serviceAccountName"].clone();
    spec.entry("serviceAccount").or_insert(account);
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let list = tolerations.as_array_mut().unwrap();
        if !list.iter().any(|t| t["key"] == key) {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
    if token {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        volumes.as_array_mut().unwrap().push(json!({"name": TOKEN_VOLUME, "projected": {
            "defaultMode": 420,
            "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}));
    }
    for list in ["initContainers", "containers"] {
        let Some(list) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in list {
            let name = container["name"].as_str().unwrap_or_default();
            if !containers.iter().any(|c| c == name) {
                continue;
            }
            let container = container.as_object_mut().unwrap();
            let image = container["image"].as_str().unwrap_or_default();
            let pull =
                if image.ends_with(":latest") || !image.rsplit('/').next().unwrap().contains(':') {
                    "Always"
                } else {
                    "IfNotPresent"
                };
            container.entry("imagePullPolicy").or_insert(pull.into());
            container
                .entry("terminationMessagePath")
                .or_insert("/dev/termination-log".into());
            container
                .entry("terminationMessagePolicy")
                .or_insert("File".into());
            if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    port.as_object_mut()
                        .unwrap()
                        .entry("protocol")
                        .or_insert("TCP".into());
                }
            }
            if token {
                let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
                mounts
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": TOKEN_VOLUME, "readOnly": true,
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}));
            }
        }
    }
}

/// The token volume and its mounts taken out of a pod again (asserting
/// they are there, once, on the containers in `containers` alone).
fn without_token(pod: &Value, containers: &[String], what: &str) -> Value {
    let mut pod = pod.clone();
    let spec = pod["spec"].as_object_mut().unwrap();
    let volumes = spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("{what}: the volumes are lost"));
    let before = volumes.len();
    volumes.retain(|v| v["name"] != TOKEN_VOLUME);
    assert_eq!(
        before,
        volumes.len() + 1,
        "{what}: the token volume is lost"
    );
    if volumes.is_empty() {
        spec.remove("volumes");
    }
    for list in ["initContainers", "containers"] {
        let Some(list) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in list {
            let name = container["name"].as_str().unwrap().to_owned();
            let container = container.as_object_mut().unwrap();
            let mounts = container
                .get_mut("volumeMounts")
                .and_then(Value::as_array_mut);
            let found = mounts.map_or(0, |mounts| {
                let before = mounts.len();
                mounts.retain(|m| m["name"] != TOKEN_VOLUME);
                before - mounts.len()
            });
            let expected = usize::from(containers.contains(&name));
            assert_eq!(found, expected, "{what}: token mounts of container {name}");
            if container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                container.remove("volumeMounts");
            }
        }
    }
    pod
}

fn container_names(pod: &Value) -> Vec<String> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|list| pod["spec"][list].as_array())
        .flatten()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// What render injects, by running its analysis (`render --injector
/// kubectl-inject PATHS…` writes exactly this simulation's pods).
fn render_analysis(
    paths: &[PathBuf],
) -> (
    kubectl_inject::load::Workspace,
    kubectl_inject::lint::LintOutcome,
) {
    // One cluster: the policy files and the apps (two of which are
    // Kustomize roots) are applied together.
    let config = Config {
        environments: vec![kubectl_inject::config::EnvironmentConfig {
            name: "cluster".into(),
            paths: vec![".".into()],
            ..Default::default()
        }],
        root: PathBuf::from("."),
        ..Config::default()
    };
    let analysis = Analysis {
        manual_injector: Some(OWN_INJECTOR),
        ..Analysis::new(paths.to_vec(), &config)
    };
    analysis.run(std::io::empty()).expect("the paths load")
}

/// What [`compare_with_render`] compared.
#[derive(Debug, Default)]
struct Compared {
    by_kind: BTreeMap<String, usize>,
    injected: usize,
    untouched: usize,
    /// The injected pods as the webhook's patch left them, by `Kind/name`.
    pods: BTreeMap<String, Value>,
}

/// Sends the pod of every workload of `ws` from a file under `under` to the
/// webhook, as its controller creates it (`defaulted`: as the API server
/// hands it on), and asserts that the patched pod is render's, and that
/// what render leaves alone comes back unpatched.
fn compare_with_render(
    webhook: &Webhook,
    client: &HttpsClient,
    (ws, outcome): &(
        kubectl_inject::load::Workspace,
        kubectl_inject::lint::LintOutcome,
    ),
    under: &str,
    defaulted: bool,
) -> Compared {
    let mut compared = Compared::default();
    for (i, workload) in outcome.simulation.workloads.iter().enumerate() {
        let object = &ws.objects[workload.object];
        // Where the workload is written (a Kustomize root's resource file).
        let file = &ws.sources.get(workload.file).name;
        if !file.starts_with(under) {
            continue;
        }
        let path = pod_template_path(&workload.kind).expect("a workload has a pod template");
        let what = format!(
            "{}/{}/{} ({file}{})",
            workload.kind,
            workload.namespace,
            workload.name,
            if defaulted { ", defaulted" } else { "" }
        );
        let own = workload
            .injectors
            .iter()
            .find(|r| r.injector == OWN_INJECTOR)
            .unwrap_or_else(|| panic!("{what}: no decision of the own injector"));
        let mut pod = object
            .root
            .to_json()
            .pointer(path)
            .cloned()
            .unwrap_or_else(|| panic!("{what}: no pod template at {path:?}"));
        as_created(
            &workload.kind,
            &workload.name,
            &workload.namespace,
            &mut pod,
        );
        let own_containers = container_names(&pod);
        if defaulted {
            api_server_defaults(&mut pod, &own_containers, true);
        }
        let uid = format!("uid-{i}-{defaulted}");
        let reply = client.post(
            &webhook.url("/inject"),
            pod_review(&uid, &workload.namespace, &pod).to_string(),
        );
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        let answer = reply.json();
        let (allowed, after, response) = apply_answer(&pod, &answer);
        assert_eq!(response["uid"], uid.as_str(), "{what}");
        match (&workload.pod_after, own.decision) {
            (Some(rendered), _) => {
                let mut expected = rendered.clone();
                as_created(
                    &workload.kind,
                    &workload.name,
                    &workload.namespace,
                    &mut expected,
                );
                let after = if defaulted {
                    api_server_defaults(&mut expected, &own_containers, false);
                    without_token(&after, &own_containers, &what)
                } else {
                    after
                };
                assert!(allowed, "{what}: {response}");
                assert!(response.get("patch").is_some(), "{what}: no patch");
                assert!(
                    after == expected,
                    "{what}: the webhook's pod differs from render's: {}\nwebhook patch: {}",
                    serde_json::to_string_pretty(&json_patch::diff(&expected, &after)).unwrap(),
                    answer_patch(&answer).unwrap()
                );
                compared.injected += 1;
                compared
                    .pods
                    .insert(format!("{}/{}", workload.kind, workload.name), after);
            }
            (None, Outcome::Deny | Outcome::Conflict) => {
                assert!(!allowed, "{what}: render refuses it, the webhook admits it");
                compared.untouched += 1;
            }
            (None, decision) => {
                assert!(allowed, "{what}: {response}");
                assert!(
                    response.get("patch").is_none(),
                    "{what}: render leaves it ({decision:?}), the webhook patches it: {}",
                    answer_patch(&answer).unwrap()
                );
                assert_eq!(after, pod, "{what}");
                compared.untouched += 1;
            }
        }
        *compared.by_kind.entry(workload.kind.clone()).or_default() += 1;
    }
    compared
}

fn kinds(counts: &[(&str, usize)]) -> BTreeMap<String, usize> {
    counts.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

#[test]
fn every_fixture_workload_is_injected_as_render_injects_it() {
    let mut paths: Vec<PathBuf> = POLICY_SET.iter().map(PathBuf::from).collect();
    paths.push("testdata/apps".into());
    let rendered = render_analysis(&paths);

    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    // First the pods as their controllers write them, then as the API
    // server hands them to the webhook (defaulted, with the service account
    // token volume): the patch must fit either.
    for defaulted in [false, true] {
        let compared =
            compare_with_render(&webhook, &client, &rendered, "testdata/apps/", defaulted);
        // The workloads of testdata/apps (the document of
        // apps/mistakes/broken-indentation.yaml that does not parse is not
        // among them; duplicated-deployment.yaml's two count twice).
        assert_eq!(
            compared.by_kind,
            kinds(&[
                ("CronJob", 1),
                ("DaemonSet", 1),
                ("Deployment", 28),
                ("Job", 1),
                ("Pod", 1),
                ("StatefulSet", 3),
            ])
        );
        assert_eq!(compared.by_kind.values().sum::<usize>(), 35);
        // apps/shop and apps/store are Kustomize roots whose `namespace:`
        // puts their workloads in the labelled namespaces shop and store.
        assert_eq!((compared.injected, compared.untouched), (30, 5));
    }
    assert!(
        !webhook.log_text().contains("BUG"),
        "{}",
        webhook.log_text()
    );
}

/// A template that writes `${pod.name}`, `${pod.namespace}` and
/// `${pod.serviceAccountName}` into its container, in two versions (a 50%
/// rollout picks between them by workload), for every namespace labelled
/// `team: apps`; and one workload of every controller kind.
const NAMER_POLICIES: &str = r#"apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: namer
spec:
  version: 1.0.0
  containers:
    - name: namer
      image: registry.example.com/namer:1.0.0
      env:
        - {name: POD, value: "${pod.name}"}
        - {name: NAMESPACE, value: "${pod.namespace}"}
        - {name: ACCOUNT, value: "${pod.serviceAccountName}"}
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {cpu: 10m, memory: 16Mi}
      readinessProbe:
        httpGet: {path: /ready, port: 8080}
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: namer
spec:
  version: 1.1.0
  nativeSidecar: true
  containers:
    - name: namer
      image: registry.example.com/namer:1.1.0
      args: ["--id=${pod.name}.${pod.namespace}"]
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {cpu: 10m, memory: 16Mi}
      readinessProbe:
        httpGet: {path: /ready, port: 8080}
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: name-everything
spec:
  namespaceSelector:
    matchLabels: {team: apps}
  action: inject
  template: namer@1.0.0
  rollout:
    template: namer@1.1.0
    percent: 50
---
apiVersion: v1
kind: Namespace
metadata:
  name: apps
  labels: {team: apps}
---
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {team: apps}
"#;

fn namer_workloads() -> String {
    let template = |app: &str, restart: &str| {
        format!(
            "metadata:\n      labels: {{app: {app}}}\n    spec:\n      restartPolicy: {restart}\n      containers:\n        - {{name: main, image: registry.example.com/{app}:1}}"
        )
    };
    let indent = |text: String, by: usize| text.replace('\n', &format!("\n{}", " ".repeat(by)));
    let mut docs = Vec::new();
    for (name, namespace) in [
        ("web", Some("apps")),
        ("api", Some("apps")),
        ("worker", None),
        ("frontend", Some("apps")),
    ] {
        let ns = namespace.map_or(String::new(), |ns| format!("\n  namespace: {ns}"));
        docs.push(format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}{ns}\nspec:\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    {}",
            template(name, "Always")
        ));
    }
    for name in ["db", "cache"] {
        docs.push(format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {name}\n  namespace: apps\nspec:\n  serviceName: {name}\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    {}",
            template(name, "Always")
        ));
    }
    docs.push(format!(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: apps\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n    {}",
        template("agent", "Always")
    ));
    docs.push(format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: apps\nspec:\n  template:\n    {}",
        template("migrate", "Never")
    ));
    docs.push(format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 1 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        {}",
        indent(template("nightly", "OnFailure"), 4)
    ));
    docs.push(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\n  namespace: apps\n  labels: {app: debug}\nspec:\n  serviceAccountName: debugger\n  containers:\n    - {name: main, image: registry.example.com/debug:1}".to_owned(),
    );
    docs.join("\n---\n") + "\n"
}

/// `${pod.name}` is the workload's name (as render has it), whatever the
/// controller names its pods: `NAME-0` (StatefulSet), `NAME-HASH-xxxxx`
/// (ReplicaSet), `NAME-MINUTES-xxxxx` (CronJob), `NAME-xxxxx` (Job,
/// DaemonSet); and the rollout bucket goes by the workload too.
#[test]
fn the_pod_name_a_template_sees_is_the_workloads_for_every_controller() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies.yaml");
    let apps = dir.path().join("apps");
    std::fs::write(&policies, NAMER_POLICIES).unwrap();
    std::fs::create_dir(&apps).unwrap();
    std::fs::write(apps.join("workloads.yaml"), namer_workloads()).unwrap();
    let rendered = render_analysis(&[policies.clone(), apps.clone()]);
    let errors: Vec<_> = rendered
        .1
        .diagnostics
        .iter()
        .filter(|d| d.severity == kubectl_inject::diagnostic::Severity::Error)
        .map(|d| format!("{} {}", d.rule.id, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let pki = Pki::new();
    let webhook = Webhook::start(&pki, &[policies.to_str().unwrap(), "--offline"]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    let under = format!("{}/", apps.display());
    for defaulted in [false, true] {
        let compared = compare_with_render(&webhook, &client, &rendered, &under, defaulted);
        assert_eq!(
            compared.by_kind,
            kinds(&[
                ("CronJob", 1),
                ("DaemonSet", 1),
                ("Deployment", 4),
                ("Job", 1),
                ("Pod", 1),
                ("StatefulSet", 2),
            ])
        );
        assert_eq!((compared.injected, compared.untouched), (10, 0));
        let mut versions = BTreeMap::<&str, usize>::new();
        for (workload, pod) in &compared.pods {
            let name = workload.split_once('/').unwrap().1;
            let namespace = pod["metadata"]["namespace"].as_str().unwrap();
            let namer = container(pod, "namer").unwrap_or_else(|| panic!("{workload}: {pod}"));
            match namer["image"].as_str().unwrap() {
                "registry.example.com/namer:1.0.0" => {
                    *versions.entry("1.0.0").or_default() += 1;
                    let env: BTreeMap<&str, &str> = namer["env"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
                        .collect();
                    assert_eq!(env["POD"], name, "{workload}");
                    assert_eq!(env["NAMESPACE"], namespace, "{workload}");
                    let account = if name == "debug" {
                        "debugger"
                    } else {
                        "default"
                    };
                    assert_eq!(env["ACCOUNT"], account, "{workload}");
                }
                "registry.example.com/namer:1.1.0" => {
                    *versions.entry("1.1.0").or_default() += 1;
                    assert_eq!(
                        namer["args"][0],
                        format!("--id={name}.{namespace}"),
                        "{workload}"
                    );
                }
                other => panic!("{workload}: {other}"),
            }
        }
        // The 50% rollout split the ten workloads both ways.
        assert_eq!(versions.len(), 2, "{versions:?}");
    }
}

// ---------------------------------------------------------------------------
// 2. Malformed, oversized and misdirected requests.

fn status_message(reply: &Reply) -> String {
    let answer = reply.json();
    assert_eq!(answer["kind"], "AdmissionReview", "{answer}");
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1", "{answer}");
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no status message: {answer}"))
        .to_owned()
}

#[test]
fn malformed_oversized_and_misdirected_requests_are_answered_not_crashed_on() {
    let pki = Pki::new();
    let webhook = start(&pki, &["--max-body-size", "2048"]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    let inject_url = webhook.url("/inject");
    let pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );

    let garbage = client.post(&inject_url, "{this is not json");
    assert_eq!(garbage.status, 400, "{}", garbage.text());
    let message = status_message(&garbage);
    assert!(
        message.contains("not an AdmissionReview"),
        "garbage: {message}"
    );

    let mut beta = pod_review("uid-beta", "shop", &pod);
    beta["apiVersion"] = "admission.k8s.io/v1beta1".into();
    let reply = client.post(&inject_url, beta.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    let message = status_message(&reply);
    assert!(
        message.contains("admission.k8s.io/v1beta1") && message.contains("admissionReviewVersions"),
        "v1beta1: {message}"
    );

    let reply = client.post(
        &inject_url,
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).to_string(),
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        status_message(&reply).contains("no request"),
        "{}",
        reply.text()
    );

    let mut no_object = pod_review("uid-no-object", "shop", &pod);
    no_object["request"]["object"] = Value::Null;
    let reply = client.post(&inject_url, no_object.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        status_message(&reply).contains("without an object"),
        "{}",
        reply.text()
    );

    // Every 400 so far and below is counted as malformed.
    let mut malformed_sent = 4.0;

    // Wrong types where a pod has structure: each gets an answer (a 400
    // for what the request types refuse, else a decision), none a crash.
    let wrong_types: &[(&str, &str, Value)] = &[
        (
            "labels as a list",
            "/metadata/labels",
            json!(["app", "web"]),
        ),
        (
            "annotations as numbers",
            "/metadata/annotations",
            json!({"kubectl-inject.dev/inject": true, "n": 5}),
        ),
        ("metadata as a string", "/metadata", json!("web")),
        ("spec as a list", "/spec", json!([])),
        ("containers as a string", "/spec/containers", json!("web")),
        ("a container as a number", "/spec/containers/0", json!(42)),
        ("an image as a number", "/spec/containers/0/image", json!(5)),
        ("env as a map", "/spec/containers/0/env", json!({"A": 1})),
        ("volumes as an object", "/spec/volumes", json!({"x": null})),
        (
            "owner references as a map",
            "/metadata/ownerReferences",
            json!({"kind": "ReplicaSet"}),
        ),
        (
            "an owner without a name",
            "/metadata/ownerReferences/0/name",
            json!(7),
        ),
        ("hostNetwork as a string", "/spec/hostNetwork", json!("yes")),
        (
            "serviceAccountName as a list",
            "/spec/serviceAccountName",
            json!(["a"]),
        ),
    ];
    for (i, (what, pointer, value)) in wrong_types.iter().enumerate() {
        let mut bad = pod.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = bad.pointer_mut(parent).unwrap();
        match parent {
            Value::Object(map) => {
                map.insert(key.to_owned(), value.clone());
            }
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = value.clone(),
            _ => unreachable!(),
        }
        let uid = format!("uid-wrong-{i}");
        let reply = client.post(&inject_url, pod_review(&uid, "shop", &bad).to_string());
        assert!(
            reply.status == 200 || reply.status == 400,
            "{what}: {} {}",
            reply.status,
            reply.text()
        );
        let answer = reply.json();
        assert_eq!(answer["kind"], "AdmissionReview", "{what}: {answer}");
        assert!(
            answer["response"]["allowed"].is_boolean(),
            "{what}: {answer}"
        );
        if reply.status == 200 {
            assert_eq!(answer["response"]["uid"], uid.as_str(), "{what}: {answer}");
            // A patch, if any, applies to the pod as sent.
            apply_answer(&bad, &answer);
        } else {
            assert!(!status_message(&reply).is_empty(), "{what}");
            malformed_sent += 1.0;
        }
        assert_eq!(client.get(&webhook.url("/healthz")).status, 200, "{what}");
    }

    // Too large, with a Content-Length and chunked (only known once read).
    let mut big = pod.clone();
    big["metadata"]["annotations"] = json!({"padding": "x".repeat(4096)});
    let body = pod_review("uid-big", "shop", &big).to_string();
    let reply = client.post(&inject_url, body.clone());
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(
        status_message(&reply).contains("--max-body-size"),
        "{}",
        reply.text()
    );
    let mut raw = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    let reply = raw.post_chunked("/inject", body.as_bytes());
    assert_eq!(reply.status, 413, "chunked: {}", reply.text());
    // Just under the limit is fine.
    let small = pod_review("uid-small", "shop", &pod).to_string();
    assert!(small.len() < 2048);
    let reply = client.post(&inject_url, small);
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Wrong method, wrong path.
    let reply = client.get(&inject_url);
    assert_eq!(reply.status, 405, "{}", reply.text());
    assert_eq!(
        client
            .send("PUT", &webhook.url("/validate"), Vec::new())
            .status,
        405
    );
    assert_eq!(client.get(&webhook.url("/mutate")).status, 404);
    assert_eq!(client.post(&webhook.url("/"), "{}").status, 404);

    // Not ours: another kind, an UPDATE, a subresource.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}});
    let not_ours = [
        review(
            "uid-deploy",
            "CREATE",
            ("apps", "v1", "Deployment"),
            "deployments",
            Some("shop"),
            &deployment,
        ),
        review(
            "uid-update",
            "UPDATE",
            ("", "v1", "Pod"),
            "pods",
            Some("shop"),
            &pod,
        ),
        {
            let mut binding = pod_review("uid-sub", "shop", &pod);
            binding["request"]["subResource"] = "ephemeralcontainers".into();
            binding
        },
    ];
    for review in not_ours {
        let uid = review["request"]["uid"].clone();
        let reply = client.post(&inject_url, review.to_string());
        assert_eq!(reply.status, 200, "{}", reply.text());
        let answer = reply.json();
        assert_eq!(answer["response"]["uid"], uid, "{answer}");
        assert_eq!(answer["response"]["allowed"], true, "{answer}");
        assert!(answer["response"].get("patch").is_none(), "{answer}");
    }

    // Still serving, and it counted.
    assert_eq!(client.get(&webhook.url("/healthz")).status, 200);
    let metrics = webhook.metrics(&client);
    let malformed = metric(&metrics, r#"kubectl_inject_errors_total{kind="malformed"}"#);
    assert_eq!(malformed, Some(malformed_sent), "{metrics}");
    let too_large = metric(&metrics, r#"kubectl_inject_errors_total{kind="too_large"}"#);
    assert_eq!(too_large, Some(2.0), "{metrics}");
    assert_eq!(
        metric(&metrics, r#"kubectl_inject_errors_total{kind="panic"}"#),
        None,
        "{metrics}"
    );
    let log = webhook.log_text();
    assert!(!log.contains("BUG"), "{log}");
}

// ---------------------------------------------------------------------------
// 3. Policies reloaded from their directory.

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// testdata's policy set (templates, namespaces, policies) copied into
/// `root/policies`, for tests that change it under a running `serve`.
fn copy_testdata_policies(root: &Path) -> PathBuf {
    let policies = root.join("policies");
    let testdata = package_root().join("testdata");
    copy_dir(
        &testdata.join("policy/templates"),
        &policies.join("templates"),
    );
    copy_dir(&testdata.join("namespaces"), &policies.join("namespaces"));
    for file in ["cluster-policies.yaml", "payments-policy.yaml"] {
        std::fs::copy(testdata.join("policy").join(file), policies.join(file)).unwrap();
    }
    policies
}

/// Replaces `path` at once (written beside the watched directory, then
/// renamed), so the poller never reads half a file.
fn replace_file(aside_dir: &Path, path: &Path, text: &str) {
    let aside = aside_dir.join("replacement.tmp");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

#[test]
fn a_changed_policy_directory_is_taken_into_service_and_a_broken_one_refused() {
    let root = tempfile::tempdir().unwrap();
    let policies = copy_testdata_policies(root.path());
    let cluster_policies = policies.join("cluster-policies.yaml");
    let original = std::fs::read_to_string(&cluster_policies).unwrap();

    let pki = Pki::new();
    let dir = policies.to_str().unwrap();
    let webhook = Webhook::start(&pki, &[dir, "--offline"]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    webhook.wait_for_log(|log| log.contains("policy set 1 in service"));
    // `web` is not in mesh-default's 10% canary: it gets 1.4.0.
    assert_eq!(
        proxy_image(&client, &webhook, "web").as_deref(),
        Some(ENVOY_1_4)
    );

    // Promote the canary: mesh-default now injects 1.5.0.
    let promoted = format!("# 1.5.0 promoted\n{original}")
        .replace("template: envoy-proxy@1.4.0", "template: envoy-proxy@TMP")
        .replace("template: envoy-proxy@1.5.0", "template: envoy-proxy@1.4.0")
        .replace("template: envoy-proxy@TMP", "template: envoy-proxy@1.5.0");
    assert_ne!(promoted, original);
    let mark = webhook.log_mark();
    replace_file(root.path(), &cluster_policies, &promoted);
    webhook.wait_for_log_since(mark, |log| log.contains("policy set 2 in service"));
    assert_eq!(
        proxy_image(&client, &webhook, "web").as_deref(),
        Some(ENVOY_1_5),
        "a new pod gets the new template"
    );

    // A schema error: refused, set 2 stays in service.
    let broken = promoted.replacen("action: inject", "action: injekt", 1);
    assert_ne!(broken, promoted);
    let mark = webhook.log_mark();
    replace_file(root.path(), &cluster_policies, &broken);
    // A refused set keeps its number: each number names one set in the log.
    let log = webhook.wait_for_log_since(mark, |log| log.contains("refused the new policy set 3"));
    assert!(log.contains("set 2 stays in service"), "{log}");
    assert!(
        log.contains("INJ002"),
        "the refusal names the finding: {log}"
    );
    assert_eq!(
        proxy_image(&client, &webhook, "api").as_deref(),
        Some(ENVOY_1_5),
        "pods still get set 2's injection"
    );
    let metrics = webhook.metrics(&client);
    assert_eq!(
        metric(
            &metrics,
            r#"kubectl_inject_reloads_total{what="policies",result="refused"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "kubectl_inject_policy_set_generation"),
        Some(2.0),
        "{metrics}"
    );
    // The refused files are not read again and again.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        webhook
            .log_since(mark)
            .matches("refused the new policy set")
            .count(),
        1
    );

    // Fixed: set 4, back to 1.4.0.
    let mark = webhook.log_mark();
    replace_file(root.path(), &cluster_policies, &original);
    webhook.wait_for_log_since(mark, |log| log.contains("policy set 4 in service"));
    assert_eq!(
        proxy_image(&client, &webhook, "web").as_deref(),
        Some(ENVOY_1_4)
    );
    let metrics = webhook.metrics(&client);
    assert_eq!(
        metric(
            &metrics,
            r#"kubectl_inject_reloads_total{what="policies",result="success"}"#
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "kubectl_inject_policy_set_generation"),
        Some(4.0),
        "{metrics}"
    );
}

// ---------------------------------------------------------------------------
// 4. The serving certificate reloaded.

#[test]
fn a_rotated_certificate_serves_new_handshakes_and_open_connections_stay() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let mut kept = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    assert_eq!(kept.server_cn(), "kubectl-inject test server");
    let reply = kept.request("GET", "/healthz", b"");
    assert_eq!((reply.status, reply.text().as_str()), (200, "ok\n"));
    let pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    let body = pod_review("uid-kept", "shop", &pod).to_string();
    let reply = kept.request("POST", "/inject", body.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());

    let mark = webhook.log_mark();
    pki.issue("second");
    wait_until(
        "new handshakes to get the certificate `second`",
        Duration::from_secs(20),
        || (server_cert_cn(&webhook.addr, &pki.ca_pem) == "second").then_some(()),
    );
    webhook.wait_for_log_since(mark, |log| log.contains("reloaded the TLS certificate"));

    // The connection opened before the rotation still answers, with the
    // certificate it was opened with: it was not dropped.
    for _ in 0..3 {
        let reply = kept.request("POST", "/inject", body.as_bytes());
        assert_eq!(reply.status, 200, "{}", reply.text());
        let (allowed, after, response) = apply_answer(&pod, &reply.json());
        assert!(allowed, "{response}");
        assert!(container(&after, "proxy").is_some(), "{after}");
    }
    assert_eq!(kept.server_cn(), "kubectl-inject test server");
    let client = HttpsClient::new(&pki.ca_pem, false);
    assert_eq!(client.get(&webhook.url("/healthz")).status, 200);

    // A broken certificate file: kept the previous one.
    let mark = webhook.log_mark();
    let aside = pki.dir.path().join("broken.tmp");
    std::fs::write(&aside, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    std::fs::rename(&aside, pki.cert()).unwrap();
    let log = webhook.wait_for_log_since(mark, |log| {
        log.contains("kept the previous TLS certificate")
    });
    assert!(!log.contains("reloaded the TLS certificate"), "{log}");
    assert_eq!(server_cert_cn(&webhook.addr, &pki.ca_pem), "second");
    assert_eq!(client.get(&webhook.url("/healthz")).status, 200);
    let reply = kept.request("GET", "/healthz", b"");
    assert_eq!(reply.status, 200);
    // Once, not at every poll.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        webhook
            .log_since(mark)
            .matches("kept the previous TLS certificate")
            .count(),
        1
    );
    let metrics = webhook.metrics(&client);
    assert!(
        metric(
            &metrics,
            r#"kubectl_inject_reloads_total{what="certificate",result="success"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

// ---------------------------------------------------------------------------
// 5. The audit log.

/// A replica of Deployment web as the API server sends it: with the token
/// volume the ServiceAccount admission plugin named
/// `kube-api-access-<token>`; with an init container of its own if `init`.
fn replica(token: &str, init: bool) -> Value {
    let mut pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    if init {
        pod["spec"]["initContainers"] = json!([{"name": "wait", "image": "busybox:1.36"}]);
    }
    api_server_defaults(&mut pod, &["web".into(), "wait".into()], true);
    let text = pod
        .to_string()
        .replace(TOKEN_VOLUME, &format!("kube-api-access-{token}"));
    serde_json::from_str(&text).unwrap()
}

/// Replicas of one ReplicaSet differ only in their token volume's name:
/// the first is worked out, the others are cache hits, and each one's
/// patch fits it (its own token volume and mounts stay). When the patch
/// names the token volume (the pod's init container, moved behind the
/// injected one, mounts it), every replica gets an answer of its own.
#[test]
fn replicas_with_their_own_token_volumes_share_one_injection() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    let tokens = ["x7k2p", "b9d4q", "m2z8r"];

    for init in [false, true] {
        let mut injected = Vec::new();
        for (i, token) in tokens.iter().enumerate() {
            let pod = replica(token, init);
            let uid = format!("uid-replica-{init}-{i}");
            let (allowed, after, response) = inject(&client, &webhook, &uid, &pod);
            assert!(allowed, "{response}");
            assert!(container(&after, "proxy").is_some(), "{after:#}");
            let own = format!("kube-api-access-{token}");
            let text = after.to_string();
            assert!(
                text.contains(&own) && !tokens.iter().any(|t| *t != *token && text.contains(t)),
                "replica {i} keeps its own token volume, and no other: {after:#}"
            );
            // The same injection, but for the token's name.
            injected.push(text.replace(&own, "kube-api-access-TOKEN"));
        }
        assert!(
            injected.windows(2).all(|w| w[0] == w[1]),
            "every replica is injected alike: {injected:#?}"
        );
        let caches: Vec<Value> = wait_until("three audit lines", Duration::from_secs(10), || {
            let lines: Vec<Value> = webhook
                .audit_lines()
                .into_iter()
                .filter(|l| {
                    l["uid"]
                        .as_str()
                        .is_some_and(|u| u.starts_with(&format!("uid-replica-{init}-")))
                })
                .map(|l| l["cache"].clone())
                .collect();
            (lines.len() == tokens.len()).then_some(lines)
        });
        let expected = if init {
            // The patch moves `wait`, mount and all: it names the token.
            json!(["miss", "miss", "miss"])
        } else {
            json!(["miss", "hit", "hit"])
        };
        assert_eq!(json!(caches), expected, "init container: {init}");
    }
}

#[test]
fn every_decision_is_one_json_line_in_the_audit_log() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);

    let web = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    let (_, after, _) = inject(&client, &webhook, "uid-inject", &web);
    assert!(container(&after, "proxy").is_some());
    let dns = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "coredns-x", "namespace": "kube-system", "labels": {"app": "coredns"}},
        "spec": {"containers": [{"name": "coredns", "image": "coredns:1.11"}]}});
    let (allowed, after, response) = inject(&client, &webhook, "uid-skip", &dns);
    assert!(allowed && response.get("patch").is_none(), "{response}");
    assert_eq!(after, dns);
    let mut job = json!({"metadata": {"labels": {"app": "migrate", "workload.example.com/type": "batch"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "migrate", "image": "migrate:1"}]}});
    as_created("Job", "migrate", "batch", &mut job);
    let (allowed, _, response) = inject(&client, &webhook, "uid-opt-out", &job);
    assert!(allowed && response.get("patch").is_none(), "{response}");
    let reply = client.post(&webhook.url("/inject"), "[1, 2");
    assert_eq!(reply.status, 400);
    // Not decisions: no lines.
    assert_eq!(client.get(&webhook.url("/healthz")).status, 200);
    assert_eq!(client.get(&webhook.url("/metrics")).status, 200);

    let lines = wait_until("four audit lines", Duration::from_secs(10), || {
        let lines = webhook.audit_lines();
        (lines.len() >= 4).then_some(lines)
    });
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for line in &lines {
        for field in [
            "time",
            "uid",
            "namespace",
            "name",
            "outcome",
            "reasons",
            "latency_ms",
            "allowed",
            "patched",
            "endpoint",
        ] {
            assert!(line.get(field).is_some(), "no {field}: {line}");
        }
        let time = line["time"].as_str().unwrap();
        assert!(
            time.parse::<jiff::Timestamp>().is_ok(),
            "time is RFC 3339: {time}"
        );
        assert!(
            line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{line}"
        );
        assert_eq!(line["endpoint"], "inject", "{line}");
    }
    let [injected, skipped, opted_out, invalid] = &lines[..] else {
        unreachable!()
    };
    assert_eq!(injected["uid"], "uid-inject");
    assert_eq!(injected["namespace"], "shop");
    assert_eq!(
        injected["name"],
        format!("web-{TEMPLATE_HASH}-"),
        "generateName"
    );
    assert_eq!(injected["outcome"], "inject");
    assert_eq!(injected["policy"], "mesh-default");
    assert_eq!(injected["template"], "envoy-proxy");
    assert_eq!(injected["template_version"], "1.4.0");
    assert_eq!(injected["workload"], "Deployment/web");
    assert_eq!(
        (&injected["allowed"], &injected["patched"]),
        (&json!(true), &json!(true))
    );
    assert!(
        !injected["reasons"].as_array().unwrap().is_empty(),
        "{injected}"
    );

    assert_eq!(skipped["uid"], "uid-skip");
    assert_eq!(skipped["namespace"], "kube-system");
    assert_eq!(skipped["name"], "coredns-x");
    assert_eq!(skipped["outcome"], "skip");
    assert_eq!(
        (&skipped["allowed"], &skipped["patched"]),
        (&json!(true), &json!(false))
    );
    assert!(
        !skipped["reasons"].as_array().unwrap().is_empty(),
        "{skipped}"
    );
    // No policy or template chose it: those fields are left out (or null).
    for field in ["policy", "template", "template_version"] {
        assert!(skipped.get(field).is_none_or(Value::is_null), "{skipped}");
    }

    assert_eq!(opted_out["uid"], "uid-opt-out");
    assert_eq!(opted_out["namespace"], "batch");
    assert_eq!(opted_out["name"], "migrate-");
    assert_eq!(opted_out["workload"], "Job/migrate");
    assert_eq!(opted_out["outcome"], "skip");
    assert_eq!(opted_out["policy"], "no-proxy-for-batch", "{opted_out}");
    assert!(
        opted_out.get("template").is_none_or(Value::is_null),
        "{opted_out}"
    );
    assert_eq!(
        (&opted_out["allowed"], &opted_out["patched"]),
        (&json!(true), &json!(false))
    );

    assert_eq!(invalid["outcome"], "invalid");
    assert_eq!(invalid["uid"], "");
    assert_eq!(
        (&invalid["allowed"], &invalid["patched"]),
        (&json!(false), &json!(false))
    );
    assert!(
        invalid["message"]
            .as_str()
            .is_some_and(|m| m.contains("not an AdmissionReview")),
        "{invalid}"
    );
}

// ---------------------------------------------------------------------------
// 6. --on-error.

#[test]
fn a_missing_template_is_refused_or_admitted_per_on_error() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pinned", "namespace": "shop", "labels": {"app": "pinned"},
                     "annotations": {"kubectl-inject.dev/template": "does-not-exist"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
    let pki = Pki::new();
    let client = HttpsClient::new(&pki.ca_pem, false);

    let deny = start(&pki, &[]);
    let (allowed, after, response) = inject(&client, &deny, "uid-deny", &pod);
    assert!(!allowed, "{response}");
    assert!(response.get("patch").is_none(), "{response}");
    assert_eq!(after, pod);
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("does-not-exist"), "{response}");
    assert!(message.contains("shop/pinned"), "{response}");
    drop(deny);

    let allow = start(&pki, &["--on-error", "allow"]);
    let (allowed, after, response) = inject(&client, &allow, "uid-allow", &pod);
    assert!(allowed, "{response}");
    assert!(response.get("patch").is_none(), "{response}");
    assert_eq!(after, pod);
    let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("does-not-exist") && w.contains("admitted without injection")
        }),
        "{response}"
    );
    // Other pods are still injected.
    assert_eq!(
        proxy_image(&client, &allow, "web").as_deref(),
        Some(ENVOY_1_4)
    );
}

// ---------------------------------------------------------------------------
// 7. /validate.

fn validate(client: &HttpsClient, webhook: &Webhook, uid: &str, object: &Value) -> Value {
    let kind = object["kind"].as_str().unwrap();
    let resource = match kind {
        "SidecarTemplate" => "sidecartemplates",
        "InjectionPolicy" => "injectionpolicies",
        "ClusterInjectionPolicy" => "clusterinjectionpolicies",
        other => panic!("{other}"),
    };
    let namespace = object["metadata"]["namespace"].as_str();
    let body = review(
        uid,
        "CREATE",
        ("kubectl-inject.dev", "v1alpha1", kind),
        resource,
        namespace,
        object,
    );
    let reply = client.post(&webhook.url("/validate"), body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let response = reply.json()["response"].clone();
    assert_eq!(response["uid"], uid, "{response}");
    response
}

#[test]
fn kubectl_inject_objects_are_validated_with_lints_rules() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);

    let typo = json!({"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "ClusterInjectionPolicy",
        "metadata": {"name": "typo"},
        "spec": {"action": "injekt", "template": "envoy-proxy@1.4.0",
                 "namespaceSelector": {"matchLabels": {"team": "a"}}}});
    let response = validate(&client, &webhook, "uid-typo", &typo);
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains("INJ002"), "{message}");
    assert!(message.contains("action"), "names the field: {message}");
    assert!(message.contains("typo"), "names the object: {message}");

    let template = json!({"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "SidecarTemplate",
        "metadata": {"name": "log-tailer", "namespace": "kubectl-inject-system"},
        "spec": {"version": "1.0.0", "containers": [{"name": "tailer",
            "image": "registry.example.com/tailer:1.0.0",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "50m", "memory": "32Mi"}}}]}});
    let response = validate(&client, &webhook, "uid-template", &template);
    assert_eq!(response["allowed"], true, "{response}");
    assert!(
        response
            .get("status")
            .is_none_or(|s| s.get("message").is_none_or(|m| m == "")),
        "{response}"
    );

    let dangling = json!({"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "ClusterInjectionPolicy",
        "metadata": {"name": "early"},
        "spec": {"action": "inject", "template": "not-yet-applied@1.0.0",
                 "namespaceSelector": {"matchLabels": {"team": "a"}}}});
    let response = validate(&client, &webhook, "uid-dangling", &dangling);
    assert_eq!(response["allowed"], true, "{response}");
    let warnings = response["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("INJ101")),
        "{response}"
    );

    // Not ours: allowed untouched.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}});
    let body = review(
        "uid-cm",
        "CREATE",
        ("", "v1", "ConfigMap"),
        "configmaps",
        Some("a"),
        &cm,
    );
    let reply = client.post(&webhook.url("/validate"), body.to_string());
    assert_eq!(reply.json()["response"]["allowed"], true);
}

// ---------------------------------------------------------------------------
// 8. HTTP/2.

#[test]
fn injection_over_http2_matches_http1_even_multiplexed() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let http1 = HttpsClient::new(&pki.ca_pem, false);
    let http2 = HttpsClient::new(&pki.ca_pem, true);
    let pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    let body = pod_review("uid-h", "shop", &pod).to_string();
    let one = http1.post(&webhook.url("/inject"), body.clone());
    let two = http2.post(&webhook.url("/inject"), body.clone());
    assert_eq!((one.status, two.status), (200, 200), "{}", two.text());
    assert_eq!(one.json(), two.json());
    let (allowed, after, response) = apply_answer(&pod, &two.json());
    assert!(allowed, "{response}");
    assert_eq!(
        container(&after, "proxy").unwrap()["image"],
        ENVOY_1_4,
        "{after}"
    );

    // Many requests at once over the one HTTP/2 connection, each answered
    // with its own uid.
    let url = webhook.url("/inject");
    let replies = http2.runtime().block_on(async {
        let requests = (0..24).map(|i| {
            let body = pod_review(&format!("uid-h2-{i}"), "shop", &pod).to_string();
            http2.send_async("POST", &url, body.into_bytes())
        });
        futures_util::future::join_all(requests).await
    });
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.status, 200, "{}", reply.text());
        let answer = reply.json();
        assert_eq!(answer["response"]["uid"], format!("uid-h2-{i}"));
        assert_eq!(answer["response"]["patch"], one.json()["response"]["patch"]);
    }
}

// ---------------------------------------------------------------------------
// 7. Connections: timeouts, the cap, limits over HTTP/2, bounded logs.

/// Closed within a few seconds (not at once, nor never), by a server
/// whose timeouts are 1 s: how long it took and what came before.
fn closed_in_time(what: &str, closed: Option<(Duration, Vec<u8>)>) -> Vec<u8> {
    let (after, seen) = closed.unwrap_or_else(|| panic!("{what}: still open after 10 s"));
    assert!(
        after >= Duration::from_millis(700) && after < Duration::from_secs(4),
        "{what}: closed after {after:?}"
    );
    seen
}

/// A connection with no request in progress is closed at
/// `--idle-timeout`: an HTTP/1.1 keep-alive one, an HTTP/2 one with a
/// GOAWAY first (they were held for ever). A request whose body takes
/// longer than that is in progress, not idle, and is answered.
#[test]
fn idle_connections_are_closed_at_the_idle_timeout() {
    let pki = Pki::new();
    let webhook = start(
        &pki,
        &["--idle-timeout", "1s", "--header-read-timeout", "30s"],
    );

    let mut h1 = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    assert_eq!(h1.request("GET", "/healthz", b"").status, 200);
    closed_in_time(
        "HTTP/1.1 keep-alive",
        h1.wait_closed(Duration::from_secs(10)),
    );

    let mut h2 = KeepAlive::open_alpn(&webhook.addr, &pki.ca_pem, &[b"h2"]);
    h2.write(H2_PREFACE_AND_SETTINGS).unwrap();
    let seen = closed_in_time("HTTP/2", h2.wait_closed_h2(Duration::from_secs(10)));
    assert!(
        h2_frame_types(&seen).contains(&H2Frame::GOAWAY),
        "a GOAWAY before the close: frames {:?}",
        h2_frame_types(&seen)
    );

    // Busy is not idle: a body trickling in for about 2.4 s is waited for.
    let pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    let body = pod_review("uid-trickle", "shop", &pod).to_string();
    let mut trickle = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    trickle
        .write(
            format!(
                "POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let pieces: Vec<&[u8]> = body.as_bytes().chunks(body.len() / 8 + 1).collect();
    let (last, first) = pieces.split_last().unwrap();
    for piece in first {
        trickle.write(piece).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let reply = trickle.send_raw(last);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["response"]["uid"], "uid-trickle");
}

/// `--header-read-timeout` bounds the TLS handshake (a TCP connection that
/// never sends a ClientHello) and an HTTP/1.1 request's headers, though
/// bytes keep coming (a slowloris client), and so the wait for the next
/// request on a keep-alive connection.
#[test]
fn slow_handshakes_and_slow_headers_are_cut_off_at_the_header_read_timeout() {
    let pki = Pki::new();
    let webhook = start(
        &pki,
        &["--header-read-timeout", "1s", "--idle-timeout", "30s"],
    );

    let started = Instant::now();
    let mut tcp = std::net::TcpStream::connect(&webhook.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read = std::io::Read::read(&mut tcp, &mut [0u8; 64]);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
        "closed, not timed out: {read:?}"
    );
    closed_in_time("no ClientHello", Some((started.elapsed(), Vec::new())));

    // A header line every 100 ms, for ever.
    let mut slow = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    let started = Instant::now();
    slow.write(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let mut seen = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if slow.write(b"X-Slow: 1\r\n").is_err() || slow.closed_now(&mut seen) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a client sending its headers slowly is never cut off"
        );
    }
    closed_in_time("slow headers", Some((started.elapsed(), seen)));

    let mut kept = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    assert_eq!(kept.request("GET", "/healthz", b"").status, 200);
    closed_in_time(
        "HTTP/1.1 keep-alive",
        kept.wait_closed(Duration::from_secs(10)),
    );

    let client = HttpsClient::new(&pki.ca_pem, false);
    let metrics = webhook.metrics(&client);
    assert!(
        metric(
            &metrics,
            r#"kubectl_inject_errors_total{kind="header_timeout"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

/// Past `--max-connections`, a new connection (a kubelet probe) gets in by
/// closing the connection that has been idle longest; when every connection
/// is busy with a request it waits until one is answered (at most
/// `--deadline`), then gets in.
#[test]
fn past_the_connection_cap_idle_connections_make_room_and_busy_ones_are_waited_for() {
    let pki = Pki::new();
    let webhook = start(&pki, &["--max-connections", "2", "--deadline", "3s"]);
    let mut first = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    assert_eq!(first.request("GET", "/healthz", b"").status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let mut second = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    assert_eq!(second.request("GET", "/healthz", b"").status, 200);

    let probe = HttpsClient::new(&pki.ca_pem, false);
    let started = Instant::now();
    assert_eq!(probe.get(&webhook.url("/healthz")).status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        first.wait_closed(Duration::from_secs(5)).is_some(),
        "the longest idle connection made room"
    );
    assert_eq!(second.request("GET", "/healthz", b"").status, 200);
    drop(probe);

    // Two connections each waiting for a request body that does not come.
    let head = "POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut conn = KeepAlive::open(&webhook.addr, &pki.ca_pem);
        conn.write(head.as_bytes()).unwrap();
        busy.push(conn);
        std::thread::sleep(Duration::from_millis(200));
    }
    let client = HttpsClient::new(&pki.ca_pem, false);
    let started = Instant::now();
    assert_eq!(client.get(&webhook.url("/healthz")).status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "waited for a busy connection to be answered (--deadline 3s): {waited:?}"
    );
    let metrics = webhook.metrics(&client);
    assert!(
        metric(
            &metrics,
            r#"kubectl_inject_errors_total{kind="connection_cap"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

/// Over HTTP/2, a body over `--max-body-size` gets the same 413
/// AdmissionReview as over HTTP/1.1, with a Content-Length and without.
#[test]
fn an_oversized_body_over_http2_is_answered_413_as_over_http1() {
    let pki = Pki::new();
    let webhook = start(&pki, &["--max-body-size", "2048"]);
    let mut big = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    big["metadata"]["annotations"] = json!({"padding": "x".repeat(64 * 1024)});
    let body = pod_review("uid-big", "shop", &big).to_string();
    // Frame by frame, as the API server's Go client or curl sends it: the
    // answer is a response (HEADERS, then the AdmissionReview in DATA that
    // ends the stream). A body sent whole (with a Content-Length or
    // without) is read to its end first, so the stream ends cleanly with no
    // RST_STREAM at all (curl 7.88 calls even RST_STREAM(NO_ERROR) "Stream
    // error in the HTTP/2 framing layer"); one declared far larger than is
    // sent is answered at once, and only then reset with NO_ERROR (RFC 9113
    // 8.1), never CANCEL.
    let chunk = vec![b'x'; 49 * 1024];
    let whole = chunk.len().to_string();
    let uploading = BodyEnd::After(Duration::from_millis(300));
    let far_larger = (64 * 1024 * 1024).to_string();
    let cases = [
        ("a Content-Length", Some(whole.as_str()), uploading),
        ("no Content-Length", None, uploading),
        ("64 MiB declared", Some(far_larger.as_str()), BodyEnd::Open),
    ];
    for (what, length, end) in cases {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(length) = length {
            headers.push(("content-length", length));
        }
        let frames = h2_post_frames(&webhook.addr, &pki.ca_pem, "/inject", &headers, &chunk, end);
        let ours: Vec<&H2Frame> = frames
            .iter()
            .filter(|f| f.stream == 1 && f.kind != H2Frame::WINDOW_UPDATE)
            .collect();
        let kinds: Vec<(u8, u8)> = ours.iter().map(|f| (f.kind, f.flags)).collect();
        let what = format!("{what}: frames on stream 1 (type, flags) {kinds:?}");
        let ended_at = ours
            .iter()
            .position(|f| f.kind == H2Frame::DATA && f.flags & H2Frame::END_STREAM != 0)
            .unwrap_or_else(|| panic!("no complete response: {what}"));
        assert_eq!(ours[0].kind, H2Frame::HEADERS, "{what}");
        let body: Vec<u8> = ours[..=ended_at]
            .iter()
            .filter(|f| f.kind == H2Frame::DATA)
            .flat_map(|f| f.payload.clone())
            .collect();
        let answer: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        assert_eq!(
            answer["response"]["status"]["code"], 413,
            "{what}: {answer}"
        );
        let resets: Vec<&[u8]> = ours
            .iter()
            .filter(|f| f.kind == H2Frame::RST_STREAM)
            .map(|f| f.payload.as_slice())
            .collect();
        if matches!(end, BodyEnd::After(_)) {
            assert!(resets.is_empty(), "no reset: {what}");
        } else {
            assert!(
                resets.iter().all(|code| *code == [0, 0, 0, 0]),
                "only NO_ERROR: {what} {resets:?}"
            );
        }
    }

    // HTTP/1.1: a body sent whole is read to its end, and the connection
    // stays usable (it was closed, and a client still writing could see a
    // reset instead of the answer).
    let mut kept = KeepAlive::open(&webhook.addr, &pki.ca_pem);
    let reply = kept.post_chunked("/inject", body.as_bytes());
    assert_eq!(reply.status, 413, "{}", reply.text());
    let reply = kept.request("POST", "/inject", body.as_bytes());
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(kept.request("GET", "/healthz", b"").status, 200);

    for http2 in [false, true] {
        let client = HttpsClient::new(&pki.ca_pem, http2);
        for streamed in [false, true] {
            let reply = if streamed {
                client.post_streamed(&webhook.url("/inject"), body.as_bytes())
            } else {
                client.post(&webhook.url("/inject"), body.clone())
            };
            let what = format!("http2 {http2}, streamed {streamed}");
            assert_eq!(reply.status, 413, "{what}: {}", reply.text());
            assert!(
                status_message(&reply).contains("--max-body-size"),
                "{what}: {}",
                reply.text()
            );
            assert_eq!(reply.json()["response"]["status"]["code"], 413, "{what}");
        }
        // The connection still serves.
        assert_eq!(client.get(&webhook.url("/healthz")).status, 200);
    }
}

/// What the audit log copies from a request is bounded: a pod whose uid,
/// namespace and generateName are 200 kB each (the API server validates
/// names after the webhooks) makes an audit line of a few kB, each field
/// cut at 256 bytes and marked with what was left out, and terminal
/// control characters do not get through.
#[test]
fn audit_log_fields_from_the_request_are_bounded() {
    let pki = Pki::new();
    let webhook = start(&pki, &[]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    let huge = |what: &str| format!("{what}-\u{1b}[2J{}", "x".repeat(200_000));
    let mut pod = deployment_pod(
        "web",
        "shop",
        json!({"app": "web"}),
        json!([{"name": "web", "image": "nginx:1.27"}]),
    );
    pod["metadata"]["generateName"] = huge("web").into();
    let request = pod_review(&huge("uid"), &huge("shop"), &pod);
    let reply = client.post(&webhook.url("/inject"), request.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Refused, quoting what the request said.
    let reply = client.post(
        &webhook.url("/inject"),
        json!({"apiVersion": huge("v1"), "kind": "AdmissionReview"}).to_string(),
    );
    assert_eq!(reply.status, 400, "{}", reply.text());

    let lines = wait_until("two audit lines", Duration::from_secs(10), || {
        let lines = webhook.audit_lines();
        (lines.len() >= 2).then_some(lines)
    });
    let text = std::fs::read_to_string(&webhook.audit).unwrap();
    for line in text.lines() {
        assert!(line.len() < 4096, "an audit line of {} bytes", line.len());
        assert!(!line.contains("\\u001b"), "{line}");
    }
    let decided = &lines[0];
    for field in ["uid", "namespace", "name"] {
        let value = decided[field].as_str().unwrap();
        assert!(
            value.len() <= 256 + 20 && value.ends_with(" bytes)") && value.contains("…(+"),
            "{field}: {value}"
        );
    }
    let message = lines[1]["message"].as_str().unwrap();
    assert!(
        message.starts_with("expected apiVersion") && message.len() <= 1024 + 20,
        "{message}"
    );
}

/// The certificate and key are read up to a limit: `/dev/zero` for either
/// stops `serve` at once with exit 2, naming the file and the limit.
#[test]
fn endless_certificate_files_are_refused_at_the_limit() {
    let pki = Pki::new();
    let policies: Vec<String> = POLICY_SET
        .iter()
        .map(|p| package_root().join(p).display().to_string())
        .collect();
    let (cert, key) = (
        pki.cert().display().to_string(),
        pki.key().display().to_string(),
    );
    for (cert, key) in [("/dev/zero", key.as_str()), (cert.as_str(), "/dev/zero")] {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--offline",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ];
        args.extend(policies.iter().map(String::as_str));
        let run = common::apiserver::inject(&args, &[], Duration::from_secs(20));
        run.expect_code(&[2]).expect_no_crash();
        assert!(
            run.says("/dev/zero") && run.says("MiB"),
            "names the file and the limit:\n{}",
            run.stderr
        );
    }
}

// ---------------------------------------------------------------------------
// 9. Hostile templates (issue 14).

/// A tenant who may create SidecarTemplates cannot exhaust the injector:
/// `/validate` refuses a template past 32 `extends` (INJ111); a directory
/// whose chain grew to 10,000 is refused in well under a second, and each
/// `/validate` (which reads the set's files again) still answers at once
/// (it took 1.4–4 s and 1.1 GB at 1,000 deep); a template that would render
/// a 300 MB pod is answered per `--on-error` without building it.
#[test]
fn hostile_templates_are_refused_and_answered_quickly() {
    let root = tempfile::tempdir().unwrap();
    let policies = copy_testdata_policies(root.path());
    // t-0 … t-32: at the limit.
    let chain = policies.join("chain.yaml");
    std::fs::write(&chain, common::extends_chain(33, false)).unwrap();
    // 3,000 strings that each name a 100 KB default: a 300 MB pod.
    std::fs::write(
        policies.join("chatty.yaml"),
        common::amplifying_template(false),
    )
    .unwrap();

    let pki = Pki::new();
    let dir = policies.to_str().unwrap();
    let webhook = Webhook::start(&pki, &[dir, "--offline"]);
    let client = HttpsClient::new(&pki.ca_pem, false);
    webhook.wait_for_log(|log| log.contains("policy set 1 in service"));

    let template = |name: &str, extends: &str| {
        json!({"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "SidecarTemplate",
            "metadata": {"name": name, "namespace": "kubectl-inject-system"},
            "spec": {"version": "1.0.0", "extends": extends}})
    };
    let timed = |uid: &str, object: &Value| {
        let started = std::time::Instant::now();
        let response = validate(&client, &webhook, uid, object);
        (response, started.elapsed())
    };
    let (response, took) = timed("uid-deep", &template("t-33", "t-32@1.0.0"));
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("INJ111"), "{message}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (response, _) = timed("uid-at-limit", &template("t-32-canary", "t-31@1.0.0"));
    assert_eq!(response["allowed"], true, "{response}");

    // The chain grows to 10,000 in the directory: refused, set 1 stays.
    let mark = webhook.log_mark();
    let started = std::time::Instant::now();
    replace_file(root.path(), &chain, &common::extends_chain(10_000, false));
    let log = webhook.wait_for_log_since(mark, |log| log.contains("refused the new policy set 2"));
    assert!(log.contains("INJ111"), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    // `/validate` reads set 1's files again, the 10,000 templates with them.
    for k in 0..3 {
        let (response, took) = timed(&format!("uid-{k}"), &template(&format!("new-{k}"), "t-1"));
        assert_eq!(response["allowed"], true, "{response}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    // The 300 MB pod: denied per --on-error, not built.
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "chatty", "namespace": "sandbox",
                     "annotations": {"kubectl-inject.dev/inject": "true",
                                     "kubectl-inject.dev/template": "chatty"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
    let started = std::time::Instant::now();
    let (allowed, after, response) = inject(&client, &webhook, "uid-chatty", &pod);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!allowed, "{response}");
    assert_eq!(after, pod);
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("INJ312"), "{message}");

    // Linear, a 10,000-deep chain costs tens of megabytes (the quadratic
    // merge took 1.1 GB at 1,000 deep); the server never held the pod.
    if let Some(peak) = webhook.peak_memory_kib() {
        assert!(peak < 400 * 1024, "peak {peak} KiB");
    }
}
