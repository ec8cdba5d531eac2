//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kubectl_inject::config::Config;
use kubectl_inject::lint::{Analysis, LintOptions, LintOutcome, lint};
use kubectl_inject::load::{LoadOptions, Workspace, load};
use kubectl_inject::report::{Format, HumanOptions, Report};

pub fn fixtures() -> PathBuf {
    // Relative, as users name paths (and stable in snapshots); tests run
    // in the package root.
    PathBuf::from("tests/fixtures")
}

/// Loads and lints `paths` with the default configuration, as `lint` does.
pub fn lint_paths(paths: &[PathBuf]) -> (Workspace, LintOutcome) {
    lint_with(paths, &Config::default())
}

/// Loads and lints `paths` with `config`, as the CLI does (deployables,
/// environments, the source map).
pub fn lint_with(paths: &[PathBuf], config: &Config) -> (Workspace, LintOutcome) {
    Analysis::new(paths.to_vec(), config)
        .run(std::io::empty())
        .expect("paths exist")
}

/// Loads `paths` as plain files and lints them as one cluster (no
/// deployables), as `serve` and live runs do.
pub fn lint_flat(paths: &[PathBuf], config: &Config) -> (Workspace, LintOutcome) {
    let ws = load(paths, &LoadOptions::default(), std::io::empty()).expect("paths exist");
    let outcome = lint(
        &ws,
        config,
        &LintOptions {
            default_namespace: config.namespace.clone().unwrap_or_else(|| "default".into()),
            no_suppressions: false,
            kubernetes_version: config.kubernetes_version(),
            manual_injector: None,
            keep_pods: true,
        },
    );
    (ws, outcome)
}

/// The configuration of a fixture directory: its `kubectl-inject.yaml`
/// when it has one (e.g. a Kubernetes version), else the defaults.
pub fn fixture_config(dir: &Path) -> Config {
    let path = dir.join("kubectl-inject.yaml");
    if path.is_file() {
        Config::load(&path, &kubectl_inject::rules::Registry)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    } else {
        Config::default()
    }
}

/// Renders the outcome in a format, without colour, at 100 columns.
pub fn render(ws: &Workspace, outcome: &LintOutcome, format: Format) -> String {
    let report = Report::new(&ws.sources, &outcome.diagnostics, &outcome.summary, "lint")
        .with_deployables(&ws.deployables);
    let mut out = Vec::new();
    report
        .write(format, &mut out, &HumanOptions::default())
        .expect("writing to memory");
    String::from_utf8(out).expect("reports are UTF-8")
}

/// `line:column` of every finding of `rule`, in order.
pub fn positions(ws: &Workspace, outcome: &LintOutcome, rule: &str) -> Vec<String> {
    outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule.id == rule)
        .map(|d| {
            let at = d.at.as_ref().expect("fixture findings have a position");
            let lc = ws.sources.get(at.file).line_col(at.span.start);
            format!("{}:{}", lc.line, lc.column)
        })
        .collect()
}

/// The positions a fixture's first line promises: `# fires: 7:5 14:1`.
pub fn expected_positions(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let first = text.lines().next().unwrap_or_default();
    let list = first
        .strip_prefix("# fires:")
        .unwrap_or_else(|| panic!("{} must start with `# fires: LINE:COL …`", path.display()));
    list.split_whitespace().map(str::to_owned).collect()
}

/// A temporary directory with one file per `(path, text)` entry.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

// ---- scripts, Git and the PR gate ------------------------------------------

/// The package root (where `.github/` is).
pub fn package_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `python3` runs; says why the caller skips when it does not.
pub fn have_python(why: &str) -> bool {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: python3 ({why}) is not installed");
    }
    found
}

/// Whether `kubectl` (which ships Kustomize) can run: the deployables tests
/// build Kustomize roots with it. Under `CI=true` its absence is a failure.
pub fn have_kubectl(why: &str) -> bool {
    let found = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl ({why}) is not on PATH, and CI needs it"
        );
        eprintln!("skipped: kubectl ({why}) is not on PATH");
    }
    found
}

/// Runs `git` in `dir` with a fixed identity and no user or system
/// configuration that could change it; returns its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A Deployment in `shop` whose pod template carries
/// `sidecar.istio.io/inject: "ture"` at line 12, column 9: INJ203 (error,
/// Istio rejects the value) and INJ208 (warning, deprecated annotation).
pub fn bad_deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations:
        sidecar.istio.io/inject: \"ture\"
    spec:
      containers:
        - name: {name}
          image: registry.example.com/{name}:1.0.0
"
    )
}
pub mod apiserver;
pub mod webhook;

/// A SidecarTemplate `envoy-proxy` at `version` with one `proxy` container
/// (`registry.example.com/envoy:IMAGE_TAG`) that sets resources and a
/// readiness probe, so the injected-pod checks stay quiet.
pub fn envoy_template(version: &str, image_tag: &str) -> String {
    format!(
        "apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata:
  name: envoy-proxy
spec:
  version: {version}
  containers:
    - name: proxy
      image: registry.example.com/envoy:{image_tag}
      resources:
        requests: {{cpu: 100m, memory: 128Mi}}
        limits: {{cpu: 100m, memory: 128Mi}}
      readinessProbe:
        httpGet: {{path: /ready, port: 15021}}
"
    )
}

/// The ClusterInjectionPolicy `mesh-default`: `template` (e.g.
/// `envoy-proxy@1.4.0`) in namespaces labelled
/// `kubectl-inject.dev/injection: enabled`.
pub fn mesh_policy(template: &str) -> String {
    format!(
        "apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata:
  name: mesh-default
spec:
  namespaceSelector:
    matchLabels:
      kubectl-inject.dev/injection: enabled
  action: inject
  template: {template}
"
    )
}

/// A hostile `extends` chain (issue 14): SidecarTemplates `t-0` to
/// `t-{n-1}`, each extending the one before and adding a container of its
/// own (about 190 bytes each: 2,000 deep is a 375 KB file). With `workload`,
/// a ClusterInjectionPolicy naming the last one and a Deployment it selects.
pub fn extends_chain(n: usize, workload: bool) -> String {
    let mut docs: Vec<String> = (0..n)
        .map(|i| {
            let extends = if i == 0 {
                String::new()
            } else {
                format!("\n  extends: t-{}@1.0.0", i - 1)
            };
            format!(
                "apiVersion: kubectl-inject.dev/v1alpha1\nkind: SidecarTemplate\nmetadata: {{name: t-{i}}}\nspec:\n  version: 1.0.0{extends}\n  containers: [{{name: c-{i}, image: \"busybox:1.36\"}}]\n"
            )
        })
        .collect();
    if workload {
        docs.push(format!(
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: ClusterInjectionPolicy\nmetadata: {{name: deep}}\nspec: {{action: inject, template: t-{}, objectSelector: {{matchLabels: {{app: web}}}}}}\n",
            n.saturating_sub(1)
        ));
        docs.push(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: \"nginx:1.27\"}]}\n"
                .to_owned(),
        );
    }
    docs.join("---\n")
}

/// A template that amplifies (issue 14): 3,000 strings that each name a
/// 100 KB default, 157 KB of JSON that renders a 300 MB pod. With
/// `workload`, a Deployment that asks for it by annotation.
pub fn amplifying_template(workload: bool) -> String {
    let refs = vec!["${params.banner}"; 3_000];
    let chatty = serde_json::json!({"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "SidecarTemplate",
        "metadata": {"name": "chatty"},
        "spec": {"version": "1.0.0",
            "parameters": [{"name": "banner", "annotation": "sidecar.kubectl-inject.dev/banner",
                            "default": "x".repeat(100_000)}],
            "containers": [{"name": "agent", "image": "registry.example.com/agent:1.0.0", "args": refs}]}});
    let mut out = format!("{chatty}\n");
    if workload {
        out.push_str("---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata:\n      labels: {app: web}\n      annotations: {kubectl-inject.dev/inject: \"true\", kubectl-inject.dev/template: chatty}\n    spec: {containers: [{name: web, image: \"nginx:1.27\"}]}\n");
    }
    out
}
