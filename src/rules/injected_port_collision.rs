//! INJ303: an injected port that collides with the application's ports, or
//! an app running as the proxy's user id.

use serde_json::Value;

use super::injected_pod::{CheckInput, as_int};
use crate::diagnostic::{Diagnostic, Severity};
use crate::model::security_context::{self, Level};

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

fn ports(container: &Value) -> Vec<(usize, i64, String)> {
    container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(j, p)| {
            let port = as_int(p.get("containerPort")?)?;
            let protocol = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("TCP")
                .to_owned();
            Some((j, port, protocol))
        })
        .collect()
}

/// The user a container runs as: its own `runAsUser`, else the pod's.
fn run_as_user(container: &Value, pod: &Value) -> Option<(i64, Level)> {
    let (value, level) = security_context::effective(container, pod, "/runAsUser")?;
    Some((as_int(value)?, level))
}

pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let apps = input.own_entries("containers");
    for entry in input.injected() {
        if !entry.is_container() || !entry.long_running() {
            continue;
        }
        let sidecar = entry.name();
        let injected_ports = ports(entry.value);
        let proxy_user = run_as_user(entry.value, input.pod_after);
        for (pointer, app) in &apps {
            let app_name = app.get("name").and_then(Value::as_str).unwrap_or("");
            for (j, port, protocol) in ports(app) {
                let Some((k, _, _)) = injected_ports
                    .iter()
                    .find(|(_, p, proto)| *p == port && *proto == protocol)
                else {
                    continue;
                };
                let d = input.at_workload(
                    self::port(&input.display(), sidecar, app_name, port, &protocol),
                    &format!("{pointer}/ports/{j}/containerPort"),
                );
                out.push(input.label_template(
                    d,
                    &entry.template_pointer(&format!("/ports/{k}/containerPort")),
                    format!("`{sidecar}` listens on {port}/{protocol} here"),
                ));
            }
            if let (Some((user, proxy_level)), Some((app_user, app_level))) =
                (proxy_user, run_as_user(app, input.pod_after))
                && user == app_user
            {
                let inherited = app_level == Level::Pod;
                let d = input.at_workload(
                    self::user(&input.display(), sidecar, app_name, user, inherited),
                    &format!("{}/runAsUser", app_level.context_pointer(pointer)),
                );
                out.push(match proxy_level {
                    Level::Container => input.label_template(
                        d,
                        &entry.template_pointer("/securityContext/runAsUser"),
                        format!("`{sidecar}` runs as user {user} here"),
                    ),
                    // Both inherit the pod's user: the primary span says it.
                    Level::Pod => d,
                });
            }
        }
    }
    out
}
