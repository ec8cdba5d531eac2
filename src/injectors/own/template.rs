//! `SidecarTemplate` documents, typed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model::Object;

/// A template as written (before inheritance).
#[derive(Debug, Clone)]
pub struct Template {
    /// Index of the defining object in the workspace's `objects`.
    pub object: usize,
    pub name: String,
    /// `None`: cluster-wide.
    pub namespace: Option<String>,
    pub version: semver::Version,
    pub spec: TemplateSpec,
}

/// `spec` of a SidecarTemplate (the schema has already checked its shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSpec {
    pub version: String,
    pub extends: Option<String>,
    pub native_sidecar: Option<bool>,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub init_containers: Vec<Value>,
    #[serde(default)]
    pub containers: Vec<Value>,
    #[serde(default)]
    pub volumes: Vec<Value>,
    #[serde(default)]
    pub pod_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    pub intercepts_traffic: Option<bool>,
}

/// A value a pod may override by annotation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    /// Absent only in a child that overrides part of a parent's parameter.
    pub annotation: Option<String>,
    pub default: Option<String>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<String>>,
    pub description: Option<String>,
}

/// `name` or `name@version`, as policies, `extends` and pod annotations write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateRef {
    pub name: String,
    /// `None`: the highest version.
    pub version: Option<String>,
}

impl TemplateRef {
    /// The version as semver; `None` when there is none or it does not
    /// parse (`1.4` names no version).
    pub fn semver(&self) -> Option<Result<semver::Version, semver::Error>> {
        self.version.as_deref().map(semver::Version::parse)
    }

    pub fn parse(text: &str) -> TemplateRef {
        match text.split_once('@') {
            Some((name, version)) => TemplateRef {
                name: name.trim().to_owned(),
                version: Some(version.trim().to_owned()),
            },
            None => TemplateRef {
                name: text.trim().to_owned(),
                version: None,
            },
        }
    }
}

impl std::fmt::Display for TemplateRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The template name a SidecarTemplate object defines, from its
/// `metadata.name` and `spec.version` (as written): the name without a
/// trailing `-VERSION` (`envoy-proxy-1.5.0` at version `1.5.0` is
/// `envoy-proxy`), else the name itself.
///
/// A repository may keep every version of a template under one
/// `metadata.name`, but a cluster keeps one object per name; there each
/// version is its own object, `NAME-VERSION`. Both spellings name the same
/// template, so policies write `envoy-proxy@1.5.0` either way.
pub fn template_name<'a>(object_name: &'a str, version: &str) -> &'a str {
    let version = version.trim();
    if version.is_empty() {
        return object_name;
    }
    object_name
        .strip_suffix(version)
        .and_then(|rest| rest.strip_suffix('-'))
        .filter(|name| !name.is_empty())
        .unwrap_or(object_name)
}

impl Template {
    /// Reads a SidecarTemplate object; `None` when it is not one or its spec
    /// is malformed (INJ002 reports that). Its name is [`template_name`].
    pub fn from_object(index: usize, object: &Object) -> Option<Template> {
        if !object.is_own() || object.kind != "SidecarTemplate" || object.name.is_empty() {
            return None;
        }
        let spec: TemplateSpec = serde_json::from_value(object.root.get("spec")?.to_json()).ok()?;
        let version = semver::Version::parse(spec.version.trim()).ok()?;
        Some(Template {
            object: index,
            name: template_name(&object.name, &spec.version).to_owned(),
            namespace: object.namespace.clone(),
            version,
            spec,
        })
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The parent `spec.extends` names, if any.
    pub fn extends(&self) -> Option<TemplateRef> {
        self.spec
            .extends
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(TemplateRef::parse)
    }

    /// The entries of a list section (`containers`, `initContainers`,
    /// `volumes`) as written.
    pub fn section(&self, section: Section) -> &[Value] {
        match section {
            Section::InitContainers => &self.spec.init_containers,
            Section::Containers => &self.spec.containers,
            Section::Volumes => &self.spec.volumes,
        }
    }
}

/// The list sections of a template that merge by `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    InitContainers,
    Containers,
    Volumes,
}

impl Section {
    pub const ALL: [Section; 3] = [
        Section::InitContainers,
        Section::Containers,
        Section::Volumes,
    ];

    /// The field name in `spec` (and in origin keys).
    pub fn key(self) -> &'static str {
        match self {
            Section::InitContainers => "initContainers",
            Section::Containers => "containers",
            Section::Volumes => "volumes",
        }
    }

    pub fn from_key(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            TemplateRef::parse("envoy-proxy@1.5.0"),
            TemplateRef {
                name: "envoy-proxy".into(),
                version: Some("1.5.0".into())
            }
        );
        assert_eq!(TemplateRef::parse("envoy-proxy").version, None);
        assert_eq!(TemplateRef::parse("a@1.0.0").to_string(), "a@1.0.0");
    }

    #[test]
    fn a_trailing_version_is_not_part_of_the_name() {
        assert_eq!(template_name("envoy-proxy-1.5.0", "1.5.0"), "envoy-proxy");
        assert_eq!(template_name("envoy-proxy-1.5.0", " 1.5.0 "), "envoy-proxy");
        assert_eq!(template_name("envoy-proxy", "1.5.0"), "envoy-proxy");
        assert_eq!(template_name("proxy-2.0.0-rc.1", "2.0.0-rc.1"), "proxy");
        // Another version, no dash, or nothing before it: the name as written.
        assert_eq!(
            template_name("envoy-proxy-1.5.0", "1.4.0"),
            "envoy-proxy-1.5.0"
        );
        assert_eq!(
            template_name("envoy-proxy-11.5.0", "1.5.0"),
            "envoy-proxy-11.5.0"
        );
        assert_eq!(template_name("proxy1.5.0", "1.5.0"), "proxy1.5.0");
        assert_eq!(template_name("1.5.0", "1.5.0"), "1.5.0");
        assert_eq!(template_name("-1.5.0", "1.5.0"), "-1.5.0");
        assert_eq!(template_name("proxy", ""), "proxy");
    }

    fn object(name: &str, version: &str) -> Object {
        let text = format!(
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: SidecarTemplate\nmetadata: {{name: {name}}}\nspec: {{version: {version}}}\n"
        );
        let parsed = crate::yaml::parse_stream(&text, &crate::yaml::Limits::default());
        let (_, root) = parsed.documents.into_iter().next().expect("one document");
        Object::from_root(crate::source::FileId(0), 0, root).expect("an object")
    }

    #[test]
    fn templates_take_their_name_without_the_version() {
        let by_version = Template::from_object(0, &object("envoy-proxy-1.5.0", "1.5.0")).unwrap();
        assert_eq!(by_version.name, "envoy-proxy");
        assert_eq!(by_version.id(), "envoy-proxy@1.5.0");
        let plain = Template::from_object(0, &object("envoy-proxy", "1.5.0")).unwrap();
        assert_eq!(plain.id(), by_version.id());
        let other = Template::from_object(0, &object("envoy-proxy-1.5.0", "1.6.0")).unwrap();
        assert_eq!(other.id(), "envoy-proxy-1.5.0@1.6.0");
    }
}
