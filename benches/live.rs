//! `simulate --live` on a large namespace: `cargo bench --bench live`.
//!
//! Needs a kube-apiserver: `KUBE_APISERVER_KUBECONFIG`, else the one
//! `../shared/tools/kube-apiserver.sh start` runs (its kubeconfig in the
//! script's cache directory); without one it says so and does nothing.
//! Creates the namespace `bench-live-<N>` with `BENCH_PODS` (default 5000)
//! bare pods once (kept for later runs: a namespace cannot be deleted on a
//! server without a controller-manager), then runs the release binary
//! `BENCH_RUNS` times (default 5) with the repository's `testdata/` policies
//! and reports, per run, the time spent reading the cluster (the binary's own
//! stderr line) and the rest: simulation, drift rules and the JSON report.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn kubeconfig() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBE_APISERVER_KUBECONFIG") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("KUBE_APISERVER_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("kube-apiserver-1.20"))
        })?;
    let path = cache.join("run/kubeconfig");
    path.exists().then_some(path)
}

fn kubectl(kubeconfig: &PathBuf, args: &[&str], stdin: Option<&[u8]>) -> bool {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl runs");
    if let Some(bytes) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(bytes)
            .expect("kubectl reads stdin");
    }
    child.wait().is_ok_and(|s| s.success())
}

/// A List of the namespace and its pods, as JSON.
fn manifests(namespace: &str, pods: usize) -> String {
    let mut items = vec![serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"kubectl-inject.dev/injection": "enabled"}}
    })];
    for i in 0..pods {
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i:05}"), "namespace": namespace,
                         "labels": {"app": "web", "tier": format!("t{}", i % 7)}},
            "spec": {"containers": [{
                "name": "web", "image": "registry.example.com/web:1.2.3",
                "ports": [{"containerPort": 8080}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
            }]}
        }));
    }
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

fn main() {
    let pods = env_usize("BENCH_PODS", 5000);
    let runs = env_usize("BENCH_RUNS", 5).max(1);
    let Some(kubeconfig) = kubeconfig() else {
        println!(
            "no kube-apiserver: run `bash ../shared/tools/kube-apiserver.sh start` or set KUBE_APISERVER_KUBECONFIG"
        );
        return;
    };
    let namespace = format!("bench-live-{pods}");
    if !kubectl(&kubeconfig, &["get", "namespace", &namespace], None) {
        let started = Instant::now();
        let created = kubectl(
            &kubeconfig,
            &["create", "-f", "-"],
            Some(manifests(&namespace, pods).as_bytes()),
        );
        assert!(created, "creating {pods} pods in {namespace}");
        println!(
            "created {pods} pods in {namespace} in {:.1?}",
            started.elapsed()
        );
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = root.join("target/release/kubectl-inject");
    if !exe.exists() {
        println!("binary: not built, skipped (cargo build --release)");
        return;
    }
    println!("simulate --live -n {namespace} ({pods} pods), {runs} runs:");
    println!("{:>8} {:>8} {:>18}", "total", "read", "beyond the API");
    let mut beyond = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let out = Command::new(&exe)
            .args(["simulate", "--live", "-n", &namespace, "--format", "json"])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg(root.join("testdata/policy/cluster-policies.yaml"))
            .arg(root.join("testdata/policy/templates"))
            .stdout(Stdio::null())
            .output()
            .expect("the binary runs");
        let total = started.elapsed().as_secs_f64();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "kubectl-inject: read namespace … in 0.4 s: …"
        let read: f64 = stderr
            .lines()
            .find_map(|l| l.split(" in ").nth(1)?.split(" s:").next()?.parse().ok())
            .expect("the binary says how long reading took");
        beyond.push(total - read);
        println!("{total:>7.2}s {read:>7.1}s {:>17.2}s", total - read);
    }
    beyond.sort_by(f64::total_cmp);
    println!(
        "beyond the API calls: best {:.2} s, median {:.2} s",
        beyond[0],
        beyond[beyond.len() / 2]
    );
}
