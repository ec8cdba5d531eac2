//! The PR gate end to end: `lint --base`, `simulate --base` and `diff --base`
//! run by the binary on temporary Git repositories with a base and a head
//! commit (built with git2, no `git` needed).

use std::path::Path;

use assert_cmd::Command;
use git2::{IndexAddOption, Oid, Repository, Signature};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{bad_deployment, envoy_template, git, mesh_policy};

/// A throwaway repository.
struct Repo {
    dir: TempDir,
    repo: Repository,
}

impl Repo {
    fn new() -> Repo {
        let dir = TempDir::new().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        Repo { dir, repo }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, text: &str) -> &Repo {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn remove(&self, path: &str) -> &Repo {
        std::fs::remove_file(self.path().join(path)).unwrap();
        self
    }

    fn rename(&self, from: &str, to: &str) -> &Repo {
        let to_path = self.path().join(to);
        std::fs::create_dir_all(to_path.parent().unwrap()).unwrap();
        std::fs::rename(self.path().join(from), to_path).unwrap();
        self
    }

    /// Commits everything in the working tree; returns the commit's SHA.
    fn commit(&self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who = Signature::now("test", "test@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<_> = parent.iter().collect();
        let id: Oid = self
            .repo
            .commit(Some("HEAD"), &who, &who, message, &tree, &parents)
            .unwrap();
        id.to_string()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("kubectl-inject")
            .unwrap()
            .current_dir(self.path())
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let (code, stdout, stderr) = self.run(args);
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {stdout}\nstderr {stderr}"));
        (code, json)
    }
}

/// `(rule, file, line)` of every finding of a JSON report.
fn findings(report: &Value) -> Vec<(String, String, u64)> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                d["file"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn only_findings_the_head_adds_are_reported() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    let base = repo.commit("base");
    repo.write("apps/api.yaml", &bad_deployment("api"));

    // Without a base, both files' findings.
    let (code, all) = repo.json(&["lint", "--format", "json", "."]);
    assert_eq!(code, 1);
    assert_eq!(findings(&all).len(), 4, "{all:#}");

    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 1, "the new finding fails the gate");
    assert_eq!(
        findings(&report),
        [
            ("INJ203".into(), "apps/api.yaml".into(), 12),
            ("INJ208".into(), "apps/api.yaml".into(), 12)
        ]
    );
    assert_eq!(report["baseline"]["preexisting"], 2);
    assert_eq!(report["baseline"]["commit"], base.as_str());
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(report["summary"]["warnings"], 1);

    // The same on `simulate`, whose workloads stay those of the head.
    let (_, simulated) = repo.json(&["simulate", "--base", &base, "--format", "json", "."]);
    assert_eq!(findings(&simulated), findings(&report));
    assert_eq!(simulated["workloads"].as_array().unwrap().len(), 2);

    // A branch name works as well as a SHA, and the human report says what it left out.
    repo.commit("head");
    let (code, stdout, _) = repo.run(&["lint", "--base", "HEAD~1", "."]);
    assert_eq!(code, 1);
    assert!(stdout.contains("api.yaml:12:9"), "{stdout}");
    assert!(!stdout.contains("web.yaml"), "{stdout}");
    assert!(
        stdout.contains(
            "only what the working tree adds to HEAD~1: 2 findings already there, not shown"
        ),
        "{stdout}"
    );
}

#[test]
fn a_finding_whose_lines_moved_is_not_new() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    let base = repo.commit("base");
    // Lines shift above the finding, and a container is inserted above the
    // one the finding is about.
    let moved = format!(
        "# owned by the web team\n# reviewed 2026-11\n\n{}",
        bad_deployment("web").replace(
            "      containers:\n",
            "      containers:\n        - name: helper\n          image: registry.example.com/helper:2.0.0\n"
        )
    );
    repo.write("apps/web.yaml", &moved);
    let (_, head) = repo.json(&["lint", "--format", "json", "."]);
    assert_eq!(
        findings(&head).iter().map(|f| f.2).collect::<Vec<_>>(),
        [15, 15],
        "the findings moved from line 12 to 15"
    );

    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report).is_empty(), "{report:#}");
    assert_eq!(report["baseline"]["preexisting"], 2);
}

#[test]
fn a_changed_value_at_the_same_place_is_matched_by_field_not_message() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    let base = repo.commit("base");
    // Still rejected, another spelling: the same finding of the same field.
    repo.write(
        "apps/web.yaml",
        &bad_deployment("web").replace("\"ture\"", "\"yes\""),
    );
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report).is_empty());
    // A second, new finding of the same rule elsewhere is new.
    repo.write(
        "apps/web.yaml",
        &bad_deployment("web").replace(
            "        sidecar.istio.io/inject: \"ture\"\n",
            "        sidecar.istio.io/inject: \"ture\"\n        traffic.sidecar.istio.io/includeInboundPorts: \"http\"\n",
        ),
    );
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 1);
    assert_eq!(
        findings(&report),
        [("INJ203".into(), "apps/web.yaml".into(), 13)],
        "{report:#}"
    );
}

#[test]
fn a_deleted_files_findings_disappear() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    repo.write("apps/api.yaml", &bad_deployment("api"));
    let base = repo.commit("base");
    repo.remove("apps/web.yaml");
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 0);
    assert!(findings(&report).is_empty());
    assert_eq!(report["baseline"]["preexisting"], 2, "api.yaml's two");
    // Committed, and with the whole directory gone: still nothing new.
    repo.remove("apps/api.yaml");
    repo.commit("head");
    repo.write("README.md", "nothing left\n");
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 0);
    assert!(findings(&report).is_empty());
}

#[test]
fn renamed_files_keep_their_findings_old() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    // Findings about no object (a file that is not YAML) follow the rename too.
    repo.write("apps/broken.yaml", "kind: [\n  nope\n");
    let base = repo.commit("base");
    repo.rename("apps/web.yaml", "services/web/deployment.yaml");
    repo.rename("apps/broken.yaml", "services/web/broken.yaml");
    let (code, all) = repo.json(&["lint", "--format", "json", "."]);
    assert_eq!(code, 1);
    let rules: Vec<_> = findings(&all).into_iter().map(|f| f.0).collect();
    assert!(rules.contains(&"INJ001".to_owned()), "{all:#}");

    // Uncommitted renames (untracked files in the working tree)…
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert!(findings(&report).is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    // …and committed ones.
    repo.commit("move");
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "services"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report).is_empty(), "{report:#}");
}

#[test]
fn ignore_files_and_config_globs_apply_at_the_base_too() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    // Copies kept out of walks by an `.ignore` file: at the base as in the working tree.
    repo.write("apps/expected/.ignore", "*\n");
    repo.write("apps/expected/web.yaml", &bad_deployment("web"));
    repo.write(".kubectl-inject.yaml", "ignore:\n  - \"vendor/**\"\n");
    repo.write("vendor/chart.yaml", &bad_deployment("vendored"));
    let base = repo.commit("base");
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json", "."]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["baseline"]["preexisting"], 2, "{report:#}");
    assert_eq!(
        report["summary"]["files"], 1,
        "web.yaml alone (the config file is hidden)"
    );
}

#[test]
fn sarif_and_github_reports_carry_only_new_findings() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    let base = repo.commit("base");
    repo.write("apps/api.yaml", &bad_deployment("api"));
    let (_, sarif) = repo.json(&["lint", "--base", &base, "--format", "sarif", "."]);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        assert_eq!(result["baselineState"], "new");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "apps/api.yaml"
        );
    }
    let (code, stdout, _) = repo.run(&["lint", "--base", &base, "--format", "github", "."]);
    assert_eq!(code, 1);
    let commands: Vec<_> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 2, "{stdout}");
    assert!(
        commands
            .iter()
            .all(|c| c.contains("file=apps/api.yaml,line=12,")),
        "{stdout}"
    );
}

#[test]
fn bad_revisions_and_places_are_usage_errors() {
    let repo = Repo::new();
    repo.write("apps/web.yaml", &bad_deployment("web"));
    repo.commit("base");
    let (code, _, stderr) = repo.run(&["lint", "--base", "no-such-branch", "."]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("revision `no-such-branch` not found"),
        "{stderr}"
    );
    let (code, _, stderr) = repo.run(&["lint", "--base", "HEAD", "-"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("stdin"), "{stderr}");
    let (code, _, stderr) = repo.run(&["diff", "."]);
    assert_eq!(code, 2, "diff needs --base: {stderr}");

    let outside = TempDir::new().unwrap();
    std::fs::write(outside.path().join("web.yaml"), bad_deployment("web")).unwrap();
    let out = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .current_dir(outside.path())
        .args(["lint", "--base", "main", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("needs a Git repository"), "{stderr}");
}

// ---- blast radius ----------------------------------------------------------

/// envoy-proxy 1.4.0 and 1.5.0.
fn templates() -> String {
    [
        envoy_template("1.4.0", "1.31.2"),
        envoy_template("1.5.0", "1.32.0"),
    ]
    .join("---\n")
}

fn namespace(name: &str, injection: &str) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    kubectl-inject.dev/injection: {injection}
"
    )
}

fn deployment(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: {name}
          image: registry.example.com/{name}:1.0.0
"
    )
}

/// Three workloads in two injected namespaces and one in a namespace that
/// is not, with envoy-proxy 1.4.0.
fn mesh_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.write("policy/templates.yaml", &templates())
        .write(
            "policy/mesh-default.yaml",
            &mesh_policy("envoy-proxy@1.4.0"),
        )
        .write(
            "namespaces.yaml",
            &[
                namespace("shop", "enabled"),
                namespace("store", "enabled"),
                namespace("batch", "disabled"),
            ]
            .join("---\n"),
        )
        .write("apps/shop/web.yaml", &deployment("web", "shop"))
        .write("apps/shop/cart.yaml", &deployment("cart", "shop"))
        .write("apps/store/front.yaml", &deployment("front", "store"))
        .write("apps/batch/report.yaml", &deployment("report", "batch"));
    let base = repo.commit("base");
    (repo, base)
}

#[test]
fn blast_radius_of_a_template_version_bump() {
    let (repo, base) = mesh_repo();
    let (code, unchanged) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(
        unchanged["summary"]["workloads_changed"], 0,
        "{unchanged:#}"
    );

    repo.write(
        "policy/mesh-default.yaml",
        &mesh_policy("envoy-proxy@1.5.0"),
    );
    let (code, radius) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(radius["base"], base.as_str());
    assert_eq!(radius["head"], "worktree");
    assert_eq!(radius["summary"]["workloads_changed"], 3, "{radius:#}");
    assert_eq!(radius["summary"]["namespaces"], 2);
    let changes = radius["changes"].as_array().unwrap();
    let names: Vec<_> = changes
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["namespace"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["shop/cart", "shop/web", "store/front"]);
    for change in changes {
        assert_eq!(change["injector"], "kubectl-inject");
        assert_eq!(change["before"]["decision"], "inject");
        assert_eq!(change["before"]["template"], "envoy-proxy@1.4.0");
        assert_eq!(change["after"]["template"], "envoy-proxy@1.5.0");
        assert_eq!(change["pod_changed"], true);
    }
    assert_eq!(changes[0]["file"], "apps/shop/cart.yaml");
    assert_eq!(
        radius["causes"][0]["what"],
        "template envoy-proxy 1.4.0 → 1.5.0"
    );

    let (_, human, _) = repo.run(&["diff", "--base", &base]);
    assert!(
        human.contains(
            "kubectl-inject: template envoy-proxy 1.4.0 → 1.5.0 changes 3 workloads in 2 namespaces"
        ),
        "{human}"
    );
    assert!(human.contains("namespace shop (2 workloads)"), "{human}");
    let (_, markdown, _) = repo.run(&["diff", "--base", &base, "--format", "markdown"]);
    assert!(
        markdown.starts_with("## kubectl-inject diff: blast radius"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| kubectl-inject | template envoy-proxy 1.4.0 → 1.5.0 | 3 | 2 |"),
        "{markdown}"
    );
    assert!(markdown.contains("| Deployment/front | kubectl-inject | inject envoy-proxy@1.4.0 | inject envoy-proxy@1.5.0 | changes | `apps/store/front.yaml` |"), "{markdown}");

    // Both sides from Git: --head.
    let head = repo.commit("bump");
    let (_, committed) = repo.json(&["diff", "--base", &base, "--head", &head, "--format", "json"]);
    assert_eq!(committed["head"], head.as_str());
    assert_eq!(committed["changes"], radius["changes"]);
}

#[test]
fn blast_radius_of_a_namespace_label_change() {
    let (repo, base) = mesh_repo();
    repo.write(
        "namespaces.yaml",
        &[
            namespace("shop", "enabled"),
            namespace("store", "disabled"),
            namespace("batch", "enabled"),
        ]
        .join("---\n"),
    );
    let (_, radius) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    let changes: Vec<_> = radius["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["before"]["decision"].as_str().unwrap().to_owned(),
                c["after"]["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("report".to_owned(), "skip".to_owned(), "inject".to_owned()),
            ("front".to_owned(), "inject".to_owned(), "skip".to_owned())
        ],
        "{radius:#}"
    );
    assert_eq!(radius["summary"]["workloads_changed"], 2);
    assert_eq!(radius["summary"]["namespaces"], 2);
    let whats: Vec<_> = radius["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["decision inject → skip", "decision skip → inject"]);
}

#[test]
fn blast_radius_ignores_application_changes_and_moves() {
    let (repo, base) = mesh_repo();
    // A new application image and a move to another file change no injection.
    repo.remove("apps/shop/web.yaml");
    repo.write(
        "apps/shop/all.yaml",
        &deployment("web", "shop").replace("web:1.0.0", "web:1.1.0"),
    );
    let (_, radius) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(radius["summary"]["workloads_changed"], 0, "{radius:#}");
    // A new workload in an injected namespace is in the radius; one nothing injects is not.
    repo.write("apps/store/api.yaml", &deployment("api", "store"));
    repo.write("apps/batch/etl.yaml", &deployment("etl", "batch"));
    let (_, radius) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(radius["summary"]["workloads_changed"], 1, "{radius:#}");
    assert_eq!(radius["changes"][0]["name"], "api");
    assert_eq!(radius["changes"][0]["before"], Value::Null);
    assert_eq!(radius["causes"][0]["cause"], "added");
}

#[test]
fn a_shallow_clone_works_once_the_base_is_fetched() {
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("git is not installed; skipped");
        return;
    }
    let origin = Repo::new();
    origin.write("apps/web.yaml", &bad_deployment("web"));
    origin.commit("base");
    git(origin.path(), &["branch", "-M", "main"]);
    git(origin.path(), &["checkout", "-q", "-b", "feature"]);
    origin.write("apps/api.yaml", &bad_deployment("api"));
    origin.commit("feature");

    let clones = TempDir::new().unwrap();
    let url = format!("file://{}", origin.path().display());
    git(
        clones.path(),
        &[
            "clone",
            "-q",
            "--depth=1",
            "--branch",
            "feature",
            "--single-branch",
            &url,
            "pr",
        ],
    );
    let clone = clones.path().join("pr");
    let run = |args: &[&str]| {
        Command::cargo_bin("kubectl-inject")
            .unwrap()
            .current_dir(&clone)
            .args(args)
            .output()
            .unwrap()
    };
    let missing = run(&["lint", "--base", "origin/main", "--format", "json", "."]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("shallow clone"), "{stderr}");

    git(
        &clone,
        &[
            "fetch",
            "-q",
            "--depth=1",
            "origin",
            "main:refs/remotes/origin/main",
        ],
    );
    let out = run(&["lint", "--base", "origin/main", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<_> = findings(&report).into_iter().map(|f| f.1).collect();
    assert_eq!(files, ["apps/api.yaml", "apps/api.yaml"]);
}

/// A base used by two overlays, each in a namespace of its own with
/// injection on, and the policies (envoy-proxy 1.4.0) for every cluster.
fn overlays_repo() -> (Repo, String) {
    let repo = Repo::new();
    let overlay =
        |env: &str| format!("namespace: {env}\nresources:\n  - ../../base\n  - namespace.yaml\n");
    // The policies apply to every cluster (environment).
    repo.write(".kubectl-inject.yaml", "policies: [policy/]\n")
        .write("policy/templates.yaml", &templates())
        .write(
            "policy/mesh-default.yaml",
            &mesh_policy("envoy-proxy@1.4.0"),
        )
        .write("base/web.yaml", &deployment("web", "placeholder"))
        .write("base/kustomization.yaml", "resources: [web.yaml]\n")
        .write("overlays/dev/kustomization.yaml", &overlay("dev"))
        .write("overlays/dev/namespace.yaml", &namespace("dev", "enabled"))
        .write("overlays/prod/kustomization.yaml", &overlay("prod"))
        .write(
            "overlays/prod/namespace.yaml",
            &namespace("prod", "enabled"),
        );
    let base = repo.commit("base");
    (repo, base)
}

#[test]
fn a_change_to_a_kustomize_base_shows_in_every_overlay() {
    if !common::have_kubectl("the Kustomize overlays of the PR gate") {
        return;
    }
    let (repo, base) = overlays_repo();
    let (code, unchanged) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(code, 0, "{unchanged:#}");
    assert_eq!(
        unchanged["summary"]["workloads_changed"], 0,
        "{unchanged:#}"
    );

    // The base opts its pods out: both overlays' Deployments lose the sidecar.
    repo.write(
        "base/web.yaml",
        &deployment("web", "placeholder").replace(
            "labels: {app: web}",
            "labels: {app: web}\n      annotations: {kubectl-inject.dev/inject: \"false\"}",
        ),
    );
    let (code, radius) = repo.json(&["diff", "--base", &base, "--format", "json"]);
    assert_eq!(code, 0, "{radius:#}");
    let changes: Vec<(String, String, String)> = radius["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["environment"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{}/{}",
                    c["namespace"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                ),
                format!(
                    "{} → {}",
                    c["before"]["decision"].as_str().unwrap(),
                    c["after"]["decision"].as_str().unwrap()
                ),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "overlays/dev".into(),
                "dev/web".into(),
                "inject → skip".into()
            ),
            (
                "overlays/prod".into(),
                "prod/web".into(),
                "inject → skip".into()
            ),
        ],
        "{radius:#}"
    );
    assert_eq!(radius["summary"]["environments"], 2);
    for change in radius["changes"].as_array().unwrap() {
        // The workload is where its resource file is, not in a rendering.
        assert_eq!(change["file"], "base/web.yaml", "{change:#}");
    }
    let (_, human, _) = repo.run(&["diff", "--base", &base]);
    assert!(
        human.contains("environment overlays/dev, namespace dev (1 workload)"),
        "{human}"
    );
    assert!(
        human.contains("environment overlays/prod, namespace prod (1 workload)"),
        "{human}"
    );

    // `lint --base`: a finding the change adds in the base is new once, for both overlays.
    repo.write(
        "base/web.yaml",
        &deployment("web", "placeholder").replace(
            "labels: {app: web}",
            "labels: {app: web}\n      annotations: {sidecar.istio.io/inject: \"maybe\"}",
        ),
    );
    let (code, report) = repo.json(&["lint", "--base", &base, "--format", "json"]);
    assert_eq!(code, 1, "{report:#}");
    let new: Vec<_> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "INJ203")
        .collect();
    assert_eq!(new.len(), 1, "{report:#}");
    assert_eq!(new[0]["file"], "base/web.yaml");
    assert_eq!(
        new[0]["deployables"],
        serde_json::json!(["overlays/dev", "overlays/prod"])
    );
}

/// A submodule's files are compared with themselves at the commit the base
/// records for it, not taken for new on every `--base` run (the base's
/// submodule used to be left empty).
#[test]
fn findings_inside_a_submodule_are_not_new_on_every_run() {
    let dir = TempDir::new().unwrap();
    let sub = dir.path().join("vendor-charts");
    std::fs::create_dir_all(&sub).unwrap();
    git(&sub, &["init", "-q"]);
    std::fs::write(sub.join("web.yaml"), bad_deployment("vendored")).unwrap();
    git(&sub, &["add", "."]);
    git(&sub, &["commit", "-q", "-m", "vendored"]);

    let main = dir.path().join("main");
    std::fs::create_dir_all(&main).unwrap();
    git(&main, &["init", "-q"]);
    std::fs::write(
        main.join("app.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
    )
    .unwrap();
    git(
        &main,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            sub.to_str().unwrap(),
            "vendor",
        ],
    );
    git(&main, &["add", "."]);
    git(&main, &["commit", "-q", "-m", "base"]);

    let out = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .current_dir(&main)
        .args(["lint", "--base", "HEAD", "--format", "json", "."])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings(&report), Vec::new(), "{report:#}");
    // The submodule's findings were there at the base: left out, counted.
    assert!(
        report["baseline"]["preexisting"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// In a partial clone (`--filter=blob:none`) the base's blobs may be
/// missing: that is an error (exit 2) naming the file and how to fetch it,
/// never a silent "everything is new". After the advice, the run works.
#[test]
fn a_partial_clone_without_the_bases_blobs_says_what_to_fetch() {
    let dir = TempDir::new().unwrap();
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q"]);
    git(&source, &["config", "uploadpack.allowFilter", "true"]);
    let config_map = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{a: {data}}}\n")
    };
    std::fs::write(source.join("c.yaml"), config_map("one")).unwrap();
    git(&source, &["add", "."]);
    git(&source, &["commit", "-q", "-m", "one"]);
    std::fs::write(source.join("c.yaml"), config_map("two")).unwrap();
    git(&source, &["commit", "-q", "-am", "two"]);
    let url = format!("file://{}", source.display());
    git(
        dir.path(),
        &["clone", "-q", "--filter=blob:none", &url, "partial"],
    );
    let clone = dir.path().join("partial");

    let run = || {
        Command::cargo_bin("kubectl-inject")
            .unwrap()
            .current_dir(&clone)
            .args(["diff", "--base", "HEAD~1", "."])
            .output()
            .unwrap()
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`c.yaml` at `HEAD~1` is not in this clone")
            && stderr.contains("git diff --stat HEAD~1"),
        "{stderr}"
    );
    git(&clone, &["diff", "--stat", "HEAD~1"]);
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
