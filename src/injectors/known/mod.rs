//! The known injectors (Istio, Linkerd, Consul, Vault, Dapr, Kuma, OTel, OSM,
//! App Mesh): their label and annotation vocabulary, kept as reviewable data
//! in `vocabulary.yaml` (every key with its source) and parsed once with the
//! crate's own YAML loader.

pub mod additions;
pub mod decide;
pub mod gate;
pub mod istio_config;
pub mod settings;
pub mod values;

use std::sync::OnceLock;

use serde::Deserialize;

use crate::model::Object;
use crate::model::workload::Workload;
use crate::yaml::{Entry, Node};

pub mod placement;

/// The known injectors' ids, in the vocabulary's order.
pub const KNOWN: &[&str] = &[
    "istio", "linkerd", "consul", "vault", "dapr", "kuma", "otel", "osm", "appmesh",
];

/// The vocabulary file, embedded.
const VOCABULARY: &str = include_str!("vocabulary.yaml");

/// Every known injector's keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub injectors: Vec<Injector>,
}

/// One known injector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injector {
    /// Id, e.g. `istio`.
    pub name: String,
    /// Human name, e.g. `Istio`.
    pub display: String,
    /// Key prefixes the injector owns (`sidecar.istio.io/`).
    pub prefixes: Vec<String>,
    /// Whether `keys` lists every key the injector reads under its prefixes
    /// (only then is an unlisted key reported as unknown).
    pub complete: bool,
    keys: Vec<KeySpec>,
}

/// Where a key is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Where {
    PodAnnotation,
    PodLabel,
    NamespaceLabel,
    NamespaceAnnotation,
}

impl Where {
    /// `pod annotation`, `namespace label`, …
    pub fn describe(self) -> &'static str {
        match self {
            Where::PodAnnotation => "pod annotation",
            Where::PodLabel => "pod label",
            Where::NamespaceLabel => "namespace label",
            Where::NamespaceAnnotation => "namespace annotation",
        }
    }
}

/// The type of a key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    Bool,
    Port,
    Ports,
    Cidrs,
    Quantity,
    Duration,
    Enum,
    Json,
    String,
    Int,
}

/// A deprecation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deprecation {
    /// Placements the deprecation applies to (empty: all).
    #[serde(default, rename = "where")]
    pub placements: Vec<Where>,
    /// The key to use instead.
    pub replacement: Option<String>,
    /// Where the replacement goes, when that differs (`sidecar.istio.io/inject`: a label).
    pub replacement_where: Option<Where>,
    /// What to set in the replacement.
    pub note: Option<String>,
    pub since: Option<String>,
    /// The replacement is an inference, not in the sources.
    #[serde(default)]
    pub inferred: bool,
}

/// One known key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub key: String,
    #[serde(rename = "where")]
    pub placements: Vec<Where>,
    #[serde(rename = "type")]
    pub value_type: ValueType,
    /// Accepted values of an enum.
    #[serde(default)]
    pub values: Vec<String>,
    /// Written by the injector, not authored.
    #[serde(default)]
    pub generated: bool,
    pub deprecated: Option<Deprecation>,
    /// The injector's own parsing, refining `type` ([`values::Format`]).
    #[serde(default)]
    pub format: Option<values::Format>,
    /// What the injector does with a value it does not accept; `None`: the
    /// sources do not record it, and INJ203 stays quiet.
    #[serde(default)]
    pub invalid: Option<Invalid>,
    /// Why or how, in a few words (`istiod validates this annotation`).
    #[serde(default)]
    pub invalid_note: Option<String>,
    /// `invalid` is an inference, not a statement of the sources.
    #[serde(default)]
    pub invalid_inferred: bool,
    /// Where the fact comes from: public URLs (repository files at a fixed
    /// commit), each optionally followed by a note.
    pub source: String,
}

/// What an injector does with a value it does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invalid {
    /// The pod is denied at admission.
    Deny,
    /// Injection is skipped without a word.
    Skip,
    /// The setting is ignored; the injector's default applies.
    Ignored,
    /// The value is treated as absent (a warning at most).
    Default,
}

impl KeySpec {
    /// The deprecation of this key in `placement`, if it is deprecated there.
    pub fn deprecation(&self, placement: Where) -> Option<&Deprecation> {
        self.deprecated
            .as_ref()
            .filter(|d| d.placements.is_empty() || d.placements.contains(&placement))
    }
}

impl Vocabulary {
    /// The injector `key` belongs to: the one that lists it, else the one
    /// owning the longest prefix of it.
    pub fn injector_of(&self, key: &str) -> Option<&Injector> {
        self.injectors
            .iter()
            .find(|i| i.key(key).is_some())
            .or_else(|| {
                self.injectors
                    .iter()
                    .filter_map(|i| {
                        i.prefixes
                            .iter()
                            .filter(|p| key.starts_with(p.as_str()))
                            .map(|p| (p.len(), i))
                            .max_by_key(|(len, _)| *len)
                    })
                    .max_by_key(|(len, _)| *len)
                    .map(|(_, i)| i)
            })
    }

    /// The injector named `name` (`istio`).
    pub fn injector(&self, name: &str) -> Option<&Injector> {
        self.injectors.iter().find(|i| i.name == name)
    }
}

impl Injector {
    /// The spec of `key`, when the injector knows it.
    pub fn key(&self, key: &str) -> Option<&KeySpec> {
        self.keys.iter().find(|k| k.key == key)
    }

    /// Every known key.
    pub fn keys(&self) -> &[KeySpec] {
        &self.keys
    }

    /// The known key closest to a misspelt one, for did-you-mean help.
    pub fn suggest(&self, key: &str) -> Option<&str> {
        crate::words::did_you_mean(key, self.keys.iter().map(|k| k.key.as_str()))
    }
}

/// The vocabulary, parsed once.
pub fn vocabulary() -> &'static Vocabulary {
    static PARSED: OnceLock<Vocabulary> = OnceLock::new();
    PARSED.get_or_init(|| parse(VOCABULARY).unwrap_or_else(|e| panic!("vocabulary.yaml: {e}")))
}

fn parse(text: &str) -> Result<Vocabulary, String> {
    let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
    if let Some(problem) = parsed.problems.first() {
        return Err(format!("{problem:?}"));
    }
    let (_, root) = parsed.documents.first().ok_or("no document")?;
    serde_json::from_value(root.to_json()).map_err(|e| e.to_string())
}

/// A label or annotation of a pod template, with its JSON pointer from the
/// object root.
pub struct PodKey<'a> {
    pub placement: Where,
    pub entry: &'a Entry,
    pub pointer: String,
}

/// The pointer of the first pod-template label or annotation of `injector`
/// (what asked for the injection), from the root of the object holding the
/// pod template.
pub fn trigger_pointer(workload: &Workload<'_>, injector: &str) -> Option<String> {
    let known = vocabulary().injector(injector)?;
    let metadata = workload.pod.get("metadata")?;
    ["labels", "annotations"].into_iter().find_map(|field| {
        metadata.get(field)?.as_map()?.iter().find_map(|entry| {
            known.key(&entry.key)?;
            Some(format!(
                "{}/metadata/{field}/{}",
                workload.pod_path,
                crate::yaml::pointer::escape(&entry.key)
            ))
        })
    })
}

/// The label and annotation keys of `object`'s pod template (none for kinds
/// without pods).
pub fn pod_keys<'a>(object: &'a Object, default_namespace: &str) -> Vec<PodKey<'a>> {
    let Some(workload) = Workload::of(object, default_namespace) else {
        return Vec::new();
    };
    let Some(metadata) = workload.pod.get("metadata") else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (placement, field) in [
        (Where::PodLabel, "labels"),
        (Where::PodAnnotation, "annotations"),
    ] {
        for entry in metadata
            .get(field)
            .and_then(Node::as_map)
            .unwrap_or_default()
        {
            keys.push(PodKey {
                placement,
                entry,
                pointer: format!(
                    "{}/metadata/{field}/{}",
                    workload.pod_path,
                    crate::yaml::pointer::escape(&entry.key)
                ),
            });
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The data files whose entries carry a `source:`.
    const DATA_FILES: &[(&str, &str)] = &[
        ("vocabulary.yaml", VOCABULARY),
        ("chart_webhooks.yaml", include_str!("chart_webhooks.yaml")),
        ("additions.yaml", include_str!("additions.yaml")),
        ("triggers.yaml", include_str!("triggers.yaml")),
    ];

    fn data_json(text: &str) -> Value {
        let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.documents.first().unwrap().1.to_json()
    }

    /// The `source` of every entry that must have one: `(where, source)`.
    fn required_sources(file: &str, data: &Value) -> Vec<(String, Value)> {
        let list = |v: &Value, field: &str| v[field].as_array().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for (i, injector) in list(data, "injectors").iter().enumerate() {
            let at = |what: &str| format!("{file}: injectors[{i}]{what}");
            match file {
                "vocabulary.yaml" => {
                    for key in list(injector, "keys") {
                        out.push((at(&format!(" {}", key["key"])), key["source"].clone()));
                    }
                }
                "additions.yaml" => {
                    out.push((at(""), injector["source"].clone()));
                    out.push((
                        at(".recognised_by"),
                        injector["recognised_by"]["source"].clone(),
                    ));
                }
                "triggers.yaml" => {
                    out.push((at(""), injector["source"].clone()));
                    for trigger in list(injector, "triggers") {
                        out.push((
                            at(&format!(" {}", trigger["key"])),
                            trigger["source"].clone(),
                        ));
                    }
                }
                _ => out.push((at(""), injector["source"].clone())),
            }
        }
        out
    }

    /// Whether a github.com URL names a fixed revision: a 40-hex commit or a
    /// version tag, not a branch (`main`, `master`, `HEAD`).
    fn pinned_github(url: &str) -> bool {
        let pinned = regex::Regex::new(
            r"^https://github\.com/[\w.-]+/[\w.-]+/(blob|tree|raw)/([0-9a-f]{40}|(v|go)?[0-9]+(\.[0-9]+)+([-+][0-9A-Za-z.-]+)?)/[^\s]+$",
        )
        .unwrap();
        pinned.is_match(url)
    }

    /// Every fact of the data files cites where it comes from as public URLs a
    /// reader can open, repository files at a fixed revision; none cites the
    /// reference document outside the repository.
    #[test]
    fn every_source_cites_pinned_public_urls() {
        let url = regex::Regex::new(r"https?://[^\s()]+").unwrap();
        let outside = ["injectors", ".md"].concat();
        let mut checked = 0;
        for (file, text) in DATA_FILES {
            assert!(!text.contains(&outside), "{file} cites {outside}");
            assert!(!text.contains("/work/shared"), "{file} cites /work/shared");
            let sources = required_sources(file, &data_json(text));
            assert!(!sources.is_empty(), "{file}: no sources found");
            for (at, source) in sources {
                let source = source.as_str().unwrap_or_else(|| panic!("{at}: no source"));
                assert!(!source.trim().is_empty(), "{at}: empty source");
                let urls: Vec<&str> = url.find_iter(source).map(|m| m.as_str()).collect();
                assert!(
                    urls.iter().any(|u| u.starts_with("https://")),
                    "{at}: no https:// URL in {source:?}"
                );
                for u in urls {
                    assert!(u.starts_with("https://"), "{at}: not https: {u}");
                    if u.starts_with("https://github.com/") {
                        assert!(pinned_github(u), "{at}: not pinned to a commit or tag: {u}");
                    }
                }
                checked += 1;
            }
        }
        // 131 keys, 9 chart injectors, 9 additions (twice), 5 trigger
        // injectors with 8 triggers, at the time of writing.
        assert!(checked >= 170, "{checked} sources checked");
        // Nor do the code and the rule documentation.
        let mut stack = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    assert!(
                        !text.contains(&outside),
                        "{} cites {outside}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn pinned_github_urls() {
        for ok in [
            "https://github.com/istio/api/blob/b8f8791d9653b2edc77a071d48887e582cfe84bf/annotation/annotations.yaml",
            "https://github.com/golang/go/blob/go1.22.0/src/strconv/atob.go",
            "https://github.com/linkerd/linkerd2/tree/b24cd4059841f8cee2fb7a9c2ac23a693c583579/cli/cmd/testdata",
            "https://github.com/istio/istio/blob/1.27.0/pkg/kube/inject/inject.go",
            "https://github.com/hashicorp/vault-helm/blob/v0.30.1/values.yaml",
        ] {
            assert!(pinned_github(ok), "{ok}");
        }
        for bad in [
            "https://github.com/istio/istio/blob/master/pkg/kube/inject/inject.go",
            "https://github.com/istio/istio/blob/main/pkg/kube/inject/inject.go",
            "https://github.com/istio/istio/blob/HEAD/pkg/kube/inject/inject.go",
            "https://github.com/istio/istio/blob/86c9f01/pkg/kube/inject/inject.go",
            "https://github.com/istio/istio/pull/56737",
            "https://github.com/istio/istio",
        ] {
            assert!(!pinned_github(bad), "{bad}");
        }
    }

    #[test]
    fn the_vocabulary_parses_with_unique_sourced_keys() {
        let vocabulary = parse(VOCABULARY).unwrap();
        let names: Vec<_> = vocabulary
            .injectors
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "istio", "linkerd", "consul", "vault", "dapr", "kuma", "otel", "osm", "appmesh"
            ]
        );
        let mut all = std::collections::HashSet::new();
        for injector in &vocabulary.injectors {
            assert!(!injector.prefixes.is_empty(), "{}", injector.name);
            assert!(!injector.keys().is_empty(), "{}", injector.name);
            let mut seen = std::collections::HashSet::new();
            for key in injector.keys() {
                assert!(
                    seen.insert(&key.key),
                    "{}: `{}` twice",
                    injector.name,
                    key.key
                );
                assert!(all.insert(&key.key), "`{}` in two injectors", key.key);
                assert!(!key.source.trim().is_empty(), "`{}` has no source", key.key);
                assert!(!key.placements.is_empty(), "`{}` has no `where`", key.key);
                assert_eq!(
                    key.value_type == ValueType::Enum,
                    !key.values.is_empty(),
                    "`{}`: values go with type enum",
                    key.key
                );
                if let Some(replacement) = key
                    .deprecated
                    .as_ref()
                    .and_then(|d| d.replacement.as_deref())
                {
                    assert!(
                        vocabulary
                            .injector_of(replacement)
                            .and_then(|i| i.key(replacement))
                            .is_some(),
                        "`{}`: replacement `{replacement}` is not a known key",
                        key.key
                    );
                }
            }
        }
    }

    #[test]
    fn keys_belong_to_injectors_by_prefix() {
        let v = vocabulary();
        assert_eq!(
            v.injector_of("sidecar.istio.io/proxyCpu")
                .map(|i| i.name.as_str()),
            Some("istio")
        );
        assert_eq!(
            v.injector_of("traffic.sidecar.istio.io/x")
                .map(|i| i.name.as_str()),
            Some("istio")
        );
        assert_eq!(
            v.injector_of("linkerd.io/inject").map(|i| i.name.as_str()),
            Some("linkerd")
        );
        assert_eq!(
            v.injector_of("config.linkerd.io/x")
                .map(|i| i.name.as_str()),
            Some("linkerd")
        );
        assert_eq!(
            v.injector_of("dapr.io/app-port").map(|i| i.name.as_str()),
            Some("dapr")
        );
        assert!(v.injector_of("app.kubernetes.io/name").is_none());
        let istio = v.injector("istio").unwrap();
        assert!(istio.key("sidecar.istio.io/proxyCPU").is_some());
        assert_eq!(
            istio.suggest("sidecar.istio.io/proxyCpu"),
            Some("sidecar.istio.io/proxyCPU")
        );
        let inject = istio.key("sidecar.istio.io/inject").unwrap();
        assert!(inject.deprecation(Where::PodAnnotation).is_some());
        assert!(inject.deprecation(Where::PodLabel).is_none());
    }
}
