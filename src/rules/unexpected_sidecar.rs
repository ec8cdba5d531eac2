//! INJ403 (live): a running pod that carries a sidecar no policy or
//! injector would inject now.

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{Difference, Drift};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ403",
    name: "unexpected-sidecar",
    severity: Severity::Warning,
    summary: "live: a pod that carries a sidecar no policy selects",
    explain: include_str!("unexpected_sidecar.md"),
};

/// INJ403 for a drift that is an unexpected sidecar, at what shows the
/// injection (the status annotation or the sidecar container).
pub fn check(objects: &[Object], drift: &Drift) -> Option<Diagnostic> {
    let Difference::Unexpected { sidecar, why } = &drift.difference else {
        return None;
    };
    let finding = new(
        &drift.pod,
        sidecar,
        drift.judged_by.as_deref(),
        why,
        &drift.restart,
    );
    Some(super::drift::at_pod(finding, objects, drift))
}

/// `pod`: `Pod/namespace/name`; `sidecar`: what it carries (e.g. "the
/// sidecar of template `envoy-proxy@1.4.0`"); `judged_by`: the controller
/// whose pod template decides, if any; `why`: why it would not be injected
/// now (the decision's reason); `restart`: the command that recreates the
/// pod (on a help line of its own).
pub fn new(
    pod: &str,
    sidecar: &str,
    judged_by: Option<&str>,
    why: &str,
    restart: &str,
) -> Diagnostic {
    let now = match judged_by {
        Some(owner) => format!("a pod of {owner} would not get it now"),
        None => "it would not be injected now".to_owned(),
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{pod} carries {sidecar}, but {now} ({why}); the sidecar stays until the pod is recreated"
        ),
    )
    .label("injected sidecar no policy selects now")
    .help(format!(
        "if the pod should keep the sidecar, make a policy (or the injector's namespace label or pod annotation) select it again; otherwise recreate it so it runs without:\n{restart}"
    ))
}
