//! INJ304 (an injected name the workload already uses) and INJ305 (the
//! workload already carries the sidecar by hand).

use serde_json::Value;

use super::{CheckInput, image_repository};
use crate::diagnostic::Diagnostic;
use crate::injectors::own::mutate::STATUS_ANNOTATION;
use crate::rules::{injected_name_collision, sidecar_already_present};

fn image(v: &Value) -> Option<&str> {
    v.get("image").and_then(Value::as_str).map(image_repository)
}

pub(super) fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let injected_before = input.workload.annotations.contains_key(STATUS_ANNOTATION);
    let own_containers: Vec<_> = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|list| input.own_entries(list))
        .collect();
    let own_volumes = input.own_entries("volumes");
    for entry in input.injected() {
        let name = entry.name();
        if name.is_empty() {
            continue;
        }
        let own = if entry.is_container() {
            &own_containers
        } else {
            &own_volumes
        };
        let Some((pointer, value)) = own
            .iter()
            .find(|(_, v)| v.get("name").and_then(Value::as_str) == Some(name))
        else {
            continue;
        };
        let kind = if entry.is_container() {
            "container"
        } else {
            "volume"
        };
        let by_hand = entry.is_container()
            && !injected_before
            && image(value).is_some()
            && image(value) == image(entry.value);
        let d = if by_hand {
            input.at_workload(
                sidecar_already_present::new(
                    &input.display(),
                    name,
                    image(value).unwrap_or_default(),
                    &input.origin_name(),
                ),
                pointer,
            )
        } else {
            input.at_workload(
                injected_name_collision::new(&input.display(), kind, name, &input.origin_name()),
                &format!("{pointer}/name"),
            )
        };
        out.push(input.label_template(
            d,
            &entry.template_pointer("/name"),
            format!("the template injects {kind} `{name}` here"),
        ));
    }
    out
}
