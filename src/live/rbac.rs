//! The permissions a live run needs, as the ClusterRole printed when RBAC
//! refuses a request. Read-only: get and list, nothing else.

/// Enough for `simulate --live` in every namespace (bind it with a
/// ClusterRoleBinding, or with a RoleBinding per namespace for `-n`; the
/// cluster-scoped resources then need their own ClusterRoleBinding).
pub const CLUSTER_ROLE: &str = "\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kubectl-inject-reader
rules:
  - apiGroups: [\"\"]
    resources: [namespaces, pods, configmaps]
    verbs: [get, list]
  - apiGroups: [apps]
    resources: [replicasets, deployments, statefulsets, daemonsets]
    verbs: [get, list]
  - apiGroups: [batch]
    resources: [jobs, cronjobs]
    verbs: [get, list]
  - apiGroups: [admissionregistration.k8s.io]
    resources: [mutatingwebhookconfigurations]
    verbs: [get, list]
  - apiGroups: [kubectl-inject.dev]
    resources: [clusterinjectionpolicies, injectionpolicies, sidecartemplates]
    verbs: [get, list]
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_role_is_a_valid_read_only_role() {
        let parsed = crate::yaml::parse_stream(CLUSTER_ROLE, &crate::yaml::Limits::default());
        assert!(parsed.problems.is_empty());
        let root = &parsed.documents[0].1;
        assert_eq!(root.get_str("kind"), Some("ClusterRole"));
        for rule in root.get("rules").and_then(|r| r.as_seq()).unwrap() {
            let verbs: Vec<_> = rule
                .get("verbs")
                .and_then(|v| v.as_seq())
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(verbs, ["get", "list"]);
        }
    }
}
