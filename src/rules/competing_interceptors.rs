//! INJ206: two traffic-intercepting injectors for one pod.

use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::{InjectorResult, OWN_INJECTOR, WorkloadFacts};
use crate::injectors::known::{trigger_pointer, vocabulary};
use crate::injectors::own::decide::Outcome;

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

/// Injectors whose proxy redirects the pod's traffic (their init containers
/// add `NET_ADMIN`: `additions.yaml`, with sources).
pub const INTERCEPTING: &[&str] = &["istio", "linkerd", "consul", "kuma", "osm", "appmesh"];

/// INJ206 when more than one intercepting injector injects the workload
/// of `facts` (or would, but for an earlier one's sidecar), at what asked
/// for the second.
pub fn check(facts: &WorkloadFacts<'_>) -> Option<Diagnostic> {
    let workload = &facts.workload;
    let intercepting: Vec<&InjectorResult> = facts
        .result
        .injectors
        .iter()
        .filter(|r| r.decision == Outcome::Inject || facts.displaced.contains(&r.injector))
        .filter(|r| {
            if r.injector == OWN_INJECTOR {
                facts.own_intercepts
            } else {
                INTERCEPTING.contains(&r.injector)
            }
        })
        .collect();
    if intercepting.len() < 2 {
        return None;
    }
    let names: Vec<String> = intercepting.iter().map(|r| display(r.injector)).collect();
    let pointer = trigger_pointer(workload, intercepting[1].injector)
        .unwrap_or_else(|| format!("{}/metadata", workload.pod_path));
    Some(super::injected_pod::at_pod_pointer(
        new(&workload.display_name(), &names),
        workload,
        &pointer,
    ))
}

fn display(injector: &str) -> String {
    if injector == OWN_INJECTOR {
        return "the repository's own template".into();
    }
    vocabulary()
        .injector(injector)
        .map_or(injector, |i| i.display.as_str())
        .to_owned()
}
