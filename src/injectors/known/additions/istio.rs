//! Istio: what its injection template adds, for each of its variants.

use super::*;

pub(super) const STATUS: &str = "sidecar.istio.io/status";

/// A custom template named like a built-in one that is the chart's own
/// text (a ConfigMap or values copy of `files/*.yaml`) is modelled by the
/// built-in model. It is the chart's text when it carries that
/// template's marker: `sidecar` and `grpc-agent` define
/// `{{- define "resources"`, `gateway` runs `- router`, `grpc-simple`
/// adds `grpc-bootstrap-init`.
pub(super) fn is_chart_text(name: &str, text: &str) -> bool {
    match name {
        "sidecar" => text.contains("define \"resources\"") && text.contains("- sidecar"),
        "grpc-agent" => text.contains("define \"resources\"") && text.contains("mesh-metrics"),
        "gateway" => text.contains("- router"),
        "grpc-simple" => text.contains("grpc-bootstrap-init"),
        _ => false,
    }
}

pub(super) fn additions(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Result<Additions, String> {
    let requested: Vec<String> = match pod.annotation("inject.istio.io/templates") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        None => settings.istio.default_templates.clone(),
    };
    let requested = if requested.is_empty() {
        vec!["sidecar".to_owned()]
    } else {
        requested
    };
    let mut out = Additions {
        volumes_first: true,
        ..Additions::default()
    };
    for name in &requested {
        let part = match settings.istio.custom_templates.get(name) {
            Some(text) if !is_chart_text(name, text) => scan(text, pod),
            _ => match name.as_str() {
                "sidecar" => sidecar(data, pod, facts, settings),
                "gateway" => gateway(data, pod, facts, settings),
                "grpc-simple" => grpc_simple(data, pod),
                "grpc-agent" => grpc_agent(data, pod, facts, settings),
                _ => return Err(format!("requested template {name:?} not found")),
            },
        };
        merge_parts(&mut out, part);
    }
    let added = added_names(&out);
    let list = |names: &[String]| -> Value {
        if names.is_empty() {
            Value::Null
        } else {
            json!(names)
        }
    };
    let status = json!({
        "initContainers": list(&added.init_containers),
        "containers": list(&added.containers),
        "volumes": list(&added.volumes),
        "imagePullSecrets": list(&out.image_pull_secrets),
        "revision": revision(settings),
    });
    set_pair(&mut out.annotations, STATUS, &status.to_string());
    Ok(out)
}

fn revision(settings: &KnownSettings) -> String {
    if settings.istio.revision.is_empty() {
        "default".into()
    } else {
        settings.istio.revision.clone()
    }
}

/// A later template's entries merge into same-named ones; new ones are
/// added in order.
fn merge_parts(out: &mut Additions, part: Additions) {
    pub(super) fn name(v: &Value) -> Option<&str> {
        v.get("name").and_then(Value::as_str)
    }
    let lists =
        |out: &mut Additions, item: Value, target: fn(&mut Additions) -> &mut Vec<Value>| {
            let n = name(&item).map(str::to_owned);
            let all: [&mut Vec<Value>; 4] = [
                &mut out.init_containers,
                &mut out.native_sidecars,
                &mut out.late_init_containers,
                &mut out.containers,
            ];
            for list in all {
                if let Some(existing) = list.iter_mut().find(|c| name(c) == n.as_deref()) {
                    merge_value(existing, &item);
                    return;
                }
            }
            target(out).push(item);
        };
    for c in part.init_containers {
        lists(out, c, |o| &mut o.init_containers);
    }
    for c in part.native_sidecars {
        lists(out, c, |o| &mut o.native_sidecars);
    }
    for c in part.late_init_containers {
        lists(out, c, |o| &mut o.late_init_containers);
    }
    for c in part.containers {
        lists(out, c, |o| &mut o.containers);
    }
    out.containers_first |= part.containers_first;
    for v in part.volumes {
        match out.volumes.iter_mut().find(|x| name(x) == name(&v)) {
            Some(existing) => merge_value(existing, &v),
            None => out.volumes.push(v),
        }
    }
    for (k, v) in part.annotations {
        set_pair(&mut out.annotations, &k, &v);
    }
    for (k, v) in part.labels {
        set_pair(&mut out.labels, &k, &v);
    }
    for s in part.image_pull_secrets {
        if !out.image_pull_secrets.contains(&s) {
            out.image_pull_secrets.push(s);
        }
    }
    for n in part.patched_containers {
        if !out.patched_containers.contains(&n) {
            out.patched_containers.push(n);
        }
    }
    for p in part.container_patches {
        match out
            .container_patches
            .iter_mut()
            .find(|x| name(x) == name(&p))
        {
            Some(existing) => merge_value(existing, &p),
            None => out.container_patches.push(p),
        }
    }
}

/// App containers (all but `istio-proxy`).
fn app_containers<'a>(pod: &PodView<'a>) -> Vec<&'a str> {
    pod.containers
        .iter()
        .copied()
        .filter(|c| *c != "istio-proxy")
        .collect()
}

/// `sidecar.istio.io/proxyImage` verbatim when it contains `/`, else
/// `hub/<name>:tag` from the configured image; else the configured one.
fn image(pod: &PodView<'_>, configured: &str) -> String {
    match pod.annotation("sidecar.istio.io/proxyImage") {
        Some(a) if a.contains('/') => a.to_owned(),
        Some(a) if !a.is_empty() => {
            let (hub, last) = configured.rsplit_once('/').unwrap_or(("", configured));
            let tag = last.split_once(':').map(|(_, t)| t);
            let mut image = if hub.is_empty() {
                a.to_owned()
            } else {
                format!("{hub}/{a}")
            };
            if let Some(tag) = tag {
                image = format!("{image}:{tag}");
            }
            image
        }
        _ => configured.to_owned(),
    }
}

/// The four resource annotations (when any is set the chart defaults are
/// not merged), else `global.proxy.resources`.
fn resources(pod: &PodView<'_>, settings: &KnownSettings) -> Option<Value> {
    let keys = [
        ("sidecar.istio.io/proxyCPU", "requests", "cpu"),
        ("sidecar.istio.io/proxyMemory", "requests", "memory"),
        ("sidecar.istio.io/proxyCPULimit", "limits", "cpu"),
        ("sidecar.istio.io/proxyMemoryLimit", "limits", "memory"),
    ];
    if keys.iter().any(|(k, _, _)| pod.annotation(k).is_some()) {
        let mut out = Map::new();
        for (key, field, resource) in keys {
            if let Some(v) = pod.annotation(key) {
                let entry = out
                    .entry(field)
                    .or_insert_with(|| Value::Object(Map::new()));
                set(entry, resource, json!(v));
            }
        }
        return Some(Value::Object(out));
    }
    let configured = &settings.istio.resources;
    (!configured.is_null() && configured.as_object().is_none_or(|m| !m.is_empty()))
        .then(|| configured.clone())
}

/// Volumes of a set, with `custom-bootstrap-volume` after
/// `workload-certs`, `istio-certs` and the user volumes last.
fn volumes(
    data: &InjectorFacts,
    set_name: &str,
    pod: &PodView<'_>,
    settings: &KnownSettings,
    user_volumes: bool,
) -> Vec<Value> {
    let mut out = data.volume_set(set_name);
    if let Some(config_map) = pod.annotation("sidecar.istio.io/bootstrapOverride") {
        let mut v = data.volume("custom-bootstrap-volume");
        set(&mut v, "configMap", json!({"name": config_map}));
        let at = out
            .iter()
            .position(|v| v["name"] == "workload-certs")
            .map_or(out.len(), |i| i + 1);
        out.insert(at, v);
    }
    if settings.istio.mount_mtls_certs {
        let mut v = data.volume("istio-certs");
        let secret = format!("istio.{}", pod.service_account.unwrap_or("default"));
        set(
            &mut v,
            "secret",
            json!({"optional": true, "secretName": secret}),
        );
        out.push(v);
    }
    if user_volumes {
        // Go templates range over a map in sorted key order.
        let parsed: Option<BTreeMap<String, Value>> = pod
            .annotation("sidecar.istio.io/userVolume")
            .and_then(|text| serde_json::from_str(text).ok());
        for (name, mut value) in parsed.unwrap_or_default() {
            if !value.is_object() {
                value = json!({});
            }
            set(&mut value, "name", json!(name));
            out.push(value);
        }
    }
    out
}

fn canonical_labels(pod: &PodView<'_>, facts: &PodFacts<'_>, truncate: bool, out: &mut Additions) {
    let name = pod
        .labels
        .get("service.istio.io/canonical-name")
        .or_else(|| pod.labels.get("app.kubernetes.io/name"))
        .or_else(|| pod.labels.get("app"))
        .copied()
        .filter(|s| !s.is_empty())
        .unwrap_or(facts.name);
    let name = if truncate {
        let cut: String = name.chars().take(63).collect();
        cut.trim_matches(|c| matches!(c, '-' | '_' | '.'))
            .to_owned()
    } else {
        name.to_owned()
    };
    let revision = pod
        .labels
        .get("service.istio.io/canonical-revision")
        .or_else(|| pod.labels.get("app.kubernetes.io/version"))
        .or_else(|| pod.labels.get("version"))
        .copied()
        .filter(|s| !s.is_empty())
        .unwrap_or("latest");
    set_pair(&mut out.labels, "service.istio.io/canonical-name", &name);
    set_pair(
        &mut out.labels,
        "service.istio.io/canonical-revision",
        revision,
    );
}

fn common_annotations(pod: &PodView<'_>, settings: &KnownSettings, out: &mut Additions) {
    set_pair(&mut out.annotations, "istio.io/rev", &revision(settings));
    if let Some(first) = app_containers(pod).first() {
        for key in [
            "kubectl.kubernetes.io/default-logs-container",
            "kubectl.kubernetes.io/default-container",
        ] {
            if pod.annotation(key).is_none() {
                set_pair(&mut out.annotations, key, first);
            }
        }
    }
}

fn interception_mode<'a>(pod: &PodView<'a>, settings: &'a KnownSettings) -> &'a str {
    pod.annotation("sidecar.istio.io/interceptionMode")
        .unwrap_or(&settings.istio.interception_mode)
}

/// `holdApplicationUntilProxyStarts` from the settings or the pod's
/// `proxy.istio.io/config`.
fn hold(pod: &PodView<'_>, settings: &KnownSettings) -> bool {
    settings.istio.hold_application_until_proxy_starts
        || pod.annotation("proxy.istio.io/config").is_some_and(|c| {
            c.replace(['"', '\'', ' ', '\t'], "")
                .contains("holdApplicationUntilProxyStarts:true")
        })
}

fn sidecar(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Additions {
    let s = &settings.istio;
    let native_sidecar = settings.istio_native(pod.annotation("sidecar.istio.io/nativeSidecar"));
    let mode = interception_mode(pod, settings);
    let resources = resources(pod, settings);
    let mut out = Additions::default();

    if mode != "NONE" {
        let id = if s.cni {
            "istio-validation"
        } else {
            "istio-init"
        };
        let mut init = data.container(id);
        set(&mut init, "image", json!(image(pod, &s.proxy_init_image)));
        set_arg(&mut init, "-m", mode);
        if let Some(r) = &resources {
            set(&mut init, "resources", r.clone());
        }
        if let Some(policy) = &s.image_pull_policy {
            set(&mut init, "imagePullPolicy", json!(policy));
        }
        // reorderPod: validation first; native: init first; classic:
        // istio-init last so the app's init containers keep the network.
        if s.cni || native_sidecar {
            out.init_containers.push(init);
        } else {
            out.late_init_containers.push(init);
        }
    }

    let mut proxy = data.container("istio-proxy");
    set(&mut proxy, "image", json!(image(pod, &s.proxy_image)));
    if let Some(r) = &resources {
        set(&mut proxy, "resources", r.clone());
    }
    if let Some(policy) = &s.image_pull_policy {
        set(&mut proxy, "imagePullPolicy", json!(policy));
    }
    if mode == "TPROXY" {
        set(
            &mut proxy,
            "securityContext",
            data.fragment("proxy-tproxy-security"),
        );
    }
    if pod.annotation("status.sidecar.istio.io/port") == Some("0")
        && let Some(c) = proxy.as_object_mut()
    {
        c.remove("readinessProbe");
    }
    if native_sidecar {
        set(
            &mut proxy,
            "lifecycle",
            data.fragment("proxy-native-lifecycle"),
        );
        out.native_sidecars.push(native(proxy));
    } else {
        let hold = hold(pod, settings);
        if hold {
            set(
                &mut proxy,
                "lifecycle",
                data.fragment("proxy-hold-lifecycle"),
            );
        }
        out.containers_first = hold;
        out.containers.push(proxy);
    }
    out.volumes = volumes(data, "sidecar", pod, settings, true);
    out.image_pull_secrets = s.image_pull_secrets.clone();

    let tls_mode = pod
        .labels
        .get("security.istio.io/tlsMode")
        .copied()
        .filter(|v| !v.is_empty())
        .unwrap_or("istio");
    set_pair(&mut out.labels, "security.istio.io/tlsMode", tls_mode);
    canonical_labels(pod, facts, true, &mut out);
    common_annotations(pod, settings, &mut out);
    if s.cni {
        set_pair(
            &mut out.annotations,
            "sidecar.istio.io/interceptionMode",
            mode,
        );
        let include = pod
            .annotation("traffic.sidecar.istio.io/includeInboundPorts")
            .unwrap_or("*");
        set_pair(
            &mut out.annotations,
            "traffic.sidecar.istio.io/includeInboundPorts",
            include,
        );
        let status_port = pod
            .annotation("status.sidecar.istio.io/port")
            .map(str::to_owned)
            .unwrap_or_else(|| s.status_port.to_string());
        let mut exclude: Vec<String> = Vec::new();
        if status_port != "0" {
            exclude.push(status_port);
        }
        if let Some(extra) = pod.annotation("traffic.sidecar.istio.io/excludeInboundPorts") {
            exclude.extend(
                extra
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty() && !exclude.iter().any(|e| e == p))
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            );
        }
        set_pair(
            &mut out.annotations,
            "traffic.sidecar.istio.io/excludeInboundPorts",
            &exclude.join(","),
        );
    }
    out
}

fn gateway(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Additions {
    let mut proxy = data.container("istio-proxy-gateway");
    set(
        &mut proxy,
        "image",
        json!(image(pod, &settings.istio.proxy_image)),
    );
    if let Some(policy) = &settings.istio.image_pull_policy {
        set(&mut proxy, "imagePullPolicy", json!(policy));
    }
    let mut out = Additions {
        containers: vec![proxy],
        volumes: volumes(data, "gateway", pod, settings, false),
        image_pull_secrets: settings.istio.image_pull_secrets.clone(),
        ..Additions::default()
    };
    canonical_labels(pod, facts, false, &mut out);
    common_annotations(pod, settings, &mut out);
    out
}

fn patch_apps(pod: &PodView<'_>, patch: &Value, out: &mut Additions) {
    for name in app_containers(pod) {
        let mut p = patch.clone();
        set(&mut p, "name", json!(name));
        out.patched_containers.push(name.to_owned());
        out.container_patches.push(p);
    }
}

fn grpc_simple(data: &InjectorFacts, pod: &PodView<'_>) -> Additions {
    let mut out = Additions {
        init_containers: vec![data.container("grpc-bootstrap-init")],
        volumes: data.volume_set("grpc-simple"),
        annotations: vec![(
            "sidecar.istio.io/rewriteAppHTTPProbers".into(),
            "false".into(),
        )],
        ..Additions::default()
    };
    // grpc-simple.yaml ranges over every container, istio-proxy included.
    for name in &pod.containers {
        let mut p = data.fragment("grpc-simple-app");
        set(&mut p, "name", json!(name));
        out.patched_containers.push((*name).to_owned());
        out.container_patches.push(p);
    }
    out
}

fn grpc_agent(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Additions {
    let mut proxy = data.container("istio-proxy-grpc-agent");
    set(
        &mut proxy,
        "image",
        json!(image(pod, &settings.istio.proxy_image)),
    );
    if let Some(r) = resources(pod, settings) {
        set(&mut proxy, "resources", r);
    }
    let mut out = Additions {
        containers: vec![proxy],
        volumes: volumes(data, "grpc-agent", pod, settings, true),
        image_pull_secrets: settings.istio.image_pull_secrets.clone(),
        ..Additions::default()
    };
    patch_apps(pod, &data.fragment("grpc-agent-app"), &mut out);
    canonical_labels(pod, facts, false, &mut out);
    common_annotations(pod, settings, &mut out);
    set_pair(
        &mut out.annotations,
        "sidecar.istio.io/rewriteAppHTTPProbers",
        "false",
    );
    out
}

/// Names from a custom template's text: `- name: X` entries directly
/// under `initContainers:`, `containers:` and `volumes:` (the first
/// list level of each section; an entry's `name:` may follow another
/// key). A templated name (`- name: {{ $container.Name }}`, inside a
/// `range` over `.Spec.Containers`) stands for every app container, which
/// is patched in place; a literal name of an app container is patched
/// too. The bodies are not rendered: entries carry only their name.
pub(super) fn scan(text: &str, pod: &PodView<'_>) -> Additions {
    let mut out = Additions::default();
    // (section, section indent, item indent once known)
    let mut section: Option<(&str, usize, Option<usize>)> = None;
    let mut pending_item: Option<usize> = None;
    let add = |out: &mut Additions, section: &str, raw: &str| {
        let raw = raw.trim().trim_matches(|c| c == '"' || c == '\'');
        if raw.is_empty() {
            return;
        }
        if raw.contains("{{") {
            if section == "containers" {
                for name in app_containers(pod) {
                    if !out.patched_containers.iter().any(|n| n == name) {
                        out.patched_containers.push(name.to_owned());
                    }
                }
            }
            return;
        }
        let entry = json!({"name": raw});
        match section {
            "initContainers" => out.init_containers.push(entry),
            "containers" if pod.containers.contains(&raw) => {
                if !out.patched_containers.iter().any(|n| n == raw) {
                    out.patched_containers.push(raw.to_owned());
                }
            }
            "containers" => out.containers.push(entry),
            _ => out.volumes.push(entry),
        }
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("{{") {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(key) = ["initContainers:", "containers:", "volumes:"]
            .iter()
            .find(|k| trimmed.trim_end() == **k)
        {
            section = Some((key.trim_end_matches(':'), indent, None));
            pending_item = None;
            continue;
        }
        let Some((name, section_indent, item_indent)) = section.as_mut() else {
            continue;
        };
        if let Some(rest) = trimmed.strip_prefix("- ") {
            if indent < *section_indent {
                section = None;
                continue;
            }
            let item = *item_indent.get_or_insert(indent);
            if indent == item {
                let rest = rest.trim_start();
                if let Some(value) = rest.strip_prefix("name:") {
                    add(&mut out, name, value);
                    pending_item = None;
                } else {
                    pending_item = Some(indent + 2);
                }
            }
            continue;
        }
        if indent <= *section_indent {
            section = None;
            pending_item = None;
            continue;
        }
        if pending_item == Some(indent)
            && let Some(value) = trimmed.strip_prefix("name:")
        {
            add(&mut out, name, value);
            pending_item = None;
        }
    }
    out
}
