//! The security settings a container runs with, resolved as the kubelet
//! resolves them: the container's own `securityContext` field, else the
//! pod's `spec.securityContext` for the fields a pod may set for all its
//! containers. Rules read these, never one level alone: a pod-level
//! `runAsUser: 1337` makes every container run as 1337.

use serde_json::Value;

/// Fields of `SecurityContext` that `PodSecurityContext` also has, and that
/// a container inherits when it leaves them unset.
const INHERITED: &[&str] = &[
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
];

/// Which level a setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Container,
    Pod,
}

impl Level {
    /// Pointer of the setting's `securityContext` from the container's
    /// pointer (`…/spec/containers/0`) in the same pod.
    pub fn context_pointer(self, container_pointer: &str) -> String {
        match self {
            Level::Container => format!("{container_pointer}/securityContext"),
            Level::Pod => match container_pointer.rfind("/spec/") {
                Some(at) => format!("{}/spec/securityContext", &container_pointer[..at]),
                None => "/spec/securityContext".to_owned(),
            },
        }
    }
}

/// The effective value of `securityContext` field `path` (a JSON pointer
/// below it, such as `/runAsUser` or `/seccompProfile/type`) for
/// `container` in `pod` (a pod or a pod template: anything with `spec`).
pub fn effective<'a>(
    container: &'a Value,
    pod: &'a Value,
    path: &str,
) -> Option<(&'a Value, Level)> {
    let own = container
        .get("securityContext")
        .and_then(|sc| sc.pointer(path))
        .filter(|v| !v.is_null());
    if let Some(value) = own {
        return Some((value, Level::Container));
    }
    let field = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if !INHERITED.contains(&field) {
        return None;
    }
    pod.pointer("/spec/securityContext")
        .and_then(|sc| sc.pointer(path))
        .filter(|v| !v.is_null())
        .map(|value| (value, Level::Pod))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_containers_setting_wins_over_the_pods() {
        let pod = json!({"spec": {"securityContext": {"runAsUser": 1337, "runAsNonRoot": true}}});
        let own = json!({"name": "a", "securityContext": {"runAsUser": 1000}});
        let bare = json!({"name": "b"});
        assert_eq!(
            effective(&own, &pod, "/runAsUser"),
            Some((&json!(1000), Level::Container))
        );
        assert_eq!(
            effective(&bare, &pod, "/runAsUser"),
            Some((&json!(1337), Level::Pod))
        );
        assert_eq!(
            effective(&own, &pod, "/runAsNonRoot"),
            Some((&json!(true), Level::Pod))
        );
    }

    #[test]
    fn container_only_fields_are_not_inherited() {
        let pod = json!({"spec": {"securityContext": {"privileged": true, "capabilities": {"add": ["NET_ADMIN"]}}}});
        let bare = json!({"name": "b"});
        assert_eq!(effective(&bare, &pod, "/privileged"), None);
        assert_eq!(effective(&bare, &pod, "/capabilities/add"), None);
    }

    #[test]
    fn the_pods_context_is_found_from_a_containers_pointer() {
        assert_eq!(
            Level::Pod.context_pointer("/spec/template/spec/containers/0"),
            "/spec/template/spec/securityContext"
        );
        assert_eq!(
            Level::Container.context_pointer("/spec/containers/1"),
            "/spec/containers/1/securityContext"
        );
    }
}
