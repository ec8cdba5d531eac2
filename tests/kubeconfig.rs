//! How `simulate --live` finds its cluster: real kubeconfig files (several
//! contexts, `--context`, `--cluster`, `--user`, the context's namespace,
//! `KUBECONFIG` with several files, exec credential plugins, client
//! certificates) against a real kube-apiserver (tests/common/apiserver.rs
//! says where it comes from and when these tests skip or fail).
//!
//! Each test reads a namespace of its own holding one Pod; seeing that Pod in
//! the report proves the connection and the credentials were the right ones.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::apiserver::{ADMIN_TOKEN, Apiserver, Run, VIEWER_TOKEN, apiserver, inject, unique};

const DEADLINE: Duration = Duration::from_secs(90);

/// envoy-proxy 1.4.0 and the policy that selects it.
fn policies() -> String {
    [
        common::envoy_template("1.4.0", "1.31.2"),
        common::mesh_policy("envoy-proxy@1.4.0"),
    ]
    .join("---\n")
}

/// A temporary directory with the policy repository (`policy.yaml`) and
/// whatever kubeconfigs and scripts the test writes.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: common::tree(&[("policy/policy.yaml", &policies())]),
        }
    }

    fn policies(&self) -> String {
        self.path("policy")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn script(&self, name: &str, text: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(name, text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

/// A namespace of the test's own with one Running Pod `web`.
fn namespace_with_pod(api: &Apiserver, base: &str) -> String {
    let ns = unique(base);
    api.apply(&format!(
        "apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {ns}, labels: {{app: web}}}}
spec:
  containers: [{{name: web, image: registry.example.com/web:1.0.0}}]
"
    ));
    api.mark_running(&ns, &["web"]);
    ns
}

/// `simulate --live --format json POLICIES ARGS…` with `env`.
fn simulate(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Run {
    let policies = scratch.policies();
    let mut all = vec!["simulate", "--live", "--format", "json", &policies];
    all.extend_from_slice(args);
    inject(&all, env, DEADLINE)
}

fn pods(run: &Run) -> Vec<(String, String)> {
    let report = run.json();
    report["workloads"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|w| w["kind"] == "Pod" || w["object"]["kind"] == "Pod")
        .map(|w| {
            let field = |k: &str| {
                w[k].as_str()
                    .or_else(|| w["object"][k].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (field("namespace"), field("name"))
        })
        .collect()
}

/// The run got through and read `ns`'s Pod `web`.
fn assert_sees(run: &Run, ns: &str) {
    run.expect_code(&[0, 1]).expect_no_crash();
    let pods = pods(run);
    assert!(
        pods.contains(&(ns.to_owned(), "web".to_owned())),
        "the report has {ns}/web; it has {pods:?}\nstderr:\n{}",
        run.stderr
    );
}

/// The run stopped with exit 2 and a message (no crash) that contains one of
/// `words` (case-insensitive).
fn assert_refused(run: &Run, words: &[&str]) {
    run.expect_code(&[2]).expect_no_crash();
    assert!(
        words.iter().any(|w| run.says(w)),
        "stderr names one of {words:?}:\n{}",
        run.stderr
    );
}

/// A kubeconfig with the clusters `test` (the server) and `nowhere`
/// (nothing listens), the users `admin` and `viewer`, and `contexts`
/// (`name: {cluster: …, user: …}` flow entries), current `current`.
fn several_contexts(api: &Apiserver, contexts: &[(&str, &str)], current: &str) -> String {
    let contexts: String = contexts
        .iter()
        .map(|(name, context)| format!("- name: {name}\n  context: {context}\n"))
        .collect();
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {}
- name: nowhere
  cluster: {{server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}}
users:
- name: admin
  user: {{token: {ADMIN_TOKEN}}}
- name: viewer
  user: {{token: {VIEWER_TOKEN}}}
contexts:
{contexts}current-context: {current}
",
        api.cluster_entry()
    )
}

/// Contexts `admin-ctx`, `viewer-ctx` (no permissions) and `nowhere-ctx`
/// (an unreachable cluster), all in namespace `ns`; `current` is current.
fn three_contexts(api: &Apiserver, ns: &str, current: &str) -> String {
    several_contexts(
        api,
        &[
            (
                "admin-ctx",
                &format!("{{cluster: test, user: admin, namespace: {ns}}}"),
            ),
            (
                "viewer-ctx",
                &format!("{{cluster: test, user: viewer, namespace: {ns}}}"),
            ),
            (
                "nowhere-ctx",
                &format!("{{cluster: nowhere, user: admin, namespace: {ns}}}"),
            ),
        ],
        current,
    )
}

#[test]
fn context_flag_picks_among_several_contexts() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-contexts");
    let scratch = Scratch::new();
    let kc = scratch.write("config", &three_contexts(api, &ns, "viewer-ctx"));

    // The current context is the viewer's, who may read nothing.
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_refused(&run, &["forbidden", "cannot"]);

    let run = simulate(
        &scratch,
        &["--kubeconfig", &kc, "--context", "admin-ctx"],
        &[],
    );
    assert_sees(&run, &ns);

    let run = simulate(
        &scratch,
        &["--kubeconfig", &kc, "--context", "nowhere-ctx"],
        &[],
    );
    assert_refused(&run, &["127.0.0.1:1"]);
    assert!(run.says("nowhere-ctx"), "{}", run.stderr);

    let run = simulate(
        &scratch,
        &["--kubeconfig", &kc, "--context", "no-such-ctx"],
        &[],
    );
    assert_refused(&run, &["no-such-ctx"]);
}

#[test]
fn cluster_and_user_flags_override_the_context() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-override");
    let scratch = Scratch::new();
    let kc = scratch.write("config", &three_contexts(api, &ns, "nowhere-ctx"));

    // The context's cluster is unreachable; --cluster names the real one.
    let run = simulate(&scratch, &["--kubeconfig", &kc, "--cluster", "test"], &[]);
    assert_sees(&run, &ns);
    let run = simulate(
        &scratch,
        &[
            "--kubeconfig",
            &kc,
            "--context",
            "nowhere-ctx",
            "--cluster",
            "test",
        ],
        &[],
    );
    assert_sees(&run, &ns);

    // --user replaces the context's user, both ways.
    let run = simulate(
        &scratch,
        &[
            "--kubeconfig",
            &kc,
            "--context",
            "admin-ctx",
            "--user",
            "viewer",
        ],
        &[],
    );
    assert_refused(&run, &["forbidden", "cannot"]);
    let run = simulate(
        &scratch,
        &[
            "--kubeconfig",
            &kc,
            "--context",
            "viewer-ctx",
            "--user",
            "admin",
        ],
        &[],
    );
    assert_sees(&run, &ns);
}

/// kubectl: `error: auth info "no-such-user" does not exist`, `no server
/// found for cluster "no-such-cluster"`.
#[test]
fn names_missing_from_the_kubeconfig_exit_2_naming_them() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-unknown");
    let scratch = Scratch::new();
    let kc = scratch.write(
        "config",
        &several_contexts(
            api,
            &[(
                "admin-ctx",
                &format!("{{cluster: test, user: admin, namespace: {ns}}}"),
            )],
            "admin-ctx",
        ),
    );
    let run = simulate(
        &scratch,
        &[
            "--kubeconfig",
            &kc,
            "--context",
            "admin-ctx",
            "--user",
            "no-such-user",
        ],
        &[],
    );
    assert_refused(&run, &["no-such-user"]);
    let run = simulate(
        &scratch,
        &[
            "--kubeconfig",
            &kc,
            "--context",
            "admin-ctx",
            "--cluster",
            "no-such-cluster",
        ],
        &[],
    );
    assert_refused(&run, &["no-such-cluster"]);
}

#[test]
fn the_context_namespace_is_used_without_n() {
    let Some(api) = apiserver() else { return };
    let one = namespace_with_pod(api, "kc-ns-one");
    let two = namespace_with_pod(api, "kc-ns-two");
    let scratch = Scratch::new();
    let kc = scratch.write(
        "config",
        &several_contexts(
            api,
            &[
                (
                    "in-one",
                    &format!("{{cluster: test, user: admin, namespace: {one}}}"),
                ),
                ("no-namespace", "{cluster: test, user: admin}"),
            ],
            "in-one",
        ),
    );

    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &one);
    assert!(
        pods(&run).iter().all(|(ns, _)| *ns == one),
        "only the context's namespace is read: {:?}",
        pods(&run)
    );

    // -n wins over the context's namespace.
    let run = simulate(&scratch, &["--kubeconfig", &kc, "-n", &two], &[]);
    assert_sees(&run, &two);
    assert!(
        pods(&run).iter().all(|(ns, _)| *ns == two),
        "{:?}",
        pods(&run)
    );

    // A context without a namespace reads `default`, as kubectl does.
    let pod = unique("kc-in-default");
    api.apply(&format!(
        "apiVersion: v1
kind: Pod
metadata: {{name: {pod}, namespace: default, labels: {{app: web}}}}
spec:
  containers: [{{name: web, image: registry.example.com/web:1.0.0}}]
"
    ));
    let run = simulate(
        &scratch,
        &["--kubeconfig", &kc, "--context", "no-namespace"],
        &[],
    );
    run.expect_code(&[0, 1]).expect_no_crash();
    let seen = pods(&run);
    assert!(
        seen.contains(&("default".to_owned(), pod.clone())),
        "{seen:?}"
    );
    assert!(seen.iter().all(|(ns, _)| ns == "default"), "{seen:?}");
}

/// Two kubeconfig files for `KUBECONFIG`: `a.yaml` has the cluster, a user
/// `me` (admin) and the current context `ctx-a`; `b.yaml` has the contexts
/// (in `ns`), users (`me` again, the viewer, which loses to a's when a comes
/// first) and another current context, `ctx-b` (the viewer's).
fn merge_files(api: &Apiserver, scratch: &Scratch, ns: &str) -> (String, String) {
    let a = scratch.write(
        "a.yaml",
        &format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {}
users:
- name: me
  user: {{token: {ADMIN_TOKEN}}}
current-context: ctx-a
",
            api.cluster_entry()
        ),
    );
    let b = scratch.write(
        "b.yaml",
        &format!(
            "apiVersion: v1
kind: Config
users:
- name: me
  user: {{token: {VIEWER_TOKEN}}}
- name: them
  user: {{token: {VIEWER_TOKEN}}}
contexts:
- name: ctx-a
  context: {{cluster: test, user: me, namespace: {ns}}}
- name: ctx-b
  context: {{cluster: test, user: them, namespace: {ns}}}
current-context: ctx-b
"
        ),
    );
    (a, b)
}

#[test]
fn kubeconfig_env_merges_files_and_the_first_wins() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-merge");
    let scratch = Scratch::new();
    let (a, b) = merge_files(api, &scratch, &ns);
    let merged = format!("{a}:{b}");

    // kubectl's own reading, as the reference.
    let kubectl = Command::new("kubectl")
        .args([
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            "jsonpath={.contexts[0].name} {.users[0].user.token}",
        ])
        .env("KUBECONFIG", &merged)
        .output()
        .expect("kubectl runs");
    assert_eq!(
        String::from_utf8_lossy(&kubectl.stdout),
        format!("ctx-a {ADMIN_TOKEN}"),
        "kubectl's merge: {kubectl:?}"
    );

    let run = simulate(&scratch, &[], &[("KUBECONFIG", &merged)]);
    assert_sees(&run, &ns);

    // The other order: b's current context and b's `me` (the viewer).
    let run = simulate(&scratch, &[], &[("KUBECONFIG", &format!("{b}:{a}"))]);
    assert_refused(&run, &["forbidden", "cannot"]);
    let run = simulate(
        &scratch,
        &["--context", "ctx-a"],
        &[("KUBECONFIG", &format!("{b}:{a}"))],
    );
    assert_refused(&run, &["forbidden", "cannot"]);

    // --kubeconfig wins over KUBECONFIG.
    let viewer = scratch.write(
        "viewer.yaml",
        &api.kubeconfig_with("v", &format!("{{token: {VIEWER_TOKEN}}}"), Some(&ns)),
    );
    let run = simulate(
        &scratch,
        &["--kubeconfig", &viewer],
        &[("KUBECONFIG", &merged)],
    );
    assert_refused(&run, &["forbidden", "cannot"]);
}

/// kubectl skips the files of KUBECONFIG that do not exist.
#[test]
fn a_missing_file_in_kubeconfig_env_is_skipped() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-merge-missing");
    let scratch = Scratch::new();
    let (a, b) = merge_files(api, &scratch, &ns);
    let missing = scratch.path("missing.yaml");
    let run = simulate(
        &scratch,
        &[],
        &[("KUBECONFIG", &format!("{missing}:{a}:{b}"))],
    );
    assert_sees(&run, &ns);
}

fn exec_user(command: &str, extra: &str) -> String {
    format!(
        "
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: \"{command}\"
      interactiveMode: Never{extra}"
    )
}

const CREDENTIAL: &str = r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"admin-token"}}"#;

#[test]
fn exec_credential_plugins() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-exec");
    let scratch = Scratch::new();

    let plugin = scratch.script(
        "credential.sh",
        &format!("#!/bin/sh\nprintf '%s\\n' '{CREDENTIAL}'\n"),
    );
    let kc = scratch.write(
        "plugin.yaml",
        &api.kubeconfig_with("exec", &exec_user(&plugin, ""), Some(&ns)),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &ns);

    // args and env reach the plugin.
    let kc = scratch.write(
        "args.yaml",
        &api.kubeconfig_with(
            "exec",
            &exec_user(
                "/bin/sh",
                r#"
      args: ["-c", "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$THE_TOKEN\""]
      env: [{name: THE_TOKEN, value: admin-token}]"#,
            ),
            Some(&ns),
        ),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &ns);
}

/// A token that expires within the minute is renewed before each request,
/// by running the plugin again (kubectl-inject runs plugins itself).
#[test]
fn an_expiring_exec_token_is_renewed() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-exec-renew");
    let scratch = Scratch::new();
    let runs = scratch.path("runs");
    let plugin = scratch.script(
        "expiring-credential.sh",
        &format!(
            "#!/bin/sh\necho run >> '{runs}'\nexpires=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)\n\
             printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\
             \"status\":{{\"token\":\"admin-token\",\"expirationTimestamp\":\"%s\"}}}}' \"$expires\"\n"
        ),
    );
    let kc = scratch.write(
        "expiring.yaml",
        &api.kubeconfig_with("exec", &exec_user(&plugin, ""), Some(&ns)),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &ns);
    let runs = std::fs::read_to_string(&runs).unwrap_or_default();
    assert!(
        runs.lines().count() >= 2,
        "the plugin ran again to renew the token: {} runs",
        runs.lines().count()
    );
}

#[test]
fn a_failing_exec_plugin_exits_2_with_a_message() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-exec-fail");
    let scratch = Scratch::new();

    let plugin = scratch.script(
        "failing-credential.sh",
        "#!/bin/sh\necho 'error: not logged in, run `acme login`' >&2\nexit 1\n",
    );
    let kc = scratch.write(
        "fails.yaml",
        &api.kubeconfig_with("exec", &exec_user(&plugin, ""), Some(&ns)),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_refused(&run, &["failing-credential.sh", "not logged in"]);
    assert!(
        run.says("failing-credential.sh") && run.says("not logged in"),
        "names the plugin and what it said:\n{}",
        run.stderr
    );
    // The plugin failed before any request: the API server refused nothing.
    assert!(
        !run.says("API server"),
        "the API server is not to blame:\n{}",
        run.stderr
    );
    // Clear: what failed and what it said, not Rust's debug print of it.
    for debug in ["Output {", "ExitStatus(", "unix_wait_status"] {
        assert!(
            !run.stderr.contains(debug),
            "the message is for people, not a debug print:\n{}",
            run.stderr
        );
    }
}

/// An exec plugin that never answers is stopped at `--request-timeout`, and
/// the message names it and the time it had; one that prints without end is
/// stopped at the output limit. Neither is the API server's fault.
#[test]
fn a_hanging_or_endless_exec_plugin_is_stopped_and_named() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-exec-hang");
    let scratch = Scratch::new();

    let plugin = scratch.script(
        "hanging-credential.sh",
        "#!/bin/sh\necho 'waiting for the browser login' >&2\nsleep 120\n",
    );
    let kc = scratch.write(
        "hangs.yaml",
        &api.kubeconfig_with("exec", &exec_user(&plugin, ""), Some(&ns)),
    );
    let policies = scratch.policies();
    let run = inject(
        &[
            "simulate",
            "--live",
            "--format",
            "json",
            &policies,
            "--kubeconfig",
            &kc,
            "--request-timeout",
            "2s",
        ],
        &[],
        Duration::from_secs(20),
    );
    assert_refused(&run, &["hanging-credential.sh"]);
    assert!(
        run.says("within 2s") && run.says("--request-timeout"),
        "says how long it waited and why:\n{}",
        run.stderr
    );
    assert!(
        run.says("waiting for the browser login"),
        "shows what the plugin said:\n{}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "stopped at the timeout, took {:?}",
        run.elapsed
    );
    assert!(
        !run.says("API server"),
        "the API server is not to blame:\n{}",
        run.stderr
    );

    // Output without end (`yes`): stopped at the limit, not read for ever.
    let kc = scratch.write(
        "endless.yaml",
        &api.kubeconfig_with("exec", &exec_user("yes", ""), Some(&ns)),
    );
    let run = inject(
        &[
            "simulate",
            "--live",
            "--format",
            "json",
            &policies,
            "--kubeconfig",
            &kc,
        ],
        &[],
        Duration::from_secs(20),
    );
    assert_refused(&run, &["`yes`"]);
    assert!(run.says("MiB"), "names the limit:\n{}", run.stderr);
}

/// kubectl: `exec: executable /nonexistent/acme-credential-helper not found`.
#[test]
fn an_absent_exec_plugin_is_named() {
    let Some(api) = apiserver() else { return };
    let ns = namespace_with_pod(api, "kc-exec-absent");
    let scratch = Scratch::new();
    let kc = scratch.write(
        "absent.yaml",
        &api.kubeconfig_with(
            "exec",
            &exec_user("/nonexistent/acme-credential-helper", ""),
            Some(&ns),
        ),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_refused(&run, &["acme-credential-helper"]);
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn base64(path: &Path) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .arg(path)
        .output()
        .expect("base64 runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn client_certificate_users() {
    let Some(api) = apiserver() else { return };
    let Some(pki) = api.pki() else {
        eprintln!("skipped: the server's CA key is not at hand (KUBE_APISERVER_KUBECONFIG)");
        return;
    };
    let ns = namespace_with_pod(api, "kc-cert");
    let scratch = Scratch::new();
    let dir = scratch.dir.path();
    let ca_crt = pki.join("ca.crt");
    let ca_key = pki.join("ca.key");
    let serial = format!("0x{}", std::process::id());

    // admin in system:masters, signed by the server's client CA; a random
    // serial so that nothing is written beside the CA.
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "admin.key",
            "-out",
            "admin.csr",
            "-subj",
            "/O=system:masters/CN=admin",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "admin.csr",
            "-CA",
            ca_crt.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            "-set_serial",
            &serial,
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "admin.crt",
        ],
    );
    // The same key in the PKCS#1 form ("BEGIN RSA PRIVATE KEY") that
    // kubeadm and kind write.
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "admin.key",
            "-traditional",
            "-out",
            "admin-rsa.key",
        ],
    );
    let path = |name: &str| -> PathBuf { dir.join(name) };

    // Files (PKCS#8 key).
    let kc = scratch.write(
        "files.yaml",
        &api.kubeconfig_with(
            "cert",
            &format!(
                "{{client-certificate: \"{}\", client-key: \"{}\"}}",
                path("admin.crt").display(),
                path("admin.key").display()
            ),
            Some(&ns),
        ),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &ns);

    // Embedded data (PKCS#1 key), the CA embedded too.
    let kc = scratch.write(
        "data.yaml",
        &format!(
            "apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {{server: \"{}\", certificate-authority-data: \"{}\"}}
users:
- name: cert
  user: {{client-certificate-data: \"{}\", client-key-data: \"{}\"}}
contexts:
- name: cert
  context: {{cluster: test, user: cert, namespace: {ns}}}
current-context: cert
",
            api.server,
            base64(&ca_crt),
            base64(&path("admin.crt")),
            base64(&path("admin-rsa.key")),
        ),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_sees(&run, &ns);

    // A certificate the server does not trust: 401, reported, exit 2.
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "self.key",
            "-out",
            "self.crt",
            "-days",
            "1",
            "-subj",
            "/O=system:masters/CN=admin",
        ],
    );
    let kc = scratch.write(
        "untrusted.yaml",
        &api.kubeconfig_with(
            "cert",
            &format!(
                "{{client-certificate: \"{}\", client-key: \"{}\"}}",
                path("self.crt").display(),
                path("self.key").display()
            ),
            Some(&ns),
        ),
    );
    let run = simulate(&scratch, &["--kubeconfig", &kc], &[]);
    assert_refused(&run, &["unauthorized", "401"]);
}

#[test]
fn a_missing_or_broken_kubeconfig_exits_2() {
    // Needs no server.
    let scratch = Scratch::new();
    let missing = scratch.path("no-such-kubeconfig");
    let run = simulate(&scratch, &["--kubeconfig", &missing], &[]);
    assert_refused(&run, &["no-such-kubeconfig"]);

    let broken = scratch.write("broken.yaml", "apiVersion: v1\nkind: Config\nclusters: [\n");
    let run = simulate(&scratch, &["--kubeconfig", &broken], &[]);
    assert_refused(&run, &["broken.yaml"]);
}

/// Files read whole on the user's word are read up to a limit: `/dev/zero`
/// as the kubeconfig, in `KUBECONFIG`, as a token file, a client
/// certificate or a CA is refused at once, naming the file and the limit,
/// instead of being read until memory runs out.
#[test]
fn endless_kubeconfig_files_are_refused_at_the_limit() {
    // Needs no server: the files are read before any connection.
    let scratch = Scratch::new();
    let quick = Duration::from_secs(20);
    let policies = scratch.policies();
    let live = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["simulate", "--live", "--format", "json", policies.as_str()];
        all.extend_from_slice(args);
        inject(&all, env, quick)
    };
    let limited = |run: &Run, file: &str| {
        assert_refused(run, &[file]);
        assert!(
            run.says(file) && run.says("MiB"),
            "names {file} and the limit:\n{}",
            run.stderr
        );
    };
    limited(&live(&["--kubeconfig", "/dev/zero"], &[]), "/dev/zero");
    limited(&live(&[], &[("KUBECONFIG", "/dev/zero")]), "/dev/zero");

    let cluster = "{server: \"https://127.0.0.1:1\", insecure-skip-tls-verify: true}";
    let kubeconfig = |user: &str, cluster: &str| {
        format!(
            "apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {cluster}}}]
users: [{{name: u, user: {user}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"
        )
    };
    for (name, user, cluster) in [
        ("token-file.yaml", "{tokenFile: /dev/zero}", cluster),
        (
            "client-cert.yaml",
            "{client-certificate: /dev/zero, client-key: /dev/zero}",
            cluster,
        ),
        (
            "ca.yaml",
            "{token: t}",
            "{server: \"https://127.0.0.1:1\", certificate-authority: /dev/zero}",
        ),
    ] {
        let kc = scratch.write(name, &kubeconfig(user, cluster));
        limited(&live(&["--kubeconfig", &kc], &[]), "/dev/zero");
    }
}
