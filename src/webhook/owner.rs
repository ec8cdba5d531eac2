//! The workload a pod is judged as: its controller, from its owner
//! references and the names controllers give their pods.

use serde_json::{Value, json};

use crate::model::workload::pod_template_path;

/// The workload a pod is judged as: the controller that would recreate it,
/// from its controller owner reference (a ReplicaSet's pods are taken as
/// its Deployment's, by the `pod-template-hash` label; a Job named
/// `NAME-<minutes>` as CronJob `NAME`'s), with the pod as its pod template;
/// else the pod itself.
pub fn into_workload(mut pod: Value, namespace: &str) -> Value {
    let Some((kind, name)) = controller(&pod) else {
        // A pod named by the API server after admission: its prefix, as
        // the name `${pod.name}` and the rollout bucket see.
        if let Some(metadata) = pod.get_mut("metadata").and_then(Value::as_object_mut)
            && metadata
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str)
        {
            let name = prefix.trim_end_matches('-').to_owned();
            metadata.insert("name".into(), Value::String(name));
        }
        return pod;
    };
    let api_version = match kind {
        "Job" | "CronJob" => "batch/v1",
        "ReplicationController" => "v1",
        _ => "apps/v1",
    };
    let mut take = |field: &str| pod.get_mut(field).map_or_else(|| json!({}), Value::take);
    let template = json!({
        "metadata": take("metadata"),
        "spec": take("spec"),
    });
    let mut workload = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
    });
    let path = pod_template_path(kind).unwrap_or("/spec/template");
    let mut slot = &mut workload;
    for segment in path.split('/').skip(1) {
        slot = &mut slot[segment];
    }
    *slot = template;
    workload
}

pub(super) fn controller(pod: &Value) -> Option<(&'static str, String)> {
    let metadata = pod.get("metadata")?;
    let owners = metadata.get("ownerReferences")?.as_array()?;
    let owner = owners
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
        .or_else(|| owners.first())?;
    let name = owner.get("name")?.as_str()?;
    let kind = owner.get("kind")?.as_str()?;
    let label = |key: &str| {
        metadata
            .get("labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    Some(match kind {
        "ReplicaSet" => match label("pod-template-hash")
            .and_then(|hash| name.strip_suffix(hash)?.strip_suffix('-'))
        {
            Some(deployment) => ("Deployment", deployment.to_owned()),
            None => ("ReplicaSet", name.to_owned()),
        },
        "Job" => match name.rsplit_once('-') {
            Some((cronjob, minutes)) if scheduled_recently(minutes) => {
                ("CronJob", cronjob.to_owned())
            }
            _ => ("Job", name.to_owned()),
        },
        "StatefulSet" => ("StatefulSet", name.to_owned()),
        "DaemonSet" => ("DaemonSet", name.to_owned()),
        "ReplicationController" => ("ReplicationController", name.to_owned()),
        _ => return None,
    })
}

/// Whether a Job name's suffix is what the CronJob controller appends: the
/// scheduled time in minutes since 1970, within the last year (so a Job
/// named `backup-20241115` by hand stays a Job).
pub(super) fn scheduled_recently(minutes: &str) -> bool {
    let Ok(minutes) = minutes.parse::<u64>() else {
        return false;
    };
    let now = jiff::Timestamp::now().as_second().max(0) as u64 / 60;
    minutes <= now + 24 * 60 && minutes + 366 * 24 * 60 >= now
}
