//! What a known injector adds to a pod once it has decided to inject: the
//! containers, init containers and volumes with their names, images, ports,
//! security settings and resources, the metadata it writes, and where in the
//! pod each piece lands. The facts live in `additions.yaml` (with sources);
//! this module only chooses among their variants (CNI, native sidecars,
//! interception mode, templates) and fills in values from pod annotations
//! and the injector's settings.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::decide::go_bool;
use super::settings::KnownSettings;
use crate::injectors::own::mutate::{Added, PodFacts};
use crate::injectors::pod_lists::{edit_list, remove_named};

/// What one injector adds to one pod.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Additions {
    /// Init containers that go before the app's (`istio-init`, `linkerd-init`).
    pub init_containers: Vec<Value>,
    /// Native sidecars (`restartPolicy: Always`), in `initContainers` right
    /// after [`Additions::init_containers`].
    pub native_sidecars: Vec<Value>,
    /// Init containers that go after the app's (`vault-agent-init` unless
    /// `agent-init-first`; Istio's classic `istio-init`; Linkerd's
    /// `linkerd-init` without native sidecars).
    pub late_init_containers: Vec<Value>,
    /// Sidecars in `containers`: appended, or, when
    /// [`Additions::containers_first`], the first of them goes before the
    /// app's containers (Istio's `holdApplicationUntilProxyStarts`,
    /// Linkerd's `proxy-await`) and the rest are appended.
    pub containers: Vec<Value>,
    pub containers_first: bool,
    pub volumes: Vec<Value>,
    /// New volumes and image pull secrets go before the pod's own instead of
    /// after them (Istio merges its rendered template with a strategic merge
    /// patch, which puts entries new to a list first: the goldens show
    /// `workload-socket`… before the app's `data`, `barSecret` before
    /// `fooSecret`).
    pub volumes_first: bool,
    /// Pod annotations and labels the injector writes (its status marker
    /// among them); they overwrite the pod's values.
    pub annotations: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// Appended as `{name}` unless the pod already lists them.
    pub image_pull_secrets: Vec<String>,
    /// App containers a template rewrites in place (Istio records them in
    /// its status annotation's `containers`).
    pub patched_containers: Vec<String>,
    /// What is merged into each patched app container (`name` plus the
    /// fields to merge; lists of named entries merge by name). A patched
    /// container without an entry here is only named.
    pub container_patches: Vec<Value>,
}

/// Where an added entry landed in the injected pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// `initContainers`, `containers` or `volumes`.
    pub list: &'static str,
    /// Its index in that list of the injected pod.
    pub index: usize,
}

/// The injected pod, the names of what was added, and where each added
/// entry landed.
#[derive(Debug, Clone)]
pub struct Applied {
    pub pod: Value,
    pub added: Added,
    /// One per name in `added`, in the same order (init containers, then
    /// containers incl. patched app containers, then volumes).
    pub placed: Vec<Placed>,
}

mod apply;
mod data;
mod istio;

use apply::*;
use data::*;

pub use apply::apply;
pub(crate) use apply::ensure_object;
pub use data::{Recognition, recognitions, source};

// ---------------------------------------------------------------------------
// Choosing what to add.

/// What `injector` adds to `pod` (a pod template: `{"metadata", "spec"}`).
/// `Err(reason)` means the injector rejects the pod at admission (Istio: an
/// unknown template in `inject.istio.io/templates`). An unknown injector id
/// is an error too.
pub fn additions(
    injector: &str,
    pod: &Value,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Result<Additions, String> {
    let data = injector_facts(injector).ok_or_else(|| format!("unknown injector `{injector}`"))?;
    let pod = PodView::new(pod);
    let mut out = match injector {
        "istio" => istio::additions(data, &pod, facts, settings)?,
        "linkerd" => linkerd(data, &pod, facts, settings),
        "consul" => consul(data, &pod, settings),
        "vault" => vault(data, &pod, settings),
        "otel" => otel(data, &pod, facts, settings),
        // One init container first (if any), one sidecar appended.
        "dapr" | "kuma" | "osm" | "appmesh" => simple(data, settings),
        _ => return Err(format!("unknown injector `{injector}`")),
    };
    if injector != "istio" {
        data.metadata(&mut out);
    }
    // The sidecars' resources from the pod's annotations (Vault, Dapr).
    for sidecar in out
        .containers
        .iter_mut()
        .chain(out.native_sidecars.iter_mut())
    {
        data.resources_from_annotations(&pod, sidecar);
    }
    Ok(out)
}

/// A pod template's metadata and containers, read once.
struct PodView<'a> {
    annotations: BTreeMap<&'a str, &'a str>,
    labels: BTreeMap<&'a str, &'a str>,
    /// Names of the app containers.
    containers: Vec<&'a str>,
    service_account: Option<&'a str>,
}

impl<'a> PodView<'a> {
    fn new(pod: &'a Value) -> PodView<'a> {
        let strings = |pointer: &str| -> BTreeMap<&'a str, &'a str> {
            pod.pointer(pointer)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            // A YAML bool where Kubernetes wants a string
                            // (INJ201 reports it) still reads as its text.
                            let text = match v {
                                Value::Bool(true) => "true",
                                Value::Bool(false) => "false",
                                other => other.as_str()?,
                            };
                            Some((k.as_str(), text))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        PodView {
            annotations: strings("/metadata/annotations"),
            labels: strings("/metadata/labels"),
            containers: pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| cs.iter().filter_map(|c| c.get("name")?.as_str()).collect())
                .unwrap_or_default(),
            service_account: pod
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty()),
        }
    }
    fn annotation(&self, key: &str) -> Option<&'a str> {
        self.annotations.get(key).copied()
    }
    /// The annotation parsed like Go's `strconv.ParseBool`.
    fn flag(&self, key: &str) -> Option<bool> {
        self.annotation(key).and_then(go_bool)
    }
}

fn set_pair(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(pair) => pair.1 = value.to_owned(),
        None => pairs.push((key.to_owned(), value.to_owned())),
    }
}

fn set(container: &mut Value, key: &str, value: Value) {
    if let Some(c) = container.as_object_mut() {
        c.insert(key.to_owned(), value);
    }
}

/// Sets the argument after `flag` in the container's `args`.
fn set_arg(container: &mut Value, flag: &str, value: &str) {
    if let Some(args) = container.get_mut("args").and_then(Value::as_array_mut)
        && let Some(i) = args.iter().position(|a| a == flag)
        && i + 1 < args.len()
    {
        args[i + 1] = json!(value);
    }
}

fn native(mut container: Value) -> Value {
    set(&mut container, "restartPolicy", json!("Always"));
    container
}

/// The image of one of the "other" injectors: settings, else the data's
/// default (`key`: `sidecar`, `init`, `agent`), tagged with the configured
/// version when it has no tag.
fn other_image(data: &InjectorFacts, settings: &KnownSettings, key: &str) -> Option<String> {
    let other = settings.others.get(data.name.as_str());
    let configured = other
        .and_then(|o| o.image.clone())
        .filter(|_| key != "init");
    let image = configured.or_else(|| data.images.get(key).cloned())?;
    let tagged = image
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'));
    Some(match other.and_then(|o| o.version.as_deref()) {
        Some(version) if !tagged => format!("{image}:{version}"),
        _ => image,
    })
}

fn with_image(mut container: Value, image: Option<String>) -> Value {
    if let Some(image) = image {
        set(&mut container, "image", Value::String(image));
    }
    container
}

/// Dapr, Kuma, OSM, App Mesh, OTel: the container model named first in
/// `previous.init_containers` (and not also first in `previous.containers`)
/// goes first in `initContainers`, every other one is appended to
/// `containers`; plus the `default` volume set.
fn simple(data: &InjectorFacts, settings: &KnownSettings) -> Additions {
    let mut out = Additions::default();
    let init_name = data.previous.init_containers.first();
    for (id, model) in &data.containers {
        let is_init = Some(id) == init_name && data.previous.containers.first() != Some(id);
        if is_init {
            let image = other_image(data, settings, "init");
            out.init_containers.push(with_image(model.clone(), image));
        } else {
            let image = other_image(data, settings, "sidecar");
            out.containers.push(with_image(model.clone(), image));
        }
    }
    out.volumes = data.volume_set("default");
    out
}

/// Consul: `consul-connect-inject-init` first (root + NET_ADMIN with
/// transparent proxy, on by default), `consul-dataplane` as a sidecar or, with
/// `consul.hashicorp.com/enable-consul-dataplane-as-sidecar`, a native one.
fn consul(data: &InjectorFacts, pod: &PodView<'_>, settings: &KnownSettings) -> Additions {
    let mut out = Additions::default();
    let mut init = with_image(
        data.container("consul-connect-inject-init"),
        other_image(data, settings, "init"),
    );
    if pod
        .flag("consul.hashicorp.com/transparent-proxy")
        .unwrap_or(true)
    {
        set(
            &mut init,
            "securityContext",
            data.fragment("init-tproxy-security"),
        );
    }
    out.init_containers.push(init);
    let dataplane = with_image(
        data.container("consul-dataplane"),
        other_image(data, settings, "sidecar"),
    );
    if pod
        .flag("consul.hashicorp.com/enable-consul-dataplane-as-sidecar")
        .unwrap_or(false)
    {
        out.native_sidecars.push(native(dataplane));
    } else {
        out.containers.push(dataplane);
    }
    out.volumes = data.volume_set("default");
    out
}

/// Vault: `vault-agent-init` last among init containers unless
/// `agent-init-first`, skipped with `agent-pre-populate: "false"`;
/// `vault-agent` unless `agent-pre-populate-only`.
fn vault(data: &InjectorFacts, pod: &PodView<'_>, settings: &KnownSettings) -> Additions {
    let mut out = Additions::default();
    let image = pod
        .annotation("vault.hashicorp.com/agent-image")
        .map(str::to_owned)
        .or_else(|| other_image(data, settings, "agent"));
    let pre_populate = pod
        .flag("vault.hashicorp.com/agent-pre-populate")
        .unwrap_or(true);
    let only = pod
        .flag("vault.hashicorp.com/agent-pre-populate-only")
        .unwrap_or(false);
    let init_first = pod
        .flag("vault.hashicorp.com/agent-init-first")
        .unwrap_or(false);
    if pre_populate {
        let init = with_image(data.container("vault-agent-init"), image.clone());
        if init_first {
            out.init_containers.push(init);
        } else {
            out.late_init_containers.push(init);
        }
        out.volumes.push(data.volume("home-init"));
    }
    if !only {
        out.containers
            .push(with_image(data.container("vault-agent"), image));
        out.volumes.push(data.volume("home-sidecar"));
    }
    out.volumes.push(data.volume("vault-secrets"));
    out
}

/// OpenTelemetry collector sidecar, labelled with the collector it came from.
fn otel(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Additions {
    let mut out = simple(data, settings);
    let collector = match pod.annotation("sidecar.opentelemetry.io/inject") {
        Some(v) if v.contains('/') => v.replacen('/', ".", 1),
        Some(v) if !v.is_empty() && go_bool(v).is_none() => format!("{}.{v}", facts.namespace),
        _ => format!("{}.sidecar", facts.namespace),
    };
    out.labels
        .push(("sidecar.opentelemetry.io/injected".into(), collector));
    out
}

/// Linkerd (`charts/patch/templates/patch.json`): without native sidecars
/// `linkerd-init` is appended to the init containers and the proxy goes
/// first in `containers` (`proxy-await`, default on) or last; with native
/// sidecars `linkerd-init` and then the proxy go first. With CNI the init
/// container is `linkerd-network-validator`.
fn linkerd(
    data: &InjectorFacts,
    pod: &PodView<'_>,
    facts: &PodFacts<'_>,
    settings: &KnownSettings,
) -> Additions {
    let s = &settings.linkerd;
    let config = |key: &str| pod.annotation(&format!("config.linkerd.io/{key}"));
    let native_sidecar = [
        "config.linkerd.io/proxy-enable-native-sidecar",
        "config.beta.linkerd.io/proxy-enable-native-sidecar",
        "config.alpha.linkerd.io/proxy-enable-native-sidecar",
    ]
    .iter()
    .find_map(|k| pod.flag(k))
    .unwrap_or(s.native_sidecars);
    let uid = config("proxy-uid")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(s.proxy_uid);
    let gid = config("proxy-gid")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(s.proxy_gid);
    let port = |key: &str, default: u16| {
        config(key)
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(default)
    };
    let inbound = port("inbound-port", s.inbound_port);
    let admin = port("admin-port", s.admin_port);
    let version = config("proxy-version").unwrap_or(&s.version);
    let image = config("proxy-image").unwrap_or(&s.proxy_image);

    let mut out = Additions::default();
    let mut proxy = data.container("linkerd-proxy");
    set(&mut proxy, "image", json!(format!("{image}:{version}")));
    set(
        &mut proxy,
        "ports",
        json!([{"containerPort": inbound, "name": "linkerd-proxy"},
               {"containerPort": admin, "name": "linkerd-admin"}]),
    );
    if let Some(sc) = proxy
        .get_mut("securityContext")
        .and_then(Value::as_object_mut)
    {
        sc.insert("runAsUser".into(), json!(uid));
        if gid >= 0 {
            sc.insert("runAsGroup".into(), json!(gid));
        }
    }
    let mut resources = Map::new();
    for (kind, field) in [("request", "requests"), ("limit", "limits")] {
        for resource in ["cpu", "memory", "ephemeral-storage"] {
            if let Some(v) = config(&format!("proxy-{resource}-{kind}")) {
                let entry = resources
                    .entry(field)
                    .or_insert_with(|| Value::Object(Map::new()));
                set(entry, resource, json!(v));
            }
        }
    }
    if !resources.is_empty() {
        set(&mut proxy, "resources", Value::Object(resources));
    }
    if s.token_projection
        && let Some(mounts) = proxy.get_mut("volumeMounts").and_then(Value::as_array_mut)
    {
        mounts.push(data.fragment("token-mount"));
    }

    let init = if s.cni {
        data.container("linkerd-network-validator")
    } else {
        let mut init = data.container("linkerd-init");
        set_arg(&mut init, "--proxy-uid", &uid.to_string());
        out.volumes
            .push(data.volume("linkerd-proxy-init-xtables-lock"));
        init
    };
    let init_image = if s.cni || s.proxy_init_image.is_empty() {
        format!("{image}:{version}")
    } else {
        s.proxy_init_image.clone()
    };
    let init = with_image(init, Some(init_image));
    if native_sidecar {
        out.init_containers.push(init);
        set(
            &mut proxy,
            "startupProbe",
            data.fragment("native-startup-probe"),
        );
        out.native_sidecars.push(native(proxy));
    } else {
        out.late_init_containers.push(init);
        out.containers_first = config("proxy-await") != Some("disabled");
        out.containers.push(proxy);
    }
    if config("enable-debug-sidecar").and_then(go_bool) == Some(true) {
        let debug_version = config("debug-image-version").unwrap_or(&s.version);
        let debug_image = config("debug-image").unwrap_or(&s.debug_image);
        out.containers.push(with_image(
            data.container("linkerd-debug"),
            Some(format!("{debug_image}:{debug_version}")),
        ));
    }
    out.volumes.push(data.volume("linkerd-identity-end-entity"));
    if s.token_projection {
        out.volumes.push(data.volume("linkerd-identity-token"));
    }
    out.annotations
        .push(("linkerd.io/proxy-version".into(), version.to_owned()));
    out.labels
        .push(("linkerd.io/workload-ns".into(), facts.namespace.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOLUMES: &str = r#"["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert","istio-ca-crl"]"#;
    const GATEWAY_VOLUMES: &str = r#"["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"]"#;

    fn facts() -> PodFacts<'static> {
        PodFacts {
            name: "hello",
            namespace: "test-ns",
            service_account: "default",
        }
    }

    /// The goldens' settings: native sidecars on (kubelet 1.33 nodes).
    fn golden_settings() -> KnownSettings {
        let mut s = KnownSettings::default();
        s.istio.native_sidecars = Some(true);
        s
    }

    /// `pkg/kube/inject/testdata/inject/hello.yaml`'s pod template.
    fn hello() -> Value {
        json!({"metadata": {"labels": {"app": "hello", "tier": "backend", "track": "stable"}},
               "spec": {"containers": [{"name": "hello", "image": "fake.docker.io/google-samples/hello-go-gke:1.0",
                                         "ports": [{"name": "http", "containerPort": 80}]}]}})
    }

    fn with_annotations(mut pod: Value, annotations: Value) -> Value {
        pod["metadata"]["annotations"] = annotations;
        pod
    }

    fn status(pod: &Value, settings: &KnownSettings) -> String {
        let a = additions("istio", pod, &facts(), settings).unwrap();
        a.annotations
            .iter()
            .find(|(k, _)| k == istio::STATUS)
            .unwrap()
            .1
            .clone()
    }

    fn expect(init: &str, containers: &str, volumes: &str, secrets: &str) -> String {
        format!(
            r#"{{"initContainers":{init},"containers":{containers},"volumes":{volumes},"imagePullSecrets":{secrets},"revision":"default"}}"#
        )
    }

    fn names(pod: &Value, list: &str) -> Vec<String> {
        pod["spec"][list]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_data_parses_with_a_source_per_known_injector() {
        let data = parse(DATA).unwrap();
        let ids: Vec<_> = data.injectors.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            ids,
            [
                "istio", "linkerd", "consul", "vault", "dapr", "kuma", "otel", "osm", "appmesh"
            ]
        );
        for injector in &data.injectors {
            assert!(!injector.source.trim().is_empty(), "{}", injector.name);
            assert!(
                super::super::vocabulary()
                    .injector(&injector.name)
                    .is_some()
            );
            for (set, names) in &injector.volume_sets {
                for n in names {
                    assert!(
                        injector.volumes.contains_key(n),
                        "{}: {set}: {n}",
                        injector.name
                    );
                }
            }
        }
    }

    /// How an injection is recognised names what the data adds: a
    /// container model's name, the status annotation and label it writes
    /// (Istio builds its status annotation in code), a key the vocabulary
    /// calls generated.
    #[test]
    fn recognitions_name_what_the_injector_writes() {
        let data = parse(DATA).unwrap();
        for injector in &data.injectors {
            let r = &injector.recognised_by;
            let name = &injector.name;
            assert!(!r.containers.is_empty(), "{name}");
            for c in &r.containers {
                assert!(
                    injector
                        .containers
                        .values()
                        .any(|m| m["name"] == c.as_str()),
                    "{name}: no container model named {c}"
                );
            }
            let generated = |key: &str| {
                super::super::vocabulary()
                    .injector(name)
                    .and_then(|i| i.key(key))
                    .is_some_and(|k| k.generated)
            };
            if let Some(key) = &r.annotation {
                assert!(generated(key), "{name}: {key}");
                assert!(
                    name == "istio" || injector.annotations.contains_key(key),
                    "{name}: {key} is not written"
                );
            }
            if let Some(key) = &r.label {
                assert!(generated(key), "{name}: {key}");
                assert!(injector.labels.contains_key(key), "{name}: {key}");
            }
        }
        assert_eq!(
            recognitions().map(|(i, _)| i).collect::<Vec<_>>(),
            super::super::KNOWN
        );
    }

    /// Defaults stated both in the settings (code) and in the container
    /// models (data) agree: Linkerd's proxy user and ports, Istio's proxy
    /// user, interception mode and ports.
    #[test]
    fn settings_defaults_agree_with_the_container_models() {
        let data = parse(DATA).unwrap();
        let model = |injector: &str, id: &str| {
            data.injectors
                .iter()
                .find(|i| i.name == injector)
                .unwrap()
                .container(id)
        };
        let arg = |container: &Value, flag: &str| -> String {
            let args = container["args"].as_array().unwrap();
            let i = args
                .iter()
                .position(|a| a == flag)
                .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
            args[i + 1].as_str().unwrap().to_owned()
        };
        let s = KnownSettings::default();

        let linkerd = &s.linkerd;
        let init = model("linkerd", "linkerd-init");
        assert_eq!(arg(&init, "--proxy-uid"), linkerd.proxy_uid.to_string());
        assert_eq!(
            arg(&init, "--incoming-proxy-port"),
            linkerd.inbound_port.to_string()
        );
        assert_eq!(
            arg(&init, "--outgoing-proxy-port"),
            linkerd.outbound_port.to_string()
        );
        assert_eq!(
            arg(&init, "--inbound-ports-to-ignore"),
            format!("{},{}", linkerd.control_port, linkerd.admin_port)
        );
        let proxy = model("linkerd", "linkerd-proxy");
        assert_eq!(proxy["securityContext"]["runAsUser"], linkerd.proxy_uid);
        assert_eq!(proxy["ports"][0]["containerPort"], linkerd.inbound_port);
        assert_eq!(proxy["ports"][1]["containerPort"], linkerd.admin_port);
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(proxy[probe]["httpGet"]["port"], linkerd.admin_port);
        }
        let linkerd_data = data.injectors.iter().find(|i| i.name == "linkerd").unwrap();
        assert_eq!(
            linkerd_data.fragment("native-startup-probe")["httpGet"]["port"],
            linkerd.admin_port
        );

        let istio = &s.istio;
        let proxy = model("istio", "istio-proxy");
        let uid = &proxy["securityContext"]["runAsUser"];
        let health = &proxy["readinessProbe"]["httpGet"]["port"];
        for id in ["istio-init", "istio-validation"] {
            let init = model("istio", id);
            assert_eq!(
                &json!(arg(&init, "-u").parse::<i64>().unwrap()),
                uid,
                "{id}"
            );
            assert_eq!(arg(&init, "-m"), istio.interception_mode, "{id}");
            let excluded: Vec<String> = arg(&init, "-d").split(',').map(str::to_owned).collect();
            for port in [
                proxy["ports"][0]["containerPort"].to_string(),
                health.to_string(),
                istio.status_port.to_string(),
            ] {
                assert!(
                    excluded.contains(&port),
                    "{id}: {port} not in -d {excluded:?}"
                );
            }
        }
        assert_eq!(
            model("istio", "istio-validation")["securityContext"]["runAsUser"],
            *uid
        );
        assert_eq!(
            model("istio", "istio-proxy-gateway")["securityContext"]["runAsUser"],
            *uid
        );
        assert_eq!(
            model("istio", "istio-proxy-grpc-agent")["ports"][0]["containerPort"],
            istio.status_port
        );
    }

    #[test]
    fn istio_hello_native_matches_the_golden() {
        // hello.yaml.injected
        assert_eq!(
            status(&hello(), &golden_settings()),
            expect(r#"["istio-init","istio-proxy"]"#, "null", VOLUMES, "null")
        );
    }

    #[test]
    fn istio_hello_old_version_matches_the_golden() {
        // hello-old-version.yaml.injected (native sidecars off)
        let mut s = golden_settings();
        s.istio.native_sidecars = Some(false);
        assert_eq!(
            status(&hello(), &s),
            expect(r#"["istio-init"]"#, r#"["istio-proxy"]"#, VOLUMES, "null")
        );
    }

    #[test]
    fn istio_cni_matches_the_golden() {
        // hello.yaml.cni.injected
        let mut s = golden_settings();
        s.istio.cni = true;
        assert_eq!(
            status(&hello(), &s),
            expect(
                r#"["istio-validation","istio-proxy"]"#,
                "null",
                VOLUMES,
                "null"
            )
        );
        let a = additions("istio", &hello(), &facts(), &s).unwrap();
        let sc = &a.init_containers[0]["securityContext"];
        assert_eq!(sc["runAsUser"], 1337);
        assert_eq!(sc["runAsNonRoot"], true);
        assert!(sc["capabilities"].get("add").is_none());
    }

    #[test]
    fn istio_no_interception_with_native_sidecars_matches_the_golden() {
        // init-no-intercept-no-native-sidecar.yaml.injected
        let mut pod = with_annotations(
            hello(),
            json!({"sidecar.istio.io/interceptionMode": "NONE"}),
        );
        pod["spec"]["initContainers"] = json!([{"name": "init-one", "image": "busybox"}]);
        let s = golden_settings();
        assert_eq!(
            status(&pod, &s),
            expect(r#"["istio-proxy"]"#, "null", VOLUMES, "null")
        );
        let applied = apply(
            &pod,
            "istio",
            &additions("istio", &pod, &facts(), &s).unwrap(),
        );
        assert_eq!(
            names(&applied.pod, "initContainers"),
            ["istio-proxy", "init-one"]
        );
        // Without native sidecars there is no init container at all.
        let mut classic = s.clone();
        classic.istio.native_sidecars = Some(false);
        let a = additions("istio", &pod, &facts(), &classic).unwrap();
        assert!(a.init_containers.is_empty() && a.late_init_containers.is_empty());
    }

    #[test]
    fn istio_gateway_and_spire_match_the_goldens() {
        // gateway.yaml.injected
        let pod = with_annotations(hello(), json!({"inject.istio.io/templates": "gateway"}));
        let expected = expect("null", r#"["istio-proxy"]"#, GATEWAY_VOLUMES, "null");
        assert_eq!(status(&pod, &golden_settings()), expected);
        // gateway-spire.yaml.injected, with spire-template.iop.yaml's template.
        let mut s = golden_settings();
        s.istio.custom_templates.insert(
            "spire".into(),
            "spec:\n  containers:\n  - name: istio-proxy\n    volumeMounts:\n    - name: workload-socket\n      mountPath: /var/run/secrets/workload-spiffe-uds\n      readOnly: true\n  volumes:\n  - name: workload-socket\n    csi:\n      driver: \"csi.spiffe.io\"\n      readOnly: true\n".into(),
        );
        let pod = with_annotations(
            hello(),
            json!({"inject.istio.io/templates": "gateway, spire"}),
        );
        assert_eq!(status(&pod, &s), expected);
    }

    #[test]
    fn istio_user_volumes_and_mtls_certs_match_the_goldens() {
        // user-volume.yaml.injected
        let pod = with_annotations(
            hello(),
            json!({"sidecar.istio.io/userVolumeMount": r#"{"user-volume-1":{"mountPath":"/mnt/volume-1","readOnly":true},"user-volume-2":{"mountPath":"/mnt/volume-2"}}"#,
                   "sidecar.istio.io/userVolume": r#"{"user-volume-1":{"persistentVolumeClaim":{"claimName":"pvc-claim"}},"user-volume-2":{"configMap":{"name":"configmap-volume","items":[{"key":"some-key","path":"/some-path"}]}}}"#}),
        );
        let with_user = VOLUMES.replace(']', r#","user-volume-1","user-volume-2"]"#);
        assert_eq!(
            status(&pod, &golden_settings()),
            expect(
                r#"["istio-init","istio-proxy"]"#,
                "null",
                &with_user,
                "null"
            )
        );
        // hello-mount-mtls-certs.yaml.injected
        let mut s = golden_settings();
        s.istio.mount_mtls_certs = true;
        let with_certs = VOLUMES.replace(']', r#","istio-certs"]"#);
        assert_eq!(
            status(&hello(), &s),
            expect(
                r#"["istio-init","istio-proxy"]"#,
                "null",
                &with_certs,
                "null"
            )
        );
    }

    #[test]
    fn istio_image_pull_secrets_match_the_golden() {
        // hello-multiple-image-secrets.yaml.injected: barSecret from values,
        // before the pod's fooSecret.
        let mut s = golden_settings();
        s.istio.image_pull_secrets = vec!["barSecret".into()];
        let mut pod = hello();
        pod["spec"]["imagePullSecrets"] = json!([{"name": "fooSecret"}]);
        assert_eq!(
            status(&pod, &s),
            expect(
                r#"["istio-init","istio-proxy"]"#,
                "null",
                VOLUMES,
                r#"["barSecret"]"#
            )
        );
        let applied = apply(
            &pod,
            "istio",
            &additions("istio", &pod, &facts(), &s).unwrap(),
        );
        assert_eq!(
            names(&applied.pod, "imagePullSecrets"),
            ["barSecret", "fooSecret"]
        );
    }

    #[test]
    fn istio_custom_and_grpc_templates_match_the_goldens() {
        // custom-template.yaml.injected with custom-template.iop.yaml.
        let mut s = golden_settings();
        s.istio.custom_templates.insert(
            "custom".into(),
            "metadata:\n  annotations:\n    foo: bar\nspec:\n  containers:\n  {{- range $index, $container := .Spec.Containers }}\n  - name: {{ $container.Name }}\n    env:\n    - name: SOME_ENV\n      value: \"true\"\n    volumeMounts:\n    - mountPath: /var/lib/data/foo.json\n      subPath: foo.json\n      name: some-injected-file\n  {{- end}}\n  volumes:\n  - name: some-injected-file\n    downwardAPI:\n      items:\n      - path: foo.json\n".into(),
        );
        let pod = with_annotations(hello(), json!({"inject.istio.io/templates": "custom"}));
        assert_eq!(
            status(&pod, &s),
            expect("null", r#"["hello"]"#, r#"["some-injected-file"]"#, "null")
        );
        // grpc-simple.yaml.injected
        let pod = json!({"metadata": {"annotations": {"inject.istio.io/templates": "grpc-simple"}},
                         "spec": {"containers": [{"name": "traffic"}]}});
        assert_eq!(
            status(&pod, &golden_settings()),
            expect(
                r#"["grpc-bootstrap-init"]"#,
                r#"["traffic"]"#,
                r#"["grpc-io-proxyless-bootstrap"]"#,
                "null"
            )
        );
        let applied = apply(
            &pod,
            "istio",
            &additions("istio", &pod, &facts(), &golden_settings()).unwrap(),
        );
        assert_eq!(
            applied.pod["spec"]["containers"][0]["env"][0]["name"],
            "GRPC_XDS_BOOTSTRAP"
        );
        // grpc-agent (no golden): the proxy plus every app container patched.
        let pod = json!({"metadata": {"annotations": {"inject.istio.io/templates": "grpc-agent"}},
                         "spec": {"containers": [{"name": "traffic"}]}});
        let a = additions("istio", &pod, &facts(), &golden_settings()).unwrap();
        assert_eq!(added_names(&a).containers, ["istio-proxy", "traffic"]);
        assert!(added_names(&a).volumes.contains(&"istio-xds".to_owned()));
    }

    #[test]
    fn the_charts_own_text_is_the_built_in_model() {
        let mut s = golden_settings();
        s.istio.custom_templates.insert(
            "sidecar".into(),
            "{{- define \"resources\"  }}\n{{- end }}\nspec:\n  containers:\n  - name: istio-proxy\n    args:\n    - proxy\n    - sidecar\n".into(),
        );
        assert_eq!(
            status(&hello(), &s),
            expect(r#"["istio-init","istio-proxy"]"#, "null", VOLUMES, "null")
        );
        // A user's own `sidecar` template replaces the model.
        s.istio.custom_templates.insert(
            "sidecar".into(),
            "spec:\n  containers:\n  - name: my-proxy\n".into(),
        );
        assert_eq!(
            status(&hello(), &s),
            expect("null", r#"["my-proxy"]"#, "null", "null")
        );
    }

    #[test]
    fn an_unknown_istio_template_rejects_the_pod() {
        let pod = with_annotations(hello(), json!({"inject.istio.io/templates": "sidecar, x"}));
        assert_eq!(
            additions("istio", &pod, &facts(), &golden_settings()),
            Err("requested template \"x\" not found".to_owned())
        );
        assert!(additions("nope", &hello(), &facts(), &golden_settings()).is_err());
    }

    #[test]
    fn istio_security_contexts_resources_and_order() {
        let mut s = golden_settings();
        s.istio.native_sidecars = Some(false);
        let mut pod = with_annotations(
            hello(),
            json!({"sidecar.istio.io/proxyCPU": "50m", "sidecar.istio.io/proxyImage": "my.reg/proxy:1"}),
        );
        pod["spec"]["initContainers"] = json!([{"name": "migrate"}]);
        pod["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        let a = additions("istio", &pod, &facts(), &s).unwrap();
        let init = &a.late_init_containers[0];
        assert_eq!(init["name"], "istio-init");
        assert_eq!(
            init["securityContext"]["capabilities"]["add"],
            json!(["NET_ADMIN", "NET_RAW"])
        );
        assert_eq!(init["securityContext"]["runAsUser"], 0);
        let proxy = &a.containers[0];
        assert_eq!(proxy["image"], "my.reg/proxy:1");
        assert_eq!(proxy["resources"], json!({"requests": {"cpu": "50m"}}));
        assert_eq!(proxy["securityContext"]["runAsUser"], 1337);
        assert_eq!(proxy["readinessProbe"]["httpGet"]["port"], 15021);
        let applied = apply(&pod, "istio", &a);
        // reorderPod: classic istio-init last; proxy last; template volumes first.
        assert_eq!(
            names(&applied.pod, "initContainers"),
            ["migrate", "istio-init"]
        );
        assert_eq!(names(&applied.pod, "containers"), ["hello", "istio-proxy"]);
        assert_eq!(names(&applied.pod, "volumes")[9], "data");
        let annotations = &applied.pod["metadata"]["annotations"];
        assert_eq!(
            annotations["kubectl.kubernetes.io/default-container"],
            "hello"
        );
        assert_eq!(annotations["istio.io/rev"], "default");
        let labels = &applied.pod["metadata"]["labels"];
        assert_eq!(labels["security.istio.io/tlsMode"], "istio");
        assert_eq!(labels["service.istio.io/canonical-name"], "hello");
        assert_eq!(labels["service.istio.io/canonical-revision"], "latest");
        // holdApplicationUntilProxyStarts puts the proxy first.
        let held = with_annotations(
            hello(),
            json!({"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"}),
        );
        let applied = apply(
            &held,
            "istio",
            &additions("istio", &held, &facts(), &s).unwrap(),
        );
        assert_eq!(names(&applied.pod, "containers"), ["istio-proxy", "hello"]);
    }

    #[test]
    fn linkerd_matches_its_goldens() {
        // inject_emojivoto_deployment_native_sidecar.golden.yml
        let mut s = KnownSettings::default();
        s.linkerd.native_sidecars = true;
        s.linkerd.proxy_gid = -1;
        let pod = json!({"metadata": {"annotations": {"linkerd.io/inject": "enabled"}},
                         "spec": {"containers": [{"name": "web-svc"}]}});
        let a = additions("linkerd", &pod, &facts(), &s).unwrap();
        let applied = apply(&pod, "linkerd", &a);
        assert_eq!(
            names(&applied.pod, "initContainers"),
            ["linkerd-init", "linkerd-proxy"]
        );
        assert_eq!(
            names(&applied.pod, "volumes"),
            [
                "linkerd-proxy-init-xtables-lock",
                "linkerd-identity-end-entity",
                "linkerd-identity-token"
            ]
        );
        let init = &applied.pod["spec"]["initContainers"][0];
        assert_eq!(init["securityContext"]["runAsUser"], 65534);
        assert_eq!(
            init["securityContext"]["capabilities"]["add"],
            json!(["NET_ADMIN", "NET_RAW"])
        );
        let proxy = &applied.pod["spec"]["initContainers"][1];
        assert_eq!(proxy["restartPolicy"], "Always");
        assert_eq!(proxy["securityContext"]["runAsUser"], 2102);
        assert!(proxy["securityContext"].get("runAsGroup").is_none());
        assert_eq!(
            proxy["ports"],
            json!([{"containerPort": 4143, "name": "linkerd-proxy"}, {"containerPort": 4191, "name": "linkerd-admin"}])
        );
        let labels = &applied.pod["metadata"]["labels"];
        assert_eq!(labels["linkerd.io/control-plane-ns"], "linkerd");
        assert_eq!(labels["linkerd.io/workload-ns"], "test-ns");

        // Classic: proxy first (proxy-await), init appended, debug last.
        let mut classic = s.clone();
        classic.linkerd.native_sidecars = false;
        let mut pod = json!({"metadata": {"annotations": {"config.linkerd.io/enable-debug-sidecar": "true",
                                                           "config.linkerd.io/proxy-uid": "3000",
                                                           "config.linkerd.io/proxy-cpu-request": "10m"}},
                             "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "web-svc"}]}});
        let applied = apply(
            &pod,
            "linkerd",
            &additions("linkerd", &pod, &facts(), &classic).unwrap(),
        );
        assert_eq!(
            names(&applied.pod, "initContainers"),
            ["migrate", "linkerd-init"]
        );
        assert_eq!(
            names(&applied.pod, "containers"),
            ["linkerd-proxy", "web-svc", "linkerd-debug"]
        );
        assert_eq!(
            applied.pod["spec"]["containers"][0]["securityContext"]["runAsUser"],
            3000
        );
        assert_eq!(
            applied.pod["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "10m"
        );
        // The per-pod annotation beats the settings; CNI swaps the init container.
        pod["metadata"]["annotations"]["config.linkerd.io/proxy-enable-native-sidecar"] =
            json!("true");
        classic.linkerd.cni = true;
        let a = additions("linkerd", &pod, &facts(), &classic).unwrap();
        assert_eq!(
            added_names(&a).init_containers,
            ["linkerd-network-validator", "linkerd-proxy"]
        );
        assert!(
            !added_names(&a)
                .volumes
                .contains(&"linkerd-proxy-init-xtables-lock".to_owned())
        );
    }

    #[test]
    fn every_other_injector_adds_its_named_containers() {
        let s = KnownSettings::default();
        let pod = json!({"metadata": {}, "spec": {"initContainers": [{"name": "app-init"}], "containers": [{"name": "app"}]}});
        let cases: [(&str, &[&str], &[&str]); 7] = [
            (
                "consul",
                &["consul-connect-inject-init", "app-init"],
                &["app", "consul-dataplane"],
            ),
            (
                "vault",
                &["app-init", "vault-agent-init"],
                &["app", "vault-agent"],
            ),
            ("dapr", &["app-init"], &["app", "daprd"]),
            ("kuma", &["kuma-init", "app-init"], &["app", "kuma-sidecar"]),
            ("otel", &["app-init"], &["app", "otc-container"]),
            ("osm", &["osm-init", "app-init"], &["app", "envoy"]),
            ("appmesh", &["proxyinit", "app-init"], &["app", "envoy"]),
        ];
        for (id, init, containers) in cases {
            let a = additions(id, &pod, &facts(), &s).unwrap();
            let applied = apply(&pod, id, &a);
            assert_eq!(names(&applied.pod, "initContainers"), init, "{id}");
            assert_eq!(names(&applied.pod, "containers"), containers, "{id}");
        }
        let find = |id: &str, name: &str| -> Value {
            let a = additions(id, &pod, &facts(), &s).unwrap();
            a.init_containers
                .iter()
                .chain(&a.late_init_containers)
                .chain(&a.containers)
                .find(|c| c["name"] == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(
            find("consul", "consul-connect-inject-init")["securityContext"]["capabilities"]["add"],
            json!(["NET_ADMIN"])
        );
        assert_eq!(
            find("consul", "consul-connect-inject-init")["securityContext"]["runAsUser"],
            0
        );
        assert_eq!(
            find("kuma", "kuma-sidecar")["securityContext"]["runAsUser"],
            5678
        );
        assert_eq!(
            find("osm", "osm-init")["securityContext"]["capabilities"]["add"],
            json!(["NET_ADMIN"])
        );
        assert_eq!(
            find("appmesh", "proxyinit")["securityContext"]["capabilities"]["add"],
            json!(["NET_ADMIN"])
        );
        let ports: Vec<_> = find("dapr", "daprd")["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["containerPort"].as_u64().unwrap())
            .collect();
        assert!(ports.contains(&3500) && ports.contains(&50001) && ports.contains(&9090));

        let a = additions("consul", &pod, &facts(), &s).unwrap();
        assert!(a.labels.contains(&(
            "consul.hashicorp.com/connect-inject-status".into(),
            "injected".into()
        )));
        assert!(a.annotations.contains(&(
            "consul.hashicorp.com/connect-inject-status".into(),
            "injected".into()
        )));
        let a = additions("kuma", &pod, &facts(), &s).unwrap();
        assert!(
            a.annotations
                .contains(&("kuma.io/sidecar-injected".into(), "true".into()))
        );
        let a = additions("otel", &pod, &facts(), &s).unwrap();
        assert_eq!(a.labels[0].0, "sidecar.opentelemetry.io/injected");
        let a = additions("vault", &pod, &facts(), &s).unwrap();
        assert!(a.annotations.contains(&(
            "vault.hashicorp.com/agent-inject-status".into(),
            "injected".into()
        )));
    }

    #[test]
    fn vault_follows_its_annotations() {
        let s = KnownSettings::default();
        let pod = |annotations: Value| json!({"metadata": {"annotations": annotations}, "spec": {"initContainers": [{"name": "app-init"}], "containers": [{"name": "app"}]}});
        let a = additions(
            "vault",
            &pod(json!({"vault.hashicorp.com/agent-init-first": "true"})),
            &facts(),
            &s,
        )
        .unwrap();
        assert_eq!(added_names(&a).init_containers, ["vault-agent-init"]);
        assert_eq!(a.init_containers.len(), 1);
        let a = additions(
            "vault",
            &pod(json!({"vault.hashicorp.com/agent-pre-populate": "false"})),
            &facts(),
            &s,
        )
        .unwrap();
        assert!(added_names(&a).init_containers.is_empty());
        assert_eq!(added_names(&a).containers, ["vault-agent"]);
        let a = additions(
            "vault",
            &pod(json!({"vault.hashicorp.com/agent-pre-populate-only": "true"})),
            &facts(),
            &s,
        )
        .unwrap();
        assert!(a.containers.is_empty());
        assert_eq!(added_names(&a).volumes, ["home-init", "vault-secrets"]);
    }

    #[test]
    fn apply_is_idempotent_and_placed_points_at_the_added_entries() {
        let mut classic = golden_settings();
        classic.istio.native_sidecars = Some(false);
        classic.istio.image_pull_secrets = vec!["barSecret".into()];
        let mut pod = hello();
        pod["spec"]["initContainers"] = json!([{"name": "migrate"}]);
        pod["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
        let grpc = json!({"metadata": {"annotations": {"inject.istio.io/templates": "grpc-agent"}},
                          "spec": {"containers": [{"name": "traffic", "env": [{"name": "A", "value": "1"}]}]}});
        let cases: Vec<(&str, Value, KnownSettings)> = vec![
            ("istio", pod.clone(), golden_settings()),
            ("istio", pod.clone(), classic),
            ("istio", grpc, golden_settings()),
            ("linkerd", pod.clone(), KnownSettings::default()),
            ("consul", pod.clone(), KnownSettings::default()),
            ("vault", pod.clone(), KnownSettings::default()),
            ("dapr", pod.clone(), KnownSettings::default()),
            ("kuma", pod.clone(), KnownSettings::default()),
            ("otel", pod.clone(), KnownSettings::default()),
            ("osm", pod.clone(), KnownSettings::default()),
            ("appmesh", pod.clone(), KnownSettings::default()),
        ];
        for (id, pod, settings) in cases {
            let a = additions(id, &pod, &facts(), &settings).unwrap();
            let once = apply(&pod, id, &a);
            let twice = apply(&once.pod, id, &a);
            assert_eq!(once.pod, twice.pod, "{id}");
            assert_eq!(once.added, twice.added, "{id}");
            // Re-deriving the additions from the injected pod changes nothing either.
            let again = additions(id, &once.pod, &facts(), &settings).unwrap();
            assert_eq!(
                apply(&once.pod, id, &again).pod,
                once.pod,
                "{id} re-derived"
            );

            let expected: Vec<(&str, &String)> = [
                ("initContainers", &once.added.init_containers),
                ("containers", &once.added.containers),
                ("volumes", &once.added.volumes),
            ]
            .into_iter()
            .flat_map(|(list, names)| names.iter().map(move |n| (list, n)))
            .collect();
            assert_eq!(once.placed.len(), expected.len(), "{id}");
            for (placed, (list, name)) in once.placed.iter().zip(expected) {
                assert_eq!(placed.list, list, "{id}");
                assert_eq!(
                    once.pod["spec"][list][placed.index]["name"],
                    name.as_str(),
                    "{id}"
                );
            }
        }
    }
}
