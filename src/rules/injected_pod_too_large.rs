//! INJ312: the injected pod would take more than 1 MiB of JSON.
//!
//! [`crate::injectors::own::mutate::inject`] measures an injection before it
//! builds it (the pod, the template's entries with every `${…}` replaced,
//! the labels and annotations it adds) and refuses it past
//! [`crate::injectors::own::mutate::MAX_INJECTED_POD_BYTES`]; the engine
//! reports that here and decides `deny`.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::own::mutate::TooLarge;
use crate::model::workload::Workload;

pub const RULE: super::Rule = super::Rule {
    id: "INJ312",
    name: "injected-pod-too-large",
    severity: Severity::Error,
    summary: "the injected pod would exceed 1 MiB of JSON: the injector refuses to build it",
    explain: include_str!("injected_pod_too_large.md"),
};

/// `1 MiB`, `512 KiB`, or bytes.
fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The finding for `workload` injected with `template` (`name@version`);
/// the caller adds the position and the object.
pub fn new(workload: &str, template: &str, too_large: &TooLarge) -> Diagnostic {
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: injecting SidecarTemplate `{template}` would make a pod of more than {} of JSON (counting stopped at {} bytes; {} before injection): the injector does not build it and rejects every pod of it (etcd stores at most 1.5 MiB per object)",
            size(too_large.limit),
            too_large.at_least,
            too_large.before,
        ),
    )
    .label("its pods would be too large once injected")
    .help("shrink what the template adds: every string that names `${params.NAME}` gets a copy of the value, so a long default or annotation value repeated in many strings multiplies; move bulky data into a ConfigMap mounted as a volume")
}

/// INJ312 for `workload` and `template`, at the workload's name (as INJ310).
pub fn at_workload(workload: &Workload<'_>, template: &str, too_large: &TooLarge) -> Diagnostic {
    let object = workload.object;
    let (file, span) = match workload.pod_object.root.lookup_pointer("/metadata/name") {
        Some((node, _)) => (workload.pod_object.file, node.span.clone()),
        None => (object.file, object.name_span()),
    };
    new(&workload.display_name(), template, too_large)
        .at(file, span)
        .object(Some(object.object_ref(&workload.namespace)))
        .path("/metadata/name")
}
