//! INJ309: an init container that needs the network placed after an
//! intercepting proxy's init.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ309",
    name: "init-container-after-proxy-init",
    severity: Severity::Warning,
    summary: "an init container that needs the network placed after an intercepting proxy's init",
    explain: include_str!("init_container_after_proxy_init.md"),
};

/// `container` needs the network (`why`) and runs after `redirect`, which
/// sends its traffic to `proxy` before that proxy runs.
pub fn new(
    workload: &str,
    container: &str,
    why: &str,
    redirect: &str,
    proxy: &str,
    fix: &str,
) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: init container `{container}` needs the network ({why}) but runs while {redirect} already redirects outbound traffic to `{proxy}`; the proxy is not running yet, so its connections fail and the pod stays in Init"
        ),
    )
    .label("runs while traffic goes to a proxy that has not started")
    .help(fix.to_owned())
}
