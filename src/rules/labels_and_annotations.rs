//! The rules that read one object's labels and annotations, run on every
//! object in parallel: INJ201 (syntax), INJ202 (unknown injector key),
//! INJ203 (rejected value), INJ208 (deprecated key), INJ207 and INJ212
//! (placement), and the injection controls (INJ204, INJ205, INJ209, INJ211).

use super::injection_controls;
use crate::diagnostic::Diagnostic;
use crate::engine::Cluster;
use crate::injectors::known::settings::KnownSettings;
use crate::injectors::known::{PodKey, pod_keys};
use crate::model::Object;

/// The label and annotation rules on every object, in parallel.
pub fn check_all(
    objects: &[Object],
    default_namespace: &str,
    cluster: &Cluster,
) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    let context = injection_controls::Context::new(objects, cluster);
    objects
        .par_iter()
        .flat_map_iter(|object| {
            // Read the pod template's keys once for every rule that needs them.
            let keys = pod_keys(object, default_namespace);
            let mut found = check(object, default_namespace, &keys, &cluster.known);
            found.extend(injection_controls::check(
                object,
                default_namespace,
                &keys,
                &context,
            ));
            found
        })
        .collect()
}

/// The rules about one object's labels and annotations. `keys` are the
/// object's [`pod_keys`].
fn check(
    object: &Object,
    default_namespace: &str,
    keys: &[PodKey<'_>],
    known: &KnownSettings,
) -> Vec<Diagnostic> {
    let mut found = super::invalid_label_or_annotation::check(object, default_namespace);
    found.extend(super::unknown_injector_key::check(
        object,
        default_namespace,
        keys,
    ));
    found.extend(super::rejected_injector_value::check(
        object,
        default_namespace,
        keys,
        known,
    ));
    found.extend(super::deprecated_injector_key::check(
        object,
        default_namespace,
        keys,
    ));
    found.extend(super::misplaced_pod_key::check(object, default_namespace));
    found.extend(super::injection_requested_where_skipped::check(
        object,
        default_namespace,
    ));
    found
}

/// `finding` placed at `key` of `object`.
pub(super) fn at_key(
    finding: Diagnostic,
    key: &PodKey<'_>,
    object: &Object,
    default_namespace: &str,
) -> Diagnostic {
    finding
        .at(object.file, key.entry.key_span.clone())
        .path(key.pointer.clone())
        .object(Some(object.object_ref(default_namespace)))
}
