//! The decision of the repository's own injector, step by step as SPEC
//! "The decision, in order" lists it. Every step that matters becomes a
//! reason in the report.

use crate::model::Object;
use crate::model::namespace::{Namespaces, is_system};
use crate::model::selector::Labels;
use crate::model::workload::Workload;

use super::catalog::{Catalog, MAX_INHERITANCE_DEPTH};
use super::policy::{Action, Policy, rollout_bucket};
use super::template::TemplateRef;

/// Namespace label that switches the injector off for a namespace.
pub const NAMESPACE_LABEL: &str = "kubectl-inject.dev/injection";
/// Pod annotation: `"true"` or `"false"`.
pub const INJECT_ANNOTATION: &str = "kubectl-inject.dev/inject";
/// Pod annotation: `NAME[@VERSION]`.
pub const TEMPLATE_ANNOTATION: &str = "kubectl-inject.dev/template";

/// What the injector does with a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Inject,
    Skip,
    /// The injector would reject the pod (e.g. its template does not exist).
    Deny,
    /// Tied policies disagree (INJ103).
    Conflict,
}

impl Outcome {
    /// The decision as reports spell it (`inject`, `skip`, `deny`, `conflict`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Inject => "inject",
            Outcome::Skip => "skip",
            Outcome::Deny => "deny",
            Outcome::Conflict => "conflict",
        }
    }
}

/// The decision for one workload.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: Outcome,
    /// Index into the policies of the winning policy.
    pub policy: Option<usize>,
    /// Index into the catalogue of the template to inject.
    pub template: Option<usize>,
    pub reasons: Vec<String>,
    /// What the decision ran into, in order, for the rules to report.
    pub problems: Vec<Problem>,
}

/// Something a decision ran into that a rule reports (the decision's
/// reasons say what the injector does about it).
#[derive(Debug, Clone)]
pub enum Problem {
    /// The workload's namespace is not among the inputs while policies may
    /// read its labels (INJ105).
    UnknownNamespace,
    /// Policies tied at the top disagree (INJ103): the tied policies, and
    /// each one's display name and what it would do.
    PolicyTie {
        tied: Vec<usize>,
        outcomes: Vec<(String, String)>,
    },
    /// A pod annotation that the winning policy does not allow (INJ210).
    OverrideNotAllowed {
        annotation: &'static str,
        policy: usize,
    },
    /// The pod's own template annotation names no template (INJ101).
    MissingTemplate { reference: TemplateRef },
}

/// Everything a decision reads.
pub struct Context<'a> {
    pub objects: &'a [Object],
    pub catalog: &'a Catalog,
    pub policies: &'a [Policy],
    pub namespaces: &'a Namespaces,
}

impl Decision {
    fn new(outcome: Outcome) -> Self {
        Decision {
            outcome,
            policy: None,
            template: None,
            reasons: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn skip(reason: String) -> Self {
        let mut d = Decision::new(Outcome::Skip);
        d.reasons.push(reason);
        d
    }
}

/// Decides for `workload`.
pub fn decide(ctx: &Context<'_>, workload: &Workload<'_>) -> Decision {
    let object = workload.object;

    // 1. Pods the injector never touches.
    if workload.host_network {
        return Decision::skip(
            "hostNetwork: true: the pod shares the node's network; not injected".into(),
        );
    }
    if is_system(&workload.namespace) {
        return Decision::skip(format!(
            "namespace `{}` is a system namespace; not injected",
            workload.namespace
        ));
    }

    let mut problems = Vec::new();
    let no_labels = Labels::new();
    let namespace_labels = match ctx.namespaces.get(&workload.namespace) {
        Some(ns) => &ns.labels,
        // Namespace labels only matter when some policy may read them.
        None if ctx.policies.is_empty() => &no_labels,
        None => {
            problems.push(Problem::UnknownNamespace);
            &no_labels
        }
    };

    // 2. The namespace switch.
    if namespace_labels.get(NAMESPACE_LABEL).map(String::as_str) == Some("disabled") {
        let mut d = Decision::skip(format!(
            "namespace `{}` is labelled {NAMESPACE_LABEL}=disabled",
            workload.namespace
        ));
        d.problems = problems;
        return d;
    }

    // 3. Candidate policies, in order.
    let mut candidates: Vec<usize> = ctx
        .policies
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.selects(
                &workload.namespace,
                namespace_labels,
                &workload.labels,
                &workload.service_account,
            )
        })
        .map(|(i, _)| i)
        .collect();
    candidates.sort_by_key(|&i| ctx.policies[i].rank());

    let mut decision = Decision::new(Outcome::Skip);
    decision.problems = problems;
    let winner = candidates.first().copied();
    if let Some(first) = winner {
        let top = &ctx.policies[first];
        let (group, priority, _) = top.rank();
        let tied: Vec<usize> = candidates
            .iter()
            .copied()
            .take_while(|&i| {
                let (g, p, _) = ctx.policies[i].rank();
                (g, p) == (group, priority)
            })
            .collect();
        let outcome_of = |p: &Policy| match p.spec.action {
            Action::Inject => format!("inject {}", p.spec.template.as_deref().unwrap_or("?")),
            Action::Skip => "skip".to_owned(),
        };
        let first_outcome = outcome_of(top);
        if tied
            .iter()
            .any(|&i| outcome_of(&ctx.policies[i]) != first_outcome)
        {
            let outcomes: Vec<(String, String)> = tied
                .iter()
                .map(|&i| (ctx.policies[i].display_name(), outcome_of(&ctx.policies[i])))
                .collect();
            decision.outcome = Outcome::Conflict;
            decision.reasons.push(format!(
                "policies {} tie (priority {}) with different outcomes",
                outcomes
                    .iter()
                    .map(|(p, _)| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                top.spec.priority
            ));
            decision
                .problems
                .push(Problem::PolicyTie { tied, outcomes });
            return decision;
        }
        decision.policy = Some(first);
        decision.outcome = match top.spec.action {
            Action::Inject => Outcome::Inject,
            Action::Skip => Outcome::Skip,
        };
        let others = candidates.len() - 1;
        decision.reasons.push(format!(
            "policy `{}` selects the pod (action {}, priority {}{}){}",
            top.display_name(),
            if top.spec.action == Action::Inject {
                "inject"
            } else {
                "skip"
            },
            top.spec.priority,
            if top.spec.enforce { ", enforced" } else { "" },
            match others {
                0 => String::new(),
                1 => "; it outranks 1 other matching policy".to_owned(),
                n => format!("; it outranks {n} other matching policies"),
            }
        ));
    } else {
        decision.reasons.push("no policy selects the pod".into());
    }

    // 4. Pod overrides.
    let override_allowed = winner.is_none_or(|i| ctx.policies[i].spec.allow_pod_override);
    let pod_override = |key: &str| workload.annotations.get(key).map(String::as_str);
    let not_allowed = |key: &'static str, decision: &mut Decision| {
        let winner = winner.expect("only with a winner");
        let policy = &ctx.policies[winner];
        decision.problems.push(Problem::OverrideNotAllowed {
            annotation: key,
            policy: winner,
        });
        decision.reasons.push(format!(
            "annotation {key} ignored: policy `{}` does not allow pod overrides",
            policy.display_name()
        ));
    };
    match pod_override(INJECT_ANNOTATION) {
        Some(value @ ("true" | "false")) if override_allowed => {
            decision.outcome = if value == "true" { Outcome::Inject } else { Outcome::Skip };
            decision.reasons.push(format!("pod annotation {INJECT_ANNOTATION}=\"{value}\""));
        }
        Some("true" | "false") => not_allowed(INJECT_ANNOTATION, &mut decision),
        Some(other) => decision.reasons.push(format!(
            "pod annotation {INJECT_ANNOTATION}=\"{other}\" is neither \"true\" nor \"false\"; ignored"
        )),
        None => {}
    }
    if decision.outcome != Outcome::Inject {
        return decision;
    }

    // 5. The template.
    let annotated = pod_override(TEMPLATE_ANNOTATION);
    let annotated = match annotated {
        Some(_) if !override_allowed => {
            not_allowed(TEMPLATE_ANNOTATION, &mut decision);
            None
        }
        other => other,
    };
    let mut policy = winner.map(|i| &ctx.policies[i]);
    // A pod that opts in against a skipping policy gets the template of the
    // best-ranked candidate that injects.
    if policy.is_some_and(|p| p.spec.action == Action::Skip) {
        let injecting = candidates
            .iter()
            .map(|&i| (i, &ctx.policies[i]))
            .find(|(_, p)| p.spec.action == Action::Inject);
        if let Some((i, p)) = injecting {
            decision.policy = Some(i);
            decision.reasons.push(format!(
                "the pod opts in against `{}`: the best-ranked injecting policy, `{}`, supplies the template",
                ctx.policies[winner.expect("skip came from a policy")].display_name(),
                p.display_name()
            ));
        }
        policy = injecting.map(|(_, p)| p);
    }
    let (reference, source) = if let Some(text) = annotated {
        (
            Some(TemplateRef::parse(text)),
            format!("pod annotation {TEMPLATE_ANNOTATION}"),
        )
    } else if let Some((rollout, bucket)) = policy.and_then(|p| {
        let rollout = p.spec.rollout.as_ref()?;
        let bucket = rollout_bucket(&workload.namespace, &object.kind, &object.name);
        (bucket < rollout.percent).then_some((rollout, bucket))
    }) {
        (
            Some(TemplateRef::parse(&rollout.template)),
            format!(
                "rollout of policy `{}` ({}%, this workload's bucket is {bucket})",
                policy.map(Policy::display_name).unwrap_or_default(),
                rollout.percent
            ),
        )
    } else if let Some(p) = policy {
        (p.template_ref(), format!("policy `{}`", p.display_name()))
    } else {
        (None, String::new())
    };
    let Some(reference) = reference else {
        decision.outcome = Outcome::Skip;
        decision.reasons.push(format!(
            "no template to inject: no policy names one and the pod has no {TEMPLATE_ANNOTATION} annotation"
        ));
        return decision;
    };
    match ctx.catalog.find(&reference, &workload.namespace) {
        Some(index) if ctx.catalog.resolves(index) => {
            decision.template = Some(index);
            decision.reasons.push(format!(
                "template {} from {source}",
                ctx.catalog.templates[index].id()
            ));
        }
        Some(index) if ctx.catalog.depth(index).is_some() => {
            decision.outcome = Outcome::Deny;
            decision.reasons.push(format!(
                "template {} from {source} is {} `extends` from the root of its lineage, past the limit of {MAX_INHERITANCE_DEPTH} (INJ111): the injector treats it as missing and rejects the pod",
                ctx.catalog.templates[index].id(),
                ctx.catalog.depth(index).unwrap_or_default()
            ));
        }
        Some(index) => {
            decision.outcome = Outcome::Deny;
            decision.reasons.push(format!(
                "template {} from {source} cannot be resolved (broken inheritance); the injector rejects the pod",
                ctx.catalog.templates[index].id()
            ));
        }
        None => {
            decision.outcome = Outcome::Deny;
            decision.reasons.push(format!(
                "template `{reference}` from {source} does not exist; the injector rejects the pod"
            ));
            // Policies' references are checked once per policy; a pod's own
            // annotation is a problem of this decision.
            if annotated.is_some() {
                decision
                    .problems
                    .push(Problem::MissingTemplate { reference });
            }
        }
    }
    decision
}
