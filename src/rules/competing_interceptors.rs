//! INJ206: two traffic-intercepting injectors for one pod.

use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ206",
    name: "competing-interceptors",
    severity: Severity::Error,
    summary: "two traffic-intercepting injectors for one pod (Istio, Linkerd, Consul, Kuma, OSM, App Mesh, a template declaring interception)",
    explain: include_str!("competing_interceptors.md"),
};

/// `injectors` are the intercepting injectors that inject, in the API
/// server's call order.
pub fn new(workload: &str, injectors: &[String]) -> Diagnostic {
    let (first, rest) = injectors
        .split_first()
        .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
    Diagnostic::new(
        &RULE,
        format!(
            "{workload}: {} {} target this pod with a proxy that redirects its traffic; {first} is called first, and the later one either adds a second proxy whose redirection fights the first in the same network namespace or (Linkerd) refuses the pod as already injected, so one mesh silently loses the pod",
            injectors.join(" and "),
            if injectors.len() == 2 { "both" } else { "all" },
        ),
    )
    .label(format!("{} is asked for here too", rest.join(", ")))
    .help("keep one mesh per pod: turn the other injector off for this workload (its opt-out label or annotation) or move the workload to a namespace only one mesh selects")
}
