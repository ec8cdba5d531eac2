//! End-to-end runs of the binary on the GitOps trees of
//! `tests/fixtures/deployables/` (SPEC "Deployables"): each tree's
//! `EXPECTED.md` says what must be reported, where, for which deployables,
//! and which decisions differ between environments.
//!
//! Every run has a `PATH` of its own (see [`Tools`]): a temporary folder
//! holding a link to the real `kubectl` (which ships Kustomize) and the fake
//! renderers a test writes, and nothing else. So no `helm` or standalone
//! `kustomize` of the machine's changes what is rendered, and a test can take
//! a renderer away. Without `kubectl` the tests that build Kustomize roots
//! print `skipped: …` and pass, except under CI (`CI` set), where they fail
//! saying why.
//!
//! Where the product chose differently from an `EXPECTED.md` written before
//! it, the tests follow the product and say so (INJ012–INJ014 are warnings,
//! INJ011 points at `name:`'s value in `Chart.yaml`, Flux environments are
//! named after the cluster folders' last component, INJ004 lists only the
//! deployable of the second definition, the plain files of `helm/` are the
//! deployable `.`, INJ014 points at the patch's `target:`).

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kubectl_inject::yaml::{Limits, parse_stream};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-inject");

/// A fixture tree of `tests/fixtures/deployables/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/deployables")
        .join(name)
}

// ---- the tools on PATH ---------------------------------------------------------

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The machine's `kubectl`, when it is on `PATH` and runs.
fn real_kubectl() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            let found = std::env::split_paths(&path)
                .map(|dir| dir.join("kubectl"))
                .find(|p| p.is_file())?;
            let runs = Command::new(&found)
                .args(["version", "--client"])
                .stdin(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success());
            runs.then_some(found)
        })
        .as_deref()
}

/// The folder a run's `PATH` is made of: links to real tools and scripts.
struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    /// No tool at all: no `kubectl`, `kustomize` or `helm`.
    fn none() -> Tools {
        Tools {
            dir: tempfile::Builder::new()
                .prefix("kubectl-inject-bin-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// The real `kubectl` and nothing else (no `helm`, no standalone
    /// `kustomize`): `None`, after saying why, when there is no `kubectl`
    /// and `CI` is not set; under CI a missing `kubectl` fails the test.
    fn kubectl() -> Option<Tools> {
        let Some(kubectl) = real_kubectl() else {
            let why = "kubectl is not on PATH (or `kubectl version --client` fails); \
                       the deployables tests build Kustomize roots with `kubectl kustomize`";
            if ci() {
                panic!("{why}: install kubectl (1.14 or later) on the CI machine");
            }
            eprintln!("skipped: {why}");
            return None;
        };
        let tools = Tools::none();
        tools.link("kubectl", kubectl);
        Some(tools)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn link(&self, name: &str, target: &Path) {
        std::os::unix::fs::symlink(target, self.dir.path().join(name)).expect("symlink");
    }

    /// An executable `#!/bin/sh` script `name` with `body`. Scripts run with
    /// this `PATH` too: they name the programs they use absolutely.
    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// `path` quoted for sh.
fn sh(path: &Path) -> String {
    let text = path.to_str().expect("UTF-8 temp paths");
    assert!(!text.contains('\''), "{text}");
    format!("'{text}'")
}

// ---- running the binary --------------------------------------------------------

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    args: String,
}

impl Run {
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "`kubectl-inject {}` exit code\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`kubectl-inject {}` printed no JSON ({e}):\n{}\nstderr:\n{}",
                self.args, self.stdout, self.stderr
            )
        })
    }
}

/// Runs `kubectl-inject ARGS` in `cwd` with `PATH` = `tools` only, without
/// colour, with `stdin` (empty when `None`).
fn inject_in(cwd: &Path, tools: &Tools, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("PATH", tools.path())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("COLUMNS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("writing stdin");
    }
    drop(input);
    let output = child.wait_with_output().expect("the binary finishes");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        elapsed: started.elapsed(),
        args: args.join(" "),
    }
}

fn inject(cwd: &Path, tools: &Tools, args: &[&str]) -> Run {
    inject_in(cwd, tools, args, None)
}

// ---- reading reports -----------------------------------------------------------

fn diagnostics(report: &Value) -> &[Value] {
    report["diagnostics"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no `diagnostics` in {report:#}"))
}

fn workloads(report: &Value) -> &[Value] {
    report["workloads"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("no `workloads` in {report:#}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `RULE SEVERITY FILE:LINE:COL-ENDCOL [DEPLOYABLES]` (the end line too when
/// it differs; deployables sorted).
fn finding(d: &Value) -> String {
    let mut deployables = strings(&d["deployables"]);
    deployables.sort();
    let at = match d["file"].as_str() {
        Some(file) => {
            let (line, end_line) = (&d["line"], &d["end_line"]);
            if line == end_line {
                format!("{file}:{line}:{}-{}", d["column"], d["end_column"])
            } else {
                format!(
                    "{file}:{line}:{}-{end_line}:{}",
                    d["column"], d["end_column"]
                )
            }
        }
        None => "-".into(),
    };
    format!(
        "{} {} {at} [{}]",
        d["rule"].as_str().unwrap_or("?"),
        d["severity"].as_str().unwrap_or("?"),
        deployables.join(" ")
    )
}

/// Every finding of a report, sorted.
fn findings(report: &Value) -> Vec<String> {
    let mut all: Vec<String> = diagnostics(report).iter().map(finding).collect();
    all.sort();
    all
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    all.sort();
    all
}

/// The one finding of `rule` at `file:line:column`.
fn finding_at<'r>(report: &'r Value, rule: &str, file: &str, line: u64, column: u64) -> &'r Value {
    let found: Vec<&Value> = diagnostics(report)
        .iter()
        .filter(|d| {
            d["rule"] == rule && d["file"] == file && d["line"] == line && d["column"] == column
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {rule} at {file}:{line}:{column}, found {}: {:#?}",
        found.len(),
        findings(report)
    );
    found[0]
}

/// `kind/namespace/name` of a finding's or workload's object.
fn object_id(object: &Value) -> String {
    format!(
        "{}/{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["namespace"].as_str().unwrap_or("?"),
        object["name"].as_str().unwrap_or("?")
    )
}

/// The workloads of the deployable at `path` named `namespace/name`.
fn workloads_of<'r>(report: &'r Value, path: &str, ns: &str, name: &str) -> Vec<&'r Value> {
    workloads(report)
        .iter()
        .filter(|w| w["deployable"]["path"] == path && w["namespace"] == ns && w["name"] == name)
        .collect()
}

/// The one workload of the deployable at `path` named `namespace/name`.
fn workload<'r>(report: &'r Value, path: &str, ns: &str, name: &str) -> &'r Value {
    let found = workloads_of(report, path, ns, name);
    assert_eq!(
        found.len(),
        1,
        "one workload {ns}/{name} in {path}, found {}; workloads: {:#?}",
        found.len(),
        workload_list(report)
    );
    found[0]
}

/// `DEPLOYABLE(ENVIRONMENT) KIND/NS/NAME FILE:LINE`, sorted.
fn workload_list(report: &Value) -> Vec<String> {
    let mut all: Vec<String> = workloads(report)
        .iter()
        .map(|w| {
            format!(
                "{}({}) {} {}:{}",
                w["deployable"]["path"].as_str().unwrap_or("?"),
                w["deployable"]["environment"].as_str().unwrap_or("?"),
                object_id(w),
                w["file"].as_str().unwrap_or("?"),
                w["line"]
            )
        })
        .collect();
    all.sort();
    all
}

/// A workload's entry for `injector`, if it lists one.
fn injector<'w>(workload: &'w Value, injector: &str) -> Option<&'w Value> {
    workload["injectors"]
        .as_array()?
        .iter()
        .find(|i| i["injector"] == injector)
}

fn decision<'w>(workload: &'w Value, name: &str) -> Option<&'w str> {
    injector(workload, name).and_then(|i| i["decision"].as_str())
}

fn reasons(workload: &Value, name: &str) -> String {
    injector(workload, name)
        .map(|i| strings(&i["reasons"]).join("; "))
        .unwrap_or_default()
}

/// Files of the user's that a report names: they must exist in the tree.
fn assert_files_exist(tree: &Path, report: &Value) {
    for d in diagnostics(report) {
        if let Some(file) = d["file"].as_str() {
            assert!(
                tree.join(file).is_file(),
                "finding at `{file}`, which is not a file of {}: {d:#}",
                tree.display()
            );
        }
    }
}

// ---- kustomize/ ----------------------------------------------------------------

const KUSTOMIZE_FINDINGS: [(&str, &str, u64, u64, &str); 8] = [
    (
        "INJ203",
        "base/frontend.yaml",
        31,
        9,
        "`sidecar.istio.io/proxyMemory: \"128MB\"` is not accepted by Istio: not a Kubernetes quantity (unknown suffix `MB`; e.g. `100m`, `0.5`, `128Mi`, `1G`); the pod will be rejected at admission (istiod validates this annotation)",
    ),
    (
        "INJ203",
        "overlays/dev/frontend-proxy-limits.yaml",
        11,
        9,
        "`sidecar.istio.io/proxyMemoryLimit: \"1GB\"` is not accepted by Istio: not a Kubernetes quantity (unknown suffix `GB`; e.g. `100m`, `0.5`, `128Mi`, `1G`); the pod will be rejected at admission (istiod validates this annotation)",
    ),
    (
        "INJ203",
        "overlays/prod/kustomization.yaml",
        12,
        3,
        "`sidecar.istio.io/inject: \"maybe\"` is not accepted by Istio 1.27 and later (this configuration: Istio 1.28): istiod warns and falls back to its default policy (Istio 1.26 and earlier read it as an explicit \"false\")",
    ),
    (
        "INJ208",
        "overlays/prod/kustomization.yaml",
        12,
        3,
        "`sidecar.istio.io/inject` as a pod annotation is deprecated in Istio (since istio/api 1.15; the label exists since 1.16): use the pod label `sidecar.istio.io/inject` instead",
    ),
    (
        "INJ203",
        "overlays/prod/kustomization.yaml",
        32,
        13,
        "`traffic.sidecar.istio.io/excludeInboundPorts: \"http\"` is not accepted by Istio: item `http` is not a port: `http` is not an unsigned decimal number; the pod will be rejected at admission (istiod validates this annotation)",
    ),
    (
        "INJ203",
        "overlays/prod/productcatalogservice-egress.json6902.yaml",
        6,
        5,
        "`traffic.sidecar.istio.io/includeOutboundIPRanges: \"10.0.0.1\"` is not accepted by Istio: item `10.0.0.1` is not a CIDR: an address without a prefix length (write `10.0.0.1/32`); the pod will be rejected at admission (istiod validates this annotation)",
    ),
    (
        "INJ203",
        "overlays/prod/productcatalogservice-egress.json6902.yaml",
        8,
        9,
        "`traffic.sidecar.istio.io/excludeOutboundPorts: \"443,dns\"` is not accepted by Istio: item `dns` is not a port: `dns` is not an unsigned decimal number; the pod will be rejected at admission (istiod validates this annotation)",
    ),
    (
        "INJ004",
        "overlays/prod/cartservice-legacy.yaml",
        7,
        9,
        "Deployment `cartservice` in namespace `prod` is defined twice: whichever is applied last silently replaces the other, so what the cluster runs depends on apply order",
    ),
];

/// EXPECTED.md's nine findings: each once, at the line that wrote the
/// value (resource file, strategic-merge patch file, `commonAnnotations:`
/// entry, inline patch, JSON 6902 file), the base's listing both overlays.
#[test]
fn kustomize_findings_are_reported_once_at_the_lines_that_wrote_them() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("kustomize");
    let run = inject(&tree, &tools, &["lint", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        sorted(&[
            "INJ203 error base/frontend.yaml:31:9-37 [overlays/dev overlays/prod]",
            "INJ203 error overlays/dev/frontend-proxy-limits.yaml:11:9-42 [overlays/dev]",
            "INJ203 error overlays/prod/kustomization.yaml:12:3-26 [overlays/prod]",
            "INJ208 warning overlays/prod/kustomization.yaml:12:3-26 [overlays/prod]",
            "INJ203 error overlays/prod/kustomization.yaml:32:13-57 [overlays/prod]",
            "INJ203 error overlays/prod/productcatalogservice-egress.json6902.yaml:6:5-53 [overlays/prod]",
            "INJ203 error overlays/prod/productcatalogservice-egress.json6902.yaml:8:9-91 [overlays/prod]",
            "INJ004 error overlays/prod/cartservice-legacy.yaml:7:9-20 [overlays/prod]",
        ]),
        "kustomize/: the findings of EXPECTED.md, each once"
    );
    for (rule, file, line, column, message) in KUSTOMIZE_FINDINGS {
        let d = finding_at(&report, rule, file, line, column);
        assert_eq!(d["message"], message, "{rule} at {file}:{line}:{column}");
    }
    assert_files_exist(&tree, &report);

    // The objects: the base's finding is about frontend in either overlay;
    // the rest about prod's.
    let object = |file, line, column| {
        let d = diagnostics(&report)
            .iter()
            .find(|d| d["file"] == file && d["line"] == line && d["column"] == column)
            .expect("found above");
        object_id(&d["object"])
    };
    assert!(
        ["Deployment/dev/frontend", "Deployment/prod/frontend"]
            .contains(&object("base/frontend.yaml", 31, 9).as_str()),
        "{}",
        object("base/frontend.yaml", 31, 9)
    );
    assert_eq!(
        object("overlays/dev/frontend-proxy-limits.yaml", 11, 9),
        "Deployment/dev/frontend"
    );
    assert_eq!(
        object("overlays/prod/kustomization.yaml", 32, 13),
        "Deployment/prod/frontend"
    );
    assert_eq!(
        object(
            "overlays/prod/productcatalogservice-egress.json6902.yaml",
            6,
            5
        ),
        "Deployment/prod/productcatalogservice"
    );
    assert_eq!(
        object("overlays/prod/cartservice-legacy.yaml", 7, 9),
        "Deployment/prod/cartservice"
    );
    assert!(object("overlays/prod/kustomization.yaml", 12, 3).starts_with("Deployment/prod/"));

    let summary = &report["summary"];
    assert_eq!(
        (&summary["errors"], &summary["warnings"], &summary["infos"]),
        // INJ207 stays quiet: `commonAnnotations` writes the pod template too.
        (&Value::from(7), &Value::from(1), &Value::from(0)),
        "{summary}"
    );
}

/// INJ004 compares within one environment: only prod's two definitions of
/// cartservice (the second in prod's own file, the first in the base),
/// never the base's objects against the overlays' or dev against prod,
/// and never a patch file.
#[test]
fn kustomize_duplicates_are_found_inside_one_overlay_only() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("kustomize");
    let run = inject(&tree, &tools, &["lint", "."]);
    run.expect_code(1);
    let report = &run.stdout;
    assert_eq!(
        report.matches("\nINJ004\n").count() + usize::from(report.starts_with("INJ004\n")),
        1,
        "one INJ004:\n{report}"
    );
    let at = report.find("INJ004\n").expect("INJ004 is reported");
    let inj004 = &report[at..];
    let inj004 = &inj004[..inj004.find("\nINJ").unwrap_or(inj004.len())];
    assert!(
        inj004.contains("╭─[overlays/prod/cartservice-legacy.yaml:7:9]"),
        "INJ004 at the second definition:\n{inj004}"
    );
    let first = inj004
        .find("first defined here")
        .expect("INJ004 names the first definition");
    assert!(
        inj004[first..].contains("╭─[base/cartservice.yaml:18:9]"),
        "the first definition is the base's resource file:\n{inj004}"
    );
    assert!(inj004.contains("in overlays/prod"), "{inj004}");
    for patch in [
        "components/mesh/frontend-inject.yaml",
        "overlays/dev/frontend-proxy-limits.yaml:5:9",
        "overlays/prod/namespace.yaml",
        "overlays/dev/namespace.yaml",
    ] {
        assert!(!report.contains(patch), "nothing at {patch}:\n{report}");
    }
}

/// `simulate`: every workload names its deployable and environment, and
/// the decisions that differ between the overlays do.
#[test]
fn kustomize_decisions_differ_between_the_overlays() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("kustomize");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();

    let mut ids: Vec<String> = workloads(&report)
        .iter()
        .map(|w| {
            let d = &w["deployable"];
            assert_eq!(d["kind"], "kustomize", "{w:#}");
            assert_eq!(d["environment"], d["path"], "its own environment: {w:#}");
            format!("{} {}", d["path"].as_str().unwrap(), object_id(w))
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        sorted(&[
            "overlays/dev Deployment/dev/cartservice",
            "overlays/dev Deployment/dev/frontend",
            "overlays/dev Deployment/dev/productcatalogservice",
            "overlays/dev Deployment/dev/redis-cart",
            "overlays/prod Deployment/prod/cartservice",
            "overlays/prod Deployment/prod/cartservice",
            "overlays/prod Deployment/prod/frontend",
            "overlays/prod Deployment/prod/productcatalogservice",
            "overlays/prod Deployment/prod/redis-cart",
        ])
    );
    assert_eq!(report["summary"]["workloads"], 9);
    assert_eq!(report["summary"]["injected"], 3);

    // frontend: denied in both, called by a different webhook in each.
    let dev = workload(&report, "overlays/dev", "dev", "frontend");
    assert_eq!(decision(dev, "istio"), Some("deny"), "{dev:#}");
    assert!(
        reasons(dev, "istio").contains("object.sidecar-injector.istio.io"),
        "dev: the pod label calls the object webhook: {dev:#}"
    );
    assert!(reasons(dev, "istio").contains("proxyMemory"), "{dev:#}");
    let prod = workload(&report, "overlays/prod", "prod", "frontend");
    assert_eq!(decision(prod, "istio"), Some("deny"), "{prod:#}");
    assert!(
        reasons(prod, "istio").contains("namespace.sidecar-injector.istio.io"),
        "prod: the namespace label calls the namespace webhook: {prod:#}"
    );

    // cartservice and redis-cart: injected in prod only.
    for name in ["cartservice", "redis-cart"] {
        let dev = workload(&report, "overlays/dev", "dev", name);
        assert!(
            matches!(decision(dev, "istio"), None | Some("skip")),
            "dev/{name}: Istio not called: {dev:#}"
        );
    }
    let prod_carts = workloads_of(&report, "overlays/prod", "prod", "cartservice");
    assert_eq!(prod_carts.len(), 2, "both definitions of prod/cartservice");
    for w in
        prod_carts
            .into_iter()
            .chain([workload(&report, "overlays/prod", "prod", "redis-cart")])
    {
        assert_eq!(decision(w, "istio"), Some("inject"), "{w:#}");
        let added = strings(&injector(w, "istio").unwrap()["added"]["initContainers"]);
        assert!(added.contains(&"istio-proxy".to_owned()), "{w:#}");
    }

    // productcatalogservice: not called in dev, denied in prod.
    let dev = workload(&report, "overlays/dev", "dev", "productcatalogservice");
    assert!(
        matches!(decision(dev, "istio"), None | Some("skip")),
        "{dev:#}"
    );
    let prod = workload(&report, "overlays/prod", "prod", "productcatalogservice");
    assert_eq!(decision(prod, "istio"), Some("deny"), "{prod:#}");
    assert!(
        reasons(prod, "istio").contains("excludeOutboundPorts"),
        "{prod:#}"
    );
}

/// A rendered workload's `file`/`line` are its resource file's document
/// (SPEC: "the workload's file/line are the resource file's, not a
/// rendering"), even when a patch changed it: not the patch that changed it.
#[test]
fn rendered_workloads_point_at_their_resource_files_not_at_patches() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let cases: [(&str, &[&str]); 3] = [
        (
            "kustomize",
            &[
                "overlays/dev(overlays/dev) Deployment/dev/cartservice base/cartservice.yaml:15",
                "overlays/dev(overlays/dev) Deployment/dev/frontend base/frontend.yaml:15",
                "overlays/dev(overlays/dev) Deployment/dev/productcatalogservice base/productcatalogservice.yaml:15",
                "overlays/dev(overlays/dev) Deployment/dev/redis-cart base/cartservice.yaml:89",
                "overlays/prod(overlays/prod) Deployment/prod/cartservice base/cartservice.yaml:15",
                "overlays/prod(overlays/prod) Deployment/prod/cartservice overlays/prod/cartservice-legacy.yaml:4",
                "overlays/prod(overlays/prod) Deployment/prod/frontend base/frontend.yaml:15",
                "overlays/prod(overlays/prod) Deployment/prod/productcatalogservice base/productcatalogservice.yaml:15",
                "overlays/prod(overlays/prod) Deployment/prod/redis-cart base/cartservice.yaml:89",
            ],
        ),
        (
            "flux",
            &[
                "apps/production(production) Deployment/podinfo/podinfo apps/base/podinfo/deployment.yaml:1",
                "apps/staging(staging) Deployment/podinfo/podinfo apps/base/podinfo/deployment.yaml:1",
                "clusters/production/flux-system(production) Deployment/flux-system/source-controller clusters/production/flux-system/gotk-components.yaml:14",
                "clusters/staging/flux-system(staging) Deployment/flux-system/source-controller clusters/staging/flux-system/gotk-components.yaml:14",
                "infrastructure/controllers(production) Deployment/ingress-nginx/ingress-nginx-controller infrastructure/controllers/ingress-nginx.yaml:7",
                "infrastructure/controllers(staging) Deployment/ingress-nginx/ingress-nginx-controller infrastructure/controllers/ingress-nginx.yaml:7",
            ],
        ),
        (
            "argocd",
            &[
                "guestbook(guestbook) Deployment/guestbook/guestbook-ui guestbook/guestbook-ui-deployment.yaml:1",
                "kustomize-guestbook(kustomize-guestbook) Deployment/kustomize-guestbook/kustomize-guestbook-ui kustomize-guestbook/guestbook-ui-deployment.yaml:1",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (tree, expected) in cases {
        let run = inject(
            &fixture(tree),
            &tools,
            &["simulate", ".", "--format", "json"],
        );
        let found = workload_list(&run.json());
        if found != sorted(expected) {
            wrong.push(format!(
                "{tree}/:\n  expected {:#?}\n  found {found:#?}",
                sorted(expected)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "workloads must point at their resource files:\n{}",
        wrong.join("\n")
    );
}

/// A strategic-merge patch names the object it patches (`apiVersion`,
/// `kind`, `metadata.name`, `metadata.namespace`) without writing those
/// fields: a finding about the workload's name (INJ302 points there) stays
/// at the resource file, as do the workload's file and line. The patch
/// still owns what it does write (`replicas`), and the finding about a
/// value a base-level patch writes goes to that patch.
#[test]
fn a_patch_naming_a_workload_does_not_take_its_findings() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = common::tree(&[
        (
            "base/kustomization.yaml",
            "resources:\n  - namespace.yaml\n  - deployment.yaml\npatches:\n  - path: cpu.yaml\n",
        ),
        (
            "base/namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  annotations:\n    linkerd.io/inject: enabled\n",
        ),
        (
            "base/deployment.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0.0
",
        ),
        (
            "base/cpu.yaml",
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  template:
    metadata:
      annotations:
        sidecar.istio.io/proxyCPU: \"1 00m\"
",
        ),
        (
            "overlay/kustomization.yaml",
            "resources:\n  - ../base\npatches:\n  - path: replicas.yaml\n",
        ),
        (
            "overlay/replicas.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: web\nspec:\n  replicas: 3\n",
        ),
    ]);
    let run = inject(tree.path(), &tools, &["simulate", ".", "--format", "json"]);
    let report = run.json();
    let inj302: Vec<String> = diagnostics(&report)
        .iter()
        .filter(|d| d["rule"] == "INJ302")
        .map(finding)
        .collect();
    let cpu: Vec<String> = diagnostics(&report)
        .iter()
        .filter(|d| d["message"].as_str().unwrap_or_default().contains("1 00m"))
        .map(finding)
        .collect();
    assert!(
        cpu.len() == 1 && cpu[0].contains(" base/cpu.yaml:10:9-"),
        "the bad value is written by the base's patch: {cpu:?}\n{:#?}",
        findings(&report)
    );
    assert_eq!(
        (inj302, workload_list(&report)),
        (
            vec!["INJ302 warning base/deployment.yaml:4:9-12 [overlay]".to_owned()],
            vec!["overlay(overlay) Deployment/web/web base/deployment.yaml:1".to_owned()]
        ),
        "the name is written by the resource file, not by the patches naming it"
    );
}

/// The human report of one overlay, as a user sees it (snapshot).
#[test]
fn kustomize_human_report_of_one_overlay() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let run = inject(&fixture("kustomize"), &tools, &["lint", "overlays/dev"]);
    run.expect_code(1);
    assert!(
        !run.stdout.contains(env!("CARGO_MANIFEST_DIR")) && !run.stdout.contains("/tmp"),
        "no absolute path in the report:\n{}",
        run.stdout
    );
    insta::assert_snapshot!("kustomize_lint_overlays_dev_human", run.stdout);
}

/// The documents of one `# Deployable:` section of `render`'s output:
/// `(section, document as JSON)`.
fn rendered_sections(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for chunk in text.split("\n---\n") {
        if let Some(line) = chunk.lines().find_map(|l| l.strip_prefix("# Deployable: ")) {
            section = line.to_owned();
        }
        let parsed = parse_stream(chunk, &Limits::default());
        assert!(parsed.problems.is_empty(), "{:?}\n{chunk}", parsed.problems);
        for (_, doc) in parsed.documents {
            out.push((section.clone(), doc.to_json()));
        }
    }
    out
}

/// Names of a rendered workload's init containers and containers.
fn pod_containers(doc: &Value) -> Vec<String> {
    let spec = &doc["spec"]["template"]["spec"];
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| spec[k].as_array().cloned().unwrap_or_default())
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// `render`: one section per deployable, Istio's sidecar only in the prod
/// workloads Istio injects, and none of Kustomize's origin annotations.
#[test]
fn kustomize_render_prints_each_deployable_injected() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let run = inject(&fixture("kustomize"), &tools, &["render", "."]);
    let out = &run.stdout;
    assert!(
        out.lines()
            .any(|l| l == "# Deployable: overlays/dev (kustomize)"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l == "# Deployable: overlays/prod (kustomize)"),
        "{out}"
    );
    assert!(
        !out.contains("config.kubernetes.io/origin")
            && !out.contains("alpha.config.kubernetes.io/transformations"),
        "Kustomize's build annotations are stripped:\n{out}"
    );
    let docs = rendered_sections(out);
    let mut injected = Vec::new();
    let mut deployments = 0;
    for (section, doc) in &docs {
        if doc["kind"] != "Deployment" {
            continue;
        }
        deployments += 1;
        let containers = pod_containers(doc);
        if containers.iter().any(|c| c == "istio-proxy") {
            injected.push(format!(
                "{section} {}/{}",
                doc["metadata"]["namespace"].as_str().unwrap_or("?"),
                doc["metadata"]["name"].as_str().unwrap_or("?")
            ));
        }
    }
    assert_eq!(deployments, 9, "every Deployment of both overlays:\n{out}");
    injected.sort();
    assert_eq!(
        injected,
        sorted(&[
            "overlays/prod (kustomize) prod/cartservice",
            "overlays/prod (kustomize) prod/cartservice",
            "overlays/prod (kustomize) prod/redis-cart",
        ]),
        "the sidecar only where Istio injects"
    );
}

/// `render --output-dir DIR`: `DIR/<deployable>/rendered.yaml` each.
#[test]
fn kustomize_render_writes_one_file_per_deployable() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let run = inject(
        &fixture("kustomize"),
        &tools,
        &["render", ".", "--output-dir", dir],
    );
    assert!(
        !run.stdout.contains("kind: Deployment"),
        "nothing rendered on stdout:\n{}",
        run.stdout
    );
    for (overlay, ns, injected) in [("dev", "dev", false), ("prod", "prod", true)] {
        let file = out
            .path()
            .join("overlays")
            .join(overlay)
            .join("rendered.yaml");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\nstdout:\n{}\nstderr:\n{}",
                file.display(),
                run.stdout,
                run.stderr
            )
        });
        assert!(!text.contains("config.kubernetes.io/origin"), "{text}");
        let docs = rendered_sections(&text);
        let redis = docs
            .iter()
            .find(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["name"] == "redis-cart")
            .unwrap_or_else(|| panic!("redis-cart in {}", file.display()));
        assert_eq!(redis.1["metadata"]["namespace"], ns);
        assert_eq!(
            pod_containers(&redis.1).contains(&"istio-proxy".to_owned()),
            injected,
            "{overlay}: redis-cart"
        );
    }
}

/// SARIF carries each finding's deployables; GitHub annotations land on
/// the source files.
#[test]
fn kustomize_sarif_and_github_annotations_name_source_files_and_deployables() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let run = inject(
        &fixture("kustomize").join(".."),
        &tools,
        &["lint", "kustomize/", "--format", "sarif"],
    );
    run.expect_code(1);
    let sarif = run.json();
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let base: Vec<&Value> = results
        .iter()
        .filter(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "kustomize/base/frontend.yaml"
        })
        .collect();
    assert_eq!(base.len(), 1, "the base's finding once: {results:#?}");
    let region = &base[0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (&region["startLine"], &region["startColumn"]),
        (&31.into(), &9.into())
    );
    let mut deployables = strings(&base[0]["properties"]["deployables"]);
    deployables.sort();
    assert_eq!(
        deployables,
        ["kustomize/overlays/dev", "kustomize/overlays/prod"],
        "{:#}",
        base[0]
    );
    for r in results {
        assert!(
            r["properties"]["deployables"]
                .as_array()
                .is_some_and(|d| !d.is_empty()),
            "every result names its deployables: {r:#}"
        );
    }

    let run = inject(
        &fixture("kustomize"),
        &tools,
        &["lint", ".", "--format", "github"],
    );
    run.expect_code(1);
    let out = &run.stdout;
    for at in [
        "::error file=base/frontend.yaml,line=31,col=9,",
        "::error file=overlays/dev/frontend-proxy-limits.yaml,line=11,col=9,",
        "::error file=overlays/prod/kustomization.yaml,line=32,col=13,",
        "::error file=overlays/prod/productcatalogservice-egress.json6902.yaml,line=8,col=9,",
        "::warning file=overlays/prod/kustomization.yaml,line=12,col=3,",
    ] {
        assert!(out.contains(at), "{at} in:\n{out}");
    }
    let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 8, "{out}");
}

// ---- flux/ ---------------------------------------------------------------------

/// Each Flux cluster folder is an environment (named after its last
/// component): the same Deployment in both is no duplicate, the base's
/// finding lists both app overlays, the broken path is INJ013, and podinfo
/// is skipped in staging but injected in production.
#[test]
fn flux_cluster_folders_are_environments() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("flux");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        sorted(&[
            "INJ202 warning apps/base/podinfo/deployment.yaml:19:9-45 [apps/production apps/staging]",
            "INJ203 error apps/staging/podinfo-patch.yaml:12:9-26 [apps/staging]",
            "INJ302 warning apps/base/podinfo/deployment.yaml:4:9-16 [apps/production]",
            "INJ013 warning clusters/staging/broken-path.yaml:14:9-18 [clusters/staging]",
        ]),
        "flux/: the findings of EXPECTED.md (INJ013 a warning)"
    );
    assert_files_exist(&tree, &report);
    let broken = finding_at(
        &report,
        "INJ013",
        "clusters/staging/broken-path.yaml",
        14,
        9,
    );
    assert!(
        broken["message"].as_str().unwrap().contains("./apps/qa"),
        "{broken:#}"
    );
    assert_eq!(
        finding_at(&report, "INJ203", "apps/staging/podinfo-patch.yaml", 12, 9)["message"],
        "`linkerd.io/inject: \"true\"` is not accepted by Linkerd: accepted values are `enabled`, `disabled`, `ingress`; Linkerd skips injection silently (only an event on the workload says why)"
    );

    let environments: BTreeSet<&str> = workloads(&report)
        .iter()
        .map(|w| w["deployable"]["environment"].as_str().unwrap())
        .collect();
    assert_eq!(
        environments,
        BTreeSet::from(["production", "staging"]),
        "{:#?}",
        workload_list(&report)
    );
    let staging = workload(&report, "apps/staging", "podinfo", "podinfo");
    assert_eq!(staging["deployable"]["kind"], "flux");
    assert_eq!(staging["deployable"]["environment"], "staging");
    assert_eq!(decision(staging, "linkerd"), Some("skip"), "{staging:#}");
    let production = workload(&report, "apps/production", "podinfo", "podinfo");
    assert_eq!(production["deployable"]["environment"], "production");
    assert_eq!(
        decision(production, "linkerd"),
        Some("inject"),
        "{production:#}"
    );
    let added = strings(&injector(production, "linkerd").unwrap()["added"]["initContainers"]);
    assert_eq!(added, ["linkerd-init", "linkerd-proxy"], "{production:#}");
    // Plain folder applied by both clusters: in both environments.
    for env in ["staging", "production"] {
        let found: Vec<&Value> = workloads_of(
            &report,
            "infrastructure/controllers",
            "ingress-nginx",
            "ingress-nginx-controller",
        )
        .into_iter()
        .filter(|w| w["deployable"]["environment"] == env)
        .collect();
        assert_eq!(found.len(), 1, "ingress-nginx in {env}");
        assert!(decision(found[0], "linkerd").is_none() && decision(found[0], "istio").is_none());
    }

    // One cluster at a time: the base's finding names staging's overlay only.
    let run = inject(
        &tree,
        &tools,
        &["lint", ".", "--format", "json", "--environment", "staging"],
    );
    run.expect_code(1);
    assert_eq!(
        findings(&run.json()),
        sorted(&[
            "INJ202 warning apps/base/podinfo/deployment.yaml:19:9-45 [apps/staging]",
            "INJ203 error apps/staging/podinfo-patch.yaml:12:9-26 [apps/staging]",
            "INJ013 warning clusters/staging/broken-path.yaml:14:9-18 [clusters/staging]",
        ])
    );
}

/// Flux 2.7's layout: Kustomizations apply paths of an `ExternalArtifact`
/// that each cluster's `ArtifactGenerator` makes from this repository's
/// folders (both clusters name theirs alike). The paths resolve through the
/// generator of the same cluster: two environments, no duplicates, and the
/// production overlay's namespace label injects only there.
#[test]
fn flux_artifacts_resolve_through_the_generator_of_their_cluster() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("flux-artifacts");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(findings(&report), Vec::<String>::new());
    assert_eq!(
        workload_list(&report),
        [
            "apps/production(production) Deployment/web/web apps/base/web/deployment.yaml:1",
            "apps/staging(staging) Deployment/web/web apps/base/web/deployment.yaml:1",
        ]
    );
    let decision = |environment: &str| {
        let w = workloads(&report)
            .iter()
            .find(|w| w["deployable"]["environment"] == environment)
            .unwrap();
        injector(w, "istio").map(|i| i["decision"].as_str().unwrap().to_owned())
    };
    assert_eq!(decision("production").as_deref(), Some("inject"));
    assert_ne!(decision("staging").as_deref(), Some("inject"));
    for w in workloads(&report) {
        assert_eq!(w["deployable"]["kind"], "flux", "{w:#}");
    }
}

// ---- argocd/ -------------------------------------------------------------------

/// Without `helm`, each chart is INJ011 once (at `name:`'s value) and its
/// templates are never parsed; the Applications' destination namespaces
/// apply; the namePrefix'd app's patch finding is at the patch file.
#[test]
fn argocd_charts_are_never_parsed_and_destinations_apply() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("argocd");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        sorted(&[
            "INJ208 warning guestbook/guestbook-ui-deployment.yaml:16:9-32 [guestbook]",
            "INJ203 error kustomize-guestbook/guestbook-ui-mesh.yaml:11:9-32 [kustomize-guestbook]",
            "INJ011 info apps/Chart.yaml:2:7-19 [apps]",
            "INJ011 info helm-guestbook/Chart.yaml:2:7-21 [helm-guestbook]",
        ]),
        "argocd/: the findings of EXPECTED.md (no INJ001, INJ004 or INJ211)"
    );
    assert_files_exist(&tree, &report);
    for chart in ["apps/Chart.yaml", "helm-guestbook/Chart.yaml"] {
        let d = finding_at(&report, "INJ011", chart, 2, 7);
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("`helm` is not on PATH"),
            "{d:#}"
        );
    }
    assert_eq!(
        finding_at(
            &report,
            "INJ203",
            "kustomize-guestbook/guestbook-ui-mesh.yaml",
            11,
            9
        )["object"],
        serde_json::json!({"kind": "Deployment", "namespace": "kustomize-guestbook", "name": "kustomize-guestbook-ui"})
    );
    let summary = &report["summary"];
    assert_eq!(
        (&summary["errors"], &summary["warnings"], &summary["infos"]),
        (&Value::from(1), &Value::from(1), &Value::from(2)),
        "{summary}"
    );

    // destination.namespace: the namespaces of objects that name none.
    let guestbook = workload(&report, "guestbook", "guestbook", "guestbook-ui");
    assert_eq!(guestbook["deployable"]["kind"], "argocd");
    assert_eq!(decision(guestbook, "istio"), Some("skip"), "{guestbook:#}");
    let kustomized = workload(
        &report,
        "kustomize-guestbook",
        "kustomize-guestbook",
        "kustomize-guestbook-ui",
    );
    assert_eq!(kustomized["deployable"]["kind"], "argocd");
    assert_eq!(
        decision(kustomized, "istio"),
        Some("skip"),
        "{kustomized:#}"
    );
    assert_eq!(workloads(&report).len(), 2, "{:#?}", workload_list(&report));
}

// ---- helm/ ---------------------------------------------------------------------

const HELM_MESSAGE: &str = "`sidecar.istio.io/proxyCPU: \"100 m\"` is not accepted by Istio: not a Kubernetes quantity (unknown suffix ` m`; e.g. `100m`, `0.5`, `128Mi`, `1G`); the pod will be rejected at admission (istiod validates this annotation)";

/// Captured `helm template` output keeps its `# Source:` lines: the finding
/// is at the template that writes the key, not in `rendered.yaml`.
#[test]
fn helm_output_in_a_file_maps_to_the_template() {
    let tools = Tools::none();
    let tree = fixture("helm");
    let run = inject(&tree, &tools, &["lint", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        sorted(&[
            "INJ203 error mychart/templates/deployment.yaml:15:9-34 [.]",
            "INJ011 info mychart/Chart.yaml:2:7-14 [mychart]",
        ])
    );
    assert_eq!(
        finding_at(
            &report,
            "INJ203",
            "mychart/templates/deployment.yaml",
            15,
            9
        )["message"],
        HELM_MESSAGE
    );
    assert_files_exist(&tree, &report);
}

/// The same output piped on stdin: `# Source:` resolved against the
/// current directory.
#[test]
fn helm_output_on_stdin_maps_to_the_template() {
    let tools = Tools::none();
    let tree = fixture("helm");
    let rendered = std::fs::read(tree.join("rendered.yaml")).unwrap();
    let run = inject_in(
        &tree,
        &tools,
        &["lint", "-", "--format", "json"],
        Some(&rendered),
    );
    run.expect_code(1);
    let report = run.json();
    let found: Vec<String> = diagnostics(&report)
        .iter()
        .map(|d| {
            format!(
                "{} {}:{}:{}-{}",
                d["rule"].as_str().unwrap(),
                d["file"].as_str().unwrap_or("-"),
                d["line"],
                d["column"],
                d["end_column"]
            )
        })
        .collect();
    assert_eq!(found, ["INJ203 mychart/templates/deployment.yaml:15:9-34"]);
    assert_eq!(diagnostics(&report)[0]["message"], HELM_MESSAGE);
}

/// A fake `helm` on PATH that prints `output` and appends its arguments,
/// one a line, to `argv`.
fn fake_helm(tools: &Tools, output: &Path, argv: &Path) {
    tools.script(
        "helm",
        &format!(
            "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> {}\nexec /bin/cat {}\n",
            sh(argv),
            sh(output)
        ),
    );
}

/// With `helm` on PATH the chart is rendered: its finding and the captured
/// output's are one finding listing both deployables; no INJ011, no INJ004.
#[test]
fn helm_chart_rendered_and_captured_output_are_one_finding() {
    let tools = Tools::none();
    let tree = fixture("helm");
    let argv = tools.path().join("argv");
    fake_helm(&tools, &tree.join("rendered.yaml"), &argv);
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        ["INJ203 error mychart/templates/deployment.yaml:15:9-34 [. mychart]"]
    );
    let chart = workload(&report, "mychart", "default", "mychart");
    assert_eq!(chart["deployable"]["kind"], "helm");
    assert_eq!(chart["file"], "mychart/templates/deployment.yaml");
    let args = std::fs::read_to_string(&argv).expect("helm was run");
    assert_eq!(args.lines().next(), Some("template"), "{args}");
}

// ---- plain/ --------------------------------------------------------------------

/// Plain manifests: one deployable, as before; no DEPLOYABLE column.
#[test]
fn plain_files_are_one_deployable_as_before() {
    let tools = Tools::none();
    let tree = fixture("plain");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(0);
    let report = run.json();
    assert_eq!(
        findings(&report),
        ["INJ204 warning worker.yaml:16:9-34 [.]"]
    );
    let summary = &report["summary"];
    for (key, value) in [
        ("files", 3),
        ("documents", 3),
        ("workloads", 2),
        ("injected", 1),
        ("errors", 0),
        ("warnings", 1),
        ("infos", 0),
    ] {
        assert_eq!(summary[key], value, "summary.{key}: {summary}");
    }
    for w in workloads(&report) {
        assert_eq!(w["deployable"]["kind"], "files", "{w:#}");
        assert_eq!(w["deployable"]["path"], ".", "{w:#}");
    }
    let web = workload(&report, ".", "shop", "web");
    assert_eq!(decision(web, "istio"), Some("inject"));
    let worker = workload(&report, ".", "shop", "worker");
    assert_eq!(decision(worker, "istio"), Some("skip"));

    let human = inject(&tree, &tools, &["simulate", "."]);
    human.expect_code(0);
    let header = human.stdout.lines().next().unwrap_or_default();
    assert!(header.starts_with("WORKLOAD "), "{}", human.stdout);
    assert!(!human.stdout.contains("DEPLOYABLE"), "{}", human.stdout);
    assert!(
        !human.stdout.contains("deployables") && !human.stdout.contains("\n  in ."),
        "one deployable is not named:\n{}",
        human.stdout
    );
}

// ---- broken/ -------------------------------------------------------------------

/// Every bad kustomization is a finding at its position, with Kustomize's
/// own message; `fine/` is still checked; the run exits 1, not 2.
#[test]
fn broken_builds_are_findings_and_the_run_goes_on() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("broken");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        sorted(&[
            "INJ010 error missing-resource/kustomization.yaml:5:3-15 [missing-resource]",
            // EXPECTED.md: the entry (6:3); the product points at its `target:`
            // selector (as tests/fixtures/INJ014 does).
            "INJ014 warning patch-matches-nothing/kustomization.yaml:7:5-8:14 [patch-matches-nothing]",
            "INJ010 error smp-no-match/kustomization.yaml:6:9-23 [smp-no-match]",
            "INJ010 error cycle/a/kustomization.yaml:5:3-7 [cycle/a]",
            "INJ010 error invalid/kustomization.yaml:3:1-10 [invalid]",
            "INJ010 error not-yaml/kustomization.yaml:3:15-16 [not-yaml]",
            "INJ012 warning remote-base/kustomization.yaml:4:3-79 [remote-base]",
            "INJ012 warning helm-charts/kustomization.yaml:6:3-12:20 [helm-charts]",
            "INJ012 warning exec-plugin/kustomization.yaml:6:3-27 [exec-plugin]",
        ]),
        "broken/: one finding per bad kustomization (no INJ001, no INJ004)"
    );
    assert_files_exist(&tree, &report);
    for (rule, file, line, column, says) in [
        (
            "INJ010",
            "missing-resource/kustomization.yaml",
            5,
            3,
            "no such file or directory",
        ),
        (
            "INJ014",
            "patch-matches-nothing/kustomization.yaml",
            7,
            5,
            "matches no object",
        ),
        (
            "INJ010",
            "smp-no-match/kustomization.yaml",
            6,
            9,
            "no resource matches strategic merge patch \"Deployment.v1.apps/api.[noNs]\"",
        ),
        ("INJ010", "cycle/a/kustomization.yaml", 5, 3, "cycle"),
        (
            "INJ010",
            "invalid/kustomization.yaml",
            3,
            1,
            "invalid Kustomization: json: unknown field \"resourcez\"",
        ),
        (
            "INJ010",
            "not-yaml/kustomization.yaml",
            3,
            15,
            "yaml: line 3: mapping values are not allowed in this context",
        ),
        (
            "INJ012",
            "remote-base/kustomization.yaml",
            4,
            3,
            "remote base",
        ),
        (
            "INJ012",
            "helm-charts/kustomization.yaml",
            6,
            3,
            "helmCharts",
        ),
        ("INJ012", "exec-plugin/kustomization.yaml", 6, 3, "plugin"),
    ] {
        let d = finding_at(&report, rule, file, line, column);
        assert!(
            d["message"].as_str().unwrap().contains(says),
            "{rule} at {file}: the message says `{says}`: {d:#}"
        );
    }
    // Only the two successful builds have workloads.
    assert_eq!(
        workload_list(&report),
        sorted(&[
            "fine(fine) Deployment/web/web fine/deployment.yaml:1",
            "patch-matches-nothing(patch-matches-nothing) Deployment/default/web patch-matches-nothing/deployment.yaml:1",
        ])
    );
    let fine = workload(&report, "fine", "web", "web");
    assert_eq!(fine["deployable"]["kind"], "kustomize");
}

/// Remote bases, `helmCharts` and plugins are refused before Kustomize
/// runs: a Kustomize that logs what it builds never sees them.
#[test]
fn refused_kustomizations_are_never_built() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let log = tools.path().join("built");
    let kubectl = tools.path().join("kubectl");
    tools.script(
        "kustomize",
        &format!(
            "/bin/cat \"$2/kustomization.yaml\" >> {}\nexec {} kustomize \"$2\"\n",
            sh(&log),
            sh(&kubectl)
        ),
    );
    let run = inject(
        &fixture("broken"),
        &tools,
        &["lint", ".", "--format", "json"],
    );
    run.expect_code(1);
    let built = std::fs::read_to_string(&log).unwrap_or_default();
    let roots: BTreeSet<String> = built
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(|l| {
            let l = l.trim_matches('"').trim_end_matches('/');
            l.rsplit('/').next().unwrap_or(l).to_owned()
        })
        .collect();
    for root in [
        "fine",
        "missing-resource",
        "smp-no-match",
        "patch-matches-nothing",
    ] {
        assert!(roots.contains(root), "{root} is built: {roots:?}\n{built}");
    }
    for root in ["remote-base", "helm-charts", "exec-plugin"] {
        assert!(
            !roots.contains(root),
            "{root} is never built: {roots:?}\n{built}"
        );
    }
    // The logging Kustomize is the one that ran.
    let report = run.json();
    let failed = finding_at(&report, "INJ010", "invalid/kustomization.yaml", 3, 1);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("kustomize build"),
        "{failed:#}"
    );
}

/// A small tree: one Kustomize root `app/` (broken/fine's files) and plain
/// manifests beside it (plain/'s), with `config` as `.kubectl-inject.yaml`.
fn small_tree(config: &str) -> tempfile::TempDir {
    let read = |tree: &str, file: &str| std::fs::read_to_string(fixture(tree).join(file)).unwrap();
    let files = [
        (
            "app/kustomization.yaml",
            read("broken", "fine/kustomization.yaml"),
        ),
        (
            "app/deployment.yaml",
            read("broken", "fine/deployment.yaml"),
        ),
        ("app/namespace.yaml", read("broken", "fine/namespace.yaml")),
        ("plain/namespace.yaml", read("plain", "namespace.yaml")),
        ("plain/web.yaml", read("plain", "web.yaml")),
        (".kubectl-inject.yaml", config.to_owned()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    common::tree(&files)
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
#[cfg(target_os = "linux")]
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// A renderer that hangs is stopped at `renderTimeout` (with what it
/// started): INJ010 says so, and the rest is still checked.
#[test]
fn a_renderer_that_hangs_is_stopped_at_the_timeout() {
    let tools = Tools::none();
    let pid_file = tools.path().join("sleep.pid");
    tools.script(
        "kustomize",
        &format!("/bin/sleep 30 &\necho $! > {}\nwait\n", sh(&pid_file)),
    );
    let tree = small_tree("renderTimeout: 1s\n");
    let run = inject(tree.path(), &tools, &["simulate", ".", "--format", "json"]);
    assert!(
        run.elapsed < Duration::from_secs(10),
        "the run ends soon after the 1 s timeout, took {:?}",
        run.elapsed
    );
    run.expect_code(1);
    let report = run.json();
    let failed: Vec<&Value> = diagnostics(&report)
        .iter()
        .filter(|d| d["rule"] == "INJ010")
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", findings(&report));
    assert_eq!(failed[0]["file"], "app/kustomization.yaml");
    let message = failed[0]["message"].as_str().unwrap();
    assert!(
        message.contains("did not finish within 1 s"),
        "the message names the timeout: {message}"
    );
    assert_eq!(
        workload_list(&report),
        ["plain(plain) Deployment/shop/web plain/web.yaml:1"],
        "the plain files are still checked"
    );
    #[cfg(target_os = "linux")]
    {
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the fake kustomize ran")
            .trim()
            .parse()
            .unwrap();
        assert!(
            ended(pid),
            "the renderer's child (sleep, pid {pid}) is stopped with it"
        );
    }
}

/// No Kustomize at all (neither `kustomize` nor `kubectl`): INJ010 at the
/// kustomization, and the rest is still checked.
#[test]
fn a_missing_renderer_is_a_finding_at_the_kustomization() {
    let tools = Tools::none();
    let tree = small_tree("{}\n");
    let run = inject(tree.path(), &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        ["INJ010 error app/kustomization.yaml:1:1-11 [app]"]
    );
    let message = diagnostics(&report)[0]["message"].as_str().unwrap();
    assert!(
        message.contains("kustomize") && message.contains("kubectl"),
        "the message names what is missing: {message}"
    );
    assert_eq!(
        workload_list(&report),
        ["plain(plain) Deployment/shop/web plain/web.yaml:1"]
    );
}

/// A chart rendered by `helm`: `helm template RELEASE CHART -f VALUES…` with
/// the values of the chart's environment, and findings at the template.
#[test]
fn a_chart_is_rendered_with_its_environment_values() {
    let tools = Tools::none();
    let argv = tools.path().join("argv");
    fake_helm(&tools, &fixture("helm").join("rendered.yaml"), &argv);
    let chart = std::fs::read_dir(fixture("helm/mychart/templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|name| {
            let path = format!("mychart/templates/{name}");
            let text = std::fs::read_to_string(fixture("helm").join(&path)).unwrap();
            (path, text)
        })
        .chain(["Chart.yaml", "values.yaml"].map(|f| {
            (
                format!("mychart/{f}"),
                std::fs::read_to_string(fixture("helm/mychart").join(f)).unwrap(),
            )
        }))
        .collect::<Vec<_>>();
    let mut files: Vec<(&str, &str)> = chart
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    files.extend([
        ("values/common.yaml", "replicaCount: 2\n"),
        ("values/prod.yaml", "mesh:\n  proxyCPU: \"100 m\"\n"),
        (
            ".kubectl-inject.yaml",
            "environments:\n  - name: production\n    paths: [\"mychart\"]\n    helm: {values: [\"values/common.yaml\", \"values/prod.yaml\"]}\n",
        ),
    ]);
    let tree = common::tree(&files);
    let run = inject(tree.path(), &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    assert_eq!(
        findings(&report),
        ["INJ203 error mychart/templates/deployment.yaml:15:9-34 [mychart]"]
    );
    let w = workload(&report, "mychart", "default", "mychart");
    assert_eq!(
        w["deployable"],
        serde_json::json!({"kind": "helm", "path": "mychart", "environment": "production"})
    );

    let args: Vec<String> = std::fs::read_to_string(&argv)
        .expect("helm was run")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        args.first().map(String::as_str),
        Some("template"),
        "{args:?}"
    );
    let canonical = |p: &str| std::fs::canonicalize(tree.path().join(p)).unwrap();
    let is = |arg: &String, p: &str| {
        std::fs::canonicalize(tree.path().join(arg)).is_ok_and(|a| a == canonical(p))
    };
    assert!(
        args.iter().any(|a| is(a, "mychart")),
        "the chart's directory: {args:?}"
    );
    let values: Vec<&String> = args
        .windows(2)
        .filter(|w| w[0] == "-f" || w[0] == "--values")
        .map(|w| &w[1])
        .collect();
    assert_eq!(values.len(), 2, "two values files: {args:?}");
    assert!(is(values[0], "values/common.yaml"), "{args:?}");
    assert!(is(values[1], "values/prod.yaml"), "in order: {args:?}");
}

// ---- environments/ -------------------------------------------------------------

/// The configuration's environments: a and b share a cluster (INJ004
/// between them, b's workload injected thanks to a's Namespace), c is
/// another one with Kubernetes 1.27 (INJ311 only there).
#[test]
fn configured_environments_group_overlays() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("environments");
    let run = inject(&tree, &tools, &["simulate", ".", "--format", "json"]);
    run.expect_code(1);
    let report = run.json();
    let rules: Vec<String> = findings(&report)
        .iter()
        .map(|f| f.split(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(rules, ["INJ004", "INJ311"], "{:#?}", findings(&report));
    let duplicate = finding_at(&report, "INJ004", "overlays/b/api.yaml", 4, 9);
    assert_eq!(duplicate["end_column"], 12);
    assert_eq!(strings(&duplicate["deployables"]), ["overlays/b"]);
    assert_eq!(
        duplicate["message"],
        "Deployment `api` in namespace `team` is defined twice: whichever is applied last silently replaces the other, so what the cluster runs depends on apply order"
    );
    let native = diagnostics(&report)
        .iter()
        .find(|d| d["rule"] == "INJ311")
        .unwrap();
    assert_eq!(native["file"], "overlays/c/api.yaml", "{native:#}");
    // EXPECTED.md: 14:56, the value of proxy-enable-native-sidecar. The
    // rule points at the pod's first annotation for known injectors today
    // (16:44 once Kustomize has sorted the keys): only the file and the
    // annotations block are held here.
    assert!(
        (14..=18).contains(&native["line"].as_u64().unwrap()),
        "{native:#}"
    );
    assert_eq!(strings(&native["deployables"]), ["overlays/c"]);
    assert!(
        native["message"]
            .as_str()
            .unwrap()
            .contains("Kubernetes 1.27"),
        "{native:#}"
    );

    for (path, env) in [
        ("overlays/a", "shared"),
        ("overlays/b", "shared"),
        ("overlays/c", "other"),
    ] {
        let w = workload(&report, path, "team", "api");
        assert_eq!(w["deployable"]["environment"], env, "{w:#}");
        assert_eq!(w["deployable"]["kind"], "kustomize", "{w:#}");
        assert_eq!(decision(w, "linkerd"), Some("inject"), "{path}: {w:#}");
    }

    let human = inject(&tree, &tools, &["lint", "."]);
    let first = human
        .stdout
        .find("first defined here")
        .expect("INJ004 names the first definition");
    assert!(
        human.stdout[first..].contains("╭─[overlays/a/api.yaml:4:9]"),
        "{}",
        human.stdout
    );
}

/// `--environment NAME` checks that environment alone.
#[test]
fn one_environment_at_a_time() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let tree = fixture("environments");
    let simulate = |environment: &str, code: i32| {
        let args = [
            "simulate",
            ".",
            "--format",
            "json",
            "--environment",
            environment,
        ];
        let run = inject(&tree, &tools, &args);
        run.expect_code(code);
        run.json()
    };
    let rules = |report: &Value| -> Vec<String> {
        diagnostics(report)
            .iter()
            .map(|d| d["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let report = simulate("other", 0);
    assert_eq!(rules(&report), ["INJ311"], "{:#?}", findings(&report));
    assert_eq!(
        workload_list(&report),
        ["overlays/c(other) Deployment/team/api overlays/c/api.yaml:1"]
    );

    let report = simulate("shared", 1);
    assert_eq!(rules(&report), ["INJ004"], "{:#?}", findings(&report));
    assert_eq!(
        workload_list(&report),
        sorted(&[
            "overlays/a(shared) Deployment/team/api overlays/a/api.yaml:1",
            "overlays/b(shared) Deployment/team/api overlays/b/api.yaml:1",
        ])
    );
}

#[test]
fn an_unknown_environment_exits_2_listing_the_known_ones() {
    let Some(tools) = Tools::kubectl() else {
        return;
    };
    let run = inject(
        &fixture("environments"),
        &tools,
        &["lint", ".", "--environment", "nope"],
    );
    run.expect_code(2);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("nope"), "{said}");
    assert!(
        said.contains("shared") && said.contains("other"),
        "the known environments are listed: {said}"
    );
}
