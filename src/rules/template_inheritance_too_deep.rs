//! INJ111: a template more than 32 `extends` from the root of its lineage.
//!
//! [`Catalog`] records every template's depth (its number of ancestors) in
//! one walk; a template past [`MAX_INHERITANCE_DEPTH`] does not resolve. Each
//! lineage that goes too deep is reported once, at the `extends` of its first
//! template past the limit, with the number of templates below it (they are
//! past the limit too, and not reported again), as INJ101 and INJ102 report a
//! broken `extends` and not every template under it.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::catalog::{Catalog, MAX_INHERITANCE_DEPTH, Parent};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ111",
    name: "template-inheritance-too-deep",
    severity: Severity::Error,
    summary: "a SidecarTemplate more than 32 `extends` from the root of its lineage",
    explain: include_str!("template_inheritance_too_deep.md"),
};

/// One finding per template just past the limit.
pub fn check(catalog: &Catalog, objects: &[Object], default_namespace: &str) -> Vec<Diagnostic> {
    let first = MAX_INHERITANCE_DEPTH + 1;
    // The templates past the limit, shallowest first, so that each one's
    // first ancestor past the limit is known before it (its parent's).
    let mut deep: Vec<(usize, usize)> = (0..catalog.templates.len())
        .filter_map(|i| catalog.depth(i).filter(|&d| d >= first).map(|d| (d, i)))
        .collect();
    deep.sort_unstable();
    let mut head = vec![usize::MAX; catalog.templates.len()];
    let mut below = vec![0usize; catalog.templates.len()];
    for &(depth, i) in &deep {
        head[i] = match (depth == first, &catalog.parents[i]) {
            (false, Parent::Found(p)) => head[*p],
            _ => i,
        };
        if head[i] != i {
            below[head[i]] += 1;
        }
    }
    let mut out = Vec::new();
    for &(depth, i) in deep.iter().take_while(|(d, _)| *d == first) {
        let Parent::Found(parent) = catalog.parents[i] else {
            continue;
        };
        let Some((file, span)) = catalog.locate(objects, i, "/spec/extends") else {
            continue;
        };
        let lineage: Vec<usize> = std::iter::successors(Some(i), |&t| match catalog.parents[t] {
            Parent::Found(p) => Some(p),
            _ => None,
        })
        .take(depth + 1)
        .collect();
        let root = *lineage.last().expect("the lineage holds the template");
        let id = |t: usize| catalog.templates[t].id();
        let path = format!("{} → {} → … → {}", id(i), id(parent), id(root));
        let (others, them) = match below[i] {
            0 => (String::new(), "it"),
            1 => (", nor the 1 template that extends it".to_owned(), "them"),
            n => (format!(", nor the {n} templates that extend it"), "them"),
        };
        let mut diagnostic = Diagnostic::new(
            &RULE,
            format!(
                "SidecarTemplate `{}` extends `{}`, which is already {MAX_INHERITANCE_DEPTH} `extends` from the root of its lineage (`{path}`): past the limit of {MAX_INHERITANCE_DEPTH}, the injector does not build `{}`{others}; it treats {them} as missing and rejects every pod it is asked to inject with {them}",
                id(i),
                id(parent),
                id(i),
            ),
        )
        .at(file, span)
        .label(format!(
            "{depth} `extends` from the root (the limit is {MAX_INHERITANCE_DEPTH})"
        ))
        .object(Some(catalog.object(objects, i).object_ref(default_namespace)))
        .path("/spec/extends")
        .help(format!(
            "flatten the lineage: a child may override any field of its parent, so one template can replace a run of layers; or extend a template nearer the root (up to {MAX_INHERITANCE_DEPTH} `extends` from `{}` are within the limit)",
            id(root),
        ));
        let root_object = catalog.object(objects, root);
        diagnostic = diagnostic.with_label(
            root_object.file,
            root_object.name_span(),
            format!("`{}`, the root of the lineage", id(root)),
        );
        out.push(diagnostic);
    }
    out
}
