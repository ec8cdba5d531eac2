//! A real kube-apiserver (1.20, with etcd, on loopback) for the live tests
//! (`tests/live.rs`, `tests/kubeconfig.rs`), from `../shared/tools/kube-apiserver.sh`.
//!
//! Where the server comes from, in order:
//! 1. `KUBE_APISERVER_KUBECONFIG`: the kubeconfig of a server that already runs
//!    (one that kube-apiserver.sh started, so that the tokens `admin-token` and
//!    `viewer-token` and the contexts `test` and `viewer` exist).
//! 2. The script at `../shared/tools/kube-apiserver.sh` (beside the package
//!    root) when its cached build exists (`kube-apiserver.sh build` has run
//!    once; a test never starts the 6-minute build): a server that already
//!    answers at the script's kubeconfig is reused, else `start` starts one.
//! 3. Otherwise, under CI (`CI` set to anything non-empty) the test panics
//!    (unless `KUBE_APISERVER=skip` opts out explicitly, as GitHub's CI
//!    does: it has no `../shared`)
//!    with how to build the server; elsewhere it prints
//!    `skipped: no kube-apiserver (…)` and [`apiserver`] returns `None`, so
//!    the test passes early.
//!
//! One server serves every test: `start` stops any previous instance, so it
//! must not run once per test. Within one test binary a `OnceLock` finds or
//! starts it once; across test binaries and across processes (cargo-nextest
//! runs each test in a process of its own) a file lock in the script's cache
//! directory serialises the check, and the first process starts the server
//! while the others find it answering and reuse it. Tests isolate themselves
//! by namespaces (and cluster-scoped names) with a per-process suffix, see
//! [`unique`], because the server's etcd outlives test runs and, without a
//! controller-manager, a deleted namespace stays `Terminating` for ever.
//!
//! Nothing stops the server at the end: a test binary cannot run code after
//! its last test. It is left running (in a process group of its own, so a
//! test runner that kills a test's group does not take it down) and the next
//! run reuses it; `bash ../shared/tools/kube-apiserver.sh stop` stops it, and
//! a later `start` replaces it (the script's `start` stops the previous
//! instance first, so starting is idempotent). CI's machine ends it with the
//! run.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The static tokens kube-apiserver.sh configures.
pub const ADMIN_TOKEN: &str = "admin-token";
pub const VIEWER_TOKEN: &str = "viewer-token";

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-inject");

/// A running API server.
#[derive(Debug)]
pub struct Apiserver {
    /// Its admin kubeconfig (contexts `test` and `viewer`).
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// The CA that signed the server's certificate, as a kubeconfig file
    /// path or as base64 data.
    pub ca: Ca,
}

#[derive(Debug, Clone)]
pub enum Ca {
    File(PathBuf),
    Data(String),
}

static SERVER: OnceLock<Option<Apiserver>> = OnceLock::new();

const SKIP: &str = "skipped: no kube-apiserver (run ../shared/tools/kube-apiserver.sh build)";

/// The shared server, found or started on first use; `None` (after printing
/// why the test skips) when there is none and `CI` is not set.
pub fn apiserver() -> Option<&'static Apiserver> {
    let found = SERVER.get_or_init(find_or_start).as_ref();
    if found.is_none() {
        eprintln!("{SKIP}");
    }
    found
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

fn missing(why: &str) -> Option<Apiserver> {
    // An explicit opt-out for a CI that cannot have the server (GitHub's,
    // which has no ../shared): said, never silent.
    if std::env::var("KUBE_APISERVER").is_ok_and(|v| v == "skip") {
        eprintln!("({why}; KUBE_APISERVER=skip: the live tests are skipped on purpose)");
        return None;
    }
    if ci() {
        panic!(
            "the live tests need a real kube-apiserver and {why}. Build it once (about 6 minutes, \
             then cached): `bash ../shared/tools/kube-apiserver.sh build` from the package root \
             (.ci/run does), or point KUBE_APISERVER_KUBECONFIG at the kubeconfig of a running one"
        );
    }
    eprintln!("({why})");
    None
}

/// The script's cache directory, as the script computes it.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("KUBE_APISERVER_HOME").unwrap_or_else(|| {
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join("kube-apiserver-1.20")
    })
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/kube-apiserver.sh")
}

fn have_kubectl() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn find_or_start() -> Option<Apiserver> {
    if !have_kubectl() {
        return missing("kubectl is not on PATH");
    }
    if let Some(kc) = std::env::var_os("KUBE_APISERVER_KUBECONFIG").filter(|v| !v.is_empty()) {
        let kc = PathBuf::from(kc);
        assert!(
            ready(&kc),
            "KUBE_APISERVER_KUBECONFIG={} names no answering server",
            kc.display()
        );
        return Some(Apiserver::from_kubeconfig(kc));
    }
    let script = script();
    if !script.is_file() {
        return missing(&format!("{} does not exist", script.display()));
    }
    let home = cache_dir();
    let bin = home.join("src/kubernetes-1.20.2/_output/bin/kube-apiserver");
    let etcd = home.join("root/usr/bin/etcd");
    if !bin.is_file() || !etcd.is_file() {
        return missing(&format!(
            "its cached build ({}) does not exist",
            bin.display()
        ));
    }

    // One process at a time decides whether to start it.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(home.join("kubectl-inject-tests.lock"))
        .expect("the lock file in the cache directory");
    lock.lock().expect("locking the cache directory");

    let kubeconfig = home.join("run/kubeconfig");
    let port = std::env::var("KUBE_APISERVER_PORT").unwrap_or_else(|_| "16443".into());
    // A busy server may miss one 5 s check; starting anew would stop it
    // under every other test process using it.
    let answers = || {
        (0..3).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            ready(&kubeconfig)
        })
    };
    if kubeconfig.is_file() && answers() {
        let found = Apiserver::from_kubeconfig(kubeconfig.clone());
        if found.server.ends_with(&format!(":{port}")) {
            eprintln!("reusing the kube-apiserver at {}", found.server);
            return Some(found);
        }
    }
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .stdin(Stdio::null())
        // Its own process group: the server must outlive this test process
        // and whatever a test runner does to the test's group.
        .process_group(0)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "`kube-apiserver.sh start` failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let kubeconfig = PathBuf::from(path);
    assert!(
        ready(&kubeconfig),
        "the kube-apiserver started by the script does not answer ({})",
        kubeconfig.display()
    );
    eprintln!(
        "started the kube-apiserver in {:.1}s: {}",
        started.elapsed().as_secs_f64(),
        kubeconfig.display()
    );
    drop(lock);
    Some(Apiserver::from_kubeconfig(kubeconfig))
}

fn ready(kubeconfig: &Path) -> bool {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout=5s", "get", "--raw", "/readyz"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Apiserver {
    fn from_kubeconfig(kubeconfig: PathBuf) -> Apiserver {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["config", "view", "--raw", "--minify", "-o", "json"])
            .output()
            .expect("kubectl runs");
        assert!(out.status.success(), "kubectl config view: {out:?}");
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let cluster = &config["clusters"][0]["cluster"];
        let server = cluster["server"].as_str().expect("a server").to_owned();
        let ca = match (
            cluster["certificate-authority"].as_str(),
            cluster["certificate-authority-data"].as_str(),
        ) {
            (Some(file), _) => Ca::File(PathBuf::from(file)),
            (None, Some(data)) => Ca::Data(data.to_owned()),
            (None, None) => panic!("{}: no certificate-authority", kubeconfig.display()),
        };
        Apiserver {
            kubeconfig,
            server,
            ca,
        }
    }

    /// The fields of a kubeconfig `cluster:` entry for this server, as a
    /// YAML flow mapping: `{server: "…", certificate-authority: "…"}`.
    pub fn cluster_entry(&self) -> String {
        match &self.ca {
            Ca::File(path) => format!(
                "{{server: \"{}\", certificate-authority: \"{}\"}}",
                self.server,
                path.display()
            ),
            Ca::Data(data) => format!(
                "{{server: \"{}\", certificate-authority-data: \"{data}\"}}",
                self.server
            ),
        }
    }

    /// The directory of the script's PKI (`ca.crt` and `ca.key`), when the
    /// CA's key is at hand (it is not for an arbitrary
    /// KUBE_APISERVER_KUBECONFIG).
    pub fn pki(&self) -> Option<PathBuf> {
        match &self.ca {
            Ca::File(path) => {
                let dir = path.parent()?;
                dir.join("ca.key").is_file().then(|| dir.to_owned())
            }
            Ca::Data(_) => None,
        }
    }

    /// A kubeconfig with one context `name` for this server, authenticating
    /// with `user` (a YAML flow mapping such as `{token: admin-token}`), in
    /// `namespace` when given.
    pub fn kubeconfig_with(&self, name: &str, user: &str, namespace: Option<&str>) -> String {
        let ns = namespace
            .map(|n| format!(", namespace: {n}"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster: {cluster}
users:
- name: {name}
  user: {user}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}{ns}}}
current-context: {name}
",
            cluster = self.cluster_entry()
        )
    }

    /// Runs kubectl against the server as admin; `stdin_yaml` is fed to it
    /// (for `-f -`).
    pub fn try_kubectl(&self, args: &[&str], stdin_yaml: Option<&str>) -> Output {
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--context=test")
            .args(args)
            .stdin(if stdin_yaml.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        if let Some(yaml) = stdin_yaml {
            let mut stdin = child.stdin.take().expect("piped");
            stdin
                .write_all(yaml.as_bytes())
                .expect("kubectl reads stdin");
        }
        child.wait_with_output().expect("kubectl finishes")
    }

    /// Runs kubectl as admin and returns its stdout; panics with its stderr
    /// when it fails.
    pub fn kubectl(&self, args: &[&str], stdin_yaml: Option<&str>) -> String {
        let out = self.try_kubectl(args, stdin_yaml);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            stdin_yaml.unwrap_or_default()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` of a multi-document YAML stream.
    pub fn apply(&self, yaml: &str) {
        self.kubectl(&["apply", "-f", "-"], Some(yaml));
    }

    /// `kubectl create -f -` of one object; returns its `metadata.uid`.
    pub fn create_uid(&self, yaml: &str) -> String {
        self.kubectl(
            &["create", "-f", "-", "-o", "jsonpath={.metadata.uid}"],
            Some(yaml),
        )
        .trim()
        .to_owned()
    }

    /// Marks pods Running (the server has no kubelet: pods stay Pending).
    pub fn mark_running(&self, namespace: &str, pods: &[&str]) {
        if pods.is_empty() {
            return;
        }
        let mut args = vec!["patch", "pod"];
        args.extend_from_slice(pods);
        args.extend_from_slice(&[
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ]);
        self.kubectl(&args, None);
    }

    /// A bearer token for a new ServiceAccount `name` in `namespace` (the
    /// TokenRequest API: the server has no token controller).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        self.kubectl(&["create", "serviceaccount", name, "-n", namespace], None);
        self.kubectl(
            &["create", "token", name, "-n", namespace, "--duration=1h"],
            None,
        )
        .trim()
        .to_owned()
    }

    /// Deletes a cluster-scoped object when dropped (also when the test
    /// panics), e.g. a MutatingWebhookConfiguration that would otherwise
    /// affect the next runs.
    pub fn delete_on_drop(&self, kind: &str, name: &str) -> DeleteOnDrop<'_> {
        DeleteOnDrop {
            server: self,
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: None,
        }
    }

    /// [`Apiserver::delete_on_drop`] for an object of `namespace`.
    pub fn delete_in_on_drop(&self, kind: &str, name: &str, namespace: &str) -> DeleteOnDrop<'_> {
        DeleteOnDrop {
            server: self,
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()),
        }
    }

    /// Installs the `kubectl-inject.dev` CRDs users install
    /// (`deploy/crds.yaml`) and waits until they are established. Several
    /// test processes may race to create them: a failed apply is retried
    /// while they are still missing.
    pub fn install_crds(&self) {
        const CRDS: [&str; 3] = [
            "crd/clusterinjectionpolicies.kubectl-inject.dev",
            "crd/injectionpolicies.kubectl-inject.dev",
            "crd/sidecartemplates.kubectl-inject.dev",
        ];
        let yaml = std::fs::read_to_string(super::package_root().join("deploy/crds.yaml"))
            .expect("deploy/crds.yaml is readable");
        let mut tries = 0;
        loop {
            let out = self.try_kubectl(&["apply", "-f", "-"], Some(&yaml));
            tries += 1;
            if out.status.success() {
                break;
            }
            let mut get = vec!["get"];
            get.extend_from_slice(&CRDS);
            let present = self.try_kubectl(&get, None).status.success();
            assert!(
                present || tries < 5,
                "installing deploy/crds.yaml: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if present {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let mut wait = vec!["wait", "--for=condition=established", "--timeout=30s"];
        wait.extend_from_slice(&CRDS);
        self.kubectl(&wait, None);
    }
}

pub struct DeleteOnDrop<'a> {
    server: &'a Apiserver,
    kind: String,
    name: String,
    namespace: Option<String>,
}

impl Drop for DeleteOnDrop<'_> {
    fn drop(&mut self) {
        let mut args = vec!["delete", &self.kind, &self.name, "--ignore-not-found"];
        if let Some(namespace) = &self.namespace {
            args.extend_from_slice(&["-n", namespace]);
        }
        let _ = self.server.try_kubectl(&args, None);
    }
}

/// `base` with a suffix that differs between processes and runs: the
/// server (and its namespaces) outlive a test run.
pub fn unique(base: &str) -> String {
    static SUFFIX: OnceLock<String> = OnceLock::new();
    let suffix = SUFFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut n = (nanos ^ (u128::from(std::process::id()) << 40)) % 36u128.pow(6);
        let mut s = String::new();
        for _ in 0..6 {
            s.push(char::from_digit((n % 36) as u32, 36).unwrap());
            n /= 36;
        }
        s
    });
    format!("{base}-{suffix}")
}

/// What a run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// The stdout as JSON (the `--format json` report); panics with both
    /// streams when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    /// Whether stderr says `words`: case-insensitive, ignoring whitespace and
    /// the frame of the diagnostic (miette wraps long messages, also inside
    /// names: `silent-` / `│ ctx`).
    pub fn says(&self, words: &str) -> bool {
        flat(&self.stderr).contains(&flat(words))
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(&self, codes: &[i32]) -> &Self {
        assert!(
            self.code.is_some_and(|c| codes.contains(&c)),
            "exit {:?}, expected one of {codes:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts a failure is reported as a message, not a crash.
    pub fn expect_no_crash(&self) -> &Self {
        for crash in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
            assert!(
                !self.stderr.contains(crash),
                "the tool crashed instead of reporting:\n{}",
                self.stderr
            );
        }
        self
    }
}

fn flat(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '│' | '×' | '╭' | '╰' | '─' | '┆' | '·'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Runs the binary with `args` and `env` (no other KUBECONFIG, no
/// configuration file from the package), in a temporary directory, killing
/// it after `deadline`.
pub fn inject(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
    let cwd = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBECTL_INJECT_PAGE_SIZE")
        .env("HOME", cwd.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the binary runs");
    // Read both pipes on threads so a full pipe cannot block the child.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kubectl-inject {args:?} still ran after {deadline:?} (killed); stderr:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// A Namespace with `labels` (`key: value` strings), as YAML for `apply`.
pub fn namespace(name: &str, labels: &[&str]) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels: {{{}}}
---
",
        labels.join(", ")
    )
}

/// A bare Pod labelled `app: NAME`, with one container and no sidecar.
pub fn pod(ns: &str, name: &str) -> String {
    pod_with(ns, name, &format!("labels: {{app: {name}}}"))
}

/// A Pod whose metadata has `meta` (YAML at the indentation of `name:`).
pub fn pod_with(ns: &str, name: &str, meta: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  {meta}
spec:
  containers:
    - name: app
      image: registry.example.com/{name}:1.0.0
---
"
    )
}
