//! The data file, `additions.yaml`: what each injector adds, with
//! sources, parsed once.

use super::*;

pub(super) const DATA: &str = include_str!("../additions.yaml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Facts {
    pub(super) injectors: Vec<InjectorFacts>,
}

/// One injector's entry in `additions.yaml` (keys described there).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InjectorFacts {
    pub(super) name: String,
    pub(super) source: String,
    #[serde(default)]
    pub(super) containers: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) volumes: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) volume_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) fragments: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) images: BTreeMap<String, String>,
    pub(super) recognised_by: Recognition,
    pub(super) previous: Previous,
    #[serde(default)]
    pub(super) annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    /// Pod annotations that set the sidecar's resources, by field
    /// (`requests.cpu` → `dapr.io/sidecar-cpu-request`).
    #[serde(default)]
    pub(super) resource_annotations: BTreeMap<String, String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) notes: Option<String>,
}

impl InjectorFacts {
    /// Sets `resources` on `container` from the pod's resource annotations.
    pub(super) fn resources_from_annotations(&self, pod: &PodView<'_>, container: &mut Value) {
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
    pub(super) source: String,
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
pub(super) struct Previous {
    pub(super) init_containers: Vec<String>,
    pub(super) containers: Vec<String>,
    pub(super) volumes: Vec<String>,
}

impl InjectorFacts {
    pub(super) fn container(&self, id: &str) -> Value {
        self.containers
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no container `{id}`", self.name))
    }
    pub(super) fn volume(&self, name: &str) -> Value {
        self.volumes
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no volume `{name}`", self.name))
    }
    pub(super) fn volume_set(&self, set: &str) -> Vec<Value> {
        self.volume_sets
            .get(set)
            .map(|names| names.iter().map(|n| self.volume(n)).collect())
            .unwrap_or_default()
    }
    pub(super) fn fragment(&self, id: &str) -> Value {
        self.fragments
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("additions.yaml: {}: no fragment `{id}`", self.name))
    }
    pub(super) fn metadata(&self, out: &mut Additions) {
        for (k, v) in &self.annotations {
            set_pair(&mut out.annotations, k, v);
        }
        for (k, v) in &self.labels {
            set_pair(&mut out.labels, k, v);
        }
    }
}

pub(super) fn facts() -> &'static Facts {
    static PARSED: OnceLock<Facts> = OnceLock::new();
    PARSED.get_or_init(|| parse(DATA).unwrap_or_else(|e| panic!("additions.yaml: {e}")))
}

pub(super) fn parse(text: &str) -> Result<Facts, String> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    if let Some(problem) = parsed.problems.first() {
        return Err(format!("{problem:?}"));
    }
    let (_, root) = parsed.documents.first().ok_or("no document")?;
    serde_json::from_value(root.to_json()).map_err(|e| e.to_string())
}

pub(super) fn injector_facts(injector: &str) -> Option<&'static InjectorFacts> {
    facts().injectors.iter().find(|i| i.name == injector)
}

/// Where the facts about `injector`'s additions come from.
pub fn source(injector: &str) -> Option<&'static str> {
    injector_facts(injector).map(|i| i.source.as_str())
}
