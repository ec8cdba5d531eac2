//! INJ401 (live): a running pod that should carry a sidecar and does not.

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{Difference, Drift};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ401",
    name: "missing-sidecar",
    severity: Severity::Error,
    summary: "live: a running pod that should carry the sidecar and does not",
    explain: include_str!("missing_sidecar.md"),
};

/// INJ401 for a drift that is a missing sidecar, at the pod's containers.
pub fn check(objects: &[Object], drift: &Drift) -> Option<Diagnostic> {
    let Difference::Missing { sidecar } = &drift.difference else {
        return None;
    };
    let finding = new(
        &drift.pod,
        sidecar,
        drift.judged_by.as_deref(),
        &drift.restart,
    );
    Some(super::drift::at_pod(finding, objects, drift))
}

/// `pod`: `Pod/namespace/name`; `sidecar`: what would be injected now (e.g.
/// "the sidecar of template `envoy-proxy@1.4.0` (policy `mesh`)" or "Istio's
/// sidecar (`istio-proxy`)"); `judged_by`: the controller whose pod template
/// decides, if any; `restart`: the command that recreates the pod (the
/// help gives it a line of its own, so it can be copied from the human
/// report).
pub fn new(pod: &str, sidecar: &str, judged_by: Option<&str>, restart: &str) -> Diagnostic {
    let now = match judged_by {
        Some(owner) => format!("a pod of {owner} gets it now"),
        None => "the pod would get it now".to_owned(),
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{pod} runs without {sidecar}: {now}, but injection happens only when a pod is created, so this pod keeps running without it until it is recreated"
        ),
    )
    .label("no injected sidecar here")
    .help(format!(
        "recreate the pod so the injector sees it:\n{restart}"
    ))
}
