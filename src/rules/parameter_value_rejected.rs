//! INJ104: a parameter default or an annotation value that fails the
//! parameter's pattern/enum.
//!
//! This module checks what the templates themselves write: every default
//! against its (merged) parameter's `pattern` and `enum`, and every pattern
//! for being a valid regular expression. Pod annotation values are checked by
//! the decision with [`crate::injectors::own::catalog::check_value`].

use std::collections::HashSet;

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::Parameter;
use crate::injectors::own::catalog::{Catalog, MergedParameter, check_value, compiled};
use crate::injectors::own::mutate::RejectedParameter;
use crate::model::Object;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ104",
    name: "parameter-value-rejected",
    severity: Severity::Error,
    summary: "a parameter default or an annotation value that fails the parameter's pattern/enum",
    explain: include_str!("parameter_value_rejected.md"),
};

/// `sidecar.kubectl-inject.dev/proxy-cpu` or "its annotation".
fn annotation_text(param: &Parameter) -> String {
    param
        .annotation
        .as_ref()
        .map_or("its annotation".to_owned(), |a| format!("`{a}`"))
}

/// A pod annotation value a parameter rejects: the injector uses the
/// parameter's default instead. The caller adds the position (the annotation's
/// value) and the object.
pub fn annotation(workload: &str, rejected: &RejectedParameter) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload} sets `{}` to a value the template's parameter `{}` rejects: {}; the injector ignores it and injects the parameter's default",
            rejected.annotation, rejected.parameter, rejected.problem
        ),
    )
    .label("rejected value")
    .help("use a value the parameter's pattern or enum accepts, or remove the annotation to get the default")
}

/// INJ104 for a rejected parameter annotation of `workload`, at its value.
pub fn at_annotation(workload: &Workload<'_>, rejected: &RejectedParameter) -> Diagnostic {
    let object = workload.object;
    let at = workload
        .pod_annotation(&rejected.annotation)
        .map_or_else(|| object.name_span(), |entry| entry.value.span.clone());
    annotation(&workload.display_name(), rejected)
        .at(workload.pod_object.file, at)
        .object(Some(object.object_ref(&workload.namespace)))
}

/// Defaults that fail their parameter's check, and patterns that do not
/// compile, in every template (merged with its ancestors when it resolves).
///
/// Each template's own parameters are checked once, merged along its lineage
/// (a parameter a template does not write is the one its parent sees, and
/// was checked there), so nothing is merged whole.
pub fn check_defaults(
    catalog: &Catalog,
    objects: &[Object],
    default_namespace: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, template) in catalog.templates.iter().enumerate() {
        let resolves = catalog.resolves(i);
        let merged: Vec<Option<MergedParameter>> = template
            .spec
            .parameters
            .iter()
            .map(|p| resolves.then(|| catalog.parameter_at(i, &p.name)).flatten())
            .collect();
        // Where field `field` of own parameter `k` is written: (template, pointer).
        let source = |k: usize, field: &str| -> Option<(usize, String)> {
            match &merged[k] {
                Some(m) => m.source(field),
                None => Some((i, format!("/spec/parameters/{k}/{field}"))),
            }
        };
        let id = template.id();
        for (k, own) in template.spec.parameters.iter().enumerate() {
            let param = merged[k].as_ref().map_or(own, |m| &m.parameter);
            if let Some(pattern) = &param.pattern
                && let Err(error) = compiled(pattern)
            {
                let Some((t, pointer)) = source(k, "pattern") else {
                    continue;
                };
                if !seen.insert((t, pointer.clone(), String::new())) {
                    continue;
                }
                let Some((file, span)) = catalog.locate(objects, t, &pointer) else {
                    continue;
                };
                out.push(
                    Diagnostic::new(
                        &RULE,
                        format!(
                            "parameter `{}` of SidecarTemplate `{id}` has a pattern that is not a valid regular expression ({error}): every value of {} fails the check, so no pod can override the parameter",
                            param.name,
                            annotation_text(param)
                        ),
                    )
                    .at(file, span)
                    .label("not a valid regular expression")
                    .object(Some(catalog.object(objects, t).object_ref(default_namespace)))
                    .path(pointer)
                    .help("fix the regular expression (Rust `regex` syntax: no look-around or back-references), or list the values with `enum`"),
                );
                continue;
            }
            let Some(default) = &param.default else {
                continue;
            };
            let Err(error) = check_value(param, default) else {
                continue;
            };
            let Some((t, pointer)) = source(k, "default") else {
                continue;
            };
            if !seen.insert((t, pointer.clone(), error.clone())) {
                continue;
            }
            let Some((file, span)) = catalog.locate(objects, t, &pointer) else {
                continue;
            };
            let constraint = match &param.pattern {
                Some(p) if compiled(p).is_ok_and(|re| !re.is_match(default)) => "pattern",
                _ => "enum",
            };
            let mut diagnostic = Diagnostic::new(
                &RULE,
                format!(
                    "the default of parameter `{}` of SidecarTemplate `{id}` fails the parameter's own check: {error}; every pod that does not set {} is injected with a value the template forbids",
                    param.name,
                    annotation_text(param)
                ),
            )
            .at(file, span)
            .label(format!("rejected by the {constraint}"))
            .object(Some(catalog.object(objects, t).object_ref(default_namespace)))
            .path(pointer)
            .help(format!(
                "change `default` to a value the {constraint} accepts, or widen the {constraint}"
            ));
            if let Some((ct, cpointer)) = source(k, constraint)
                && let Some((cfile, cspan)) = catalog.locate(objects, ct, &cpointer)
            {
                let whose = if ct == t {
                    format!("the {constraint}")
                } else {
                    format!("the {constraint}, from `{}`", catalog.templates[ct].id())
                };
                diagnostic = diagnostic.with_label(cfile, cspan, whose);
            }
            out.push(diagnostic);
        }
    }
    out
}
