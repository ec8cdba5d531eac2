//! The GitHub Action in `.github/actions/gate`: its metadata, `install.sh`
//! against a fake release served on the loopback interface, and `gate.sh`
//! end to end on throwaway Git repositories with the binary under test.
//!
//! `cargo test --test action -- --nocapture` shows what the gate prints and
//! the job summary it writes. The install tests are skipped (with a message)
//! where `python3` (the fake release server) is missing.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kubectl_inject::yaml::{Limits, parse_stream};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{bad_deployment, git, package_root};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-inject");
const TEST_TAG: &str = "v0.0.0-test";

fn action_dir() -> PathBuf {
    package_root().join(".github/actions/gate")
}

/// The install tests need python3 (the fake release server) and what
/// install.sh itself uses (curl, tar, gzip: always on GitHub's runners, not
/// necessarily on a bare machine); without them they say so and pass.
fn can_serve_releases() -> bool {
    if !common::have_python("the fake release server") {
        return false;
    }
    for tool in ["curl", "tar", "gzip"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("skipped: {tool} (used by install.sh) is not installed");
            return false;
        }
    }
    true
}

/// A `bash SCRIPT` command with the runner's and the user's environment
/// that would change what the scripts do removed.
fn script(name: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(action_dir().join(name));
    for var in [
        "RUNNER_OS",
        "RUNNER_ARCH",
        "RUNNER_TEMP",
        "GITHUB_PATH",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_ACTION_PATH",
        "KUBECTL_INJECT",
        "KUBECTL_INJECT_VERSION",
        "KUBECTL_INJECT_ACTION_REF",
        "KUBECTL_INJECT_DOWNLOAD_URL",
        "KUBECTL_INJECT_LATEST_URL",
        "KUBECTL_INJECT_INSTALL_DIR",
        "KUBECTL_INJECT_TARGET",
        "INPUT_PATHS",
        "INPUT_BASE_REF",
        "INPUT_FAIL_ON",
        "INPUT_CONFIG",
        "INPUT_SARIF_FILE",
        "INPUT_BLAST_RADIUS",
        "NO_COLOR",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        // The fake release is on 127.0.0.1; never through a proxy.
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(what: &str, out: &Output) {
    eprintln!(
        "--- {what}: {}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `KEY=VALUE` lines of a GITHUB_OUTPUT file.
fn outputs(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------
// action.yml

fn action() -> Value {
    let text = fs::read_to_string(action_dir().join("action.yml")).expect("action.yml");
    let parsed = parse_stream(&text, &Limits::default());
    assert!(
        parsed.problems.is_empty(),
        "action.yml: {:?}",
        parsed.problems.first().map(|p| &p.message)
    );
    parsed.documents[0].1.to_json()
}

#[test]
fn action_metadata_declares_the_inputs_outputs_and_steps() {
    let action = action();
    let inputs = action["inputs"].as_object().expect("inputs");
    let defaults: BTreeMap<&str, &str> = inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v["default"].as_str().expect("a default")))
        .collect();
    let expected = BTreeMap::from([
        ("paths", "."),
        ("base-ref", "${{ github.event.pull_request.base.sha }}"),
        ("fail-on", "error"),
        ("config", ""),
        ("version", ""),
        ("upload-sarif", "true"),
        ("sarif-file", "${{ runner.temp }}/kubectl-inject.sarif"),
        ("blast-radius", "true"),
    ]);
    assert_eq!(defaults, expected);
    for output in ["exit-code", "sarif-file"] {
        assert_eq!(
            action["outputs"][output]["value"],
            format!("${{{{ steps.gate.outputs.{output} }}}}")
        );
    }

    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 4, "install, gate, upload-sarif, verdict");
    assert!(steps[0]["run"].as_str().unwrap().contains("install.sh"));
    assert_eq!(
        steps[0]["env"]["KUBECTL_INJECT_ACTION_REF"],
        "${{ github.action_ref }}"
    );
    assert_eq!(steps[1]["id"], "gate");
    assert!(steps[1]["run"].as_str().unwrap().contains("gate.sh"));
    // Every input reaches gate.sh or install.sh under the name they read.
    let gate_sh = fs::read_to_string(action_dir().join("gate.sh")).unwrap();
    for (input, var) in [
        ("paths", "INPUT_PATHS"),
        ("base-ref", "INPUT_BASE_REF"),
        ("fail-on", "INPUT_FAIL_ON"),
        ("config", "INPUT_CONFIG"),
        ("sarif-file", "INPUT_SARIF_FILE"),
        ("blast-radius", "INPUT_BLAST_RADIUS"),
    ] {
        assert_eq!(steps[1]["env"][var], format!("${{{{ inputs.{input} }}}}"));
        assert!(gate_sh.contains(var), "gate.sh does not read {var}");
    }
    assert_eq!(
        steps[0]["env"]["KUBECTL_INJECT_VERSION"],
        "${{ inputs.version }}"
    );
    for step in steps.iter().filter(|s| s.get("run").is_some()) {
        assert_eq!(step["shell"], "bash", "composite run steps need a shell");
    }
    let upload = &steps[2];
    assert_eq!(upload["uses"], "github/codeql-action/upload-sarif@v3");
    assert_eq!(upload["with"]["category"], "kubectl-inject");
    let upload_if = upload["if"].as_str().unwrap();
    assert!(upload_if.contains("always()") && upload_if.contains("inputs.upload-sarif == 'true'"));
    let verdict = &steps[3];
    assert!(verdict["if"].as_str().unwrap().contains("always()"));
    assert!(
        verdict["run"]
            .as_str()
            .unwrap()
            .contains("exit \"$EXIT_CODE\"")
    );
}

#[test]
fn install_sh_knows_every_released_target() {
    let install = fs::read_to_string(action_dir().join("install.sh")).unwrap();
    let release = fs::read_to_string(package_root().join(".github/workflows/release.yml")).unwrap();
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(release.contains(&format!("target: {target}")), "{target}");
        assert!(install.contains(target), "install.sh does not map {target}");
    }
    // The archive name the release workflow packages.
    assert!(release.contains("name=\"kubectl-inject-${GITHUB_REF_NAME}-${{ matrix.target }}\""));
    assert!(install.contains("archive=\"kubectl-inject-$version-$target.$ext\""));
}

// ---------------------------------------------------------------------------
// install.sh against a fake release on 127.0.0.1

/// `python3 -m http.server` on an ephemeral loopback port, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Server { child, port: 0 };
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("http.server announces its port");
        server.port = line
            .split(" port ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Rust target install.sh should pick on this machine.
fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        (os, arch) => panic!("no released target for {os}/{arch}"),
    }
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(out.status.success());
    text(&out.stdout).trim().to_owned()
}

/// `<tmp>/srv/<TEST_TAG>/kubectl-inject-<TEST_TAG>-<target>.tar.gz` holding
/// the binary under test, LICENSE and README.md at its root (as the release
/// workflow packages them), and its `.sha256` in sha256sum format.
struct Release {
    tmp: TempDir,
    archive: String,
}

impl Release {
    fn new() -> Release {
        let tmp = tempfile::tempdir().expect("temp dir");
        let stage = tmp.path().join("stage");
        let dir = tmp.path().join("srv").join(TEST_TAG);
        fs::create_dir_all(&stage).unwrap();
        fs::create_dir_all(&dir).unwrap();
        fs::copy(BIN, stage.join("kubectl-inject")).expect("copy the binary");
        fs::copy(package_root().join("LICENSE"), stage.join("LICENSE")).unwrap();
        fs::copy(package_root().join("README.md"), stage.join("README.md")).unwrap();
        let archive = format!("kubectl-inject-{TEST_TAG}-{}.tar.gz", host_target());
        // gzip -1: the debug binary is large, and the level does not matter here.
        let status = Command::new("bash")
            .args([
                "-c",
                "set -o pipefail; tar -cf - -C \"$1\" kubectl-inject LICENSE README.md | gzip -1 >\"$2\"",
                "pack",
            ])
            .arg(&stage)
            .arg(dir.join(&archive))
            .status()
            .expect("tar | gzip");
        assert!(status.success());
        let digest = sha256_hex(&dir.join(&archive));
        fs::write(
            dir.join(format!("{archive}.sha256")),
            format!("{digest}  {archive}\n"),
        )
        .unwrap();
        Release { tmp, archive }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn sha256_file(&self) -> PathBuf {
        self.path(&format!("srv/{TEST_TAG}/{}.sha256", self.archive))
    }

    /// install.sh as the action runs it: RUNNER_TEMP, GITHUB_PATH and
    /// GITHUB_OUTPUT set, downloads from `server`.
    fn install(&self, server: &Server) -> Command {
        let _ = fs::remove_dir_all(self.path("runner"));
        fs::create_dir_all(self.path("runner")).unwrap();
        fs::write(self.path("github_path"), "").unwrap();
        fs::write(self.path("github_output"), "").unwrap();
        let mut cmd = script("install.sh");
        cmd.env("KUBECTL_INJECT_DOWNLOAD_URL", server.url())
            .env("RUNNER_TEMP", self.path("runner"))
            .env("GITHUB_PATH", self.path("github_path"))
            .env("GITHUB_OUTPUT", self.path("github_output"));
        cmd
    }

    fn installed_dir(&self) -> PathBuf {
        self.path("runner/kubectl-inject")
    }

    fn assert_installed(&self, out: &Output) {
        show("install.sh", out);
        assert!(out.status.success(), "install.sh failed");
        let dir = self.installed_dir();
        let installed = dir.join("kubectl-inject");
        let version = Command::new(&installed)
            .arg("--version")
            .output()
            .expect("the installed binary runs");
        assert!(version.status.success());
        assert_eq!(
            text(&version.stdout).trim(),
            format!("kubectl-inject {}", env!("CARGO_PKG_VERSION"))
        );
        assert!(dir.join("LICENSE").is_file(), "the archive's LICENSE");
        let path = fs::read_to_string(self.path("github_path")).unwrap();
        assert_eq!(
            path.lines().collect::<Vec<_>>(),
            [dir.to_str().unwrap()],
            "GITHUB_PATH gets the install directory"
        );
        let outputs = outputs(&self.path("github_output"));
        assert_eq!(outputs["version"], TEST_TAG);
        assert!(text(&out.stdout).contains(&format!("to {}", dir.display())));
    }
}

#[test]
fn install_sh_installs_the_released_archive_of_a_tag() {
    if !can_serve_releases() {
        return;
    }
    let release = Release::new();
    let server = Server::start(&release.path("srv"));
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", TEST_TAG)
        .output()
        .expect("bash");
    release.assert_installed(&out);
    assert!(text(&out.stdout).contains("sha256 OK"));
}

#[test]
fn install_sh_takes_the_version_from_the_action_ref() {
    if !can_serve_releases() {
        return;
    }
    let release = Release::new();
    let server = Server::start(&release.path("srv"));
    // `uses: kubectl-inject/kubectl-inject/.github/actions/gate@v0.0.0-test`
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", "")
        .env("KUBECTL_INJECT_ACTION_REF", TEST_TAG)
        .output()
        .expect("bash");
    release.assert_installed(&out);

    // github.action_ref empty (actions/runner#2473): the action's path has it.
    let action_path = format!(
        "/home/runner/work/_actions/kubectl-inject/kubectl-inject/{TEST_TAG}/.github/actions/gate"
    );
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_ACTION_REF", "")
        .env("GITHUB_ACTION_PATH", action_path)
        .output()
        .expect("bash");
    release.assert_installed(&out);
}

#[test]
fn install_sh_resolves_latest_through_the_redirect() {
    if !can_serve_releases() {
        return;
    }
    let release = Release::new();
    let server = Server::start(&release.path("srv"));
    // github.com/<repo>/releases/latest redirects to .../releases/tag/<tag>;
    // http.server redirects /<tag> to /<tag>/ the same way.
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", "latest")
        .env(
            "KUBECTL_INJECT_LATEST_URL",
            format!("{}/{TEST_TAG}", server.url()),
        )
        .output()
        .expect("bash");
    release.assert_installed(&out);
}

#[test]
fn install_sh_refuses_an_archive_whose_sha256_does_not_match() {
    if !can_serve_releases() {
        return;
    }
    let release = Release::new();
    fs::write(
        release.sha256_file(),
        format!("{}  {}\n", "0".repeat(64), release.archive),
    )
    .unwrap();
    let server = Server::start(&release.path("srv"));
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", TEST_TAG)
        .output()
        .expect("bash");
    show("install.sh (bad sha256)", &out);
    assert!(!out.status.success(), "install.sh must refuse the archive");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("::error") && stderr.contains("sha256 mismatch"),
        "a clear error: {stderr}"
    );
    assert!(stderr.contains("refusing to install"));
    assert!(!release.installed_dir().join("kubectl-inject").exists());
    assert_eq!(fs::read_to_string(release.path("github_path")).unwrap(), "");

    // A .sha256 that holds no digest at all is refused too.
    fs::write(release.sha256_file(), "<html>not found</html>\n").unwrap();
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", TEST_TAG)
        .output()
        .expect("bash");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("does not hold a sha256 digest"));
}

#[test]
fn install_sh_fails_on_a_missing_release() {
    if !can_serve_releases() {
        return;
    }
    let release = Release::new();
    let server = Server::start(&release.path("srv"));
    let out = release
        .install(&server)
        .env("KUBECTL_INJECT_VERSION", "v9.9.9")
        .output()
        .expect("bash");
    show("install.sh (no such release)", &out);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("::error title=kubectl-inject install::cannot download"));
}

// ---------------------------------------------------------------------------
// gate.sh end to end

const NAMESPACE: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    istio-injection: enabled
";

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

fn commit(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    write(dir, files);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A repository whose base commit has `apps/web.yaml` (a finding) and the
/// `shop` Namespace; returns it and the base commit.
fn repo_with_base() -> (TempDir, String) {
    let repo = tempfile::tempdir().expect("temp dir");
    git(repo.path(), &["init", "-q"]);
    let base = commit(
        repo.path(),
        &[
            ("apps/namespace.yaml", NAMESPACE),
            ("apps/web.yaml", &bad_deployment("web")),
        ],
        "base",
    );
    (repo, base)
}

/// The head: web.yaml's lines move (comments on top), its finding stays.
fn moved_web() -> String {
    format!(
        "# The web frontend.\n# Owned by the shop team.\n# (lines moved by this comment)\n{}",
        bad_deployment("web")
    )
}

struct Gate {
    out: Output,
    stdout: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    sarif: PathBuf,
    _files: TempDir,
}

/// gate.sh in `repo` as the action runs it (GITHUB_OUTPUT and
/// GITHUB_STEP_SUMMARY set), with the binary under test.
fn run_gate(repo: &Path, base: &str, extra: &[(&str, &str)]) -> Gate {
    let files = tempfile::tempdir().expect("temp dir");
    let summary = files.path().join("summary.md");
    let output = files.path().join("output");
    let sarif = files.path().join("sarif/kubectl-inject.sarif");
    fs::write(&summary, "").unwrap();
    fs::write(&output, "").unwrap();
    let mut cmd = script("gate.sh");
    cmd.current_dir(repo)
        .env("KUBECTL_INJECT", BIN)
        .env("INPUT_PATHS", ".")
        .env("INPUT_BASE_REF", base)
        .env("INPUT_FAIL_ON", "error")
        .env("INPUT_CONFIG", "")
        .env("INPUT_SARIF_FILE", &sarif)
        .env("INPUT_BLAST_RADIUS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .env("RUNNER_TEMP", files.path());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash gate.sh");
    show("gate.sh", &out);
    let summary = fs::read_to_string(&summary).unwrap();
    eprintln!("--- job summary:\n{summary}--- end of job summary");
    let outputs = outputs(&output);
    eprintln!("--- GITHUB_OUTPUT: {outputs:?}");
    assert!(
        out.status.success(),
        "gate.sh exits 0 when GITHUB_OUTPUT is set (the action's last step fails the job)"
    );
    Gate {
        stdout: text(&out.stdout),
        out,
        outputs,
        summary,
        sarif,
        _files: files,
    }
}

/// Workflow commands that annotate a file: (level, file).
fn annotations(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("::")?;
            let (level, rest) = rest.split_once(' ')?;
            let file = rest.strip_prefix("file=")?.split(',').next()?;
            Some((level.to_owned(), file.to_owned()))
        })
        .collect()
}

fn sarif_result_files(path: &Path) -> Vec<String> {
    let sarif: Value =
        serde_json::from_str(&fs::read_to_string(path).expect("the SARIF file is written"))
            .expect("the SARIF file is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    sarif["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("a result uri")
                .to_owned()
        })
        .collect()
}

#[test]
fn gate_reports_only_what_the_pull_request_adds() {
    let (repo, base) = repo_with_base();
    commit(
        repo.path(),
        &[
            ("apps/web.yaml", &moved_web()),
            ("apps/api.yaml", &bad_deployment("api")),
        ],
        "head: a new workload with a finding",
    );
    let gate = run_gate(repo.path(), &base, &[]);

    let annotations = annotations(&gate.stdout);
    assert!(
        annotations.contains(&("error".into(), "apps/api.yaml".into())),
        "an error annotation on apps/api.yaml: {annotations:?}"
    );
    assert!(
        !gate.stdout.contains("file=apps/web.yaml"),
        "web.yaml's finding is in the base (its lines only moved)"
    );
    assert!(annotations.iter().all(|(_, f)| f == "apps/api.yaml"));
    assert_eq!(gate.outputs["exit-code"], "1");
    assert_eq!(gate.outputs["sarif-file"], gate.sarif.to_str().unwrap());
    assert!(gate.stdout.contains("kubectl-inject gate: failed"));

    let files = sarif_result_files(&gate.sarif);
    assert!(!files.is_empty(), "the SARIF report has the new findings");
    assert!(
        files.iter().all(|f| f == "apps/api.yaml"),
        "SARIF results only for api.yaml: {files:?}"
    );

    // The job summary: the lint's findings, then the blast radius.
    let (lint, radius) = gate
        .summary
        .split_once("blast radius")
        .expect("the blast radius is in the job summary");
    assert!(lint.contains("kubectl-inject lint"));
    assert!(lint.contains("INJ203") && lint.contains("apps/api.yaml"));
    assert!(!lint.contains("apps/web.yaml"), "only the new findings");
    assert!(
        radius.contains("shop") && radius.contains("api"),
        "the blast radius names the new workload and its namespace"
    );
    assert!(!radius.contains("web"), "moved lines change no workload");
}

#[test]
fn gate_passes_a_pull_request_that_adds_no_finding() {
    let (repo, base) = repo_with_base();
    commit(
        repo.path(),
        &[("apps/web.yaml", &moved_web())],
        "head: comments only",
    );
    let gate = run_gate(repo.path(), &base, &[]);
    assert_eq!(gate.outputs["exit-code"], "0");
    assert!(annotations(&gate.stdout).is_empty(), "no annotation");
    assert!(sarif_result_files(&gate.sarif).is_empty());
    assert!(gate.stdout.contains("kubectl-inject gate: passed"));
    let (lint, radius) = gate
        .summary
        .split_once("blast radius")
        .expect("the blast radius is in the job summary");
    assert!(lint.contains("kubectl-inject lint"));
    assert!(!radius.contains("web"), "moved lines change no workload");
}

#[test]
fn gate_fails_on_warnings_when_asked() {
    let (repo, base) = repo_with_base();
    // A deprecated annotation key (INJ208, warning) and nothing worse.
    let warn_only = bad_deployment("api").replace(
        "sidecar.istio.io/inject: \"ture\"",
        "sidecar.istio.io/inject: \"true\"",
    );
    commit(repo.path(), &[("apps/api.yaml", &warn_only)], "head");
    let gate = run_gate(repo.path(), &base, &[("INPUT_FAIL_ON", "error")]);
    assert_eq!(gate.outputs["exit-code"], "0", "a warning passes at error");
    let gate = run_gate(repo.path(), &base, &[("INPUT_FAIL_ON", "warning")]);
    assert_eq!(gate.outputs["exit-code"], "1", "a warning fails at warning");
    assert!(
        annotations(&gate.stdout).contains(&("warning".into(), "apps/api.yaml".into())),
        "{}",
        gate.stdout
    );
}

#[test]
fn gate_fails_with_two_when_the_base_commit_is_missing() {
    let (repo, _) = repo_with_base();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let gate = run_gate(repo.path(), missing, &[]);
    let all = format!("{}{}", gate.stdout, text(&gate.out.stderr));
    assert!(
        all.contains("::error") && all.contains("fetch-depth"),
        "an error that explains fetch-depth: {all}"
    );
    assert_eq!(gate.outputs["exit-code"], "2");
    assert_eq!(gate.outputs["sarif-file"], "");
    assert!(!gate.sarif.exists());
    assert!(
        gate.summary.contains("could not do its job"),
        "the job summary says so"
    );
    assert!(gate.stdout.contains("kubectl-inject gate: tool failure"));
}

#[test]
fn gate_fetches_the_base_commit_into_a_shallow_clone() {
    let (origin, base) = repo_with_base();
    git(
        origin.path(),
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    commit(
        origin.path(),
        &[("apps/api.yaml", &bad_deployment("api"))],
        "head",
    );
    // actions/checkout's default: one commit deep, the base not in the clone.
    let clones = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}", origin.path().display());
    git(clones.path(), &["clone", "-q", "--depth=1", &url, "clone"]);
    let clone = clones.path().join("clone");
    let probe = Command::new("git")
        .args(["cat-file", "-e", &format!("{base}^{{commit}}")])
        .current_dir(&clone)
        .output()
        .unwrap();
    assert!(
        !probe.status.success(),
        "the base is not in the shallow clone"
    );

    let gate = run_gate(&clone, &base, &[]);
    assert!(gate.stdout.contains("fetching it from origin"));
    assert_eq!(gate.outputs["exit-code"], "1");
    assert!(annotations(&gate.stdout).contains(&("error".into(), "apps/api.yaml".into())));
    assert!(!gate.stdout.contains("file=apps/web.yaml"));
}

#[test]
fn gate_without_a_base_gates_the_whole_repository_locally() {
    let (repo, _) = repo_with_base();
    let files = tempfile::tempdir().expect("temp dir");
    // Run as a user would, locally: no GITHUB_OUTPUT, the exit code is the gate's.
    let out = script("gate.sh")
        .current_dir(repo.path())
        .env("KUBECTL_INJECT", BIN)
        .env("INPUT_SARIF_FILE", files.path().join("k.sarif"))
        .output()
        .expect("bash gate.sh");
    show("gate.sh (no base, local)", &out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "web.yaml's error fails the gate"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("no base ref"));
    assert!(annotations(&stdout).contains(&("error".into(), "apps/web.yaml".into())));
    assert_eq!(sarif_result_files(&files.path().join("k.sarif")).len(), 2);
}
