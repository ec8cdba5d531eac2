//! INJ308: a ResourceQuota or LimitRange among the inputs that cannot hold
//! the added requests.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ308",
    name: "quota-cannot-hold-sidecars",
    severity: Severity::Error,
    summary: "a ResourceQuota or LimitRange among the inputs that cannot hold the added requests",
    explain: include_str!("quota_cannot_hold_sidecars.md"),
};

/// `asked`: e.g. `limits.cpu 2`.
pub fn limit_range(
    workload: &str,
    container: &str,
    asked: &str,
    limit_range: &str,
    max: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected container `{container}` asks for {asked}, above the maximum {max} of LimitRange `{limit_range}`; the LimitRanger admission plugin rejects every pod of the workload"
        ),
    )
    .label(format!("above LimitRange `{limit_range}`'s maximum"))
    .help("lower the sidecar's requests and limits in its template (or through a parameter), or raise the LimitRange's `max`")
}

pub fn resource_quota(
    workload: &str,
    quota: &str,
    key: &str,
    hard: &str,
    before: &str,
    after: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: one pod requests {after} once injected ({before} without the sidecars), more than ResourceQuota `{quota}` allows in all (`{key}: {hard}`); the quota admission rejects its pods"
        ),
    )
    .label("smaller than one injected pod's requests")
    .help("raise the quota to hold the sidecars' requests for every replica, or lower the sidecars' requests in their template")
}
