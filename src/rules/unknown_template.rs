//! INJ101: a policy, rollout, `extends` or pod annotation naming a template
//! that does not exist.
//!
//! This module reports the `extends` of SidecarTemplates (from the facts of
//! [`Catalog`]); the decision reports policies, rollouts and pod annotations
//! with [`missing`], so that every INJ101 reads alike.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::TemplateRef;
use crate::injectors::own::catalog::{Catalog, Parent};
use crate::injectors::own::policy::Policy;
use crate::model::Object;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ101",
    name: "unknown-template",
    severity: Severity::Error,
    summary: "a policy, rollout, `extends` or pod annotation naming a template that does not exist",
    explain: include_str!("unknown_template.md"),
};

/// Where a reference was looked for: `namespace `shop` or cluster-wide`.
pub fn scope(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("in namespace `{ns}` or cluster-wide"),
        None => "among the cluster-wide templates".to_owned(),
    }
}

/// A finding for `reference`, looked up from `namespace`, with the catalogue's
/// help (versions that exist, a namespace that hides it, a close name).
/// `who` says who names it (``InjectionPolicy `shop/mesh` names template``)
/// and `consequence` what happens at admission; the caller adds the position.
pub fn missing(
    catalog: &Catalog,
    reference: &TemplateRef,
    namespace: Option<&str>,
    who: &str,
    consequence: &str,
) -> Diagnostic {
    missing_in(
        catalog,
        reference,
        namespace,
        &scope(namespace),
        who,
        consequence,
    )
}

fn missing_in(
    catalog: &Catalog,
    reference: &TemplateRef,
    namespace: Option<&str>,
    scope: &str,
    who: &str,
    consequence: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!("{who} `{reference}`, which does not exist {scope}: {consequence}"),
    )
    .help(catalog.missing_help(reference, namespace))
}

/// INJ101 for every `extends` that leads nowhere, at its value.
pub fn check_extends(
    catalog: &Catalog,
    objects: &[Object],
    default_namespace: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, parent) in catalog.parents.iter().enumerate() {
        let Parent::Missing(reference) = parent else {
            continue;
        };
        let template = &catalog.templates[i];
        let object = catalog.object(objects, i);
        let Some((file, span)) = catalog.locate(objects, i, "/spec/extends") else {
            continue;
        };
        let id = template.id();
        out.push(
            missing(
                catalog,
                reference,
                template.namespace.as_deref(),
                &format!("SidecarTemplate `{id}` extends"),
                &format!(
                    "the injector cannot build `{id}` (nor any template that extends it) and rejects every pod it is asked to inject with it"
                ),
            )
            .at(file, span)
            .label("no such template")
            .object(Some(object.object_ref(default_namespace)))
            .path("/spec/extends"),
        );
    }
    out
}

/// INJ101 for a policy's `template` and `rollout.template`, at the value. A
/// namespaced policy sees its namespace's templates and the cluster-wide
/// ones; a cluster policy is only reported when the template exists nowhere
/// (a namespaced one serves the pods of its namespace).
pub fn check_policy(catalog: &Catalog, objects: &[Object], policy: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(object) = objects.get(policy.object) else {
        return out;
    };
    let namespace = policy.namespace.as_deref();
    let references = [
        ("/spec/template", policy.spec.template.as_deref(), None),
        (
            "/spec/rollout/template",
            policy.spec.rollout.as_ref().map(|r| r.template.as_str()),
            policy.spec.rollout.as_ref().map(|r| r.percent),
        ),
    ];
    for (pointer, text, percent) in references {
        let Some(text) = text else {
            continue;
        };
        let reference = TemplateRef::parse(text);
        let found = match namespace {
            Some(_) => catalog.find_in(&reference, namespace).is_some(),
            None => catalog.find_anywhere(&reference),
        };
        if found {
            continue;
        }
        let Some((node, _)) = object.root.lookup_pointer(pointer) else {
            continue;
        };
        let who = format!(
            "{} `{}` {}",
            object.kind,
            policy.display_name(),
            if percent.is_some() {
                "rolls out template"
            } else {
                "names template"
            }
        );
        let consequence = match percent {
            Some(p) => format!(
                "the injector rejects the {p}% of the pods it selects that fall in the canary"
            ),
            None => "the injector rejects every pod it selects for injection".to_owned(),
        };
        let scope = match namespace {
            Some(_) => scope(namespace),
            None => "in any namespace or cluster-wide".to_owned(),
        };
        out.push(
            missing_in(catalog, &reference, namespace, &scope, &who, &consequence)
                .at(object.file, node.span.clone())
                .label("no such template")
                .object(Some(object.object_ref(namespace.unwrap_or("default"))))
                .path(pointer),
        );
    }
    out
}

/// INJ101 for the template `workload`'s own annotation names, at the
/// annotation's value (`None` when the annotation is not in the file).
pub fn annotated(
    catalog: &Catalog,
    workload: &Workload<'_>,
    reference: &TemplateRef,
) -> Option<Diagnostic> {
    use crate::injectors::own::decide::TEMPLATE_ANNOTATION;
    let at = workload
        .pod_annotation(TEMPLATE_ANNOTATION)?
        .value
        .span
        .clone();
    let object = workload.object;
    Some(
        missing(
            catalog,
            reference,
            Some(&workload.namespace),
            &format!(
                "{}: annotation {TEMPLATE_ANNOTATION} names template",
                workload.display_name()
            ),
            "the injector rejects the pod at admission",
        )
        .at(workload.pod_object.file, at)
        .object(Some(object.object_ref(&workload.namespace))),
    )
}
