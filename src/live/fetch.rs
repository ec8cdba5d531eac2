//! Reading what the simulation needs from a cluster, every list paginated
//! (`limit`/`continue`) and all lists at once: the namespaces, the Pods and
//! the workloads that own them, the MutatingWebhookConfigurations, Istio's
//! injector ConfigMaps, and (without PATHS) the `kubectl-inject.dev`
//! objects. Pods and namespaces are required; the rest is read where RBAC
//! allows, and what could not be read is said, with what it costs.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::core::TypeMeta;
use tokio::task::JoinSet;

use super::connect::Connection;
use super::object::{own_input, to_input};
use super::{Access, LiveError, classify};
use crate::load::Input;

/// Which namespaces to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Namespace(String),
    All,
}

/// What was read, as loader inputs, and what could not be.
#[derive(Debug, Default)]
pub struct Fetched {
    pub inputs: Vec<Input>,
    /// One line per list that RBAC refused or that failed, with its consequence.
    pub warnings: Vec<String>,
    /// Objects read, per kind (for the log line).
    pub counts: Vec<(&'static str, usize)>,
    /// The API server's version (`MAJOR.MINOR`), `None` when it would not say.
    pub kubernetes_version: Option<String>,
}

/// Default page size of list calls (`KUBECTL_INJECT_PAGE_SIZE` overrides).
const PAGE_SIZE: u32 = 500;

/// One kind to list.
struct Wanted {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    /// Read failures end the run (exit 2) instead of a warning.
    required: bool,
    /// What the run loses without it (for the warning).
    consequence: &'static str,
}

const OWNERS: &str = "pods are reported without the workload that owns them";

/// A kind that owns pods: read for the owner chain where RBAC allows.
const fn owner(group: &'static str, kind: &'static str, plural: &'static str) -> Wanted {
    Wanted {
        group,
        version: "v1",
        kind,
        plural,
        namespaced: true,
        required: false,
        consequence: OWNERS,
    }
}

const WANTED: &[Wanted] = &[
    Wanted {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        required: true,
        consequence: "",
    },
    owner("apps", "ReplicaSet", "replicasets"),
    owner("apps", "Deployment", "deployments"),
    owner("apps", "StatefulSet", "statefulsets"),
    owner("apps", "DaemonSet", "daemonsets"),
    owner("batch", "Job", "jobs"),
    owner("batch", "CronJob", "cronjobs"),
    Wanted {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingWebhookConfiguration",
        plural: "mutatingwebhookconfigurations",
        namespaced: false,
        required: false,
        consequence: "the webhook gate uses the injectors' chart defaults instead of the cluster's webhooks, and INJ404/INJ405 are skipped",
    },
];

/// Kubernetes before 1.21 serves CronJob only as batch/v1beta1.
const CRONJOB_V1BETA1: Wanted = Wanted {
    version: "v1beta1",
    ..owner("batch", "CronJob", "cronjobs")
};

const OWN_GROUP: &str = "kubectl-inject.dev";
const ISTIO_NAMESPACE: &str = "istio-system";

fn page_size() -> u32 {
    std::env::var("KUBECTL_INJECT_PAGE_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(PAGE_SIZE)
}

/// Lists every object of `resource` in `namespace` (or everywhere), page by page.
async fn list_all(
    client: kube::Client,
    resource: ApiResource,
    namespace: Option<String>,
    page: u32,
) -> Result<Vec<DynamicObject>, kube::Error> {
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client, ns, &resource),
        None => Api::all_with(client, &resource),
    };
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(page);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let list = api.list(&params).await?;
        items.extend(list.items);
        match list.metadata.continue_ {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => break,
        }
    }
    for item in &mut items {
        // List items come without their type; the loader needs it.
        item.types = Some(TypeMeta {
            api_version: resource.api_version.clone(),
            kind: resource.kind.clone(),
        });
    }
    Ok(items)
}

fn api_resource(w: &Wanted) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(w.group, w.version, w.kind), w.plural)
}

/// Reads the cluster for `scope`. `with_policies`: also the
/// `kubectl-inject.dev` objects (when no PATHS give them).
pub async fn fetch(
    conn: &Connection,
    scope: &Scope,
    with_policies: bool,
) -> Result<Fetched, LiveError> {
    let page = page_size();
    let namespace = match scope {
        Scope::Namespace(ns) => Some(ns.clone()),
        Scope::All => None,
    };
    let mut fetched = Fetched::default();

    // Namespaces first: a missing or unreadable namespace ends the run.
    let ns_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "Namespace"),
        "namespaces",
    );
    let namespaces = match &namespace {
        Some(ns) => {
            let api: Api<DynamicObject> = Api::all_with(conn.client.clone(), &ns_resource);
            let mut object = api.get(ns).await.map_err(|e| {
                classify(
                    conn,
                    e,
                    Access::new("get", "", &format!("namespaces/{ns}"), None),
                )
                .not_found(format!(
                    "namespace `{ns}` does not exist (context `{}`, {})",
                    conn.context, conn.server
                ))
            })?;
            object.types = Some(TypeMeta {
                api_version: "v1".into(),
                kind: "Namespace".into(),
            });
            vec![object]
        }
        None => list_all(conn.client.clone(), ns_resource, None, page)
            .await
            .map_err(|e| classify(conn, e, Access::new("list", "", "namespaces", None)))?,
    };
    fetched.counts.push(("Namespace", namespaces.len()));
    fetched.inputs.extend(namespaces.into_iter().map(to_input));

    let mut tasks = JoinSet::new();
    for (i, wanted) in WANTED.iter().enumerate() {
        let ns = wanted.namespaced.then(|| namespace.clone()).flatten();
        tasks.spawn(list_task(
            conn.client.clone(),
            i,
            api_resource(wanted),
            ns,
            page,
        ));
    }
    // Istio's injector settings (`istio-sidecar-injector[-<revision>]`).
    let configmaps = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "ConfigMap"),
        "configmaps",
    );
    tasks.spawn(list_task(
        conn.client.clone(),
        usize::MAX,
        configmaps,
        Some(ISTIO_NAMESPACE.into()),
        page,
    ));

    // The version-dependent checks judge pods for this cluster; a server
    // that will not say only costs them.
    match super::connect::kubernetes_version(&conn.client).await {
        Ok(version) => fetched.kubernetes_version = Some(version),
        Err(e) => fetched.warnings.push(format!(
            "{e}: version-dependent checks use kubernetesVersion from the configuration"
        )),
    }

    let mut results: Vec<(usize, Result<Vec<DynamicObject>, kube::Error>)> = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(result) => results.push(result),
            Err(e) => return Err(LiveError::Other(format!("a list call stopped: {e}"))),
        }
    }
    results.sort_by_key(|(i, _)| *i);
    for (index, result) in results {
        if index == usize::MAX {
            match result {
                Ok(items) => {
                    let injector: Vec<_> = items
                        .into_iter()
                        .filter(|cm| {
                            cm.metadata
                                .name
                                .as_deref()
                                .is_some_and(|n| n.starts_with("istio-sidecar-injector"))
                        })
                        .collect();
                    fetched.counts.push(("ConfigMap", injector.len()));
                    fetched.inputs.extend(injector.into_iter().map(to_input));
                }
                Err(e) => {
                    let access =
                        Access::new("list", "", "configmaps", Some(ISTIO_NAMESPACE.into()));
                    fetched.warnings.push(classify(conn, e, access).warning(
                        "Istio's injector settings (istio-sidecar-injector ConfigMap) come from the configuration and the chart defaults",
                    ));
                }
            }
            continue;
        }
        let wanted = &WANTED[index];
        let result = match result {
            // Before Kubernetes 1.21 CronJobs are batch/v1beta1 only.
            Err(kube::Error::Api(status)) if wanted.kind == "CronJob" && status.code == 404 => {
                let ns = namespace.clone();
                list_all(
                    conn.client.clone(),
                    api_resource(&CRONJOB_V1BETA1),
                    ns,
                    page,
                )
                .await
            }
            other => other,
        };
        match result {
            Ok(items) => {
                fetched.counts.push((wanted.kind, items.len()));
                fetched.inputs.extend(items.into_iter().map(to_input));
            }
            Err(e) => {
                let ns = wanted.namespaced.then(|| namespace.clone()).flatten();
                let error = classify(
                    conn,
                    e,
                    Access::new("list", wanted.group, wanted.plural, ns),
                );
                if wanted.required {
                    return Err(error);
                }
                fetched.warnings.push(error.warning(wanted.consequence));
            }
        }
    }
    if with_policies {
        fetch_own_objects(conn, page, &mut fetched).await?;
    }
    Ok(fetched)
}

async fn list_task(
    client: kube::Client,
    index: usize,
    resource: ApiResource,
    namespace: Option<String>,
    page: u32,
) -> (usize, Result<Vec<DynamicObject>, kube::Error>) {
    (index, list_all(client, resource, namespace, page).await)
}

/// The cluster's policies and templates, when their CRDs are installed.
async fn fetch_own_objects(
    conn: &Connection,
    page: u32,
    fetched: &mut Fetched,
) -> Result<(), LiveError> {
    let group = match kube::discovery::group(&conn.client, OWN_GROUP).await {
        Ok(group) => group,
        // No CRDs: nothing to read, and nothing lost (the simulation has no own policies).
        Err(kube::Error::Discovery(_)) => {
            fetched.warnings.push(format!(
                "no {OWN_GROUP} resources in the cluster (CRDs not installed): pass the repository's policies and templates as PATHS"
            ));
            return Ok(());
        }
        Err(e) => {
            let access = Access::new("get", "", "the API discovery", None);
            fetched
                .warnings
                .push(classify(conn, e, access).warning(&format!(
                "the cluster's {OWN_GROUP} policies and templates are not read; pass them as PATHS"
            )));
            return Ok(());
        }
    };
    for (resource, _capabilities) in group.recommended_resources() {
        let plural = resource.plural.clone();
        match list_all(conn.client.clone(), resource, None, page).await {
            Ok(items) => fetched.inputs.extend(items.into_iter().map(own_input)),
            Err(e) => {
                let access = Access::new("list", OWN_GROUP, &plural, None);
                fetched.warnings.push(classify(conn, e, access).warning(
                    "the simulation runs without them; pass the repository's policies as PATHS",
                ));
            }
        }
    }
    Ok(())
}
