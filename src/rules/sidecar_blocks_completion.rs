//! INJ313: a sidecar that is not native, injected into a Job's pod (a Job,
//! a CronJob, a running pod a Job owns): the sidecar outlives the app, so
//! the pod never completes and the Job never finishes.

use serde_json::Value;

use super::injected_pod::{CheckInput, Origin};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ313",
    name: "sidecar-blocks-completion",
    severity: Severity::Warning,
    summary: "a sidecar that is not native injected into a Job's pod: the pod never completes and the Job never finishes",
    explain: include_str!("sidecar_blocks_completion.md"),
};

/// `kind`: the workload's; `sidecars`: the injected containers,
/// backquoted; `native`: how the injector makes them native sidecars.
pub fn new(
    workload: &str,
    kind: &str,
    sidecars: &[String],
    restart: &str,
    native: &str,
) -> Diagnostic {
    let consequence = match kind {
        "CronJob" => "so the pod never completes and no Job the CronJob starts finishes",
        _ => "so the pod never completes and the Job never finishes",
    };
    let (noun, verb) = match sidecars.len() {
        1 => ("sidecar", "keeps"),
        _ => ("sidecars", "keep"),
    };
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injected {noun} {} {verb} running after the app's containers exit; a pod with `restartPolicy: {restart}` completes only when all of its containers have exited, {consequence}",
            sidecars.join(", ")
        ),
    )
    .label(format!("the pod is meant to complete (`restartPolicy: {restart}`)"))
    .help(format!(
        "make the sidecar native (an init container with `restartPolicy: Always` is stopped once the app's containers have exited): {native}; or opt this workload out of injection"
    ))
}

/// How the injector of `input` makes its sidecar native.
fn native_switch(input: &CheckInput<'_>) -> String {
    match input.origin {
        Origin::Template { template, .. } => {
            format!(
                "set `nativeSidecar: true` in SidecarTemplate `{}`",
                template.id()
            )
        }
        Origin::Known {
            injector: "istio", ..
        } => "annotate the pod template `sidecar.istio.io/nativeSidecar: \"true\"`".to_owned(),
        Origin::Known {
            injector: "linkerd",
            ..
        } => "annotate the pod template `config.linkerd.io/proxy-enable-native-sidecar: \"true\"`"
            .to_owned(),
        Origin::Known { display, .. } => {
            format!("turn on native sidecars in {display}'s installation")
        }
    }
}

/// Whether the workload's pods are a Job's: a Job, a CronJob, or a pod
/// read from a cluster that a Job owns. A bare pod is left alone: nothing
/// waits for it to complete (a debugging pod may well run forever).
fn runs_a_job(input: &CheckInput<'_>) -> bool {
    let object = input.workload.object;
    match object.kind.as_str() {
        "Job" | "CronJob" => true,
        "Pod" => object
            .root
            .get("metadata")
            .and_then(|m| m.get("ownerReferences"))
            .and_then(|o| o.as_seq())
            .is_some_and(|owners| owners.iter().any(|o| o.get_str("kind") == Some("Job"))),
        _ => false,
    }
}

/// INJ313 for an injection that adds sidecars to `containers` (not native)
/// of a Job's pod (`restartPolicy` `Never` or `OnFailure`), at that
/// `restartPolicy`.
pub fn check(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let restart = input
        .pod_after
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    if !matches!(restart, "Never" | "OnFailure") || !runs_a_job(input) {
        return Vec::new();
    }
    // A known injector may patch the app's own containers; those are not
    // sidecars.
    let app_containers = input
        .pod_before
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let is_app = |name: &str| {
        app_containers
            .iter()
            .any(|c| c.get("name").and_then(Value::as_str) == Some(name))
    };
    let sidecars: Vec<_> = input
        .injected()
        .into_iter()
        .filter(|entry| entry.pod_list == "containers" && !is_app(entry.name()))
        .collect();
    let Some(first) = sidecars.first() else {
        return Vec::new();
    };
    let names: Vec<String> = sidecars.iter().map(|e| format!("`{}`", e.name())).collect();
    let d = input.at_workload(
        new(
            &input.display(),
            &input.workload.object.kind,
            &names,
            restart,
            &native_switch(input),
        ),
        &format!("{}/spec/restartPolicy", input.workload.pod_path),
    );
    vec![input.label_template(
        d,
        &first.template_pointer("/name"),
        "injected as a container, not as a native sidecar",
    )]
}
