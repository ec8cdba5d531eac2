//! INJ304: an injected container or volume name that collides with the
//! workload's own.

use super::injected_pod::CheckInput;
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ304",
    name: "injected-name-collision",
    severity: Severity::Error,
    summary: "an injected container or volume name that collides with the workload's own",
    explain: include_str!("injected_name_collision.md"),
};

/// `kind`: `container` or `volume`.
pub fn new(workload: &str, kind: &str, name: &str, template: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: template `{template}` injects a {kind} named `{name}`, which the workload already has; a pod with two {kind}s of one name is refused at admission, so no pod of it starts"
        ),
    )
    .label(format!("the workload's own {kind} `{name}`"))
    .help(format!(
        "rename the workload's {kind} `{name}`, or the template's (names must be unique across containers and init containers, and across volumes)"
    ))
}

/// INJ304 for each injected name the workload already uses (unless it is
/// the sidecar added by hand: INJ305), at the workload's own entry.
pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    input
        .name_clashes()
        .into_iter()
        .filter(|clash| !clash.by_hand)
        .map(|clash| {
            let name = clash.entry.name();
            let d = input.at_workload(
                new(&input.display(), clash.kind, name, &input.origin_name()),
                &format!("{}/name", clash.pointer),
            );
            input.label_template(
                d,
                &clash.entry.template_pointer("/name"),
                format!("the template injects {} `{name}` here", clash.kind),
            )
        })
        .collect()
}
