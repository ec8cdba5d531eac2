//! Exec credential plugins (a kubeconfig user's `exec:`), run here rather
//! than by kube-client, which waits for them without end and reads all they
//! print: a plugin that hangs is stopped at `--request-timeout` (else at
//! [`DEFAULT_TIMEOUT`]), one that prints without end at [`MAX_OUTPUT`], and
//! either is named in the error, with what it said on stderr.
//!
//! The plugin runs as kubectl runs it: its `args` and `env`,
//! `KUBERNETES_EXEC_INFO` (with the cluster when `provideClusterInfo`), the
//! terminal's stdin and stderr when it may be interactive. Its token is
//! added to each request by [`ExecTokenLayer`], which runs the plugin again
//! (with the same bounds) when the token is about to expire; a client
//! certificate it gives becomes the connection's.

use std::future::Future;
use std::io::{IsTerminal, Read};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Request;
use hyper::header::{AUTHORIZATION, HeaderValue};
use kube::config::{ExecConfig, ExecInteractiveMode};
use serde::Deserialize;
use wait_timeout::ChildExt;

/// How long a plugin may take without `--request-timeout` (or with `0`,
/// which only means "no limit" to the API requests).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a plugin that may talk to the user on the terminal may take
/// without `--request-timeout`: a browser or device-code login.
pub const INTERACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The most a plugin may print on stdout (an ExecCredential is a few KiB).
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// How much of what a plugin prints on stderr is kept for messages.
const STDERR_KEPT: usize = 4 * 1024;

/// A kubeconfig user's exec plugin and how long it may take.
#[derive(Debug, Clone)]
pub struct Plugin {
    config: ExecConfig,
    /// The command as the kubeconfig names it.
    pub command: String,
    interactive: bool,
    timeout: Duration,
    /// Whether `timeout` is `--request-timeout`'s.
    timeout_from_flag: bool,
}

/// What a plugin gave.
#[derive(Debug, Clone, Default)]
pub struct Credential {
    pub token: Option<String>,
    pub expiration: Option<jiff::Timestamp>,
    /// PEM.
    pub client_certificate_data: Option<String>,
    /// PEM.
    pub client_key_data: Option<String>,
}

/// Why a plugin gave no credential; each message names the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError(pub String);

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExecError {}

#[derive(Deserialize)]
struct ExecCredential {
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    token: Option<String>,
    expiration_timestamp: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

impl Plugin {
    /// The plugin of `config`, bounded by `request_timeout` when it is set.
    pub fn new(config: ExecConfig, request_timeout: Option<Duration>) -> Result<Plugin, ExecError> {
        let command = config
            .command
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ExecError("the kubeconfig user's exec plugin has no command".into()))?;
        // As client-go: interactive only when allowed and stdin is a terminal.
        let interactive = config.interactive_mode != Some(ExecInteractiveMode::Never)
            && std::io::stdin().is_terminal();
        let (timeout, timeout_from_flag) = match request_timeout {
            Some(timeout) => (timeout, true),
            None if interactive => (INTERACTIVE_TIMEOUT, false),
            None => (DEFAULT_TIMEOUT, false),
        };
        Ok(Plugin {
            config,
            command,
            interactive,
            timeout,
            timeout_from_flag,
        })
    }

    /// How long the plugin may take, and why, for messages.
    fn timeout_text(&self) -> String {
        let time = crate::words::duration(self.timeout);
        if self.timeout_from_flag {
            format!("{time} (--request-timeout)")
        } else {
            format!("{time} (the default without --request-timeout)")
        }
    }

    fn command(&self) -> Result<Command, ExecError> {
        let mut command = Command::new(&self.command);
        if let Some(args) = &self.config.args {
            command.args(args);
        }
        for entry in self.config.env.iter().flatten() {
            if let (Some(name), Some(value)) = (entry.get("name"), entry.get("value")) {
                command.env(name, value);
            }
        }
        let info = serde_json::json!({
            "apiVersion": self.config.api_version,
            "kind": "ExecCredential",
            "spec": {
                "interactive": self.interactive,
                "cluster": if self.config.provide_cluster_info {
                    serde_json::to_value(&self.config.cluster).unwrap_or_default()
                } else {
                    serde_json::Value::Null
                },
            },
        });
        command.env("KUBERNETES_EXEC_INFO", info.to_string());
        for name in self.config.drop_env.iter().flatten() {
            command.env_remove(name);
        }
        command.stdout(Stdio::piped());
        if self.interactive {
            command.stdin(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            command.stdin(Stdio::null()).stderr(Stdio::piped());
            // Its own process group, so that what it started is stopped
            // with it (an interactive plugin stays in the terminal's, or
            // reading it would stop it).
            #[cfg(unix)]
            {
                use std::os::unix::process::CommandExt;
                command.process_group(0);
            }
        }
        Ok(command)
    }

    /// Runs the plugin (blocking) and reads its ExecCredential.
    pub fn run(&self) -> Result<Credential, ExecError> {
        let name = &self.command;
        let mut child = self.command()?.spawn().map_err(|e| {
            let hint = match (&self.config.install_hint, e.kind()) {
                (Some(hint), std::io::ErrorKind::NotFound) => format!("\n{}", hint.trim()),
                _ => String::new(),
            };
            ExecError(format!(
                "cannot run the credential plugin `{name}`: {e}{hint}"
            ))
        })?;
        let started = Instant::now();
        let deadline = started + self.timeout;
        let overflow = Arc::new(AtomicBool::new(false));
        let stdout = drain(child.stdout.take(), MAX_OUTPUT, Some(overflow.clone()));
        let stderr = drain(child.stderr.take(), STDERR_KEPT, None);

        let too_much = || {
            ExecError(format!(
                "the credential plugin `{name}` printed more than {} on stdout; an ExecCredential is a few KiB",
                crate::whole_file::size(MAX_OUTPUT as u64)
            ))
        };
        let status = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if overflow.load(Ordering::Relaxed) {
                stop(&mut child, self.interactive);
                return Err(too_much());
            }
            if left.is_zero() {
                stop(&mut child, self.interactive);
                return Err(ExecError(format!(
                    "the credential plugin `{name}` did not finish within {}{}",
                    self.timeout_text(),
                    said(&stderr)
                )));
            }
            match child.wait_timeout(left.min(Duration::from_millis(50))) {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => {
                    stop(&mut child, self.interactive);
                    return Err(ExecError(format!(
                        "waiting for the credential plugin `{name}`: {e}"
                    )));
                }
            }
        };
        // It exited; something it started may still hold its stdout open:
        // the deadline covers the reading too.
        let out = loop {
            // Stopped reading at the limit (the plugin may have died of it).
            if overflow.load(Ordering::Relaxed) {
                kill_group(&child, self.interactive);
                return Err(too_much());
            }
            if let Some(out) = stdout.take_if_done() {
                break out;
            }
            if Instant::now() >= deadline {
                kill_group(&child, self.interactive);
                return Err(ExecError(format!(
                    "the credential plugin `{name}` exited but its output did not end within {}",
                    self.timeout_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if !status.success() {
            // Its last words may still be in the pipe.
            wait_for_end(&stderr, deadline);
            let code = status
                .code()
                .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
            return Err(ExecError(format!(
                "the credential plugin `{name}` failed ({code}){}",
                said(&stderr)
            )));
        }
        parse(name, &out)
    }
}

/// Waits, until `deadline`, for `pipe` to end (a plugin's children may hold
/// it open).
fn wait_for_end(pipe: &Drain, deadline: Instant) {
    while pipe.take_if_done().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What the plugin said on stderr, as `: …` for a message (nothing when it
/// said nothing, or when it spoke to the terminal).
fn said(stderr: &Drain) -> String {
    let text = stderr.so_far();
    let text = String::from_utf8_lossy(&text);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn parse(name: &str, out: &[u8]) -> Result<Credential, ExecError> {
    let credential: ExecCredential = serde_json::from_slice(out)
        .or_else(|_| serde_saphyr::from_slice(out))
        .map_err(|e| {
            ExecError(format!(
                "the credential plugin `{name}` did not print an ExecCredential: {e}"
            ))
        })?;
    let status = credential.status.ok_or_else(|| {
        ExecError(format!(
            "the credential plugin `{name}` printed an ExecCredential without a status"
        ))
    })?;
    let expiration = status
        .expiration_timestamp
        .map(|ts| {
            ts.parse::<jiff::Timestamp>().map_err(|e| {
                ExecError(format!(
                    "the credential plugin `{name}` gave an expirationTimestamp that is not RFC 3339 (`{ts}`): {e}"
                ))
            })
        })
        .transpose()?;
    let certificate = status.client_certificate_data.is_some() && status.client_key_data.is_some();
    if status.token.is_none() && !certificate {
        return Err(ExecError(format!(
            "the credential plugin `{name}` gave neither a token nor a client certificate and key"
        )));
    }
    Ok(Credential {
        token: status.token,
        expiration,
        client_certificate_data: status.client_certificate_data,
        client_key_data: status.client_key_data,
    })
}

/// A pipe read to its end on a thread of its own, keeping at most `keep`
/// bytes (`overflow`, when given, is set past them; else the rest is read
/// and dropped so that the writer never blocks).
struct Drain {
    kept: Arc<std::sync::Mutex<(Vec<u8>, bool)>>,
}

impl Drain {
    /// Everything kept, once the pipe has ended.
    fn take_if_done(&self) -> Option<Vec<u8>> {
        let kept = self.kept.lock().ok()?;
        kept.1.then(|| kept.0.clone())
    }

    fn so_far(&self) -> Vec<u8> {
        self.kept.lock().map(|k| k.0.clone()).unwrap_or_default()
    }
}

fn drain(
    pipe: Option<impl Read + Send + 'static>,
    keep: usize,
    overflow: Option<Arc<AtomicBool>>,
) -> Drain {
    let kept = Arc::new(std::sync::Mutex::new((Vec::new(), pipe.is_none())));
    if let Some(mut pipe) = pipe {
        let shared = kept.clone();
        let spawned = std::thread::Builder::new()
            .name("credential-plugin-output".into())
            .spawn(move || {
                let mut chunk = [0u8; 8192];
                loop {
                    let n = match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let Ok(mut kept) = shared.lock() else { break };
                    let room = keep.saturating_sub(kept.0.len());
                    kept.0.extend_from_slice(&chunk[..n.min(room)]);
                    if n > room
                        && let Some(overflow) = &overflow
                    {
                        overflow.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                if let Ok(mut kept) = shared.lock() {
                    kept.1 = true;
                }
            });
        if spawned.is_err()
            && let Ok(mut kept) = kept.lock()
        {
            kept.1 = true;
        }
    }
    Drain { kept }
}

/// Kills the plugin (and its process group) and reaps it.
fn stop(child: &mut Child, interactive: bool) {
    kill_group(child, interactive);
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
fn kill_group(child: &Child, interactive: bool) {
    use rustix::process::{Pid, Signal, kill_process_group};
    if interactive {
        return;
    }
    let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
    // Never pid 1: `kill(-1)` would signal every process we may signal.
    if let Some(pid) = pid.filter(|pid| pid.as_raw_nonzero().get() > 1) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_child: &Child, _interactive: bool) {}

/// The token of an exec plugin, renewed by running it again (on a blocking
/// thread, with the same bounds) when it expires within a minute.
pub struct ExecToken {
    plugin: Plugin,
    current: tokio::sync::Mutex<(String, Option<jiff::Timestamp>)>,
}

impl ExecToken {
    pub fn new(plugin: Plugin, token: String, expiration: Option<jiff::Timestamp>) -> ExecToken {
        ExecToken {
            plugin,
            current: tokio::sync::Mutex::new((token, expiration)),
        }
    }

    async fn header(&self) -> Result<HeaderValue, ExecError> {
        let mut current = self.current.lock().await;
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
        if current.1.is_some_and(|expires| expires <= soon) {
            let plugin = self.plugin.clone();
            let fresh = tokio::task::spawn_blocking(move || plugin.run())
                .await
                .map_err(|e| ExecError(format!("running the credential plugin: {e}")))??;
            let token = fresh.token.ok_or_else(|| {
                ExecError(format!(
                    "the credential plugin `{}` gave no token on renewal",
                    self.plugin.command
                ))
            })?;
            *current = (token, fresh.expiration);
        }
        let mut value = HeaderValue::try_from(format!("Bearer {}", current.0)).map_err(|_| {
            ExecError(format!(
                "the credential plugin `{}` gave a token that is not a valid header value",
                self.plugin.command
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Adds the exec plugin's token to every request (kube-client's own
/// authentication is not used for exec plugins).
#[derive(Clone)]
pub struct ExecTokenLayer(pub Arc<ExecToken>);

impl<S> tower::Layer<S> for ExecTokenLayer {
    type Service = ExecTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExecTokenService {
            inner: Arc::new(tokio::sync::Mutex::new(inner)),
            token: self.0.clone(),
        }
    }
}

/// See [`ExecTokenLayer`]. The inner service (kube-client's stack, boxed,
/// not `Clone`) is shared behind a lock held only to get it ready and hand
/// it the request.
pub struct ExecTokenService<S> {
    inner: Arc<tokio::sync::Mutex<S>>,
    token: Arc<ExecToken>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<Request<B>> for ExecTokenService<S>
where
    S: tower::Service<Request<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner service is made ready in `call`, under the lock.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let (inner, token) = (self.inner.clone(), self.token.clone());
        Box::pin(async move {
            let header = token.header().await.map_err(|e| Box::new(e) as BoxError)?;
            request.headers_mut().insert(AUTHORIZATION, header);
            let response = {
                let mut inner = inner.lock().await;
                futures_util::future::poll_fn(|cx| inner.poll_ready(cx))
                    .await
                    .map_err(Into::into)?;
                inner.call(request)
            };
            response.await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(script: &str, timeout: Option<Duration>) -> Plugin {
        let config = ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1beta1".into()),
            command: Some("/bin/sh".into()),
            args: Some(vec!["-c".into(), script.into()]),
            interactive_mode: Some(ExecInteractiveMode::Never),
            ..ExecConfig::default()
        };
        Plugin::new(config, timeout).unwrap()
    }

    #[test]
    fn without_request_timeout_a_plugin_has_the_default() {
        let p = plugin("true", None);
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert!(p.timeout_text().contains("30s"), "{}", p.timeout_text());
        assert!(p.timeout_text().contains("default"), "{}", p.timeout_text());
        let p = plugin("true", Some(Duration::from_secs(5)));
        assert_eq!(p.timeout, Duration::from_secs(5));
        assert!(p.timeout_text().contains("--request-timeout"));
    }

    #[cfg(unix)]
    #[test]
    fn plugins_are_bounded_and_named() {
        let ok = plugin(
            r#"printf '{"kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}'"#,
            None,
        );
        let credential = ok.run().unwrap();
        assert_eq!(credential.token.as_deref(), Some("t"));
        assert!(credential.expiration.is_some());

        let started = Instant::now();
        let error = plugin(
            "echo logging in >&2; sleep 30",
            Some(Duration::from_millis(300)),
        )
        .run()
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            error.0.contains("`/bin/sh` did not finish within 300ms"),
            "{error}"
        );
        assert!(error.0.contains("logging in"), "{error}");

        let error = plugin("yes", None).run().unwrap_err();
        assert!(error.0.contains("more than 1 MiB"), "{error}");

        let error = plugin("echo no >&2; exit 3", None).run().unwrap_err();
        assert!(error.0.contains("failed (exit 3): no"), "{error}");

        let error = plugin("echo '{\"kind\":\"ExecCredential\"}'", None)
            .run()
            .unwrap_err();
        assert!(error.0.contains("without a status"), "{error}");
    }
}
