//! INJ301: the injected pod breaks the namespace's Pod Security level.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ301",
    name: "pod-security-violation",
    severity: Severity::Error,
    summary: "the injected pod breaks the namespace's Pod Security level (`pod-security.kubernetes.io/enforce`)",
    explain: include_str!("pod_security_violation.md"),
};

/// `what`: the injected entry and what it breaks.
pub fn new(workload: &str, level: &str, what: &str, restricted: bool) -> Diagnostic {
    let help = if restricted {
        "give the injected containers `securityContext: {allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}` and drop added capabilities (use a CNI plugin instead of an init container for traffic redirection), or exempt the namespace from this level"
    } else {
        "remove the added capabilities, privileged mode, host ports and hostPath volumes from the template (use a CNI plugin instead of an init container for traffic redirection), or exempt the namespace from this level"
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: the pod will be rejected at admission by Pod Security (level {level}): {what}"
        ),
    )
    .label("breaks the namespace's Pod Security level")
    .help(help)
}
