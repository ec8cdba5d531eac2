//! End-to-end runs of `render` over `tests/fixtures/simulate/`: injected
//! workloads are mutated, everything else is copied byte for byte, and
//! rendering the output again changes nothing.

use std::path::Path;

use assert_cmd::Command;
use kubectl_inject::yaml::{Limits, Node, parse_stream};

const FIXTURE: &str = "tests/fixtures/simulate";
const FILES: [&str; 4] = [
    "more-kinds.yaml",
    "namespaces.yaml",
    "policy.yaml",
    "workloads.yaml",
];
const STATUS: &str = "kubectl-inject.dev/status";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn render(cwd: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .current_dir(cwd)
        .arg("render")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documents(text: &str) -> Vec<Node> {
    let parsed = parse_stream(text, &Limits::default());
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    parsed.documents.into_iter().map(|(_, root)| root).collect()
}

/// `kind/name` of a document.
fn id(node: &Node) -> String {
    let name = node
        .get("metadata")
        .and_then(|m| m.get_str("name"))
        .unwrap_or_default();
    format!("{}/{name}", node.get_str("kind").unwrap_or_default())
}

/// The pod template's annotations of a rendered workload.
fn pod_annotations(node: &Node) -> Option<&Node> {
    let pointer = kubectl_inject::model::workload::pod_template_path(node.get_str("kind")?)?;
    let (pod, _) = node.lookup_pointer(pointer)?;
    pod.get("metadata")?.get("annotations")
}

fn container_names(node: &Node, field: &str) -> Vec<String> {
    let pointer =
        kubectl_inject::model::workload::pod_template_path(node.get_str("kind").unwrap()).unwrap();
    let (pod, _) = node.lookup_pointer(pointer).unwrap();
    pod.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.get_str("name").map(str::to_owned))
        .collect()
}

fn is_injected(node: &Node) -> bool {
    pod_annotations(node).is_some_and(|a| a.get(STATUS).is_some())
}

/// Every input document's text, in the order render prints them.
fn input_documents() -> Vec<(String, Node)> {
    let mut out = Vec::new();
    for file in FILES {
        let text = std::fs::read_to_string(repo().join(FIXTURE).join(file)).unwrap();
        let parsed = parse_stream(&text, &Limits::default());
        for (_, root) in parsed.documents {
            out.push((text[root.span.clone()].to_owned(), root));
        }
    }
    out
}

#[test]
fn every_document_in_order_workloads_mutated() {
    let run = render(repo(), &[FIXTURE]);
    assert_eq!(run.code, Some(1), "the fixture has one deliberate INJ101");
    assert!(run.stderr.contains("INJ101"), "{}", run.stderr);
    let output = documents(&run.stdout);
    let inputs = input_documents();
    assert_eq!(
        output.iter().map(id).collect::<Vec<_>>(),
        inputs.iter().map(|(_, n)| id(n)).collect::<Vec<_>>()
    );

    let injected: Vec<String> = output.iter().filter(|n| is_injected(n)).map(id).collect();
    assert!(
        injected.contains(&"Deployment/web".to_owned()),
        "{injected:?}"
    );
    assert!(injected.contains(&"Job/opt-in".to_owned()), "{injected:?}");
    for skipped in ["DaemonSet/node-agent", "CronJob/report", "ReplicaSet/old"] {
        assert!(
            !injected.contains(&skipped.to_owned()),
            "{skipped} is skipped"
        );
    }

    for ((text, input), rendered) in inputs.iter().zip(&output) {
        if is_injected(rendered) {
            let before = container_names(input, "containers");
            let after = container_names(rendered, "containers");
            let init = container_names(rendered, "initContainers");
            assert!(
                after.len() + init.len() > before.len(),
                "{}: {after:?} {init:?}",
                id(rendered)
            );
            assert!(after.contains(&"proxy".to_owned()) || init.contains(&"proxy".to_owned()));
            for name in &before {
                assert!(after.contains(name), "{} keeps {name}", id(rendered));
            }
            assert_eq!(rendered.get_str("kind"), input.get_str("kind"));
        } else {
            // Skipped workloads and everything else: copied byte for byte.
            assert!(
                run.stdout.contains(text.as_str()),
                "{} unchanged",
                id(input)
            );
        }
    }
    // Comments survive.
    assert!(
        run.stdout
            .contains("# Templates with inheritance, parameters and a canary")
    );
}

#[test]
fn rendering_twice_changes_nothing() {
    let first = render(repo(), &[FIXTURE]);
    let dir = tempfile::tempdir().unwrap();
    // One file holds the whole rendered stream.
    std::fs::write(dir.path().join("rendered.yaml"), &first.stdout).unwrap();
    let second = render(dir.path(), &["rendered.yaml"]);
    assert_eq!(second.code, first.code);
    assert_eq!(second.stdout, first.stdout);

    // And file by file through --output-dir.
    let out = tempfile::tempdir().unwrap();
    let run = render(
        repo(),
        &["--output-dir", out.path().to_str().unwrap(), FIXTURE],
    );
    assert_eq!(run.code, Some(1));
    let again = render(out.path(), &["tests/fixtures/simulate"]);
    assert_eq!(again.stdout, first.stdout);
}

#[test]
fn output_dir_mirrors_the_input_tree() {
    let out = tempfile::tempdir().unwrap();
    let run = render(
        repo(),
        &["--output-dir", out.path().to_str().unwrap(), FIXTURE],
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let stdout = render(repo(), &[FIXTURE]).stdout;
    let mut joined = Vec::new();
    for file in FILES {
        let written = out.path().join(FIXTURE).join(file);
        assert!(run.stderr.contains(&written.display().to_string()));
        let text = std::fs::read_to_string(&written).unwrap();
        joined.push(text);
    }
    assert_eq!(joined.join("---\n"), stdout);
    // An unchanged file is copied as is.
    assert_eq!(
        std::fs::read_to_string(out.path().join(FIXTURE).join("namespaces.yaml")).unwrap(),
        std::fs::read_to_string(repo().join(FIXTURE).join("namespaces.yaml")).unwrap()
    );
}

/// The fixture plus a JSON file and a `List`, in a directory of their own.
fn workspace_with_json_and_list() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    for file in FILES {
        std::fs::copy(repo().join(FIXTURE).join(file), manifests.join(file)).unwrap();
    }
    std::fs::write(
        manifests.join("api.json"),
        r#"{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "api", "namespace": "shop"},
  "spec": {
    "template": {
      "metadata": {"labels": {"app": "api"}},
      "spec": {"containers": [{"name": "api", "image": "example/api:1.0"}]}
    }
  }
}
"#,
    )
    .unwrap();
    std::fs::write(
        manifests.join("list.yaml"),
        "# A list of two.\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: settings, namespace: shop}\n    data: {a: \"1\"}\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: listed, namespace: shop}\n    spec:\n      template:\n        metadata: {labels: {app: listed}}\n        spec: {containers: [{name: listed, image: example/listed:1.0}]}\n# The end.\n",
    )
    .unwrap();
    dir
}

#[test]
fn json_stays_json_and_lists_are_rewritten_whole() {
    let dir = workspace_with_json_and_list();
    let out = dir.path().join("out");
    let run = render(dir.path(), &["--output-dir", "out", "manifests"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);

    let json = std::fs::read_to_string(out.join("manifests/api.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let annotations = &value["spec"]["template"]["metadata"]["annotations"];
    assert!(annotations.get(STATUS).is_some(), "{json}");
    assert!(json.ends_with("}\n"));

    let list = std::fs::read_to_string(out.join("manifests/list.yaml")).unwrap();
    assert!(list.starts_with("# A list of two.\n"), "{list}");
    assert!(list.ends_with("\n# The end.\n"), "{list}");
    let docs = documents(&list);
    assert_eq!(docs.len(), 1);
    let items = docs[0].get("items").and_then(Node::as_seq).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].get_str("kind"), Some("ConfigMap"));
    assert!(is_injected(&items[1]), "{list}");

    // Rendering the rendered tree again changes nothing.
    let first = render(dir.path(), &["manifests"]);
    let again = render(&out, &["manifests"]);
    assert_eq!(again.stdout, first.stdout);
}

#[test]
fn stdin_renders_to_stdout() {
    let input = std::fs::read_to_string(repo().join(FIXTURE).join("workloads.yaml")).unwrap();
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .current_dir(repo())
        .args(["render", "-", "tests/fixtures/simulate/namespaces.yaml"])
        .args(["tests/fixtures/simulate/policy.yaml"])
        .write_stdin(input)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let docs = documents(&stdout);
    assert!(docs.iter().any(is_injected));
}

#[test]
fn a_missing_path_is_a_failure() {
    let run = render(repo(), &["tests/fixtures/does-not-exist"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty());
}

/// `--output-dir` writes only where it should: never through a symlink
/// already in it, never over an input or inside one (the next run would
/// read its output back), never two inputs to one file.
#[cfg(unix)]
#[test]
fn the_output_directory_is_confined() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config_map =
        |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n");
    for (path, name) in [("in/web.yaml", "web"), ("a/x.yaml", "a"), ("b/x.yaml", "b")] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), config_map(name)).unwrap();
    }
    std::fs::write(root.join("elsewhere.txt"), "keep me\n").unwrap();
    std::fs::create_dir_all(root.join("out/in")).unwrap();
    std::os::unix::fs::symlink(root.join("elsewhere.txt"), root.join("out/in/web.yaml")).unwrap();

    // A symlink planted in the output directory is not written through.
    let run = render(root, &["in", "--output-dir", "out"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("is a symlink"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join("elsewhere.txt")).unwrap(),
        "keep me\n"
    );

    // The inputs themselves, or a folder inside them.
    for out in [".", "in", "in/rendered"] {
        let run = render(root, &["in", "--output-dir", out]);
        assert_eq!(run.code, Some(2), "--output-dir {out}: {}", run.stderr);
        assert!(run.stderr.contains("inside"), "{}", run.stderr);
    }
    assert_eq!(
        std::fs::read_to_string(root.join("in/web.yaml")).unwrap(),
        config_map("web")
    );

    // Two inputs named alike outside the current directory: one target.
    let a = root.join("a/x.yaml");
    let b = root.join("b/x.yaml");
    let elsewhere = tempfile::tempdir().unwrap();
    let run = render(
        elsewhere.path(),
        &[
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--output-dir",
            "out",
        ],
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("would both be written"),
        "{}",
        run.stderr
    );
}

/// `test --update` writes expected outputs only below the test's folder.
#[test]
fn test_update_writes_only_below_the_tests_folder() {
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("t.yaml"),
        "apiVersion: kubectl-inject.dev/v1alpha1\nkind: InjectionTest\nmetadata: {name: escape}\nspec:\n  inputs: [../apps]\n  expect:\n    - workload: {kind: Deployment, name: web}\n      decision: skip\n      output: ../stolen.json\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::copy(
        repo().join(FIXTURE).join("policy.yaml"),
        dir.path().join("apps/policy.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("apps/web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx:1.27}]}\n",
    )
    .unwrap();
    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .args(["test", "--update", tests.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("leaves its folder"), "{stdout}");
    assert!(!dir.path().join("stolen.json").exists());
}

/// A template adding container `proxy`, init container `setup` and volume
/// `certs` to every pod of namespace `shop`.
const PROXY_EVERYWHERE: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata: {name: envoy-proxy}
spec:
  version: 1.4.0
  initContainers:
    - {name: setup, image: "envoyproxy/envoy:v1.31.0"}
  containers:
    - {name: proxy, image: "envoyproxy/envoy:v1.31.0"}
  volumes:
    - {name: certs, emptyDir: {}}
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata: {name: mesh}
spec: {action: inject, template: envoy-proxy}
"#;

fn deployment(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers:\n        - {{name: app, image: \"example/app:1.0\"}}\n{spec}"
    )
}

/// The own injector never emits a pod the API server refuses: a workload
/// that already has a container (or init container) or volume of a name
/// the template adds is decided `deny`, and `render` leaves it as written.
/// It used to print two containers called `proxy`, and rendering that
/// output again dropped one of them.
#[test]
fn a_workload_already_using_an_injected_name_is_denied_and_left_as_written() {
    let clashes = [
        (
            "own-sidecar",
            "        - {name: proxy, image: \"example/proxy:1.0\"}\n",
            "a container named `proxy`",
        ),
        (
            "own-init",
            "      initContainers:\n        - {name: setup, image: \"example/setup:1.0\"}\n",
            "a container named `setup`",
        ),
        (
            "init-named-like-the-sidecar",
            "      initContainers:\n        - {name: proxy, image: \"example/setup:1.0\"}\n",
            "a container named `proxy`",
        ),
        (
            "own-volume",
            "      volumes:\n        - {name: certs, secret: {secretName: certs}}\n",
            "a volume named `certs`",
        ),
    ];
    let workloads: Vec<String> = clashes
        .iter()
        .map(|(name, spec, _)| deployment(name, spec))
        .chain([deployment("clean", "")])
        .collect();
    let text = format!("{PROXY_EVERYWHERE}---\n{}", workloads.join("---\n"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.yaml"), &text).unwrap();

    let run = render(dir.path(), &["shop.yaml"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("INJ304"), "{}", run.stderr);
    for (workload, (name, _, _)) in workloads.iter().zip(&clashes) {
        assert!(
            run.stdout.contains(workload.as_str()),
            "{name} is left as written:\n{}",
            run.stdout
        );
    }
    let rendered = documents(&run.stdout);
    let clean = rendered
        .iter()
        .find(|d| id(d) == "Deployment/clean")
        .unwrap();
    assert!(is_injected(clean));
    for document in rendered
        .iter()
        .filter(|d| d.get_str("kind") == Some("Deployment"))
    {
        for field in ["containers", "initContainers"] {
            let names = container_names(document, field);
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{}: {names:?}", id(document));
        }
    }

    let output = Command::cargo_bin("kubectl-inject")
        .unwrap()
        .current_dir(dir.path())
        .args(["simulate", "--format", "json", "shop.yaml"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for (name, _, what) in &clashes {
        let workload = report["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == *name)
            .unwrap();
        let own = &workload["injectors"][0];
        assert_eq!(own["decision"], "deny", "{name}: {own:#}");
        assert!(own.get("added").is_none(), "{name}: {own:#}");
        let reasons = own["reasons"].to_string();
        assert!(reasons.contains(what), "{name}: {reasons}");
    }

    // Rendering the output again changes nothing.
    std::fs::write(dir.path().join("rendered.yaml"), &run.stdout).unwrap();
    let again = render(dir.path(), &["rendered.yaml"]);
    assert_eq!(again.stdout, run.stdout);
}

/// `render` of `render`'s output is byte-identical, for every workload of
/// every single-file fixture (own and known injectors) and of `testdata/`
/// (run inside it, so its configuration makes it one environment, as the
/// flat output is). Known injectors' lists used to move inside `spec` on
/// the second run.
#[test]
fn rendering_any_fixture_twice_changes_nothing() {
    let mut inputs: Vec<std::path::PathBuf> = Vec::new();
    for rule in std::fs::read_dir(repo().join("tests/fixtures")).unwrap() {
        let rule = rule.unwrap().path();
        let Ok(files) = std::fs::read_dir(&rule) else {
            continue;
        };
        for file in files {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "yaml")
                && file.file_name().is_some_and(|n| n != "kubectl-inject.yaml")
            {
                inputs.push(file);
            }
        }
    }
    inputs.sort();
    assert!(inputs.len() > 80, "{}", inputs.len());
    let testdata = repo().join("testdata");
    let runs = inputs
        .iter()
        .map(|input| (input.parent().unwrap(), input.to_str().unwrap()))
        .chain([(testdata.as_path(), ".")]);
    for (cwd, input) in runs {
        let first = render(cwd, &[input]);
        let dir = tempfile::tempdir().unwrap();
        // The same configuration (known injectors' settings) for both runs.
        for name in ["kubectl-inject.yaml", ".kubectl-inject.yaml"] {
            if cwd.join(name).is_file() {
                std::fs::copy(cwd.join(name), dir.path().join(name)).unwrap();
            }
        }
        std::fs::write(dir.path().join("rendered.yaml"), &first.stdout).unwrap();
        let second = render(dir.path(), &["rendered.yaml"]);
        assert!(
            second.stdout == first.stdout,
            "{input} (in {}): rendering the output again changed it:\n{}",
            cwd.display(),
            line_diff(&first.stdout, &second.stdout)
        );
    }
}

/// The first differing line and its neighbourhood.
fn line_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(3);
    format!(
        "first run:\n{}\nsecond run:\n{}",
        a[from..(at + 4).min(a.len())].join("\n"),
        b[from..(at + 4).min(b.len())].join("\n")
    )
}
