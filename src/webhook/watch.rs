//! What the webhook reads from the cluster, kept current by watches
//! (kube-runtime reflectors): the namespaces' labels, which AdmissionReview
//! does not carry, and the `kubectl-inject.dev` objects when the policies
//! come from the cluster.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;

use crate::model::selector::Labels;

use super::audit::log;
use super::metrics::Metrics;
use super::policy_sets::SetInput;
use crate::live::object::cluster_object;

/// The cluster's namespaces, watched.
#[derive(Clone)]
pub struct ClusterNamespaces {
    store: Store<Namespace>,
    listed: Arc<AtomicBool>,
    client: kube::Client,
    runtime: tokio::runtime::Handle,
}

impl ClusterNamespaces {
    /// Starts the watch on the current runtime.
    pub fn watch(client: kube::Client, metrics: Arc<Metrics>) -> ClusterNamespaces {
        let api: Api<Namespace> = Api::all(client.clone());
        let (store, writer) = reflector::store();
        let listed = ready_flag(&store);
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                if let Err(e) = event {
                    metrics.error("watch");
                    log(format!("watching namespaces: {e}"));
                }
            }
        });
        ClusterNamespaces {
            store,
            listed,
            client,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Whether the first list has arrived.
    pub fn ready(&self) -> bool {
        self.listed.load(Ordering::Relaxed)
    }

    /// Labels and annotations of `name`. A namespace the watch has not seen
    /// yet (created a moment before its first pod) is asked for directly.
    /// Call from a blocking thread, not from the runtime's workers.
    pub fn lookup(&self, name: &str) -> Option<(Labels, Labels)> {
        if let Some(namespace) = self.store.get(&ObjectRef::new(name)) {
            return Some(labels_of(&namespace));
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let fetched = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(2), api.get_opt(name)).await
        });
        match fetched {
            Ok(Ok(Some(namespace))) => Some(labels_of(&namespace)),
            _ => None,
        }
    }
}

/// A flag that turns true once `store` has been filled by its first list.
fn ready_flag<K>(store: &Store<K>) -> Arc<AtomicBool>
where
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: std::hash::Hash + Eq + Clone + Send + Sync,
{
    let flag = Arc::new(AtomicBool::new(false));
    let (store, set) = (store.clone(), flag.clone());
    tokio::spawn(async move {
        if store.wait_until_ready().await.is_ok() {
            set.store(true, Ordering::Relaxed);
        }
    });
    flag
}

fn labels_of(namespace: &Namespace) -> (Labels, Labels) {
    let labels = namespace.metadata.labels.clone().unwrap_or_default();
    let annotations = namespace.metadata.annotations.clone().unwrap_or_default();
    (
        labels.into_iter().collect(),
        annotations.into_iter().collect(),
    )
}

/// The three kinds of policy objects a cluster holds.
const RESOURCES: &[(&str, &str)] = &[
    ("SidecarTemplate", "sidecartemplates"),
    ("InjectionPolicy", "injectionpolicies"),
    ("ClusterInjectionPolicy", "clusterinjectionpolicies"),
];

/// The cluster's `kubectl-inject.dev` objects, watched.
pub struct ClusterPolicies {
    /// A store per kind (list items may come without `kind`).
    stores: Vec<(Store<DynamicObject>, &'static str)>,
    listed: Vec<Arc<AtomicBool>>,
    /// Poked on every change.
    pub changed: Arc<Notify>,
}

impl ClusterPolicies {
    pub fn watch(client: kube::Client, metrics: Arc<Metrics>) -> ClusterPolicies {
        let changed = Arc::new(Notify::new());
        let mut stores = Vec::new();
        let mut listed = Vec::new();
        for (kind, plural) in RESOURCES {
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(crate::model::GROUP, "v1alpha1", kind),
                plural,
            );
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let writer = reflector::store::Writer::new(resource);
            let store = writer.as_reader();
            listed.push(ready_flag(&store));
            stores.push((store, *kind));
            let stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect(writer);
            let (changed, metrics) = (changed.clone(), metrics.clone());
            tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                let mut reported = false;
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(_) => {
                            reported = false;
                            changed.notify_one();
                        }
                        Err(e) => {
                            metrics.error("watch");
                            // A missing CRD fails every retry: say it once.
                            if !reported {
                                log(format!(
                                    "watching {plural}.{}: {e} (are the CRDs installed? kubectl apply -f deploy/crds.yaml)",
                                    crate::model::GROUP
                                ));
                                reported = true;
                            }
                        }
                    }
                }
            });
        }
        ClusterPolicies {
            stores,
            listed,
            changed,
        }
    }

    /// Whether every watch has listed once.
    pub fn ready(&self) -> bool {
        self.listed.iter().all(|flag| flag.load(Ordering::Relaxed))
    }

    /// The objects now, as set inputs in a stable order.
    pub fn inputs(&self, template_namespace: &str) -> Vec<SetInput> {
        let mut objects: Vec<(&str, Arc<DynamicObject>)> = self
            .stores
            .iter()
            .flat_map(|(store, kind)| store.state().into_iter().map(move |o| (*kind, o)))
            .collect();
        objects.sort_by(|(ka, a), (kb, b)| {
            (ka, &a.metadata.namespace, &a.metadata.name).cmp(&(
                kb,
                &b.metadata.namespace,
                &b.metadata.name,
            ))
        });
        objects
            .iter()
            .filter_map(|(kind, o)| {
                let mut value = serde_json::to_value(o.as_ref()).ok()?;
                let map = value.as_object_mut()?;
                map.entry("apiVersion").or_insert_with(|| {
                    serde_json::Value::String(format!("{}/v1alpha1", crate::model::GROUP))
                });
                map.entry("kind")
                    .or_insert_with(|| serde_json::Value::String((*kind).to_owned()));
                Some(cluster_object(value, template_namespace).into())
            })
            .collect()
    }
}
