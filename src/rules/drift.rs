//! The live drift rules (INJ401 missing, INJ402 outdated, INJ403
//! unexpected, listed in [`super::DRIFT_RULES`]), run on the simulation's
//! drift facts.

use crate::diagnostic::Diagnostic;
use crate::engine::Drift;
use crate::model::Object;

/// INJ401–INJ403 for `drifts` (found among `objects`), one finding per
/// drift, in the drifts' order.
pub fn diagnostics(objects: &[Object], drifts: &[Drift]) -> Vec<Diagnostic> {
    drifts
        .iter()
        .flat_map(|drift| {
            super::DRIFT_RULES
                .iter()
                .filter_map(move |rule| rule(objects, drift))
        })
        .collect()
}

/// `diagnostic` at the field of the live pod that `drift` is about.
pub(super) fn at_pod(diagnostic: Diagnostic, objects: &[Object], drift: &Drift) -> Diagnostic {
    let pod = &objects[drift.object];
    super::at_pointer(
        diagnostic,
        pod,
        pod.object_ref(&drift.namespace),
        &drift.pointer,
    )
}
