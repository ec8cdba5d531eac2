//! Applying additions to a pod: lists merged by name, app containers
//! patched, an earlier injection stripped first.

use super::*;

pub(super) fn added_names(additions: &Additions) -> Added {
    let names = |items: &[&[Value]]| -> Vec<String> {
        items
            .iter()
            .flat_map(|list| list.iter())
            .filter_map(|v| v.get("name")?.as_str().map(str::to_owned))
            .collect()
    };
    let mut containers = names(&[&additions.containers]);
    for patched in &additions.patched_containers {
        if !containers.contains(patched) {
            containers.push(patched.clone());
        }
    }
    Added {
        init_containers: names(&[
            &additions.init_containers,
            &additions.native_sidecars,
            &additions.late_init_containers,
        ]),
        containers,
        volumes: names(&[&additions.volumes]),
    }
}

/// Merges `patch` into `target`: objects key by key, lists of objects with
/// a `name` (or `mountPath`, for volume mounts) entry by entry, anything else
/// replaced. Merging the same patch twice gives the same result.
pub(super) fn merge_value(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) => merge_value(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if !p.is_empty() && p.iter().all(|i| key_of(i).is_some()) =>
        {
            for item in p {
                match t.iter_mut().find(|x| key_of(x) == key_of(item)) {
                    Some(existing) => merge_value(existing, item),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub(super) fn key_of(item: &Value) -> Option<(&'static str, &str)> {
    for key in ["name", "mountPath"] {
        if let Some(v) = item.get(key).and_then(Value::as_str) {
            return Some((key, v));
        }
    }
    None
}

/// `map[key]` as an object, made one if absent or of another type.
pub(crate) fn ensure_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

/// Removes what a previous injection by `injector` added: for Istio what
/// its status annotation names (except app containers this injection
/// patches), for the others their container and volume names.
pub(super) fn strip(pod: &mut Value, injector: &str, additions: &Additions) {
    let mut init = Vec::new();
    let mut containers = Vec::new();
    let mut volumes = Vec::new();
    let mut secrets = Vec::new();
    if injector == "istio" {
        let status = pod
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(istio::STATUS))
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        if let Some(status) = status {
            let names = |key: &str| -> Vec<String> {
                status
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            init = names("initContainers");
            containers = names("containers");
            containers.retain(|c| !additions.patched_containers.contains(c));
            volumes = names("volumes");
            secrets = names("imagePullSecrets");
        }
    } else if let Some(data) = injector_facts(injector) {
        init.clone_from(&data.previous.init_containers);
        containers.clone_from(&data.previous.containers);
        volumes.clone_from(&data.previous.volumes);
    }
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        remove_named(spec, "initContainers", &init);
        remove_named(spec, "containers", &containers);
        remove_named(spec, "volumes", &volumes);
        remove_named(spec, "imagePullSecrets", &secrets);
    }
}

/// The pod with `additions` applied (after removing an earlier injection by
/// the same injector, so applying twice gives the same pod): in
/// `initContainers` the injector's init containers, its native sidecars,
/// the app's init containers, then its late init containers; sidecars
/// appended to `containers` (the first one first when `containers_first`);
/// patched app containers merged by name; volumes and image pull secrets
/// appended (prepended when `volumes_first`); annotations and labels set.
/// Istio re-applies a workload's own container named like an injected one
/// on top of the rendered container (`webhook.go:
/// reapplyOverwrittenContainers`); `image: auto` keeps the injected image.
/// The workload's copy leaves its list.
pub(super) fn apply_overrides(spec: &mut Map<String, Value>, additions: &mut Additions) {
    for list in ["initContainers", "containers"] {
        let Some(app) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        let mut kept = Vec::with_capacity(app.len());
        for container in app.drain(..) {
            let name = container.get("name").cloned();
            let injected = additions
                .init_containers
                .iter_mut()
                .chain(additions.native_sidecars.iter_mut())
                .chain(additions.containers.iter_mut())
                .chain(additions.late_init_containers.iter_mut())
                .find(|c| name.is_some() && c.get("name") == name.as_ref());
            match injected {
                Some(target) => {
                    let mut patch = container;
                    if patch.get("image").and_then(Value::as_str) == Some("auto")
                        && let Some(map) = patch.as_object_mut()
                    {
                        map.remove("image");
                    }
                    merge_value(target, &patch);
                }
                None => kept.push(container),
            }
        }
        *app = kept;
    }
}

pub fn apply(pod: &Value, injector: &str, additions: &Additions) -> Applied {
    let mut pod = pod.clone();
    if !pod.is_object() {
        pod = json!({});
    }
    strip(&mut pod, injector, additions);
    let root = pod.as_object_mut().expect("an object");
    let spec = ensure_object(root, "spec");
    let mut overridden;
    let additions = if injector == "istio" {
        overridden = additions.clone();
        apply_overrides(spec, &mut overridden);
        &overridden
    } else {
        additions
    };

    edit_list(spec, "initContainers", |app_init| {
        let mut init: Vec<Value> = additions.init_containers.clone();
        init.extend(additions.native_sidecars.iter().cloned());
        init.extend(app_init);
        init.extend(additions.late_init_containers.iter().cloned());
        init
    });

    edit_list(spec, "containers", |mut containers| {
        for patch in &additions.container_patches {
            let name = patch.get("name");
            if let Some(target) = containers.iter_mut().find(|c| c.get("name") == name) {
                merge_value(target, patch);
            }
        }
        let mut sidecars = additions.containers.iter().cloned();
        if additions.containers_first
            && let Some(first) = sidecars.next()
        {
            containers.insert(0, first);
        }
        containers.extend(sidecars);
        containers
    });

    edit_list(spec, "volumes", |existing| {
        if additions.volumes_first {
            additions.volumes.iter().cloned().chain(existing).collect()
        } else {
            existing
                .into_iter()
                .chain(additions.volumes.iter().cloned())
                .collect()
        }
    });

    edit_list(spec, "imagePullSecrets", |existing| {
        let new: Vec<Value> = additions
            .image_pull_secrets
            .iter()
            .filter(|s| {
                !existing
                    .iter()
                    .any(|e| e.get("name").and_then(Value::as_str) == Some(s))
            })
            .map(|s| json!({"name": s}))
            .collect();
        if additions.volumes_first {
            new.into_iter().chain(existing).collect()
        } else {
            existing.into_iter().chain(new).collect()
        }
    });

    let metadata = ensure_object(root, "metadata");
    for (field, pairs) in [
        ("annotations", &additions.annotations),
        ("labels", &additions.labels),
    ] {
        if pairs.is_empty() {
            continue;
        }
        let map = ensure_object(metadata, field);
        for (k, v) in pairs {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }

    let added = added_names(additions);
    let mut placed = Vec::new();
    for (list, names) in [
        ("initContainers", &added.init_containers),
        ("containers", &added.containers),
        ("volumes", &added.volumes),
    ] {
        let items = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array);
        for name in names {
            if let Some(index) = items.and_then(|items| {
                items
                    .iter()
                    .position(|i| i.get("name").and_then(Value::as_str) == Some(name))
            }) {
                placed.push(Placed { list, index });
            }
        }
    }
    Applied { pod, added, placed }
}
