//! Throughput benchmark of the lint pipeline: `cargo bench --bench load`.
//!
//! Generates a deterministic tree of Kubernetes manifests in a temporary
//! directory (workloads, services, config maps, namespaces, the repository's
//! own `kubectl-inject.dev/v1alpha1` templates and policies, and a few
//! deliberately broken documents), then times
//!
//! - `load`: discover + read + parse + objects (parallel),
//! - `lint`: every rule, schema validation, suppressions, sorting,
//! - `e2e`: load + lint + the JSON report written to a sink,
//!
//! best of `BENCH_RUNS` runs each, as documents/s and MB/s, and reports the
//! resident memory after a load and the peak (`VmHWM`). Finally the real
//! binary (built by `cargo bench` alongside this one) is run once on the tree.
//!
//! Knobs: `BENCH_DOCS` (default 50000), `BENCH_RUNS` (default 3),
//! `BENCH_KEEP=1` keeps the generated tree and prints its path.
//!
//! The files are in the page cache when they are read (they were just
//! written), so `load` measures a warm cache.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubectl_inject::baseline::analyse_against;
use kubectl_inject::blast_radius;
use kubectl_inject::config::Config;
use kubectl_inject::lint::Analysis;
use kubectl_inject::lint::{LintOptions, lint};
use kubectl_inject::load::{LoadOptions, Workspace, load};
use kubectl_inject::report::{Format, HumanOptions, Report};

/// The allocator of the binary (src/main.rs), so the numbers are the shipped ones.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let docs = env_usize("BENCH_DOCS", 50_000).max(100);
    let runs = env_usize("BENCH_RUNS", 3).max(1);

    let dir = tempfile::Builder::new()
        .prefix("kubectl-inject-bench-")
        .tempdir()
        .expect("temp dir");
    let root = dir.path().join("manifests");
    let started = Instant::now();
    let tree = generate(&root, docs);
    eprintln!(
        "generated {} documents ({} own-API, {} injected errors) in {} files, {:.1} MB, under {} in {:.1?}",
        tree.documents,
        tree.own_documents,
        tree.injected_errors,
        tree.files,
        mb(tree.bytes),
        root.display(),
        started.elapsed()
    );

    let paths = vec![root.clone()];
    let options = LoadOptions::default();
    let config = Config::default();
    let lint_options = LintOptions {
        default_namespace: "default".to_owned(),
        no_suppressions: false,
        kubernetes_version: None,
        manual_injector: None,
        // As `kubectl inject lint` runs: no pods kept.
        keep_pods: false,
    };

    // Load: the workspace of the first run stays alive for the RSS reading
    // and the lint runs.
    let mut load_times = Vec::new();
    let mut ws: Option<Workspace> = None;
    let mut rss_after_load = 0;
    for _ in 0..runs {
        drop(ws.take());
        let t = Instant::now();
        let loaded = load(&paths, &options, std::io::empty()).expect("load");
        load_times.push(t.elapsed());
        if rss_after_load == 0 {
            rss_after_load = proc_status_kb("VmRSS");
        }
        ws = Some(loaded);
    }
    let ws = ws.expect("at least one run");

    // Lint (the first run also compiles the schema validators, once per process).
    let mut lint_times = Vec::new();
    let mut findings = 0;
    let mut by_rule = std::collections::BTreeMap::<&str, usize>::new();
    for run in 0..runs {
        let t = Instant::now();
        let outcome = lint(&ws, &config, &lint_options);
        lint_times.push(t.elapsed());
        if run == 0 {
            findings = outcome.diagnostics.len();
            for d in &outcome.diagnostics {
                *by_rule.entry(d.rule.id).or_default() += 1;
            }
        }
    }
    let documents = ws.documents;
    let objects = ws.objects.len();
    let files = ws.files;
    drop(ws);

    // End to end: load + lint + JSON report.
    let mut e2e_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let ws = load(&paths, &options, std::io::empty()).expect("load");
        let outcome = lint(&ws, &config, &lint_options);
        let report = Report::new(&ws.sources, &outcome.diagnostics, &outcome.summary, "lint");
        report
            .write(Format::Json, &mut std::io::sink(), &HumanOptions::default())
            .expect("report");
        drop(outcome);
        drop(ws);
        e2e_times.push(t.elapsed());
    }
    let peak = proc_status_kb("VmHWM");

    // The PR gate: the tree committed, 1 % of its files changed in the
    // working tree, then the whole of `lint --base HEAD` (both sides
    // analysed, findings matched) and of `diff --base HEAD`.
    commit_tree(dir.path());
    touch_some(&root, 100);
    let analysis = Analysis::new(paths.clone(), &config);
    let mut gate_times = Vec::new();
    let mut radius_times = Vec::new();
    let mut new_findings = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (_, outcome, baseline) =
            analyse_against(&analysis, "HEAD", std::io::empty()).expect("--base HEAD");
        gate_times.push(t.elapsed());
        new_findings = outcome.diagnostics.len();
        assert!(baseline.preexisting > 0);
        let t = Instant::now();
        blast_radius::analyse(&analysis, "HEAD", None).expect("diff --base HEAD");
        radius_times.push(t.elapsed());
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "kubectl-inject bench: {files} files, {documents} documents ({objects} objects), {:.1} MB, {threads} threads, best of {runs}",
        mb(tree.bytes)
    );
    println!(
        "findings: {findings} ({})",
        by_rule
            .iter()
            .map(|(rule, n)| format!("{rule}×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>13} {:>9}",
        "phase", "best", "median", "worst", "documents/s", "MB/s"
    );
    for (name, times) in [
        ("load", &load_times),
        ("lint", &lint_times),
        ("e2e", &e2e_times),
        ("base", &gate_times),
        ("diff", &radius_times),
    ] {
        let mut sorted = times.clone();
        sorted.sort();
        let best = sorted[0];
        let secs = best.as_secs_f64();
        println!(
            "{:<6} {:>10} {:>10} {:>10} {:>13.0} {:>9.1}",
            name,
            ms(best),
            ms(sorted[sorted.len() / 2]),
            ms(sorted[sorted.len() - 1]),
            documents as f64 / secs,
            mb(tree.bytes) / secs,
        );
    }
    println!(
        "(base: `lint --base HEAD` with 1 % of the files changed, both sides; {new_findings} new findings. diff: `diff --base HEAD`)"
    );
    println!();
    println!(
        "memory: RSS after first load {:.1} MB, peak (VmHWM) {:.1} MB",
        rss_after_load as f64 / 1024.0,
        peak as f64 / 1024.0
    );

    run_binary(&root, documents, tree.bytes);

    if std::env::var_os("BENCH_KEEP").is_some_and(|v| v == "1") {
        let kept = dir.keep();
        println!("kept the tree at {}", kept.join("manifests").display());
    }
}

/// Makes `dir` a Git repository with everything in it committed.
fn commit_tree(dir: &Path) {
    let repo = git2::Repository::init(dir).expect("git init");
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("git add");
    index.write().expect("index");
    let tree = repo
        .find_tree(index.write_tree().expect("tree"))
        .expect("tree");
    let who = git2::Signature::now("bench", "bench@example.com").expect("signature");
    repo.commit(Some("HEAD"), &who, &who, "base", &tree, &[])
        .expect("commit");
}

/// Appends a comment to one file in `every` under `root` (a change that
/// moves no finding).
fn touch_some(root: &Path, every: usize) {
    let mut files: Vec<_> = walk_files(root);
    files.sort();
    for path in files.iter().step_by(every) {
        let mut text = std::fs::read_to_string(path).unwrap_or_default();
        text.insert_str(0, "# changed in the pull request\n");
        std::fs::write(path, text).expect("write");
    }
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Runs the real binary once on the tree, when it has been built.
fn run_binary(root: &Path, documents: usize, bytes: u64) {
    let exe = option_env!("CARGO_BIN_EXE_kubectl-inject")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/kubectl-inject");
            p.exists().then_some(p)
        });
    let Some(exe) = exe else {
        println!("binary: not built, skipped (cargo build --release)");
        return;
    };
    // `/usr/bin/time -f` also gives the child's peak RSS.
    let gnu_time = Path::new("/usr/bin/time");
    let mut command = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.args(["-f", "%e %M"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    // Run from the tree's parent so no `.kubectl-inject.yaml` of the
    // repository is found.
    command
        .args(["lint", "--format", "json"])
        .arg(root)
        .current_dir(root.parent().unwrap_or(root))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => {
            println!("binary: could not run {}: {e}", exe.display());
            return;
        }
    };
    let elapsed = t.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(String::new(), |kb| {
            format!(", peak RSS {:.1} MB", kb / 1024.0)
        });
    let secs = elapsed.as_secs_f64();
    println!(
        "binary: `kubectl-inject lint --format json DIR > /dev/null` once: {} ({:.0} documents/s, {:.1} MB/s{peak}), exit {}",
        ms(elapsed),
        documents as f64 / secs,
        mb(bytes) / secs,
        output
            .status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string()),
    );
}

// ---------------------------------------------------------------------------
// The generator.

struct Tree {
    files: usize,
    documents: usize,
    own_documents: usize,
    injected_errors: usize,
    bytes: u64,
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Gen {
    rng: Rng,
    root: PathBuf,
    serial: usize,
    tree: Tree,
}

const TEAMS: usize = 20;
const APPS: &[&str] = &[
    "web", "api", "checkout", "cart", "payments", "search", "auth", "catalog", "orders", "billing",
    "ledger", "notify", "gateway", "reports", "ingest", "indexer",
];
const IMAGES: &[&str] = &[
    "registry.example.com/platform/app",
    "ghcr.io/example/service",
    "docker.io/library/nginx",
    "quay.io/example/worker",
];

impl Gen {
    fn write(&mut self, rel: &str, text: &str, documents: usize) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        self.tree.files += 1;
        self.tree.documents += documents;
        self.tree.bytes += text.len() as u64;
    }

    fn team(&mut self) -> usize {
        self.rng.below(TEAMS as u64) as usize
    }

    /// One ordinary Kubernetes document of a random kind.
    fn k8s_document(&mut self, out: &mut String, team: usize) {
        self.serial += 1;
        let n = self.serial;
        let app = *self.rng.pick(APPS);
        let name = format!("{app}-{n:06}");
        let ns = format!("team-{team:02}");
        match self.rng.below(100) {
            0..=29 => self.workload(out, "apps/v1", "Deployment", &name, &ns),
            30..=39 => self.workload(out, "apps/v1", "StatefulSet", &name, &ns),
            40..=44 => self.workload(out, "apps/v1", "DaemonSet", &name, &ns),
            45..=51 => self.workload(out, "batch/v1", "Job", &name, &ns),
            52..=57 => self.workload(out, "batch/v1", "CronJob", &name, &ns),
            58..=79 => self.service(out, &name, &ns),
            _ => self.config_map(out, &name, &ns),
        }
    }

    fn metadata(&mut self, out: &mut String, name: &str, ns: &str, indent: &str) {
        let _ = write!(
            out,
            "{indent}metadata:\n{indent}  name: {name}\n{indent}  namespace: {ns}\n{indent}  labels:\n{indent}    app.kubernetes.io/name: {name}\n{indent}    app.kubernetes.io/part-of: shop\n{indent}    tier: {}\n",
            self.rng.pick(&["frontend", "backend", "data"])
        );
    }

    fn pod_annotations(&mut self, out: &mut String, indent: &str) {
        let _ = writeln!(out, "{indent}annotations:");
        let _ = writeln!(out, "{indent}  prometheus.io/scrape: \"true\"");
        let _ = writeln!(out, "{indent}  prometheus.io/port: \"9090\"");
        match self.rng.below(10) {
            0..=2 => {
                let _ = writeln!(out, "{indent}  sidecar.istio.io/inject: \"true\"");
                let _ = writeln!(
                    out,
                    "{indent}  proxy.istio.io/config: '{{\"holdApplicationUntilProxyStarts\": true}}'"
                );
                let _ = writeln!(out, "{indent}  sidecar.istio.io/proxyCPU: 100m");
            }
            3 => {
                let _ = writeln!(out, "{indent}  sidecar.istio.io/inject: \"false\"");
            }
            4 | 5 => {
                let _ = writeln!(out, "{indent}  linkerd.io/inject: enabled");
                let _ = writeln!(out, "{indent}  config.linkerd.io/proxy-cpu-request: 50m");
            }
            6 | 7 => {
                let _ = writeln!(out, "{indent}  kubectl-inject.dev/inject: \"true\"");
                let _ = writeln!(
                    out,
                    "{indent}  kubectl-inject.dev/template: envoy-proxy@1.{}.0",
                    self.rng.below(6)
                );
                let _ = writeln!(out, "{indent}  sidecar.kubectl-inject.dev/proxy-cpu: 200m");
            }
            8 => {
                let _ = writeln!(out, "{indent}  vault.hashicorp.com/agent-inject: \"true\"");
                let _ = writeln!(out, "{indent}  vault.hashicorp.com/role: app");
            }
            _ => {
                let _ = writeln!(out, "{indent}  dapr.io/enabled: \"true\"");
                let _ = writeln!(out, "{indent}  dapr.io/app-id: app");
            }
        }
        if self.rng.chance(3) {
            let _ = writeln!(
                out,
                "{indent}  lint.kubectl-inject.dev/ignore: \"INJ206=proxy and mesh reviewed by platform team\""
            );
        }
    }

    fn pod_spec(&mut self, out: &mut String, name: &str, indent: &str, restart_never: bool) {
        let image = *self.rng.pick(IMAGES);
        let version = format!(
            "{}.{}.{}",
            self.rng.below(4),
            self.rng.below(20),
            self.rng.below(10)
        );
        let _ = write!(
            out,
            "{indent}spec:\n{indent}  serviceAccountName: {sa}\n",
            sa = name.split('-').next().unwrap_or(name)
        );
        if restart_never {
            let _ = writeln!(out, "{indent}  restartPolicy: Never");
        }
        let _ = write!(
            out,
            "{indent}  containers:
{indent}    - name: app
{indent}      image: {image}:{version}
{indent}      imagePullPolicy: IfNotPresent
{indent}      ports:
{indent}        - name: http
{indent}          containerPort: 8080
{indent}          protocol: TCP
{indent}      env:
{indent}        - name: LOG_LEVEL
{indent}          value: info
{indent}        - name: POD_NAME
{indent}          valueFrom:
{indent}            fieldRef:
{indent}              fieldPath: metadata.name
{indent}      resources:
{indent}        requests: {{cpu: {cpu}m, memory: {mem}Mi}}
{indent}        limits: {{cpu: \"1\", memory: {limit}Mi}}
{indent}      readinessProbe:
{indent}        httpGet:
{indent}          path: /healthz
{indent}          port: http
{indent}        periodSeconds: 10
{indent}      volumeMounts:
{indent}        - name: config
{indent}          mountPath: /etc/app
{indent}          readOnly: true
{indent}  volumes:
{indent}    - name: config
{indent}      configMap:
{indent}        name: {name}
",
            cpu = self.rng.range(50, 500),
            mem = self.rng.range(64, 512),
            limit = self.rng.range(512, 2048),
        );
        if self.rng.chance(20) {
            let _ = write!(
                out,
                "{indent}  initContainers:\n{indent}    - name: migrate\n{indent}      image: {image}-migrate:{version}\n{indent}      command: [\"/bin/migrate\", \"--wait\"]\n"
            );
        }
    }

    fn workload(&mut self, out: &mut String, api: &str, kind: &str, name: &str, ns: &str) {
        let _ = writeln!(out, "apiVersion: {api}\nkind: {kind}");
        self.metadata(out, name, ns, "");
        if self.rng.chance(30) {
            let _ = writeln!(
                out,
                "  annotations:\n    deployment.kubernetes.io/revision: \"{}\"\n    kubernetes.io/change-cause: deploy {}",
                self.rng.range(1, 40),
                self.rng.next() % 100_000
            );
        }
        let _ = writeln!(out, "spec:");
        let (template_indent, restart_never) = match kind {
            "CronJob" => {
                let _ = write!(
                    out,
                    "  schedule: \"{} */{} * * *\"\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n",
                    self.rng.below(60),
                    self.rng.range(1, 6)
                );
                ("        ", true)
            }
            "Job" => {
                let _ = write!(out, "  backoffLimit: 3\n  template:\n");
                ("    ", true)
            }
            _ => {
                if kind != "DaemonSet" {
                    let _ = writeln!(out, "  replicas: {}", self.rng.range(1, 6));
                }
                if kind == "StatefulSet" {
                    let _ = writeln!(out, "  serviceName: {name}");
                }
                let _ = write!(
                    out,
                    "  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n  template:\n"
                );
                ("    ", false)
            }
        };
        let _ = write!(
            out,
            "{template_indent}metadata:\n{template_indent}  labels:\n{template_indent}    app.kubernetes.io/name: {name}\n"
        );
        let inner = format!("{template_indent}  ");
        self.pod_annotations(out, &inner);
        self.pod_spec(out, name, template_indent, restart_never);
        if kind == "StatefulSet" {
            let _ = write!(
                out,
                "  volumeClaimTemplates:\n    - metadata:\n        name: data\n      spec:\n        accessModes: [ReadWriteOnce]\n        resources:\n          requests:\n            storage: {}Gi\n",
                self.rng.range(1, 100)
            );
        }
    }

    fn service(&mut self, out: &mut String, name: &str, ns: &str) {
        let _ = writeln!(out, "apiVersion: v1\nkind: Service");
        self.metadata(out, name, ns, "");
        let _ = write!(
            out,
            "  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-internal: \"true\"\nspec:\n  type: {}\n  selector:\n    app.kubernetes.io/name: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n    - name: metrics\n      port: 9090\n      targetPort: 9090\n",
            self.rng
                .pick(&["ClusterIP", "ClusterIP", "LoadBalancer", "NodePort"])
        );
    }

    fn config_map(&mut self, out: &mut String, name: &str, ns: &str) {
        let _ = writeln!(out, "apiVersion: v1\nkind: ConfigMap");
        self.metadata(out, name, ns, "");
        let _ = write!(
            out,
            "data:\n  LOG_LEVEL: info\n  FEATURE_FLAGS: \"checkout-v2,search-ranking\"\n  app.yaml: |\n    server:\n      port: 8080\n      timeout: {}s\n    database:\n      host: db.{ns}.svc.cluster.local\n      pool: {}\n    # a comment inside a block scalar\n",
            self.rng.range(1, 60),
            self.rng.range(4, 64)
        );
    }

    /// One `kubectl-inject.dev/v1alpha1` document; `bad` puts a schema error in it.
    fn own_document(&mut self, out: &mut String, bad: bool) {
        self.serial += 1;
        let n = self.serial;
        self.tree.own_documents += 1;
        match self.rng.below(3) {
            0 => {
                let version = if bad {
                    "1.4".to_owned() // not semver
                } else {
                    format!("1.{}.{}", n % 7, n % 13)
                };
                let _ = write!(
                    out,
                    "apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: envoy-proxy-{n}
  labels:
    team: platform
spec:
  version: {version}
  extends: base-proxy
  nativeSidecar: {native}
  interceptsTraffic: true
  parameters:
    - name: proxyCPU
      annotation: sidecar.kubectl-inject.dev/proxy-cpu
      default: 100m
      pattern: '^[0-9]+m?$'
  initContainers:
    - name: proxy-init
      image: ghcr.io/example/proxy-init:1.4.0
      args: [\"-p\", \"15001\", \"-u\", \"1337\"]
      securityContext:
        capabilities:
          add: [NET_ADMIN, NET_RAW]
  containers:
    - name: proxy
      image: ghcr.io/example/envoy:1.31.0
      args: [\"--service-node\", \"${{pod.name}}.${{pod.namespace}}\"]
      ports:
        - containerPort: 15090
          name: http-envoy-prom
      resources:
        requests:
          cpu: ${{params.proxyCPU}}
          memory: 64Mi
      volumeMounts:
        - name: proxy-certs
          mountPath: /etc/certs
  volumes:
    - name: proxy-certs
      secret:
        secretName: proxy-certs
  podAnnotations:
    kubectl-inject.dev/proxy: envoy
  podLabels:
    security.example.com/mesh: enabled
",
                    native = n.is_multiple_of(2),
                );
            }
            1 => {
                let _ = write!(
                    out,
                    "apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: mesh-default-{n}
spec:
  namespaceSelector:
    matchLabels:
      mesh: enabled
  objectSelector:
    matchExpressions:
      - key: app.kubernetes.io/name
        operator: Exists
  serviceAccounts: [default, web, api]
  action: inject
{template}  priority: {priority}
  allowPodOverride: true
  enforce: false
  rollout:
    template: envoy-proxy@1.5.0
    percent: 10
",
                    // `action: inject` without a template is a schema error.
                    template = if bad { "" } else { "  template: envoy-proxy\n" },
                    priority = n % 200,
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "apiVersion: kubectl-inject.dev/v1alpha1
kind: InjectionPolicy
metadata:
  name: team-policy-{n}
  namespace: team-{team:02}
spec:
  objectSelector:
    matchLabels:
      tier: backend
  action: {action}
  template: envoy-proxy@1.4.0
  priority: {priority}
{extra}",
                    team = n % TEAMS,
                    action = if n.is_multiple_of(5) {
                        "skip"
                    } else {
                        "inject"
                    },
                    priority = n % 50,
                    extra = if bad { "  unknownField: true\n" } else { "" },
                );
            }
        }
    }
}

fn generate(root: &Path, target: usize) -> Tree {
    let mut g = Gen {
        rng: Rng(0x6b75_6265_6374_6c21),
        root: root.to_owned(),
        serial: 0,
        tree: Tree {
            files: 0,
            documents: 0,
            own_documents: 0,
            injected_errors: 0,
            bytes: 0,
        },
    };
    let own = (target / 150).max(20);
    let singles = target / 20;
    // The namespaces file and the hand-written documents of
    // `inject_errors` make up the rest.
    let mut remaining = target.saturating_sub(own + singles + TEAMS + INJECTED_DOCUMENTS);

    // Namespaces.
    let mut text = String::new();
    for team in 0..TEAMS {
        let _ = write!(
            text,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-{team:02}\n  labels:\n    mesh: enabled\n    kubectl-inject.dev/injection: {}\n",
            if team % 4 == 3 { "disabled" } else { "enabled" }
        );
    }
    g.write("cluster/namespaces.yaml", &text, TEAMS);

    // The own API: multi-document files of 20, and some single files; a few
    // with schema errors.
    let mut written = 0;
    let mut file = 0;
    while written < own {
        let count = if file % 5 == 4 {
            1
        } else {
            20.min(own - written)
        };
        let mut text = String::new();
        for _ in 0..count {
            let bad = g.rng.chance(2);
            g.tree.injected_errors += usize::from(bad);
            if !text.is_empty() {
                text.push_str("---\n");
            }
            g.own_document(&mut text, bad);
        }
        g.write(
            &format!("platform/policies/policies-{file:03}.yaml"),
            &text,
            count,
        );
        written += count;
        file += 1;
    }

    // Multi-document bundles: ~50 documents each.
    let mut bundle = 0;
    while remaining > 0 {
        let count = (g.rng.range(30, 70) as usize).min(remaining);
        let team = g.team();
        let mut text = String::new();
        for i in 0..count {
            if i > 0 || g.rng.chance(50) {
                text.push_str("---\n");
            }
            if i > 0 && g.rng.chance(5) {
                let _ = writeln!(text, "# Source: shop/templates/part-{i}.yaml");
            }
            g.k8s_document(&mut text, team);
        }
        g.write(
            &format!("apps/team-{team:02}/bundle-{bundle:04}.yaml"),
            &text,
            count,
        );
        remaining -= count;
        bundle += 1;
    }

    // Single-document files.
    for i in 0..singles {
        let team = g.team();
        let mut text = String::new();
        g.k8s_document(&mut text, team);
        let ext = if i % 50 == 0 { "yml" } else { "yaml" };
        g.write(
            &format!("apps/team-{team:02}/single/doc-{i:05}.{ext}"),
            &text,
            1,
        );
    }

    inject_errors(&mut g);
    g.tree
}

/// Documents written by [`inject_errors`] (a `List` counts as one).
const INJECTED_DOCUMENTS: usize = 16;

/// A few broken or unusual documents, as real repositories have.
fn inject_errors(g: &mut Gen) {
    let errors: &[(&str, &str, usize, usize)] = &[
        // (path, text, documents, errors)
        (
            "broken/syntax.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken-flow, namespace: team-00\ndata:\n  a: b\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-broken\n  namespace: team-00\n",
            2,
            1,
        ),
        (
            "broken/duplicate-key.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dup-key\n  namespace: team-01\nspec:\n  replicas: 1\n  replicas: 2\n  selector:\n    matchLabels: {app: dup-key}\n  template:\n    metadata:\n      labels: {app: dup-key}\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.27\n",
            1,
            1,
        ),
        (
            "broken/tabs.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n\tname: tabbed\n",
            1,
            1,
        ),
        (
            "broken/unknown-kind.yaml",
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: SidecarTempalte\nmetadata:\n  name: typo\nspec:\n  version: 1.0.0\n---\napiVersion: kubectl-inject.dev/v2\nkind: SidecarTemplate\nmetadata:\n  name: future\nspec:\n  version: 1.0.0\n",
            2,
            2,
        ),
        (
            "broken/duplicate-object.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\n  namespace: team-02\ndata: {a: \"1\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\n  namespace: team-02\ndata: {a: \"2\"}\n",
            2,
            1,
        ),
        (
            "broken/alias-bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
            1,
            1,
        ),
        (
            "broken/suppression-without-reason.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: no-reason\n  namespace: team-03\n  annotations:\n    lint.kubectl-inject.dev/ignore: INJ004\nspec:\n  ports: [{port: 80}]\n",
            1,
            1,
        ),
        (
            "misc/kustomization.yaml",
            "resources:\n  - ../apps\nnamePrefix: prod-\ncommonLabels:\n  env: prod\n",
            1,
            0,
        ),
        (
            "misc/anchors.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchors\n  namespace: team-04\n  labels: &labels\n    app: anchors\n    env: prod\ndata:\n  base: &base {x: \"1\", y: \"2\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged\n  namespace: team-04\n  labels:\n    <<: *labels\n    env: staging\n",
            2,
            0,
        ),
        (
            "misc/list.yaml",
            "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ServiceAccount\n    metadata: {name: sa-a, namespace: team-05}\n  - apiVersion: v1\n    kind: ServiceAccount\n    metadata: {name: sa-b, namespace: team-05}\n",
            1,
            0,
        ),
        (
            "misc/exported.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"from-json\", \"namespace\": \"team-06\"}, \"spec\": {\"ports\": [{\"port\": 443, \"targetPort\": 8443}]}}\n",
            1,
            0,
        ),
        (
            "misc/unicode.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unicode\n  namespace: team-07\n  annotations:\n    description: \"Größe – 日本語 – emoji 🚀\"\ndata:\n  greeting: héllo wörld\n",
            1,
            0,
        ),
    ];
    assert_eq!(
        errors.iter().map(|e| e.2).sum::<usize>(),
        INJECTED_DOCUMENTS
    );
    for (path, text, documents, errors) in errors {
        g.write(path, text, *documents);
        g.tree.injected_errors += errors;
    }
    // Not UTF-8 (Latin-1 `é`).
    let path = g.root.join("broken/latin1.yaml");
    let bytes =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: latin1\ndata:\n  a: caf\xe9\n";
    std::fs::write(&path, bytes).expect("write");
    g.tree.files += 1;
    g.tree.bytes += bytes.len() as u64;
    g.tree.injected_errors += 1;
}

// ---------------------------------------------------------------------------

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A field of /proc/self/status in kB (0 where there is none).
fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
