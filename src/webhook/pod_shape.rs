//! A pod's shape for the injection cache: replicas of one ReplicaSet differ
//! only in their service account token volume's name, which the key leaves
//! out and the cached answer puts back.

use std::hash::{BuildHasher, Hasher};

use serde_json::Value;

use crate::model::selector::Labels;

use super::cache::InjectionCache;

/// The ServiceAccount admission plugin, which runs before the webhooks,
/// names each pod's token volume `kube-api-access-` and five random
/// characters: the one thing in which the replicas of a ReplicaSet differ.
pub(super) const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";

/// What the token volume is called in the cache key (not a valid volume
/// name, so no pod has one by that name).
pub(super) const TOKEN_VOLUME_KEY: &str = "kube-api-access-*";

/// The name of the pod's service account token volume, if it has one.
pub fn token_volume(pod: &Value) -> Option<String> {
    pod.pointer("/spec/volumes")?
        .as_array()?
        .iter()
        .filter(|volume| volume.get("projected").is_some())
        .filter_map(|volume| volume.get("name")?.as_str())
        .find(|name| {
            name.strip_prefix(TOKEN_VOLUME_PREFIX)
                .is_some_and(|suffix| suffix.len() == 5)
        })
        .map(str::to_owned)
}

/// Renames volume `from` to `to` where the pod names it (its volume and the
/// containers' mounts); the pointers of the names changed.
pub fn rename_volume(pod: &mut Value, from: &str, to: &str) -> Vec<String> {
    let mut renamed = Vec::new();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return renamed;
    };
    let mut rename = |pointer: String, name: &mut Value| {
        if name.as_str() == Some(from) {
            *name = Value::String(to.to_owned());
            renamed.push(pointer);
        }
    };
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for (i, volume) in volumes.iter_mut().enumerate() {
            if let Some(name) = volume.get_mut("name") {
                rename(format!("/spec/volumes/{i}/name"), name);
            }
        }
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for (c, container) in containers.iter_mut().enumerate() {
            let Some(mounts) = container
                .get_mut("volumeMounts")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for (m, mount) in mounts.iter_mut().enumerate() {
                if let Some(name) = mount.get_mut("name") {
                    rename(format!("/spec/{list}/{c}/volumeMounts/{m}/name"), name);
                }
            }
        }
    }
    renamed
}

/// The pod's injection depends on the pod and on its namespace's labels
/// and annotations, and on nothing else (the set has a cache of its own).
/// Hashed with the cache's random key: an answer cannot be had for another
/// pod by making a pod whose key collides with its key.
pub(super) fn cache_key(
    cache: &InjectionCache,
    pod: &Value,
    namespace: &str,
    labels: Option<&(Labels, Labels)>,
) -> u64 {
    /// The JSON text of the pod goes straight into the hasher.
    struct Into<'a, H: Hasher>(&'a mut H);
    impl<H: Hasher> std::io::Write for Into<'_, H> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = cache.hasher().build_hasher();
    let _ = serde_json::to_writer(Into(&mut hasher), pod);
    let mut text = |part: &str| hasher.write(part.as_bytes());
    text("\0");
    text(namespace);
    if let Some((labels, annotations)) = labels {
        for (k, v) in labels.iter().chain(annotations) {
            text("\0");
            text(k);
            text("=");
            text(v);
        }
    } else {
        text("\0unknown");
    }
    hasher.finish()
}
