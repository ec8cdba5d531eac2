//! INJ103: policies tied for a workload with different outcomes.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::policy::Policy;
use crate::model::Object;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ103",
    name: "policy-conflict",
    severity: Severity::Error,
    summary: "policies tied for a workload with different outcomes",
    explain: include_str!("policy_conflict.md"),
};

/// `outcomes`: each tied policy's display name and what it would do.
pub fn message(workload: &str, outcomes: &[(String, String)]) -> String {
    let listed = outcomes
        .iter()
        .map(|(policy, outcome)| format!("`{policy}` ({outcome})"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{workload}: policies {listed} tie at the top with different outcomes; which one the injector applies is undefined, so the pod may or may not get its sidecar"
    )
}

pub fn new(message: String) -> Diagnostic {
    Diagnostic::new(&RULE, message).label("selected by tied policies").help(
        "give one policy a higher `priority`, narrow a selector so only one matches, or make their outcomes agree",
    )
}

/// INJ103 for `workload`, at its name, with a label on each tied policy
/// (`tied`: indices into `policies`; `outcomes`: each one's display name
/// and what it would do).
pub fn at_workload(
    objects: &[Object],
    policies: &[Policy],
    workload: &Workload<'_>,
    tied: &[usize],
    outcomes: &[(String, String)],
) -> Diagnostic {
    let object = workload.object;
    let mut d = new(message(&workload.display_name(), outcomes))
        .at(object.file, object.name_span())
        .object(Some(object.object_ref(&workload.namespace)));
    for &i in tied {
        let policy_object = &objects[policies[i].object];
        d = d.with_label(policy_object.file, policy_object.name_span(), "tied policy");
    }
    d
}
