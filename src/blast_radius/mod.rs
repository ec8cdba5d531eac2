//! `kubectl inject diff --base REV`: the blast radius of a change — the
//! workloads whose injection decision, template or injected pod differs
//! between two revisions, grouped by namespace and by cause ("template
//! envoy-proxy 1.4.0 → 1.5.0 changes 143 workloads in 12 namespaces").
//!
//! Workloads are matched by environment, kind, namespace and name, so
//! moving a manifest to another file changes nothing, and a change to a
//! Kustomize base shows in every overlay (environment) it reaches. "The injected pod changes" compares what
//! injection does to the pod (the structural diff of its pod before and
//! after injection), not the pod itself: a new application image is not a
//! change of injection.

mod write;

pub use write::{Format, write};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::baseline::analyse_at_base;
use crate::engine::WorkloadResult;
use crate::injectors::own::decide::Outcome;
use crate::lint::{Analysis, LintOutcome};
use crate::load::Workspace;
use crate::source::git::GitRepo;

/// One injector's outcome for a workload on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub decision: Outcome,
    pub template: Option<String>,
}

/// One workload and injector whose injection differs.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// The environment (cluster) of the workload, when the paths hold several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The deployable it is read from, when the paths hold several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployable: Option<String>,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub file: String,
    pub injector: &'static str,
    /// `None`: the workload does not exist on that side.
    pub before: Option<Side>,
    pub after: Option<Side>,
    pub pod_changed: bool,
}

/// Changes with one cause, counted.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub injector: &'static str,
    pub cause: CauseKind,
    /// What changed, e.g. "template envoy-proxy 1.4.0 → 1.5.0".
    pub what: String,
    pub workloads: usize,
    pub namespaces: usize,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub workloads_changed: usize,
    pub namespaces: usize,
    /// Environments with a change (0 when the paths hold one).
    #[serde(skip_serializing_if = "is_zero")]
    pub environments: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The deployable's path, when the run read several.
fn deployable_of(ws: &Workspace, w: &WorkloadResult) -> Option<String> {
    ws.deployables
        .several()
        .then(|| ws.deployables.path(w.deployable).map(str::to_owned))
        .flatten()
}

/// SPEC "PR gate": `{"version": 1, "base", "head", "changes", "summary"}`,
/// with the changes grouped by cause in `causes`.
#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    pub version: u32,
    pub base: String,
    /// A revision, or `worktree`.
    pub head: String,
    pub changes: Vec<Change>,
    pub summary: Totals,
    pub causes: Vec<Cause>,
}

/// Runs `analysis` at `base` and at `head` (the working tree when `None`)
/// and compares the simulations.
pub fn analyse(
    analysis: &Analysis<'_>,
    base: &str,
    head: Option<&str>,
) -> Result<BlastRadius, String> {
    let repo = GitRepo::for_paths(&analysis.paths)?;
    let base_revision = repo.resolve(base)?;
    let head_revision = head.map(|rev| repo.resolve(rev)).transpose()?;
    // Workloads moved into the paths from elsewhere are not new.
    let renames = repo.renames(&base_revision, head_revision.as_ref())?;
    let before = analyse_at_base(analysis, &repo, base_revision, &renames)?;
    let after = Analysis {
        revision: head_revision.map(|rev| (&repo, rev)),
        ..analysis.clone()
    }
    .run(std::io::empty())?;
    Ok(compare(
        base,
        head.unwrap_or("worktree"),
        (&before.0, &before.1),
        (&after.0, &after.1),
    ))
}

/// Environment, kind, namespace, name, and which of the objects so named
/// (INJ004's duplicates pair up in file order).
type WorkloadKey<'a> = (&'a str, &'a str, &'a str, &'a str, usize);

fn by_key<'a>(
    ws: &'a Workspace,
    workloads: &'a [WorkloadResult],
) -> HashMap<WorkloadKey<'a>, &'a WorkloadResult> {
    let mut seen: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    workloads
        .iter()
        .map(|w| {
            let env = environment_of(ws, w);
            let nth = seen
                .entry((env, &w.kind, &w.namespace, &w.name))
                .or_default();
            *nth += 1;
            (
                (
                    env,
                    w.kind.as_str(),
                    w.namespace.as_str(),
                    w.name.as_str(),
                    *nth - 1,
                ),
                w,
            )
        })
        .collect()
}

/// The name of the environment a workload was simulated in (`""` in a run
/// of one environment).
fn environment_of<'a>(ws: &'a Workspace, w: &WorkloadResult) -> &'a str {
    if ws.deployables.environments.len() <= 1 {
        return "";
    }
    ws.deployables
        .environment(w.environment)
        .map_or("", |e| e.name.as_str())
}

/// An injector's side for a workload that exists (`None` when it does
/// not); an injector with nothing pointing at the workload skips it.
fn side(workload: Option<&WorkloadResult>, injector: &str) -> Option<Side> {
    let workload = workload?;
    Some(
        match workload.injectors.iter().find(|r| r.injector == injector) {
            Some(result) => Side {
                decision: result.decision,
                template: result.template.clone(),
            },
            None => Side {
                decision: Outcome::Skip,
                template: None,
            },
        },
    )
}

fn is_plain_skip(side: &Option<Side>) -> bool {
    side.as_ref()
        .is_none_or(|s| s.decision == Outcome::Skip && s.template.is_none())
}

/// Compares two runs' simulations.
pub fn compare(
    base: &str,
    head: &str,
    before: (&Workspace, &LintOutcome),
    after: (&Workspace, &LintOutcome),
) -> BlastRadius {
    let old = by_key(before.0, &before.1.simulation.workloads);
    let new = by_key(after.0, &after.1.simulation.workloads);
    let keys: BTreeSet<WorkloadKey<'_>> = old.keys().chain(new.keys()).copied().collect();

    let mut changes = Vec::new();
    for key in keys {
        let (was, is) = (old.get(&key).copied(), new.get(&key).copied());
        let (file, deployable) = match (is, was) {
            (Some(w), _) => (
                after.0.sources.get(w.file).name.clone(),
                deployable_of(after.0, w),
            ),
            (None, Some(w)) => (
                before.0.sources.get(w.file).name.clone(),
                deployable_of(before.0, w),
            ),
            (None, None) => continue,
        };
        let pod_changed = injection_changed(was, is);
        let mut injectors: Vec<&'static str> = Vec::new();
        for w in was.iter().chain(is.iter()) {
            for result in &w.injectors {
                if !injectors.contains(&result.injector) {
                    injectors.push(result.injector);
                }
            }
        }
        let mut found = Vec::new();
        for &injector in &injectors {
            let (b, a) = (side(was, injector), side(is, injector));
            // A workload added or removed matters where an injector does something to it.
            let appears = b.is_none() || a.is_none();
            if b != a && !(appears && is_plain_skip(&b) && is_plain_skip(&a)) {
                found.push((injector, b, a));
            }
        }
        if found.is_empty() && pod_changed {
            // Same decisions and templates, different pod: the injectors that inject did it.
            for &injector in &injectors {
                let a = side(is, injector);
                if a.as_ref().is_some_and(|s| s.decision == Outcome::Inject) {
                    found.push((injector, side(was, injector), a));
                }
            }
        }
        for (injector, before, after) in found {
            changes.push(Change {
                environment: (!key.0.is_empty()).then(|| key.0.to_owned()),
                deployable: deployable.clone(),
                kind: key.1.to_owned(),
                namespace: key.2.to_owned(),
                name: key.3.to_owned(),
                file: file.clone(),
                injector,
                before,
                after,
                pod_changed,
            });
        }
    }
    changes.sort_by(|a, b| {
        (&a.environment, &a.namespace, &a.kind, &a.name, a.injector).cmp(&(
            &b.environment,
            &b.namespace,
            &b.kind,
            &b.name,
            b.injector,
        ))
    });
    // A namespace of one cluster is not the namespace of the same name in another.
    let summary = Totals {
        workloads_changed: changes
            .iter()
            .map(|c| (&c.environment, &c.kind, &c.namespace, &c.name))
            .collect::<BTreeSet<_>>()
            .len(),
        namespaces: changes
            .iter()
            .map(|c| (&c.environment, &c.namespace))
            .collect::<BTreeSet<_>>()
            .len(),
        environments: changes
            .iter()
            .filter_map(|c| c.environment.as_ref())
            .collect::<BTreeSet<_>>()
            .len(),
    };
    let causes = causes(&changes);
    BlastRadius {
        version: 1,
        base: base.to_owned(),
        head: head.to_owned(),
        changes,
        summary,
        causes,
    }
}

/// Whether what injection does to the workload's pod differs.
fn injection_changed(was: Option<&WorkloadResult>, is: Option<&WorkloadResult>) -> bool {
    fn pods(w: Option<&WorkloadResult>) -> Option<(&Value, &Value)> {
        let w = w?;
        Some((w.pod_before.as_ref()?, w.pod_after.as_ref()?))
    }
    match (pods(was), pods(is)) {
        (None, None) => false,
        (Some(_), None) | (None, Some(_)) => true,
        (Some((b0, a0)), Some((b1, a1))) if b0 == b1 => a0 != a1,
        (Some((b0, a0)), Some((b1, a1))) => crate::diff::diff(b0, a0) != crate::diff::diff(b1, a1),
    }
}

/// Why a workload is in the blast radius.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// Another template or template version.
    Template,
    /// Another decision (skip → inject, inject → deny, …).
    Decision,
    /// Same decision and template, but injection does something else to the pod.
    Pod,
    /// A workload that is new (or newly concerned).
    Added,
    /// A workload that is gone (or no longer concerned).
    Removed,
}

/// The cause of one change and its words: "template envoy-proxy 1.4.0 →
/// 1.5.0", "decision skip → inject", …
fn cause_of(change: &Change) -> (CauseKind, String) {
    let decision = |s: &Side| s.decision.as_str();
    let template = |s: &Side| s.template.clone().unwrap_or_else(|| "(none)".to_owned());
    match (&change.before, &change.after) {
        (None, Some(after)) => (
            CauseKind::Added,
            format!("new workloads ({})", decision(after)),
        ),
        (Some(before), None) => (
            CauseKind::Removed,
            format!("workloads gone (were {})", decision(before)),
        ),
        (Some(before), Some(after)) if before.decision != after.decision => (
            CauseKind::Decision,
            format!("decision {} → {}", decision(before), decision(after)),
        ),
        (Some(before), Some(after)) if before.template != after.template => (
            CauseKind::Template,
            template_change(&template(before), &template(after)),
        ),
        _ => (
            CauseKind::Pod,
            "the injected pod differs (same decision and template)".to_owned(),
        ),
    }
}

fn template_change(before: &str, after: &str) -> String {
    match (before.split_once('@'), after.split_once('@')) {
        (Some((n0, v0)), Some((n1, v1))) if n0 == n1 => format!("template {n0} {v0} → {v1}"),
        _ => format!("template {before} → {after}"),
    }
}

fn causes(changes: &[Change]) -> Vec<Cause> {
    type Env<'a> = Option<&'a str>;
    type Reach<'a> = (
        BTreeSet<(Env<'a>, &'a str, &'a str, &'a str)>,
        BTreeSet<(Env<'a>, &'a str)>,
    );
    let mut groups: BTreeMap<(&'static str, CauseKind, String), Reach<'_>> = BTreeMap::new();
    for change in changes {
        let (cause, what) = cause_of(change);
        let (workloads, namespaces) = groups.entry((change.injector, cause, what)).or_default();
        let env = change.environment.as_deref();
        workloads.insert((env, &change.kind, &change.namespace, &change.name));
        namespaces.insert((env, &change.namespace));
    }
    let mut causes: Vec<Cause> = groups
        .into_iter()
        .map(|((injector, cause, what), (workloads, namespaces))| Cause {
            injector,
            cause,
            what,
            workloads: workloads.len(),
            namespaces: namespaces.len(),
        })
        .collect();
    causes.sort_by(|a, b| {
        b.workloads
            .cmp(&a.workloads)
            .then_with(|| a.what.cmp(&b.what))
    });
    causes
}
