//! `kubectl inject serve`: run the injector, the mutating admission webhook
//! that answers with the same engine as `simulate` and `render`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{GlobalArgs, Outcome, fail};
use crate::live::connect::{ConnectOptions, parse_timeout};
use crate::source::{DiscoverOptions, absolute_normalized};
use crate::webhook::admission::OnError;
use crate::webhook::connections::Limits;
use crate::webhook::policy_sets::SetOptions;
use crate::webhook::{PolicySource, ServeOptions, run};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Policy and template files or directories, reloaded when they change;
    /// without them, the cluster's kubectl-inject.dev objects, watched
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Address to listen on (HTTPS)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain, reloaded when the file changes
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// PEM private key, reloaded when the file changes
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// When a pod should be injected and cannot be (missing template, tied
    /// policies, deadline): refuse it, or admit it unmodified with a warning
    #[arg(long, value_enum, default_value = "deny")]
    pub on_error: OnError,
    /// Answer within this time (keep it under the webhook's timeoutSeconds)
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = duration)]
    pub deadline: Duration,
    /// Largest request body accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_size: usize,
    /// Time a client has for the TLS handshake, and on HTTP/1.1 for each
    /// request's headers (so an HTTP/1.1 connection waits this long for
    /// its next request)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub header_read_timeout: Duration,
    /// Close a connection with no request in progress for this long
    /// (HTTP/2 with a GOAWAY); longer than the API server's own 90 s, so
    /// that the API server is the one to close
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = duration)]
    pub idle_timeout: Duration,
    /// Connections open at most: past it the one idle longest is closed for
    /// a new one; when all have a request in progress, new ones wait
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Audit log file (one JSON line per decision); `-` is standard output
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub audit_log: PathBuf,
    /// How often the policy files and the certificate are checked for changes
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub reload_interval: Duration,
    /// No API server: namespace labels come from Namespace objects among PATHS
    #[arg(long, requires = "paths")]
    pub offline: bool,
    /// SidecarTemplates in this namespace are cluster-wide (default: the
    /// server's own namespace)
    #[arg(
        long,
        value_name = "NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = crate::live::object::DEFAULT_TEMPLATE_NAMESPACE
    )]
    pub template_namespace: String,
}

fn duration(text: &str) -> Result<Duration, String> {
    match parse_timeout(text)? {
        Some(duration) => Ok(duration),
        None => Err("must be more than zero".into()),
    }
}

pub fn run_serve(global: &GlobalArgs, args: ServeArgs) -> Outcome {
    let config = match global.load_config() {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let request_timeout = match global.request_timeout.as_deref().map(parse_timeout) {
        Some(Err(message)) => return fail(miette::miette!("{message}")),
        Some(Ok(timeout)) => timeout,
        None => None,
    };
    let default_namespace = global
        .namespace
        .clone()
        .or_else(|| config.namespace.clone())
        .unwrap_or_else(|| "default".to_owned());
    let discover = DiscoverOptions {
        ignore: config.ignore.clone(),
        ignore_root: absolute_normalized(&config.root),
    };
    let source = if args.paths.is_empty() {
        PolicySource::Cluster
    } else {
        PolicySource::Paths(args.paths)
    };
    let options = ServeOptions {
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        source,
        offline: args.offline,
        connect: ConnectOptions {
            kubeconfig: global.kubeconfig.clone(),
            context: global.context.clone(),
            cluster: global.cluster.clone(),
            user: global.user.clone(),
            request_timeout,
        },
        on_error: args.on_error,
        deadline: args.deadline,
        max_body_size: args.max_body_size,
        limits: Limits {
            header_read_timeout: args.header_read_timeout,
            idle_timeout: args.idle_timeout,
            max_connections: args.max_connections as usize,
        },
        audit_log: (args.audit_log.as_os_str() != "-").then_some(args.audit_log),
        reload_interval: args.reload_interval,
        template_namespace: args.template_namespace,
        set_options: SetOptions {
            config,
            default_namespace,
        },
        discover,
        drain: Duration::from_secs(5),
    };
    match run(options) {
        Ok(()) => Outcome::Clean,
        Err(message) => fail(miette::miette!("{message}")),
    }
}
