//! INJ402 (live): a pod injected from an older template version (or an
//! older injector image or revision) than would be injected now.

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{Difference, Drift};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ402",
    name: "outdated-injection",
    severity: Severity::Warning,
    summary: "live: a pod injected from an older template version than the policy selects now",
    explain: include_str!("outdated_injection.md"),
};

/// INJ402 for a drift that is an outdated injection, at what tells the
/// version (the status annotation or the proxy's image).
pub fn check(objects: &[Object], drift: &Drift) -> Option<Diagnostic> {
    let Difference::Outdated { running, now } = &drift.difference else {
        return None;
    };
    let finding = new(
        &drift.pod,
        running,
        now,
        drift.judged_by.as_deref(),
        &drift.restart,
    );
    Some(super::drift::at_pod(finding, objects, drift))
}

/// `pod`: `Pod/namespace/name`; `running`: what the pod was injected with;
/// `now`: what would be injected now (both complete phrases, e.g. "template
/// `envoy-proxy@1.4.0`" and "policy `mesh` selects `envoy-proxy@1.5.0`
/// now"); `judged_by`: the controller whose pod template decides, if any;
/// `restart`: the command that recreates the pod (on a help line of its own).
pub fn new(
    pod: &str,
    running: &str,
    now: &str,
    judged_by: Option<&str>,
    restart: &str,
) -> Diagnostic {
    let of = match judged_by {
        Some(owner) => format!(" for {owner}"),
        None => String::new(),
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{pod} was injected with {running}, but {now}{of}; the injector changes a pod only when it is created, so the old sidecar keeps running until the pod is recreated"
        ),
    )
    .label("injected from an older version")
    .help(format!(
        "recreate the pod to pick up the current version:\n{restart}"
    ))
}
