//! `kubectl inject serve`: the injector itself, a mutating admission webhook
//! answering with the engine that `simulate` predicts with and `render`
//! injects with, so that what the cluster does is what the tools said.
//!
//! ```text
//! policy source ──► policy_sets ──► server (HTTPS) ──► admission ──► engine
//! (directory, or     (lint-checked,   /inject /validate   (pure: bytes    (PolicySet)
//!  watched CRs)       swapped whole)  /healthz /readyz    in, answer out)
//!                                      /metrics
//! ```

pub mod admission;
pub mod audit;
pub mod cache;
pub mod connections;
pub mod metrics;
mod owner;
pub mod pod_shape;
pub mod policy_sets;
pub mod review;
pub mod server;
pub mod tls;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::live::connect::{ConnectOptions, connect, kubernetes_version};
use crate::source::DiscoverOptions;

use admission::OnError;
use audit::{AuditLog, log};
use metrics::Metrics;
use policy_sets::{SetOptions, directory_inputs};
use server::{NamespaceSource, State};
use watch::{ClusterNamespaces, ClusterPolicies};

/// Where the policies and templates come from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// Files and directories (a mounted ConfigMap, a git-sync checkout).
    Paths(Vec<PathBuf>),
    /// The cluster's `kubectl-inject.dev` objects, watched.
    Cluster,
}

/// Everything `serve` is told.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub source: PolicySource,
    /// No API server: namespace labels come from Namespace objects among
    /// the policy paths.
    pub offline: bool,
    pub connect: ConnectOptions,
    pub on_error: OnError,
    pub deadline: Duration,
    pub max_body_size: usize,
    /// Timeouts and the cap of connections.
    pub limits: connections::Limits,
    /// `None`: standard output.
    pub audit_log: Option<PathBuf>,
    pub reload_interval: Duration,
    /// SidecarTemplates in this namespace are cluster-wide.
    pub template_namespace: String,
    pub set_options: SetOptions,
    pub discover: DiscoverOptions,
    /// How long open connections may finish after SIGTERM.
    pub drain: Duration,
}

/// Runs the server until SIGTERM or SIGINT. `Err`: it could not start.
pub fn run(options: ServeOptions) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kubectl-inject-serve")
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(run_async(options))
}

async fn run_async(mut options: ServeOptions) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new());
    let certificates = tls::Certificates::load(&options.tls_cert, &options.tls_key)?;
    let acceptor = TlsAcceptor::from(tls::server_config(certificates.clone())?);
    let audit = match &options.audit_log {
        None => AuditLog::new(Box::new(std::io::stdout())),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("opening the audit log {}: {e}", path.display()))?;
            AuditLog::new(Box::new(file))
        }
    };

    let client = if options.offline {
        None
    } else {
        Some(client(&options.connect).await?)
    };
    if let Some(client) = &client {
        adopt_cluster_version(client, &mut options.set_options.config).await;
    }
    let namespaces = match &client {
        None => NamespaceSource::FromSet,
        Some(client) => {
            NamespaceSource::Cluster(ClusterNamespaces::watch(client.clone(), metrics.clone()))
        }
    };
    let cluster_policies = match (&options.source, &client) {
        (PolicySource::Cluster, Some(client)) => Some(Arc::new(ClusterPolicies::watch(
            client.clone(),
            metrics.clone(),
        ))),
        (PolicySource::Cluster, None) => {
            return Err(
                "--offline needs policy PATHS: without them the policies come from the cluster"
                    .into(),
            );
        }
        (PolicySource::Paths(_), _) => None,
    };
    let directory_read = Arc::new(AtomicBool::new(false));
    let source_ready: Box<dyn Fn() -> bool + Send + Sync> = match &cluster_policies {
        Some(policies) => {
            let policies = policies.clone();
            Box::new(move || policies.ready())
        }
        None => {
            let read = directory_read.clone();
            Box::new(move || read.load(Ordering::Relaxed))
        }
    };
    let state = Arc::new(State {
        loaded: RwLock::new(None),
        set_options: options.set_options.clone(),
        namespaces,
        metrics: metrics.clone(),
        audit,
        on_error: options.on_error,
        deadline: options.deadline,
        max_body_size: options.max_body_size,
        template_namespace: options.template_namespace.clone(),
        source_ready,
        shutting_down: AtomicBool::new(false),
        limits: options.limits,
        connections: Arc::new(connections::Connections::default()),
    });

    match (&options.source, cluster_policies) {
        (PolicySource::Paths(paths), _) => {
            let paths = paths.clone();
            let discover = options.discover.clone();
            let interval = options.reload_interval;
            let state = state.clone();
            // The first read happens before the listener opens.
            let mut last = None;
            let mut generation = 0;
            reload_directory(&state, &paths, &discover, &mut last, &mut generation).await;
            directory_read.store(true, Ordering::Relaxed);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(interval).await;
                    reload_directory(&state, &paths, &discover, &mut last, &mut generation).await;
                }
            });
        }
        (PolicySource::Cluster, Some(policies)) => {
            let state = state.clone();
            let template_namespace = options.template_namespace.clone();
            tokio::spawn(async move {
                let mut generation = 0;
                loop {
                    policies.changed.notified().await;
                    // Changes come in bursts (`kubectl apply -f dir/`).
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if !policies.ready() {
                        continue;
                    }
                    generation += 1;
                    let inputs = policies.inputs(&template_namespace);
                    let build_state = state.clone();
                    let built = tokio::task::spawn_blocking(move || {
                        build_state.set_options.build(inputs, generation)
                    })
                    .await;
                    take_into_service(&state, built, "the cluster's kubectl-inject.dev objects");
                }
            });
        }
        (PolicySource::Cluster, None) => unreachable!("refused above"),
    }

    let cert_state = state.clone();
    let interval = options.reload_interval;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let certs = certificates.clone();
            match tokio::task::spawn_blocking(move || certs.reload()).await {
                Ok(Ok(true)) => {
                    cert_state.metrics.reload("certificate", true);
                    log("reloaded the TLS certificate and key");
                }
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    cert_state.metrics.reload("certificate", false);
                    log(format!("kept the previous TLS certificate: {e}"));
                }
                Err(_) => {}
            }
        }
    });

    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("listening on {}: {e}", options.listen))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("listening on {}: {e}", options.listen))?;
    log(format!("listening on https://{bound}"));
    server::serve(listener, acceptor, state, shutdown_signal(), options.drain).await;
    log("stopped");
    Ok(())
}

/// Takes `kubernetesVersion` from the API server when the configuration
/// does not pin it, so that the checks on injected pods (INJ311: native
/// sidecars before 1.29) judge them for the cluster they are admitted to.
async fn adopt_cluster_version(client: &kube::Client, config: &mut crate::config::Config) {
    if let Some(pinned) = &config.kubernetes_version {
        log(format!(
            "Kubernetes version {pinned} (kubernetesVersion in the configuration)"
        ));
        return;
    }
    // The namespaces' watch waits for the API server anyway; this question
    // must not hold the start up for longer.
    let asked = tokio::time::timeout(Duration::from_secs(10), kubernetes_version(client)).await;
    match asked.unwrap_or_else(|_| Err("the API server did not say its version in 10 s".into())) {
        Ok(version) => {
            log(format!(
                "Kubernetes version {version} (from the API server)"
            ));
            config.kubernetes_version = Some(version);
        }
        Err(e) => log(format!("{e}; injected pods are not checked against it")),
    }
}

/// Reads the directory when its files changed, and takes the new set into
/// service when it is valid. `generation` counts the sets built, refused
/// ones too, as the cluster source does: a number names one set.
async fn reload_directory(
    state: &Arc<State>,
    paths: &[PathBuf],
    discover: &DiscoverOptions,
    last: &mut Option<u64>,
    generation: &mut u64,
) {
    let (paths_owned, discover_owned) = (paths.to_vec(), discover.clone());
    let listed =
        tokio::task::spawn_blocking(move || directory_inputs(&paths_owned, &discover_owned)).await;
    let (inputs, fingerprint) = match listed {
        Ok(Ok(listed)) => listed,
        Ok(Err(e)) => {
            if last.is_some() {
                log(format!(
                    "reading the policies: {e}; the set in service stays"
                ));
            } else {
                log(format!("reading the policies: {e}"));
            }
            return;
        }
        Err(_) => return,
    };
    if *last == Some(fingerprint) {
        return;
    }
    *last = Some(fingerprint);
    *generation += 1;
    let generation = *generation;
    let build_state = state.clone();
    let built =
        tokio::task::spawn_blocking(move || build_state.set_options.build(inputs, generation))
            .await;
    let what = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    take_into_service(state, built, &what);
}

fn take_into_service(
    state: &State,
    built: Result<Result<policy_sets::Loaded, policy_sets::Refused>, tokio::task::JoinError>,
    what: &str,
) {
    match built {
        Ok(Ok(loaded)) => {
            // Said once it is true: a pod admitted after the line gets the set.
            let said = format!(
                "policy set {} in service: {} from {what}",
                loaded.generation, loaded.description
            );
            state.swap(loaded);
            state.metrics.reload("policies", true);
            log(said);
        }
        Ok(Err(refused)) => {
            state.metrics.reload("policies", false);
            let kept = match state.current() {
                Some(current) => format!("set {} stays in service", current.generation),
                None => "no set is in service: pods are answered per --on-error".to_owned(),
            };
            log(format!(
                "refused the new policy set {} from {what} ({kept}): {refused}",
                refused.generation
            ));
        }
        Err(e) => {
            state.metrics.error("panic");
            log(format!("BUG: building the policy set panicked: {e}"));
        }
    }
}

/// A client: inside a pod, its service account; else the kubeconfig, as
/// kubectl would use it.
async fn client(options: &ConnectOptions) -> Result<kube::Client, String> {
    let in_cluster = options.kubeconfig.is_none()
        && options.context.is_none()
        && std::env::var_os("KUBECONFIG").is_none()
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if in_cluster {
        let config =
            kube::Config::incluster().map_err(|e| format!("the in-cluster configuration: {e}"))?;
        return kube::Client::try_from(config)
            .map_err(|e| format!("connecting to the API server: {e}"));
    }
    connect(options)
        .await
        .map(|connection| connection.client)
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    log("stopping: the listener closes, open connections may finish");
}
