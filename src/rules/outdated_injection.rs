//! INJ402 (live): a pod injected from an older template version (or an
//! older injector image or revision) than would be injected now.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ402",
    name: "outdated-injection",
    severity: Severity::Warning,
    summary: "live: a pod injected from an older template version than the policy selects now",
    explain: include_str!("outdated_injection.md"),
};

/// `pod`: `Pod/namespace/name`; `running`: what the pod was injected with;
/// `now`: what would be injected now (both complete phrases, e.g. "template
/// `envoy-proxy@1.4.0`" and "`envoy-proxy@1.5.0` (policy `mesh`)");
/// `restart`: the command that recreates the pod (on a help line of its own).
pub fn new(pod: &str, running: &str, now: &str, restart: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{pod} was injected with {running}, but {now}; the injector changes a pod only when it is created, so the old sidecar keeps running until the pod is recreated"
        ),
    )
    .label("injected from an older version")
    .help(format!(
        "recreate the pod to pick up the current version:\n{restart}"
    ))
}
