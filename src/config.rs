//! `.kubectl-inject.yaml`: typed, strict, and with errors at line and column.
//!
//! The file is read with the same span-aware loader as manifests, then
//! deserialised with `serde_path_to_error`, whose error path is resolved back
//! to the node at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::severity::Severity;
use crate::source::SourceFile;
use crate::yaml::{Limits, Node, Value, parse_stream};

/// The file name looked up from the current directory upwards.
pub const FILE_NAME: &str = ".kubectl-inject.yaml";

/// The configuration, as SPEC defines it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace of objects that name none.
    pub namespace: Option<String>,
    /// For version-dependent checks, e.g. "1.33".
    pub kubernetes_version: Option<String>,
    /// Paths to skip (gitignore globs, relative to the configuration file).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Extra paths always loaded (policies, templates, webhooks).
    #[serde(default)]
    pub policies: Vec<String>,
    /// Severity overrides, by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSetting>,
    #[serde(default)]
    pub injectors: Injectors,
    /// Deployables that share a cluster (SPEC "Deployables"); without it,
    /// each Flux cluster folder is one and every other deployable its own.
    #[serde(default)]
    pub environments: Vec<EnvironmentConfig>,
    /// How long one render (`kustomize build`, `helm template`) may take
    /// (`90s`, `2m`); 60 s when unset.
    pub render_timeout: Option<String>,
    /// Directory holding the file (globs and paths are relative to it).
    #[serde(skip)]
    pub root: PathBuf,
}

/// One environment: a cluster, the deployables applied to it, and what
/// differs there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentConfig {
    pub name: String,
    /// Deployable roots or folders (and gitignore-style globs), relative to
    /// the configuration file.
    #[serde(default)]
    pub paths: Vec<String>,
    pub kubernetes_version: Option<String>,
    /// Namespace of this environment's objects that name none.
    pub namespace: Option<String>,
    #[serde(default)]
    pub helm: HelmSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmSettings {
    /// Values files for `helm template`, relative to the configuration file.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Default time one render may take.
pub const DEFAULT_RENDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSetting {
    Off,
    Info,
    Warning,
    Error,
}

impl RuleSetting {
    pub fn severity(self) -> Option<Severity> {
        match self {
            RuleSetting::Off => None,
            RuleSetting::Info => Some(Severity::Info),
            RuleSetting::Warning => Some(Severity::Warning),
            RuleSetting::Error => Some(Severity::Error),
        }
    }
}

/// Per-injector settings: only what differs from each injector's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injectors {
    pub istio: Option<IstioSettings>,
    pub linkerd: Option<LinkerdSettings>,
    pub consul: Option<InjectorSettings>,
    pub vault: Option<InjectorSettings>,
    pub dapr: Option<InjectorSettings>,
    pub kuma: Option<InjectorSettings>,
    pub otel: Option<InjectorSettings>,
    pub osm: Option<InjectorSettings>,
    pub appmesh: Option<InjectorSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IstioPolicy {
    Enabled,
    Disabled,
}

/// `true`, `false` or `auto` (decided by `kubernetesVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NativeSidecars {
    Fixed(bool),
    Auto(AutoWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IstioSettings {
    pub version: Option<String>,
    pub revision: Option<String>,
    pub policy: Option<IstioPolicy>,
    #[serde(default)]
    pub never_inject_selector: Vec<serde_json::Value>,
    #[serde(default)]
    pub always_inject_selector: Vec<serde_json::Value>,
    pub enable_namespaces_by_default: Option<bool>,
    pub cni: Option<bool>,
    pub native_sidecars: Option<NativeSidecars>,
    pub proxy_image: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinkerdSettings {
    pub version: Option<String>,
    pub cni: Option<bool>,
    pub native_sidecars: Option<bool>,
    pub proxy_image: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InjectorSettings {
    pub version: Option<String>,
    pub image: Option<String>,
}

/// A configuration that cannot be used: the run stops with exit code 2.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("invalid configuration {path}: {message}")]
#[diagnostic(code(config))]
pub struct ConfigError {
    pub path: String,
    pub message: String,
    #[source_code]
    pub source_code: Option<Arc<SourceFile>>,
    #[label("{label}")]
    pub span: Option<miette::SourceSpan>,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

/// The rule ids and names a configuration may set. The registry lives above
/// the configuration (`rules::Registry` implements this); tests use a stand-in.
pub trait RuleNames {
    /// The id of a rule written by id (any case) or by name; reserved ids too.
    fn id_of(&self, id_or_name: &str) -> Option<&'static str>;
    /// The closest id or name to a misspelt one, for did-you-mean help.
    fn suggest(&self, written: &str) -> Option<&'static str>;
}

impl Config {
    /// The configuration for a run: `explicit` if given, else the first
    /// `.kubectl-inject.yaml` from `start` upwards, else defaults.
    pub fn discover(
        explicit: Option<&Path>,
        start: &Path,
        rules: &dyn RuleNames,
    ) -> Result<Config, Box<ConfigError>> {
        if let Some(path) = explicit {
            return Config::load(path, rules);
        }
        let mut dir = Some(start);
        while let Some(d) = dir {
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                // Shown relative to where the user is, when it is below.
                let shown = candidate.strip_prefix(start).unwrap_or(&candidate);
                return Config::load(shown, rules);
            }
            dir = d.parent();
        }
        Ok(Config {
            root: start.to_path_buf(),
            ..Config::default()
        })
    }

    pub fn load(path: &Path, rules: &dyn RuleNames) -> Result<Config, Box<ConfigError>> {
        let name = path.display().to_string();
        let text = crate::whole_file::read_text(path, crate::whole_file::LIMIT).map_err(|e| {
            Box::new(ConfigError {
                path: name.clone(),
                message: e.to_string(),
                source_code: None,
                span: None,
                label: String::new(),
                help: None,
            })
        })?;
        let mut config = Config::parse(&name, &text, rules)?;
        config.root = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(config)
    }

    /// Parses configuration text; errors point into it.
    pub fn parse(
        name: &str,
        text: &str,
        rules: &dyn RuleNames,
    ) -> Result<Config, Box<ConfigError>> {
        let source = Arc::new(SourceFile::new(name, text));
        let error =
            |span: std::ops::Range<usize>, message: String, label: &str, help: Option<String>| {
                Box::new(ConfigError {
                    path: name.to_owned(),
                    message,
                    source_code: Some(source.clone()),
                    span: Some((span.start, span.len()).into()),
                    label: label.to_owned(),
                    help,
                })
            };
        let parsed = parse_stream(text, &Limits::default());
        if let Some(problem) = parsed.problems.first() {
            return Err(error(
                problem.span.clone(),
                problem.message.clone(),
                "here",
                None,
            ));
        }
        let Some((_, root)) = parsed.documents.into_iter().next() else {
            return Ok(Config::default());
        };
        let json = config_json(&root, text);
        let mut config: Config = serde_path_to_error::deserialize(json).map_err(|e| {
            let pointer = to_pointer(e.path());
            let (span, label) = match root.lookup_pointer(&pointer) {
                Some((node, Some(key))) if e.inner().to_string().contains("unknown field") => {
                    let _ = node;
                    (key, "unknown key")
                }
                Some((node, _)) => (node.span.clone(), "wrong value"),
                None => (root.span.start..root.span.start, "here"),
            };
            let message = e.inner().to_string();
            let help = did_you_mean(&message, &text[span.clone()]);
            error(span, format!("`{}`: {message}", e.path()), label, help)
        })?;
        for id in config.rules.keys() {
            if rules.id_of(id).is_none() {
                let span = root
                    .lookup_pointer(&format!("/rules/{id}"))
                    .and_then(|(_, key)| key)
                    .unwrap_or(root.span.clone());
                let help = rules.suggest(id).map(|s| format!("did you mean `{s}`?"));
                return Err(error(
                    span,
                    format!("unknown rule `{id}`"),
                    "unknown rule",
                    help,
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, env) in config.environments.iter().enumerate() {
            let at = |field: &str| {
                root.lookup_pointer(&format!("/environments/{i}{field}"))
                    .map_or(root.span.clone(), |(node, _)| node.span.clone())
            };
            if env.name.trim().is_empty() {
                return Err(error(
                    at("/name"),
                    "an environment needs a name".into(),
                    "empty name",
                    None,
                ));
            }
            if !names.insert(env.name.as_str()) {
                return Err(error(
                    at("/name"),
                    format!("environment `{}` is defined twice", env.name),
                    "defined again",
                    Some("give each environment its own name, or merge their paths".into()),
                ));
            }
            if let Some(version) = &env.kubernetes_version
                && parse_version(version).is_none()
            {
                return Err(error(
                    at("/kubernetesVersion"),
                    format!("`{version}` is not a Kubernetes version"),
                    "wrong value",
                    Some("write it as \"1.31\"".into()),
                ));
            }
        }
        // `policies` are read with the repository: never from elsewhere on
        // the machine (their snippets would print whatever is there).
        for (i, path) in config.policies.iter().enumerate() {
            if let Some(problem) = crate::source::leaves_its_folder(path) {
                return Err(error(
                    root.lookup_pointer(&format!("/policies/{i}"))
                        .map_or(root.span.clone(), |(node, _)| node.span.clone()),
                    format!("`policies` path `{path}` {problem}"),
                    "outside the configuration's folder",
                    Some("name folders or files below the configuration file's folder".into()),
                ));
            }
        }
        if let Some(timeout) = &config.render_timeout
            && parse_duration(timeout).is_none()
        {
            return Err(error(
                root.lookup_pointer("/renderTimeout")
                    .map_or(root.span.clone(), |(node, _)| node.span.clone()),
                format!("`{timeout}` is not a duration"),
                "wrong value",
                Some("write e.g. 90s or 2m".into()),
            ));
        }
        // Rule names are accepted too; store ids.
        config.rules = std::mem::take(&mut config.rules)
            .into_iter()
            .map(|(k, v)| (rules.id_of(&k).map_or(k, str::to_owned), v))
            .collect();
        Ok(config)
    }

    /// `kubernetesVersion` as (major, minor); `None` when unset or unreadable.
    pub fn kubernetes_version(&self) -> Option<(u64, u64)> {
        parse_version(self.kubernetes_version.as_deref()?)
    }

    /// How long one render may take.
    pub fn render_timeout(&self) -> std::time::Duration {
        self.render_timeout
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_RENDER_TIMEOUT)
    }

    /// The severity rule `id` reports at (its `default` unless set), `None`
    /// when turned off.
    pub fn severity(&self, id: &str, default: Severity) -> Option<Severity> {
        match self.rules.get(id) {
            Some(setting) => setting.severity(),
            None => Some(default),
        }
    }
}

/// A Kubernetes version (`1.31`, `v1.31.2`) as (major, minor).
pub fn parse_version(text: &str) -> Option<(u64, u64)> {
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// A duration as `500ms`, `90s`, `2m`, `1h` or a number of seconds.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    (seconds > 0.0 && seconds.is_finite()).then(|| std::time::Duration::from_secs_f64(seconds))
}

/// JSON of the configuration, keeping version numbers as written
/// (`kubernetesVersion: 1.30` is "1.30", not the float 1.3).
fn config_json(root: &Node, text: &str) -> serde_json::Value {
    let mut json = root.to_json();
    keep_versions_as_written(&mut json, root, text);
    let environments = root.get("environments").and_then(Node::as_seq);
    if let (Some(items), Some(nodes)) = (
        json.get_mut("environments").and_then(|e| e.as_array_mut()),
        environments,
    ) {
        for (item, node) in items.iter_mut().zip(nodes) {
            keep_versions_as_written(item, node, text);
        }
    }
    json
}

fn keep_versions_as_written(json: &mut serde_json::Value, node: &Node, text: &str) {
    if let (Some(obj), Some(entries)) = (json.as_object_mut(), node.as_map()) {
        for entry in entries {
            if matches!(entry.value.value, Value::Float(_) | Value::Int(_))
                && entry.key == "kubernetesVersion"
            {
                let raw = text[entry.value.span.clone()].to_owned();
                obj.insert(entry.key.clone(), serde_json::Value::String(raw));
            }
        }
    }
}

/// serde lists the accepted names (`expected one of `a`, `b``); suggest the
/// closest to what was written.
fn did_you_mean(message: &str, written: &str) -> Option<String> {
    let (_, expected) = message.split_once("expected one of ")?;
    let names = expected.split(", ").map(|name| name.trim_matches('`'));
    crate::words::did_you_mean(written, names).map(|name| format!("did you mean `{name}`?"))
}

fn to_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&crate::yaml::pointer::escape(key))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules these tests set (the registry is above the configuration).
    struct Known;

    impl RuleNames for Known {
        fn id_of(&self, id_or_name: &str) -> Option<&'static str> {
            [
                ("INJ004", "duplicate-object"),
                ("INJ302", ""),
                ("INJ306", ""),
            ]
            .into_iter()
            .find(|(id, name)| id.eq_ignore_ascii_case(id_or_name) || *name == id_or_name)
            .map(|(id, _)| id)
        }

        fn suggest(&self, _: &str) -> Option<&'static str> {
            None
        }
    }

    #[test]
    fn spec_example_parses() {
        let text = r#"
namespace: default
kubernetesVersion: 1.30
ignore: ["vendor/**"]
policies: ["policy/"]
rules: {INJ302: off, INJ306: error, duplicate-object: warning}
injectors:
  istio:
    version: "1.28"
    revision: default
    policy: enabled
    neverInjectSelector: []
    alwaysInjectSelector: []
    enableNamespacesByDefault: false
    cni: false
    nativeSidecars: auto
    proxyImage: docker.io/istio/proxyv2:1.28.0
  linkerd: {version: stable-2.14, cni: false, nativeSidecars: false}
"#;
        let config = Config::parse("c.yaml", text, &Known).unwrap();
        assert_eq!(config.kubernetes_version.as_deref(), Some("1.30"));
        assert_eq!(config.rules.get("INJ302"), Some(&RuleSetting::Off));
        assert_eq!(config.rules.get("INJ004"), Some(&RuleSetting::Warning));
        let istio = config.injectors.istio.unwrap();
        assert_eq!(
            istio.native_sidecars,
            Some(NativeSidecars::Auto(AutoWord::Auto))
        );
    }

    #[test]
    fn unknown_key_points_at_the_key() {
        let text = "injectors:\n  istio:\n    polcy: enabled\n";
        let err = Config::parse("c.yaml", text, &Known).unwrap_err();
        let span = err.span.unwrap();
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "polcy");
        assert!(
            err.message.contains("unknown field `polcy`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let text = "rules:\n  INJ302: sometimes\n";
        let err = Config::parse("c.yaml", text, &Known).unwrap_err();
        let span = err.span.unwrap();
        assert_eq!(
            &text[span.offset()..span.offset() + span.len()],
            "sometimes"
        );
        let err = Config::parse("c.yaml", "rules: {INJ999: off}\n", &Known).unwrap_err();
        assert!(err.message.contains("unknown rule `INJ999`"));
    }
}
