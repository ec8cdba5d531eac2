//! Injections worked out once per pod shape and reused for its replicas,
//! kept per policy set (a new set starts empty).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::injectors::own::decide::Outcome;

/// An injection worked out once for a pod shape, reused for its replicas.
#[derive(Debug, Clone)]
pub struct Cached {
    pub outcome: Outcome,
    pub workload: String,
    pub policy: Option<String>,
    /// `name@version`.
    pub template: Option<String>,
    pub reasons: Vec<String>,
    /// The JSONPatch as `response.patch` carries it (serialised and base64
    /// encoded once, for all the replicas; and cheap to drop).
    pub patch: Option<Arc<str>>,
    /// Findings about the injected pod (INJ301 …), as API warnings.
    pub warnings: Vec<String>,
    /// The answer names the pod's own token volume (the patch moves a
    /// container that mounts it): it is not its replicas' answer.
    pub names_its_token: bool,
}

/// Rendered injections by pod (and namespace labels), for this set only.
///
/// Two generations of at most half the capacity each: a hit in the older
/// one moves the entry to the newer one; when the newer one is full, it
/// becomes the older one and the older one is dropped, after the lock is
/// released (so the pods that use the cache meanwhile do not wait on it:
/// clearing 4,096 entries under the lock stalled every request for ~50 ms).
#[derive(Debug, Default)]
pub struct InjectionCache {
    entries: Mutex<Generations>,
    /// The key of the hash of a pod (random per cache).
    hasher: std::hash::RandomState,
}

#[derive(Debug, Default)]
struct Generations {
    newer: HashMap<u64, Arc<Cached>>,
    older: HashMap<u64, Arc<Cached>>,
}

impl Generations {
    /// Inserts; the generation that ages out, if one does.
    fn insert(&mut self, key: u64, value: Arc<Cached>) -> Option<HashMap<u64, Arc<Cached>>> {
        let aged = (self.newer.len() >= CACHE_CAPACITY / 2)
            .then(|| std::mem::replace(&mut self.older, std::mem::take(&mut self.newer)));
        self.newer.insert(key, value);
        aged
    }
}

/// Enough for every distinct pod shape of a large cluster, in two
/// generations (see [`InjectionCache`]).
const CACHE_CAPACITY: usize = 4096;

impl InjectionCache {
    pub fn get(&self, key: u64) -> Option<Arc<Cached>> {
        let mut entries = self.entries.lock().ok()?;
        if let Some(found) = entries.newer.get(&key) {
            return Some(found.clone());
        }
        let found = entries.older.remove(&key)?;
        let aged = entries.insert(key, found.clone());
        drop(entries);
        drop(aged);
        Some(found)
    }

    pub fn insert(&self, key: u64, value: Arc<Cached>) {
        let aged = match self.entries.lock() {
            Ok(mut entries) => entries.insert(key, value),
            Err(_) => None,
        };
        drop(aged);
    }

    /// What pods are hashed with for [`InjectionCache::get`].
    pub fn hasher(&self) -> &std::hash::RandomState {
        &self.hasher
    }

    /// Entries now (both generations).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .map_or(0, |entries| entries.newer.len() + entries.older.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(n: usize) -> Arc<Cached> {
        Arc::new(Cached {
            outcome: crate::injectors::own::decide::Outcome::Skip,
            workload: format!("Pod/{n}"),
            policy: None,
            template: None,
            reasons: Vec::new(),
            patch: None,
            warnings: Vec::new(),
            names_its_token: false,
        })
    }

    #[test]
    fn the_cache_keeps_recently_used_entries_within_its_capacity() {
        let cache = InjectionCache::default();
        for key in 0..CACHE_CAPACITY as u64 {
            cache.insert(key, cached(key as usize));
        }
        assert_eq!(cache.len(), CACHE_CAPACITY);
        // Used again: moved to the newer generation, so it outlives the
        // older one.
        assert!(cache.get(0).is_some());
        for key in 0..CACHE_CAPACITY as u64 {
            cache.insert(1_000_000 + key, cached(0));
        }
        assert!(cache.len() <= CACHE_CAPACITY, "{}", cache.len());
        assert!(cache.get(1).is_none(), "aged out");
        assert_eq!(
            cache
                .get(1_000_000 + CACHE_CAPACITY as u64 - 1)
                .map(|c| c.workload.clone()),
            Some("Pod/0".to_owned())
        );
    }
}
