//! INJ304: an injected container or volume name that collides with the
//! workload's own.

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
