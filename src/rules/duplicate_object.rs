//! INJ004: the same object defined twice.

use std::collections::HashMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ004",
    name: "duplicate-object",
    severity: Severity::Error,
    summary: "the same object (kind, namespace, name; templates name@version) defined twice",
    explain: include_str!("duplicate_object.md"),
};

/// Identity of an object for this rule: templates are distinct per version.
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
        name = format!("{name}@{version}");
    }
    Some((
        object.group().to_owned(),
        object.kind.clone(),
        object.effective_namespace(default_namespace),
        name,
    ))
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
