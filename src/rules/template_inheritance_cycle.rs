//! INJ102: an inheritance cycle among templates.
//!
//! [`Catalog`] finds the cycles of the `extends` graph; each is reported once,
//! at the `extends` of its earliest member, naming the whole cycle, with a
//! label at every other member's `extends`.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::catalog::Catalog;
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ102",
    name: "template-inheritance-cycle",
    severity: Severity::Error,
    summary: "an inheritance cycle among templates",
    explain: include_str!("template_inheritance_cycle.md"),
};

/// One finding per cycle.
pub fn check(catalog: &Catalog, objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for cycle in &catalog.cycles {
        let Some(&first) = cycle.first() else {
            continue;
        };
        let Some((file, span)) = catalog.locate(objects, first, "/spec/extends") else {
            continue;
        };
        let ids: Vec<String> = cycle.iter().map(|&i| catalog.templates[i].id()).collect();
        let path = ids
            .iter()
            .chain(std::iter::once(&ids[0]))
            .cloned()
            .collect::<Vec<_>>()
            .join(" → ");
        let message = if cycle.len() == 1 {
            format!(
                "SidecarTemplate `{}` extends itself (`{path}`): the injector cannot build it, nor any template that extends it, and rejects every pod it is asked to inject with them",
                ids[0]
            )
        } else {
            format!(
                "SidecarTemplate `{}` is part of an inheritance cycle (`{path}`): the injector cannot build any of these templates, nor any template that extends them, and rejects every pod it is asked to inject with them",
                ids[0]
            )
        };
        let next = &ids[1 % ids.len()];
        let mut diagnostic = Diagnostic::new(&RULE, message)
            .at(file, span)
            .label(format!("extends `{next}`"))
            .object(Some(
                catalog.object(objects, first).object_ref(default_namespace),
            ))
            .path("/spec/extends")
            .help(
                "break the cycle: remove `extends` from one of these templates, or point it at a template outside the cycle (usually the common base)",
            );
        for (k, &member) in cycle.iter().enumerate().skip(1) {
            if let Some((file, span)) = catalog.locate(objects, member, "/spec/extends") {
                let next = &ids[(k + 1) % ids.len()];
                diagnostic =
                    diagnostic.with_label(file, span, format!("`{}` extends `{next}`", ids[k]));
            }
        }
        out.push(diagnostic);
    }
    out
}
