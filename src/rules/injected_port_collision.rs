//! INJ303: an injected port that collides with the application's ports, or
//! an app running as the proxy's user id.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ303",
    name: "injected-port-collision",
    severity: Severity::Error,
    summary: "an injected port that collides with the application's ports, or an app running as the proxy's user id",
    explain: include_str!("injected_port_collision.md"),
};

pub fn port(workload: &str, sidecar: &str, app: &str, port: i64, protocol: &str) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected container `{sidecar}` listens on {port}/{protocol}, which app container `{app}` also declares; the containers share the pod's network, so whichever starts second fails to bind and crash-loops"
        ),
    )
    .label(format!("`{app}` uses {port}/{protocol}"))
    .help("move the app to another port, or change the sidecar's port through its template (or a template parameter)")
}

pub fn user(workload: &str, sidecar: &str, app: &str, uid: i64, inherited: bool) -> Diagnostic {
    let how = if inherited {
        " (inherited from the pod's `securityContext`)"
    } else {
        ""
    };
    let label = if inherited {
        format!("every container without its own `runAsUser` runs as {uid}, the proxy's user")
    } else {
        format!("runs as the proxy's user {uid}")
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: app container `{app}` runs as user {uid}{how}, the user id of injected container `{sidecar}`; traffic interception exempts that user's traffic, so the app's outbound connections bypass the proxy"
        ),
    )
    .label(label)
    .help(format!(
        "run the app as another user than {uid} (its own `securityContext.runAsUser` overrides the pod's), or change the proxy's user id in its template"
    ))
}
