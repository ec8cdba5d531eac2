//! `simulate --live`: the same simulation on what runs in a cluster.
//!
//! The objects read from the API server (`fetch.rs`, through a client built
//! as kubectl builds one, `connect.rs`) become loader inputs like files
//! (`Input::Live`): the same rules and the same engine run on them, and the
//! drift rules (INJ401–INJ403) compare each running pod with what the
//! injectors would do to it now. Failures are explained: which server and
//! context could not be reached, which verb and resource RBAC refused (with a
//! ClusterRole that would be enough, `rbac.rs`).

pub mod connect;
pub mod exec;
pub mod fetch;
pub mod object;
mod rbac;

pub use connect::{ConnectOptions, Connection, parse_timeout};
pub use fetch::{Fetched, Scope};
pub use rbac::CLUSTER_ROLE;

use std::collections::HashSet;

use crate::diagnostic::ObjectRef;
use crate::lint::LintOutcome;
use crate::load::Workspace;
use crate::rules::{missing_sidecar, outdated_injection, unexpected_sidecar};

/// Why a live run could not do its job (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveError {
    /// No answer from the API server (refused, DNS, TLS, timeout).
    Unreachable {
        server: String,
        context: String,
        detail: String,
    },
    /// RBAC refused a request.
    Forbidden {
        access: Access,
        message: String,
    },
    /// The API server refused the credentials (401).
    Unauthorized {
        context: String,
        detail: String,
    },
    /// No credentials to send: the exec plugin failed, hung or printed no
    /// ExecCredential, a token file could not be read (before any request).
    Credentials {
        context: String,
        detail: String,
    },
    /// A named object (the `-n` namespace) does not exist.
    NotFound(String),
    /// The kubeconfig could not be read or used.
    Config(String),
    Other(String),
}

/// A request: verb, API group, resource, namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
}

impl Access {
    pub fn new(verb: &str, group: &str, resource: &str, namespace: Option<String>) -> Self {
        Access {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace,
        }
    }
}

impl std::fmt::Display for Access {
    /// `list pods in namespace shop`, `list mutatingwebhookconfigurations.admissionregistration.k8s.io at the cluster scope`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => write!(f, " at the cluster scope"),
        }
    }
}

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LiveError::Unreachable {
                server,
                context,
                detail,
            } => write!(
                f,
                "cannot reach the API server {server} (context `{context}`): {detail}"
            ),
            LiveError::Forbidden { access, message } => write!(
                f,
                "forbidden: cannot {access} ({message}); kubectl-inject only reads: \
                 the ClusterRole below is enough for every live run"
            ),
            LiveError::Unauthorized { context, detail } => write!(
                f,
                "the API server refused the credentials of context `{context}`: {detail}"
            ),
            LiveError::Credentials { context, detail } => write!(
                f,
                "cannot get the credentials of context `{context}`: {detail}"
            ),
            LiveError::NotFound(message)
            | LiveError::Config(message)
            | LiveError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for LiveError {}

impl LiveError {
    /// What to apply to fix it, printed as is after the error (so that it
    /// can be copied): the ClusterRole and its binding for RBAC refusals.
    pub fn remedy(&self) -> Option<String> {
        match self {
            LiveError::Forbidden { .. } => Some(format!(
                "{CLUSTER_ROLE}---\n# bind it, e.g.:\n# kubectl create clusterrolebinding kubectl-inject-reader \\\n#   --clusterrole=kubectl-inject-reader --user=<you>\n"
            )),
            _ => None,
        }
    }

    /// A 404 becomes `message` (a missing namespace); anything else stays.
    fn not_found(self, message: String) -> LiveError {
        match self {
            LiveError::Other(detail) if detail.contains("404") => LiveError::NotFound(message),
            other => other,
        }
    }

    /// The one-line warning for a list the run can do without.
    fn warning(&self, consequence: &str) -> String {
        match self {
            LiveError::Forbidden { access, .. } => {
                format!("forbidden to {access}: {consequence}")
            }
            other => format!("{}: {consequence}", first_line(&other.to_string())),
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// An error and its sources, `: `-separated (what hyper, rustls and the OS said).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// What a failed request means for the user.
fn classify(conn: &Connection, error: kube::Error, access: Access) -> LiveError {
    match error {
        kube::Error::Api(status) if status.code == 403 => LiveError::Forbidden {
            access,
            message: status.message.clone(),
        },
        kube::Error::Api(status) if status.code == 401 => LiveError::Unauthorized {
            context: conn.context.clone(),
            detail: format!("{} (401 Unauthorized)", status.message),
        },
        kube::Error::Api(status) => LiveError::Other(format!(
            "cannot {access}: {} ({} {})",
            status.message, status.code, status.reason
        )),
        kube::Error::Auth(e) => LiveError::Credentials {
            context: conn.context.clone(),
            detail: auth_detail(conn.exec_command.as_deref(), &e),
        },
        kube::Error::Service(e) if e.downcast_ref::<kube::client::AuthError>().is_some() => {
            let auth = e
                .downcast_ref::<kube::client::AuthError>()
                .expect("checked");
            LiveError::Credentials {
                context: conn.context.clone(),
                detail: auth_detail(conn.exec_command.as_deref(), auth),
            }
        }
        // The exec plugin, run again to renew its token.
        kube::Error::Service(e) if e.downcast_ref::<exec::ExecError>().is_some() => {
            LiveError::Credentials {
                context: conn.context.clone(),
                detail: e.to_string(),
            }
        }
        other => {
            let mut detail = error_chain(&other);
            if detail.to_ascii_lowercase().contains("timed out")
                || detail.to_ascii_lowercase().contains("elapsed")
            {
                detail.push_str(" (no answer within --request-timeout)");
            }
            LiveError::Unreachable {
                server: conn.server.clone(),
                context: conn.context.clone(),
                detail,
            }
        }
    }
}

/// An authentication failure in words: a credential plugin that could not
/// start or failed is named, with its exit code and what it printed.
pub(crate) fn auth_detail(exec_command: Option<&str>, error: &kube::client::AuthError) -> String {
    use kube::client::AuthError;
    let plugin = exec_command.unwrap_or("(the exec plugin)");
    match error {
        AuthError::AuthExecStart(io) => {
            format!("cannot run the credential plugin `{plugin}`: {io}")
        }
        AuthError::AuthExecRun { out, .. } => {
            let code = out
                .status
                .code()
                .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim();
            if said.is_empty() {
                format!("the credential plugin `{plugin}` failed ({code})")
            } else {
                format!("the credential plugin `{plugin}` failed ({code}): {said}")
            }
        }
        other => error_chain(other),
    }
}

/// Connects and reads the cluster: one call for the CLI, which is not async.
pub fn read_cluster(
    options: &ConnectOptions,
    namespace: Option<&str>,
    all_namespaces: bool,
    with_policies: bool,
) -> Result<(Fetched, String), LiveError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LiveError::Other(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async {
        let conn = connect::connect(options).await?;
        let scope = match (all_namespaces, namespace) {
            (true, _) => Scope::All,
            (false, Some(ns)) => Scope::Namespace(ns.to_owned()),
            (false, None) => Scope::Namespace(conn.namespace.clone()),
        };
        let fetched = fetch::fetch(&conn, &scope, with_policies).await?;
        let described = match &scope {
            Scope::All => format!(
                "all namespaces (context `{}`, {})",
                conn.context, conn.server
            ),
            Scope::Namespace(ns) => {
                format!(
                    "namespace {ns} (context `{}`, {})",
                    conn.context, conn.server
                )
            }
        };
        Ok((fetched, described))
    })
}

/// Live objects whose findings their controller's already carry: Pods
/// created by a ReplicaSet, StatefulSet, DaemonSet or Job, and ReplicaSets
/// and Jobs created by a Deployment or CronJob, when the owner is among the
/// objects read. Reporting the same template problem once per replica would
/// drown the report; the drift rules still look at every pod.
pub fn covered_by_owner(ws: &Workspace) -> HashSet<ObjectRef> {
    let present: HashSet<(&str, Option<&str>, &str)> = ws
        .objects
        .iter()
        .filter(|o| ws.sources.get(o.file).live)
        .map(|o| (o.kind.as_str(), o.namespace.as_deref(), o.name.as_str()))
        .collect();
    let mut covered = HashSet::new();
    for object in ws.objects.iter().filter(|o| ws.sources.get(o.file).live) {
        let controlled = object.owner_references().any(|(kind, name, controller)| {
            controller && present.contains(&(kind, object.namespace.as_deref(), name))
        });
        if controlled {
            covered.insert(ObjectRef {
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            });
        }
    }
    covered
}

/// Pods of a controller that was read (and ReplicaSets of a Deployment)
/// keep only their drift findings; the rest is the controller's to report,
/// once instead of once per replica.
pub fn keep_drift_only_where_covered(ws: &Workspace, outcome: &mut LintOutcome) {
    let covered = covered_by_owner(ws);
    if covered.is_empty() {
        return;
    }
    outcome.diagnostics.retain(|d| {
        [
            &missing_sidecar::RULE,
            &outdated_injection::RULE,
            &unexpected_sidecar::RULE,
        ]
        .iter()
        .any(|rule| rule.id == d.rule.id)
            || d.object.as_ref().is_none_or(|o| !covered.contains(o))
    });
    outcome.summary.count(&outcome.diagnostics);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Input, LoadOptions, load_inputs};

    fn live(name: &str, json: &str) -> Input {
        Input::Live {
            name: name.to_owned(),
            json: json.to_owned(),
        }
    }

    #[test]
    fn replicas_of_a_controller_that_was_read_are_covered() {
        let ws = load_inputs(
            vec![
                live(
                    "Deployment/shop/web",
                    r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"}}"#,
                ),
                live(
                    "ReplicaSet/shop/web-1",
                    r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-1","namespace":"shop","ownerReferences":[{"kind":"Deployment","name":"web","controller":true}]}}"#,
                ),
                live(
                    "Pod/shop/web-1-a",
                    r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1-a","namespace":"shop","ownerReferences":[{"kind":"ReplicaSet","name":"web-1","controller":true}]}}"#,
                ),
                // Its ReplicaSet was not read (RBAC): the pod speaks for itself.
                live(
                    "Pod/shop/api-1-a",
                    r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"api-1-a","namespace":"shop","ownerReferences":[{"kind":"ReplicaSet","name":"api-1","controller":true}]}}"#,
                ),
                // Not a controller reference.
                live(
                    "Pod/shop/solo",
                    r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"solo","namespace":"shop","ownerReferences":[{"kind":"Deployment","name":"web"}]}}"#,
                ),
            ],
            Vec::new(),
            &LoadOptions::default(),
        );
        assert!(ws.sources.iter().all(|(_, f)| f.live));
        let mut covered: Vec<String> = covered_by_owner(&ws)
            .iter()
            .map(ToString::to_string)
            .collect();
        covered.sort();
        assert_eq!(covered, ["Pod/shop/web-1-a", "ReplicaSet/shop/web-1"]);
    }

    #[test]
    fn errors_say_what_was_refused() {
        let access = Access::new(
            "list",
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations",
            None,
        );
        assert_eq!(
            access.to_string(),
            "list mutatingwebhookconfigurations.admissionregistration.k8s.io at the cluster scope"
        );
        let forbidden = LiveError::Forbidden {
            access: Access::new("list", "", "pods", Some("shop".into())),
            message: "pods is forbidden".into(),
        };
        assert!(
            forbidden
                .to_string()
                .starts_with("forbidden: cannot list pods in namespace shop")
        );
        assert!(forbidden.remedy().unwrap().contains("kind: ClusterRole"));
        assert_eq!(
            forbidden.warning("owners are not shown"),
            "forbidden to list pods in namespace shop: owners are not shown"
        );
    }
}
