//! `kubectl inject serve` over real HTTPS on loopback, with a generated CA.

mod common;

use common::package_root;
use common::webhook::{HttpsClient, Pki, Webhook, apply_answer, pod_review};
use serde_json::json;

const POLICY_SET: &[&str] = &[
    "testdata/policy/templates",
    "testdata/policy/cluster-policies.yaml",
    "testdata/policy/payments-policy.yaml",
    "testdata/namespaces",
];

#[test]
fn a_pod_in_a_labelled_namespace_is_injected_over_https() {
    let pki = Pki::new();
    let mut args: Vec<&str> = POLICY_SET.to_vec();
    args.push("--offline");
    let webhook = Webhook::start_in(&pki, &args, Some(package_root()));
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
