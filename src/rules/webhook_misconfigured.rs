//! INJ404: an injection webhook configured so that pods can be admitted
//! without their sidecar, or that the API server refuses.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ404",
    name: "webhook-misconfigured",
    severity: Severity::Warning,
    summary: "an injection webhook with failurePolicy Ignore, a timeout outside 1–30 s, or an objectSelector that lets pods opt out of a mandatory injector",
    explain: include_str!("webhook_misconfigured.md"),
};

/// `failurePolicy: Ignore` on the injection webhook `webhook` of `configuration`.
pub fn failure_ignored(webhook: &str, configuration: &str, injector: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` ({injector}) of `{configuration}` has `failurePolicy: Ignore`: whenever the injector is slow, down or unreachable, pods are admitted without the sidecar, silently"
        ),
    )
    .label("pods skip injection when the call fails")
    .help("set `failurePolicy: Fail` (the default), so a pod is refused rather than started without its sidecar")
}

/// `timeoutSeconds` outside 1–30.
pub fn timeout_out_of_range(webhook: &str, configuration: &str, seconds: i64) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` of `{configuration}` has `timeoutSeconds: {seconds}`: the API server accepts only 1 to 30, so it refuses the whole configuration"
        ),
    )
    .label("outside 1–30")
    .help("set `timeoutSeconds` between 1 and 30, or leave it out (10)")
}

/// An objectSelector requirement (`key`, `operator`) on a webhook of a known
/// injector that is mandatory for the namespaces its namespaceSelector opts in.
pub fn label_opt_out(
    webhook: &str,
    configuration: &str,
    injector: &str,
    key: &str,
    operator: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "webhook `{webhook}` ({injector}) of `{configuration}` injects every pod of the namespaces it selects, but its objectSelector (`{key}` {operator}) lets any pod skip it by setting label `{key}`: the injector never sees that pod, and nothing records the opt-out"
        ),
    )
    .label("pods opt out by setting this label")
    .help(format!(
        "drop this requirement and let pods opt out through {injector}'s own vocabulary (which it records and other tools check), or suppress INJ404 here with the reason if the escape hatch is intended"
    ))
}
