//! INJ303: injected ports that collide with the app's, and an app running
//! as the proxy's user id.

use serde_json::Value;

use super::{CheckInput, as_int};
use crate::diagnostic::Diagnostic;
use crate::model::security_context::{self, Level};
use crate::rules::injected_port_collision;

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

pub(super) fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
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
                    injected_port_collision::port(
                        &input.display(),
                        sidecar,
                        app_name,
                        port,
                        &protocol,
                    ),
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
                    injected_port_collision::user(
                        &input.display(),
                        sidecar,
                        app_name,
                        user,
                        inherited,
                    ),
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
