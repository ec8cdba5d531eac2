//! INJ108: `${…}` naming a parameter or field that does not exist.
//!
//! Every string of a template's containers, init containers, volumes, pod
//! annotations and pod labels is scanned; a reference that names neither a
//! parameter of the template (inherited ones count) nor one of the five
//! fields is reported at the string, in the template that writes it.

use std::collections::HashSet;

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::catalog::{Catalog, join};
use crate::injectors::own::interpolate::{
    FIELDS, PARAMS_PREFIX, is_known, references, references_in_str,
};
use crate::injectors::own::template::{Section, Template};
use crate::model::Object;
use crate::words::did_you_mean;
use crate::yaml::pointer;

pub const RULE: super::Rule = super::Rule {
    id: "INJ108",
    name: "unknown-interpolation",
    severity: Severity::Error,
    summary: "`${…}` naming a parameter or field that does not exist",
    explain: include_str!("unknown_interpolation.md"),
};

/// Every reference a template writes itself: (JSON pointer in its object,
/// name inside `${}`).
fn own_references(template: &Template) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for section in Section::ALL {
        for (k, entry) in template.section(section).iter().enumerate() {
            for (pointer, name) in references(entry) {
                out.push((format!("/spec/{}/{k}{pointer}", section.key()), name));
            }
        }
    }
    for (field, map) in [
        ("podAnnotations", &template.spec.pod_annotations),
        ("podLabels", &template.spec.pod_labels),
    ] {
        for (key, value) in map {
            for name in references_in_str(value) {
                out.push((format!("/spec/{field}/{}", pointer::escape(key)), name));
            }
        }
    }
    out
}

/// One finding per unknown reference, at the string that holds it.
///
/// Each template's own strings are read once, against the parameters its
/// lineage declares (a template that extends it may declare more, but a
/// string the template writes must work in the template itself). That finds
/// what scanning every merged template finds, without merging any.
pub fn check(catalog: &Catalog, objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (t, template) in catalog.templates.iter().enumerate() {
        if !catalog.resolves(t) {
            continue;
        }
        let mut params: Option<Vec<&str>> = None;
        let mut seen = HashSet::new();
        let id = template.id();
        for (pointer, name) in own_references(template) {
            let known = match name.strip_prefix(PARAMS_PREFIX) {
                Some(param) => catalog.declares(t, param),
                None => is_known(&name, std::iter::empty()),
            };
            if known || !seen.insert((pointer.clone(), name.clone())) {
                continue;
            }
            let Some((file, span)) = catalog.locate(objects, t, &pointer) else {
                continue;
            };
            let params = params.get_or_insert_with(|| catalog.parameter_names(t));
            out.push(
                finding(&id, params, &name)
                    .at(file, span)
                    .object(Some(
                        catalog.object(objects, t).object_ref(default_namespace),
                    ))
                    .path(pointer),
            );
        }
    }
    out
}

fn finding(id: &str, params: &[&str], name: &str) -> Diagnostic {
    let what = match name.strip_prefix(PARAMS_PREFIX) {
        Some(_) if params.is_empty() => {
            format!(
                "`${{{name}}}` names no parameter of SidecarTemplate `{id}`, which declares none"
            )
        }
        Some(_) => format!(
            "`${{{name}}}` names no parameter of SidecarTemplate `{id}`, which declares {}",
            join(params.iter().map(|p| format!("`{p}`")))
        ),
        None => format!(
            "`${{{name}}}` in SidecarTemplate `{id}` names nothing a template can use (only {})",
            join(
                std::iter::once("`${params.NAME}`".to_owned())
                    .chain(FIELDS.iter().map(|f| format!("`${{{f}}}`")))
            )
        ),
    };
    let candidates: Vec<String> = params
        .iter()
        .map(|p| format!("{PARAMS_PREFIX}{p}"))
        .chain(FIELDS.iter().map(|f| (*f).to_owned()))
        .collect();
    let help = match did_you_mean(name, candidates.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `${{{close}}}`?"),
        None if name.starts_with(PARAMS_PREFIX) => "declare the parameter under `spec.parameters` (here or in a template this one extends), or use one that exists; write `$${` for a literal `${`".to_owned(),
        None => "templates cannot read anything else (no environment, files or code); pass the value as a parameter, or write `$${` for a literal `${`".to_owned(),
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{what}: the injector leaves it as written, so every injected pod gets the literal text `${{{name}}}`"
        ),
    )
    .label("unknown reference")
    .help(help)
}
