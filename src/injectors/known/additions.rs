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

// ---------------------------------------------------------------------------
// The data file.

const DATA: &str = include_str!("additions.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Facts {
    injectors: Vec<InjectorFacts>,
}

/// One injector's entry in `additions.yaml` (keys described there).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectorFacts {
    name: String,
    source: String,
    #[serde(default)]
    containers: BTreeMap<String, Value>,
    #[serde(default)]
    volumes: BTreeMap<String, Value>,
    #[serde(default)]
    volume_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    fragments: BTreeMap<String, Value>,
    #[serde(default)]
    images: BTreeMap<String, String>,
    recognised_by: Recognition,
    previous: Previous,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Pod annotations that set the sidecar's resources, by field
    /// (`requests.cpu` → `dapr.io/sidecar-cpu-request`).
    #[serde(default)]
    resource_annotations: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
}

impl InjectorFacts {
    /// Sets `resources` on `container` from the pod's resource annotations.
    fn resources_from_annotations(&self, pod: &PodView<'_>, container: &mut Value) {
        for (field, key) in &self.resource_annotations {
            let Some(value) = pod.annotation(key) else {
                continue;
            };
            let Some((kind, resource)) = field.split_once('.') else {
                continue;
            };
            if let Some(map) = container.as_object_mut() {
                let resources = map.entry("resources").or_insert_with(|| json!({}));
                if let Some(resources) = resources.as_object_mut() {
                    let kind = resources.entry(kind).or_insert_with(|| json!({}));
                    if let Some(kind) = kind.as_object_mut() {
                        kind.insert(resource.to_owned(), json!(value));
                    }
                }
            }
        }
    }
}

/// How a pod a known injector mutated shows it (`recognised_by` in
/// `additions.yaml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recognition {
    /// The status annotation it writes on every pod it mutates.
    #[serde(default)]
    pub annotation: Option<String>,
    /// A status label it also writes (removed with the annotation).
    #[serde(default)]
    pub label: Option<String>,
    /// Containers it adds that no app would name so; one is enough.
    pub containers: Vec<String>,
    #[allow(dead_code)]
    source: String,
}

/// Every known injector's id with how its injection shows on a pod, in
/// the data's order.
pub fn recognitions() -> impl Iterator<Item = (&'static str, &'static Recognition)> {
    facts()
        .injectors
        .iter()
        .map(|i| (i.name.as_str(), &i.recognised_by))
}

/// Names a previous injection leaves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Previous {
    init_containers: Vec<String>,
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl InjectorFacts {
    fn container(&self, id: &str) -> Value {
        self.containers
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no container `{id}`", self.name))
    }
    fn volume(&self, name: &str) -> Value {
        self.volumes
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no volume `{name}`", self.name))
    }
    fn volume_set(&self, set: &str) -> Vec<Value> {
        self.volume_sets
            .get(set)
            .map(|names| names.iter().map(|n| self.volume(n)).collect())
            .unwrap_or_default()
    }
    fn fragment(&self, id: &str) -> Value {
        self.fragments
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no fragment `{id}`", self.name))
    }
    fn metadata(&self, out: &mut Additions) {
        for (k, v) in &self.annotations {
            set_pair(&mut out.annotations, k, v);
        }
        for (k, v) in &self.labels {
            set_pair(&mut out.labels, k, v);
        }
    }
}

fn facts() -> &'static Facts {
    static PARSED: OnceLock<Facts> = OnceLock::new();
    PARSED.get_or_init(|| parse(DATA).unwrap_or_else(|e| panic!("additions.yaml: {e}")))
}

fn parse(text: &str) -> Result<Facts, String> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    if let Some(problem) = parsed.problems.first() {
        return Err(format!("{problem:?}"));
    }
    let (_, root) = parsed.documents.first().ok_or("no document")?;
    serde_json::from_value(root.to_json()).map_err(|e| e.to_string())
}

fn injector_facts(injector: &str) -> Option<&'static InjectorFacts> {
    facts().injectors.iter().find(|i| i.name == injector)
}

/// Where the facts about `injector`'s additions come from.
pub fn source(injector: &str) -> Option<&'static str> {
    injector_facts(injector).map(|i| i.source.as_str())
}

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

// ---------------------------------------------------------------------------
// Istio.

mod istio {
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
        fn name(v: &Value) -> Option<&str> {
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

    fn canonical_labels(
        pod: &PodView<'_>,
        facts: &PodFacts<'_>,
        truncate: bool,
        out: &mut Additions,
    ) {
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
        let native_sidecar =
            settings.istio_native(pod.annotation("sidecar.istio.io/nativeSidecar"));
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
}

// ---------------------------------------------------------------------------
// Applying.

fn added_names(additions: &Additions) -> Added {
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
fn merge_value(target: &mut Value, patch: &Value) {
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

fn key_of(item: &Value) -> Option<(&'static str, &str)> {
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
fn strip(pod: &mut Value, injector: &str, additions: &Additions) {
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
fn apply_overrides(spec: &mut Map<String, Value>, additions: &mut Additions) {
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
