//! INJ004: the same object defined twice.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::template::template_name;
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ004",
    name: "duplicate-object",
    severity: Severity::Error,
    summary: "the same object (kind, namespace, name; templates name@version) defined twice",
    explain: include_str!("duplicate_object.md"),
};

/// Identity of an object for this rule: templates are distinct per version,
/// and named as the catalogue names them (`envoy-proxy-1.5.0` at version
/// `1.5.0` is `envoy-proxy@1.5.0`, the same template as `envoy-proxy` at
/// that version).
fn identity(
    object: &Object,
    default_namespace: &str,
) -> Option<(String, String, Option<String>, String)> {
    if object.name.is_empty() {
        return None;
    }
    let mut name = object.name.clone();
    if object.is_own() && object.kind == "SidecarTemplate" {
        let version = object.root.get("spec").and_then(|s| s.get_str("version"))?;
        name = format!("{}@{}", template_name(&name, version), version.trim());
    }
    Some((
        object.group().to_owned(),
        object.kind.clone(),
        object.effective_namespace(default_namespace),
        name,
    ))
}

/// Marks every definition that a later one of the same object replaces
/// (`Object::shadowed`): the cluster keeps the last one applied.
pub fn mark_shadowed(objects: &mut [Object], default_namespace: &str) {
    let mut last: HashMap<_, usize> = HashMap::new();
    for (i, object) in objects.iter().enumerate() {
        if let Some(id) = identity(object, default_namespace) {
            last.insert(id, i);
        }
    }
    for (i, object) in objects.iter_mut().enumerate() {
        object.shadowed = identity(object, default_namespace)
            .and_then(|id| last.get(&id))
            .is_some_and(|&winner| winner != i);
    }
}

/// Reports every definition after the first, pointing back at the first.
pub fn check(objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
    let mut first_seen: HashMap<_, &Object> = HashMap::new();
    let mut out = Vec::new();
    for object in objects {
        let Some(id) = identity(object, default_namespace) else {
            continue;
        };
        let (_, kind, namespace, name) = id.clone();
        match first_seen.get(&id) {
            None => {
                first_seen.insert(id, object);
            }
            Some(first) => {
                let where_ = namespace.map_or(String::new(), |ns| format!(" in namespace `{ns}`"));
                out.push(
                    Diagnostic::new(
                        &RULE,
                        format!(
                            "{kind} `{name}`{where_} is defined twice: whichever is applied last silently replaces the other, so what the cluster runs depends on apply order"
                        ),
                    )
                    .at(object.file, object.name_span())
                    .label("defined again here")
                    .with_label(first.file, first.name_span(), "first defined here")
                    .object(Some(object.object_ref(default_namespace)))
                    .path("/metadata/name")
                    .help(if kind == "SidecarTemplate" {
                        "give the new template a new `spec.version`, or remove one of the two definitions"
                    } else {
                        "remove one of the two definitions, or rename one of them"
                    }),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn objects(text: &str) -> Vec<Object> {
        let parsed = crate::yaml::parse_stream(text, &crate::yaml::Limits::default());
        parsed
            .documents
            .into_iter()
            .enumerate()
            .filter_map(|(i, (_, root))| Object::from_root(FileId(0), i, root))
            .collect()
    }

    fn template(name: &str, version: &str) -> String {
        format!(
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: SidecarTemplate\nmetadata: {{name: {name}}}\nspec: {{version: {version}}}\n---\n"
        )
    }

    #[test]
    fn a_version_in_the_name_is_the_same_template() {
        let both = [
            template("envoy-proxy", "1.5.0"),
            template("envoy-proxy-1.5.0", "1.5.0"),
        ]
        .concat();
        let found = check(&objects(&both), "default");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("`envoy-proxy@1.5.0`"),
            "{}",
            found[0].message
        );

        let versions = [
            template("envoy-proxy-1.4.0", "1.4.0"),
            template("envoy-proxy-1.5.0", "1.5.0"),
            template("envoy-proxy", "1.6.0"),
            template("envoy-proxy-1.5.0", "1.7.0"),
        ]
        .concat();
        assert!(check(&objects(&versions), "default").is_empty());
    }
}
