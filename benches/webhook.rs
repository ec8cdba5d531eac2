//! Load benchmark of the admission webhook: `cargo bench --bench webhook`.
//!
//! Starts the release binary (`kubectl-inject serve`, built by `cargo bench`
//! alongside this one) with the tests' harness (`tests/common/webhook.rs`: a
//! generated CA and serving certificate, the server on a free loopback port
//! with an audit log file, as in production), the repository's `testdata/`
//! policy set and `--offline`, and drives `/inject` over real HTTPS with the
//! harness's hyper + rustls client, the way the API server does: HTTP/1.1
//! with keep-alive and a small pool of connections, then HTTP/2 (one
//! connection, multiplexed).
//!
//! The request is a typical pod as the API server sends it to a mutating
//! webhook: created by a Deployment's ReplicaSet (`generateName`, the
//! controller owner reference, `pod-template-hash`), two containers with
//! resources, probes, env and mounts, and the defaults the built-in admission
//! plugins added before the webhooks run (the service account token volume,
//! tolerations, …), about 4 KB of JSON, in namespace `shop` (injected).
//! Two scenarios:
//!
//! - `replicas`: the replicas of one ReplicaSet (a rollout): every request
//!   the same pod but for its token volume's name, five random characters
//!   as in a real cluster (the injection cache leaves it out and hits);
//! - `distinct`: every request a different pod (an annotation differs too,
//!   so the cache misses; the worst case).
//!
//! Open loop: requests are sent at a fixed rate (`BENCH_RATE`, default 1,000
//! per second) for `BENCH_SECONDS` (10) after `BENCH_WARMUP` (2) seconds of
//! warm-up, whatever the answers' latency; each latency is measured from the
//! time the request was *scheduled* to be sent to the end of its answer, so
//! a stall counts for every request it delays (no coordinated omission).
//! Closed loop: `BENCH_CONCURRENCY` (default 1,16) clients each send their
//! next request when the previous answer arrived, for `BENCH_CLOSED_SECONDS`
//! (4): the maximum throughput.
//!
//! Every answer is checked: HTTP 200, an AdmissionReview whose
//! `response.uid` is the request's, `allowed: true`, and a JSONPatch; the
//! first answer of each run is decoded and applied to the pod, which must
//! then have the proxy sidecar. Anything else counts as an error.
//!
//! Also reported: the server's own latency histogram
//! (`kubectl_inject_admission_duration_seconds`, scraped from `/metrics`
//! before and after each run; its p99 estimated the way PromQL's
//! `histogram_quantile` does, so within a bucket of the doubling 100 µs
//! buckets), the server's CPU time per request (`/proc/PID/stat`), and how
//! late the client's pacer sent (its own share of the latency).
//!
//! The client runs on the same machine (one runtime thread and the pacer),
//! so it competes with the server for the CPUs; on a 2-core machine this is
//! a pessimistic setting for the server. The `other` column is the CPU time
//! of every other process during a run (a build next door makes the tail
//! latencies meaningless: rerun on a quiet machine).
//!
//! Knobs: `BENCH_RATE`, `BENCH_SECONDS`, `BENCH_WARMUP`, `BENCH_CONCURRENCY`
//! (comma-separated; `BENCH_CLOSED_SECONDS=0` skips the closed loop),
//! `BENCH_KEEP=1` keeps the temporary directory with the audit log,
//! `BENCH_SCENARIOS` (`replicas,distinct`) and `BENCH_PROTOCOLS` (`h1,h2`)
//! choose the runs, `BENCH_BIN` another server binary (an unstripped build
//! for `perf`).

#[path = "../tests/common/webhook.rs"]
mod webhook;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use serde_json::{Value, json};
use webhook::{HttpsClient, Pki, ServeOptions, Webhook, apply_patch, metric, pod_review};

/// The policy set of tests/webhook.rs (relative to the package root), with
/// no API server.
const SERVE_ARGS: &[&str] = &[
    "testdata/policy/templates",
    "testdata/policy/cluster-policies.yaml",
    "testdata/policy/payments-policy.yaml",
    "testdata/namespaces",
    "--offline",
];

/// The target of the open-loop runs.
const TARGET_P99: Duration = Duration::from_millis(2);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rate = env_u64("BENCH_RATE", 1000).max(1);
    let seconds = env_u64("BENCH_SECONDS", 10).max(1);
    let warmup = env_u64("BENCH_WARMUP", 2);
    let closed_seconds = env_u64("BENCH_CLOSED_SECONDS", 4);
    let concurrency: Vec<usize> = std::env::var("BENCH_CONCURRENCY")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();

    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("load average before: {}", load.trim());
    }
    let pki = Pki::new();
    let bin = std::env::var_os("BENCH_BIN").map(PathBuf::from);
    let server = Webhook::start_with(
        &pki,
        ServeOptions {
            bin: bin.as_deref().unwrap_or(Path::new(webhook::BIN)),
            args: SERVE_ARGS,
            cwd: Some(Path::new(env!("CARGO_MANIFEST_DIR"))),
            // Serve's own: no polling of the files faster than production.
            reload_interval: None,
        },
    );
    eprintln!(
        "serve (pid {}) on https://{} with audit log {}",
        server.pid(),
        server.addr,
        server.audit.display()
    );
    let url = server.url("/inject?timeout=10s");
    let metrics_url = server.url("/metrics");

    let template = Arc::new(Template::new());
    eprintln!(
        "request: an AdmissionReview of {} bytes (the pod: {} bytes)",
        template.body("uid", 0, false).len(),
        template.pod_bytes
    );

    let mut rows = Vec::new();
    let chosen = |knob: &str, name: &str| {
        std::env::var(knob).map_or(true, |list| list.split(',').any(|n| n.trim() == name))
    };
    let protocols = [Protocol::Http1, Protocol::Http2]
        .into_iter()
        .filter(|p| chosen("BENCH_PROTOCOLS", p.name()));
    for protocol in protocols {
        let scenarios = [Scenario::Replicas, Scenario::Distinct]
            .into_iter()
            .filter(|s| chosen("BENCH_SCENARIOS", s.knob()));
        for scenario in scenarios {
            let client = protocol.client(&pki.ca_pem, 8);
            let run = Run {
                client: &client,
                protocol,
                url: &url,
                metrics_url: &metrics_url,
                template: &template,
                scenario,
                server_pid: server.pid(),
            };
            let label = format!("{} {}", scenario.name(), protocol.name());
            eprintln!("{label}: open loop, {rate}/s, {warmup} s warm-up + {seconds} s");
            rows.push(run.open_loop(rate, warmup, seconds));
            for &clients in &concurrency {
                if closed_seconds == 0 {
                    break;
                }
                // A connection per client for HTTP/1.1 (none is closed
                // for lack of pool room); one for HTTP/2.
                let client = protocol.client(&pki.ca_pem, clients);
                let run = Run {
                    client: &client,
                    ..run
                };
                eprintln!("{label}: closed loop, {clients} clients, {closed_seconds} s");
                rows.push(run.closed_loop(clients, closed_seconds));
            }
        }
    }

    let audited = std::fs::read(&server.audit)
        .map(|bytes| bytecount(&bytes, b'\n'))
        .unwrap_or(0);
    let answered = NEXT.load(Ordering::Relaxed) - 1;
    let bugs: Vec<String> = server
        .log_text()
        .lines()
        .filter(|l| l.contains("BUG") || l.contains("panicked"))
        .map(str::to_owned)
        .collect();
    drop(server);
    if std::env::var_os("BENCH_KEEP").is_some() {
        let kept = pki.dir.keep();
        eprintln!("kept {}", kept.display());
    }

    print_table(&rows, rate);
    println!();
    println!(
        "audit log: {audited} lines for {answered} requests sent, warm-ups included ({})",
        if audited == answered {
            "every answer audited".to_owned()
        } else {
            format!("{} missing", answered.saturating_sub(audited))
        }
    );
    if !bugs.is_empty() {
        println!("server log:\n  {}", bugs.join("\n  "));
    }
    let open: Vec<&Row> = rows.iter().filter(|r| r.open_rate.is_some()).collect();
    let worst = open.iter().map(|r| r.latency.p99).max().unwrap_or_default();
    let errors: u64 = rows.iter().map(|r| r.errors).sum();
    println!(
        "target p99 < {} at {rate}/s: worst open-loop p99 {} → {}; errors: {errors}",
        ms(TARGET_P99),
        ms(worst),
        if worst < TARGET_P99 { "met" } else { "MISSED" }
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "h1",
            Protocol::Http2 => "h2",
        }
    }

    /// A client keeping up to `pool` idle connections (HTTP/1.1), shared
    /// with the request tasks that run on its runtime.
    fn client(self, ca_pem: &str, pool: usize) -> Arc<HttpsClient> {
        Arc::new(HttpsClient::with_idle_limit(
            ca_pem,
            self == Protocol::Http2,
            pool,
        ))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// One ReplicaSet's replicas (token volumes named at random): the
    /// injection cache hits.
    Replicas,
    /// A different pod every time: the cache misses.
    Distinct,
}

impl Scenario {
    fn knob(self) -> &'static str {
        match self {
            Scenario::Replicas => "replicas",
            Scenario::Distinct => "distinct",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scenario::Replicas => "replicas (cache hit)",
            Scenario::Distinct => "distinct (cache miss)",
        }
    }
}

// ---------------------------------------------------------------------------
// The request.

/// The AdmissionReview with placeholders, so that a body costs the client a
/// few string copies rather than a JSON serialisation.
struct Template {
    text: String,
    pod: Value,
    pod_bytes: usize,
}

const UID: &str = "@@UID@@";
const REQUEST: &str = "@@REQUEST@@";
const TOKEN: &str = "@@TOKEN@@";

impl Template {
    fn new() -> Template {
        let pod = typical_pod(REQUEST, TOKEN);
        let pod_bytes = serde_json::to_vec(&pod).unwrap().len();
        let mut review = pod_review(UID, "shop", &pod);
        // The whole user, as the API server sends it.
        review["request"]["userInfo"] = json!({
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "uid": "0b5a4f0e-3c1d-4e55-9f5e-6f1f3c2b8a11",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]
        });
        Template {
            text: review.to_string(),
            pod,
            pod_bytes,
        }
    }

    /// The body of request `n`: its own uid; its own pod when `distinct`.
    fn body(&self, uid: &str, n: u64, distinct: bool) -> Bytes {
        let (request, token) = if distinct {
            (n.to_string(), token_suffix(n))
        } else {
            ("0".to_owned(), token_suffix(n))
        };
        Bytes::from(
            self.text
                .replacen(UID, uid, 1)
                .replacen(REQUEST, &request, 1)
                .replace(TOKEN, &token),
        )
    }

    /// The pod of [`Template::body`] (to apply a patch to).
    fn pod(&self, n: u64, distinct: bool) -> Value {
        let (request, token) = if distinct {
            (n.to_string(), token_suffix(n))
        } else {
            ("0".to_owned(), token_suffix(n))
        };
        let text = self
            .pod
            .to_string()
            .replacen(REQUEST, &request, 1)
            .replace(TOKEN, &token);
        serde_json::from_str(&text).unwrap()
    }
}

/// Five characters, as the ServiceAccount admission plugin names the token
/// volume of every pod (`kube-api-access-` and 5 random ones).
fn token_suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A Deployment's pod as a mutating webhook receives it: the ReplicaSet's
/// pod template plus what the API server's defaulting and the admission
/// plugins before the webhooks added.
fn typical_pod(request: &str, token: &str) -> Value {
    let token_volume = format!("kube-api-access-{token}");
    let token_mount = json!({
        "name": token_volume,
        "readOnly": true,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"
    });
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "checkout-7c9d8f6b5d-",
            "namespace": "shop",
            "creationTimestamp": null,
            "labels": {
                "app": "checkout",
                "app.kubernetes.io/name": "checkout",
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/version": "2.14.1",
                "team": "checkout",
                "pod-template-hash": "7c9d8f6b5d"
            },
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
                "prometheus.io/path": "/metrics",
                "kubectl.kubernetes.io/restartedAt": "2026-11-20T09:14:03Z",
                "bench.kubectl-inject.dev/request": request
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "checkout-7c9d8f6b5d",
                "uid": "5b0c6f3e-8d2a-4c1b-9e7f-2a4d6c8e0f13",
                "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "volumes": [
                {"name": "config", "configMap": {"name": "checkout-config", "defaultMode": 420}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                {"name": token_volume, "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}}
            ],
            "containers": [
                {
                    "name": "checkout",
                    "image": "registry.example.com/shop/checkout:2.14.1",
                    "args": ["--listen=:8080", "--metrics=:9090", "--config=/etc/checkout/config.yaml"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                    ],
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                        {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}}},
                        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "checkout-db", "key": "url"}}},
                        {"name": "PAYMENTS_ENDPOINT", "value": "http://payments.payments.svc.cluster.local:8080"},
                        {"name": "LOG_LEVEL", "value": "info"}
                    ],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"}
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/checkout", "readOnly": true},
                        {"name": "tmp", "mountPath": "/tmp"},
                        token_mount
                    ],
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "initialDelaySeconds": 10, "timeoutSeconds": 2, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 5,
                        "successThreshold": 1, "failureThreshold": 3
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]}
                    }
                },
                {
                    "name": "log-shipper",
                    "image": "docker.io/fluent/fluent-bit:3.1.9",
                    "args": ["-c", "/fluent-bit/etc/fluent-bit.conf"],
                    "env": [
                        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
                        {"name": "FLUSH_INTERVAL", "value": "5"}
                    ],
                    "resources": {
                        "requests": {"cpu": "20m", "memory": "32Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"}
                    },
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/var/log/app", "readOnly": true},
                        token_mount
                    ],
                    "livenessProbe": {
                        "httpGet": {"path": "/api/v1/health", "port": 2020, "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]}
                    }
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "checkout",
            "serviceAccount": "checkout",
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 10001,
                "fsGroup": 2000,
                "seccompProfile": {"type": "RuntimeDefault"}
            },
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app": "checkout"}},
                    "topologyKey": "kubernetes.io/hostname"
                }
            }]}},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": {}
    })
}

// ---------------------------------------------------------------------------
// The runs.

#[derive(Clone, Copy)]
struct Run<'a> {
    /// Requests run on its runtime.
    client: &'a Arc<HttpsClient>,
    protocol: Protocol,
    url: &'a str,
    metrics_url: &'a str,
    template: &'a Arc<Template>,
    scenario: Scenario,
    server_pid: u32,
}

/// What one request came to.
struct Sample {
    latency: Duration,
    /// How late the pacer sent it (open loop).
    lag: Duration,
    error: Option<String>,
}

/// A line of the table.
struct Row {
    label: String,
    protocol: Protocol,
    /// `Some(rate)`: open loop; `None`: closed loop with `clients`.
    open_rate: Option<u64>,
    clients: usize,
    measured: u64,
    errors: u64,
    first_error: Option<String>,
    throughput: f64,
    latency: Percentiles,
    lag_p99: Option<Duration>,
    server_p99: Option<f64>,
    server_cpu_us: Option<f64>,
    other_cpus: Option<f64>,
    /// The share of answers the injection cache gave.
    cache_hits: Option<f64>,
}

/// Unique request ids across runs.
static NEXT: AtomicU64 = AtomicU64::new(1);

impl Run<'_> {
    fn next_body(&self) -> (String, u64, Bytes) {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let uid = format!("bench-{n:08}");
        let body = self
            .template
            .body(&uid, n, self.scenario == Scenario::Distinct);
        (uid, n, body)
    }

    /// One request, checked; `verify` also applies the patch.
    async fn request(
        client: &HttpsClient,
        url: &str,
        uid: String,
        body: Bytes,
        verify: Option<Value>,
    ) -> Result<(), String> {
        let reply = client.try_send_async("POST", url, body).await?;
        check(reply.status, &reply.body, &uid, verify.as_ref())
    }

    fn open_loop(&self, rate: u64, warmup: u64, seconds: u64) -> Row {
        let period = Duration::from_nanos(1_000_000_000 / rate);
        if warmup > 0 {
            let _ = self.pace(period, rate * warmup);
        }
        let before = self.snapshot();
        let started = Instant::now();
        let samples = self.pace(period, rate * seconds);
        let elapsed = started.elapsed();
        let after = self.snapshot();
        self.row(Some(rate), 1, samples, elapsed, &before, &after)
    }

    /// Sends `count` requests, one every `period` from now, each on its own
    /// task; returns when all are answered.
    fn pace(&self, period: Duration, count: u64) -> Vec<Sample> {
        let handle = self.client.runtime().handle();
        let start = Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::with_capacity(count as usize);
        for i in 0..count {
            // Bodies are made before their time comes (a few µs each).
            let (uid, n, body) = self.next_body();
            let verify =
                (i == 0).then(|| self.template.pod(n, self.scenario == Scenario::Distinct));
            let scheduled = start + period * i as u32;
            let now = Instant::now();
            if scheduled > now {
                // No spinning: the pacer must not take a CPU from the
                // server; the lateness of the wake-up is measured (`lag`).
                std::thread::sleep(scheduled - now);
            }
            let (client, url) = (self.client.clone(), self.url.to_owned());
            tasks.push(handle.spawn(async move {
                let lag = scheduled.elapsed();
                let result = Self::request(&client, &url, uid, body, verify).await;
                Sample {
                    latency: scheduled.elapsed(),
                    lag,
                    error: result.err(),
                }
            }));
        }
        self.client.runtime().block_on(async {
            let mut samples = Vec::with_capacity(tasks.len());
            for task in tasks {
                samples.push(task.await.expect("a request task"));
            }
            samples
        })
    }

    fn closed_loop(&self, clients: usize, seconds: u64) -> Row {
        // A second of warm-up (connections, the allocator's pools).
        let _ = self.drive(clients, Duration::from_secs(1));
        let before = self.snapshot();
        let started = Instant::now();
        let samples = self.drive(clients, Duration::from_secs(seconds));
        let elapsed = started.elapsed();
        let after = self.snapshot();
        self.row(None, clients, samples, elapsed, &before, &after)
    }

    fn drive(&self, clients: usize, duration: Duration) -> Vec<Sample> {
        let until = Instant::now() + duration;
        let distinct = self.scenario == Scenario::Distinct;
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let (client, url) = (self.client.clone(), self.url.to_owned());
                let template = self.template.clone();
                self.client.runtime().spawn(async move {
                    let mut samples = Vec::new();
                    while Instant::now() < until {
                        let n = NEXT.fetch_add(1, Ordering::Relaxed);
                        let uid = format!("bench-{n:08}");
                        let body = template.body(&uid, n, distinct);
                        let verify =
                            (c == 0 && samples.is_empty()).then(|| template.pod(n, distinct));
                        let sent = Instant::now();
                        let result = Self::request(&client, &url, uid, body, verify).await;
                        samples.push(Sample {
                            latency: sent.elapsed(),
                            lag: Duration::ZERO,
                            error: result.err(),
                        });
                    }
                    samples
                })
            })
            .collect();
        self.client.runtime().block_on(async {
            let mut samples = Vec::new();
            for task in tasks {
                samples.extend(task.await.expect("a client task"));
            }
            samples
        })
    }

    /// The server's histogram and CPU time now.
    fn snapshot(&self) -> Snapshot {
        let text = self
            .client
            .runtime()
            .block_on(
                self.client
                    .try_send_async("GET", self.metrics_url, Bytes::new()),
            )
            .ok()
            .map(|reply| reply.text());
        let counter = |name: &str| metric(text.as_deref()?, name);
        Snapshot {
            histogram: text.as_deref().map(|text| parse_histogram(text, "inject")),
            cache: counter("kubectl_inject_template_cache_hits_total")
                .zip(counter("kubectl_inject_template_cache_misses_total")),
            cpu_ticks: cpu_ticks(&format!("/proc/{}/stat", self.server_pid)),
            own_ticks: cpu_ticks("/proc/self/stat"),
            busy_ticks: busy_ticks(),
        }
    }

    fn row(
        &self,
        open_rate: Option<u64>,
        clients: usize,
        samples: Vec<Sample>,
        elapsed: Duration,
        before: &Snapshot,
        after: &Snapshot,
    ) -> Row {
        let measured = samples.len() as u64;
        let errors: Vec<&String> = samples.iter().filter_map(|s| s.error.as_ref()).collect();
        let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
        let mut lags: Vec<Duration> = samples.iter().map(|s| s.lag).collect();
        let server_p99 = match (&before.histogram, &after.histogram) {
            (Some(b), Some(a)) => histogram_quantile(0.99, &delta(b, a)),
            _ => None,
        };
        let ticks = clock_ticks() as f64;
        // Everything but the server and this client, in CPUs: another
        // build on the machine shows here (and makes the run noisy).
        let other_cpus = match (
            before.busy_ticks.zip(after.busy_ticks),
            before.cpu_ticks.zip(after.cpu_ticks),
            before.own_ticks.zip(after.own_ticks),
        ) {
            (Some((b0, b1)), Some((s0, s1)), Some((o0, o1))) => Some(
                (b1 - b0).saturating_sub((s1 - s0) + (o1 - o0)) as f64
                    / ticks
                    / elapsed.as_secs_f64(),
            ),
            _ => None,
        };
        let server_cpu_us = match (before.cpu_ticks, after.cpu_ticks) {
            (Some(b), Some(a)) if measured > 0 => {
                Some((a - b) as f64 * 1e6 / ticks / measured as f64)
            }
            _ => None,
        };
        Row {
            label: self.scenario.name().to_owned(),
            protocol: self.protocol,
            open_rate,
            clients,
            measured,
            errors: errors.len() as u64,
            first_error: errors.first().map(|e| (*e).clone()),
            throughput: measured as f64 / elapsed.as_secs_f64(),
            latency: Percentiles::of(&mut latencies),
            lag_p99: open_rate.map(|_| Percentiles::of(&mut lags).p99),
            server_p99,
            server_cpu_us,
            other_cpus,
            cache_hits: match (before.cache, after.cache) {
                (Some((h0, m0)), Some((h1, m1))) if h1 + m1 > h0 + m0 => {
                    Some((h1 - h0) / (h1 + m1 - h0 - m0))
                }
                _ => None,
            },
        }
    }
}

/// An answer is right: 200, the request's uid, allowed, a JSONPatch; with
/// `pod`, the patch applies to it and adds the proxy.
fn check(status: u16, body: &[u8], uid: &str, pod: Option<&Value>) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Review<'a> {
        #[serde(borrow)]
        response: Option<Response<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Response<'a> {
        uid: &'a str,
        allowed: bool,
        #[serde(rename = "patchType")]
        patch_type: Option<&'a str>,
        patch: Option<&'a str>,
    }
    let excerpt = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status != 200 {
        return Err(format!("HTTP {status}: {}", excerpt()));
    }
    let review: Review =
        serde_json::from_slice(body).map_err(|e| format!("not an AdmissionReview ({e})"))?;
    let response = review.response.ok_or("no response")?;
    if response.uid != uid {
        return Err(format!("uid {} for request {uid}", response.uid));
    }
    if !response.allowed {
        return Err(format!("not allowed: {}", excerpt()));
    }
    let (Some("JSONPatch"), Some(patch)) = (response.patch_type, response.patch) else {
        return Err(format!("no JSONPatch: {}", excerpt()));
    };
    if let Some(pod) = pod {
        let after = apply_patch(pod, patch)?;
        let containers: Vec<&str> = ["containers", "initContainers"]
            .iter()
            .filter_map(|field| after["spec"][field].as_array())
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        if !containers.contains(&"proxy") {
            return Err(format!("no proxy after the patch: {containers:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Statistics.

#[derive(Default, Clone, Copy)]
struct Percentiles {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

impl Percentiles {
    fn of(values: &mut [Duration]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_unstable();
        // Nearest rank.
        let at = |q: f64| {
            let rank = (q * values.len() as f64).ceil() as usize;
            values[rank.clamp(1, values.len()) - 1]
        };
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: values[values.len() - 1],
        }
    }
}

struct Snapshot {
    /// Cumulative bucket counts by upper bound (`+Inf` last).
    histogram: Option<Vec<(f64, f64)>>,
    /// The server's CPU time.
    cpu_ticks: Option<u64>,
    /// This process's (the client's).
    own_ticks: Option<u64>,
    /// All CPUs' busy time.
    busy_ticks: Option<u64>,
    /// The injection cache's hits and misses so far.
    cache: Option<(f64, f64)>,
}

/// The `_bucket` lines of `kubectl_inject_admission_duration_seconds` for
/// `endpoint`.
fn parse_histogram(text: &str, endpoint: &str) -> Vec<(f64, f64)> {
    let prefix = "kubectl_inject_admission_duration_seconds_bucket{";
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| {
            let labels = line.strip_prefix(prefix)?;
            let (labels, value) = labels.split_once("} ")?;
            if !labels.contains(&format!("endpoint=\"{endpoint}\"")) {
                return None;
            }
            let le = labels.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, value.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

fn delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|&(le, count)| {
            let earlier = before
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |(_, c)| *c);
            (le, count - earlier)
        })
        .collect()
}

/// As PromQL's `histogram_quantile`: linear within the bucket.
fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::MIN_POSITIVE);
            return Some(lower.0 + (le - lower.0) * within);
        }
        lower = (le, count);
    }
    None
}

/// User + system CPU time of a process (its `/proc/PID/stat`), in clock
/// ticks.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    // After the command name in parentheses: state is field 3, utime 14,
    // stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The busy time of all CPUs (`/proc/stat`: all but idle and iowait), in
/// clock ticks.
fn busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    Some(
        fields.iter().take(8).sum::<u64>()
            - fields.get(3).copied().unwrap_or(0)
            - fields.get(4).copied().unwrap_or(0),
    )
}

/// `sysconf(_SC_CLK_TCK)`: 100 on Linux.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn bytecount(bytes: &[u8], byte: u8) -> u64 {
    bytes.iter().filter(|&&b| b == byte).count() as u64
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn print_table(rows: &[Row], rate: u64) {
    println!();
    println!(
        "kubectl-inject serve, /inject over HTTPS, a {}-core machine (client included); latency in ms",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<22} {:<3} {:<12} {:>7} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>6} {:>5}",
        "scenario",
        "",
        "load",
        "reqs",
        "errors",
        "req/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "srv p99",
        "srv CPU",
        "pacer p99",
        "other",
        "hits"
    );
    let f = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    for row in rows {
        let load = match row.open_rate {
            Some(rate) => format!("open {rate}/s"),
            None => format!("closed x{}", row.clients),
        };
        println!(
            "{:<22} {:<3} {:<12} {:>7} {:>6} {:>8.0} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>6} {:>5}",
            row.label,
            row.protocol.name(),
            load,
            row.measured,
            row.errors,
            row.throughput,
            f(row.latency.p50),
            f(row.latency.p90),
            f(row.latency.p99),
            f(row.latency.p999),
            f(row.latency.max),
            row.server_p99
                .map_or("-".into(), |s| format!("{:.3}", s * 1e3)),
            row.server_cpu_us
                .map_or("-".into(), |us| format!("{us:.0} µs")),
            row.lag_p99.map_or("-".into(), f),
            row.other_cpus.map_or("-".into(), |c| format!("{c:.2}")),
            row.cache_hits
                .map_or("-".into(), |h| format!("{:.0}%", h * 100.0)),
        );
    }
    println!(
        "(open: sent at {rate}/s whatever the answers, latency from the scheduled send; closed: N clients back to back, max throughput;\n srv p99: the server's own histogram, estimated within its doubling buckets; srv CPU: server CPU time per request; pacer p99: the client's lateness in sending;\n other: CPUs busy with other processes during the run, above ~0.1 the numbers are noisy; hits: answers from the injection cache)"
    );
    for row in rows.iter().filter(|r| r.errors > 0) {
        println!(
            "errors in {} {}: {} of {}, first: {}",
            row.label,
            row.protocol.name(),
            row.errors,
            row.measured,
            row.first_error.as_deref().unwrap_or("?")
        );
    }
}
