//! INJ305: a workload that already carries the sidecar by hand and would
//! get it again.

use super::injected_pod::{CheckInput, image_of};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ305",
    name: "sidecar-already-present",
    severity: Severity::Error,
    summary: "a workload that already carries the sidecar by hand and would get it again",
    explain: include_str!("sidecar_already_present.md"),
};

pub fn new(workload: &str, name: &str, repository: &str, template: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: container `{name}` ({repository}) is the sidecar that template `{template}` injects, added by hand; injecting it again would give the pod two containers of one name, which admission refuses, so no pod of it starts"
        ),
    )
    .label("the sidecar, added by hand")
    .help(
        "remove the hand-written sidecar and let the injector add it, or opt the workload out of injection (`kubectl-inject.dev/inject: \"false\"` on its pod template)",
    )
}

/// INJ305 for each injected container the workload carries by hand (the
/// same name and image, on a pod that was not injected before).
pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    input
        .name_clashes()
        .into_iter()
        .filter(|clash| clash.by_hand)
        .map(|clash| {
            let name = clash.entry.name();
            let d = input.at_workload(
                new(
                    &input.display(),
                    name,
                    image_of(clash.own).unwrap_or_default(),
                    &input.origin_name(),
                ),
                &clash.pointer,
            );
            input.label_template(
                d,
                &clash.entry.template_pointer("/name"),
                format!("the template injects {} `{name}` here", clash.kind),
            )
        })
        .collect()
}
