//! The policy sets the webhook answers with: loaded from a directory or from
//! the cluster's `kubectl-inject.dev` objects, checked with `lint`'s rules,
//! and swapped in whole. A set with errors is refused and the last good one
//! stays in service.

use std::path::PathBuf;

use crate::config::Config;
use crate::diagnostic::{Diagnostic, Severity};
use crate::engine::PolicySet;
use crate::lint::{LintOptions, lint};
use crate::live::object::LiveObject;
use crate::load::{Input, LoadOptions, Workspace, load_inputs};
use crate::model::OWN_KINDS;
use crate::model::namespace::Namespaces;
use crate::source::{DiscoverOptions, discover};

use super::cache::InjectionCache;

/// One input of a set, kept so that a candidate object can be checked
/// together with the set it would join (`/validate`).
#[derive(Debug, Clone)]
pub enum SetInput {
    Path(PathBuf),
    /// An object read from the cluster: its JSON, named `Kind/namespace/name`.
    Object {
        name: String,
        json: String,
    },
}

impl From<LiveObject> for SetInput {
    fn from(object: LiveObject) -> SetInput {
        SetInput::Object {
            name: object.name,
            json: object.json,
        }
    }
}

impl SetInput {
    fn to_input(&self) -> Input {
        match self {
            SetInput::Path(path) => Input::Path(path.clone()),
            SetInput::Object { name, json } => Input::Live {
                name: name.clone(),
                json: json.clone(),
            },
        }
    }
}

/// A set in service.
#[derive(Debug)]
pub struct Loaded {
    pub set: PolicySet,
    /// Counts up with every set taken into service (0: none yet).
    pub generation: u64,
    pub inputs: Vec<SetInput>,
    /// The Namespace objects among the inputs (`--offline`: the only
    /// namespace labels the webhook knows).
    pub namespaces: Namespaces,
    /// `12 policies, 8 templates`, for logs.
    pub description: String,
    /// Answers for pods already seen (replicas of one ReplicaSet are the same
    /// pod): the rendered template and its patch, by the pod's hash.
    pub cache: InjectionCache,
}

/// Why a new set was refused: its error findings, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The number the set would have served under.
    pub generation: u64,
    pub findings: Vec<String>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} error finding(s)", self.findings.len())?;
        for finding in self.findings.iter().take(20) {
            write!(f, "\n  {finding}")?;
        }
        if self.findings.len() > 20 {
            write!(f, "\n  … and {} more", self.findings.len() - 20)?;
        }
        Ok(())
    }
}

/// How sets are checked and prepared.
#[derive(Debug, Clone)]
pub struct SetOptions {
    pub config: Config,
    pub default_namespace: String,
}

impl SetOptions {
    fn lint_options(&self) -> LintOptions {
        LintOptions {
            default_namespace: self.default_namespace.clone(),
            no_suppressions: false,
            kubernetes_version: self.config.kubernetes_version(),
            manual_injector: Some(crate::engine::OWN_INJECTOR),
            // Only the findings are read.
            keep_pods: false,
        }
    }

    /// Loads and lints `inputs`.
    pub fn check(&self, inputs: &[SetInput]) -> (Workspace, Vec<Diagnostic>) {
        let ws = load_inputs(
            inputs.iter().map(SetInput::to_input).collect(),
            Vec::new(),
            &LoadOptions::default(),
        );
        let outcome = lint(&ws, &self.config, &self.lint_options());
        (ws, outcome.diagnostics)
    }

    /// Loads, checks and prepares a set; `Err` when it has errors about
    /// policies, templates or unreadable inputs.
    pub fn build(&self, inputs: Vec<SetInput>, generation: u64) -> Result<Loaded, Refused> {
        let (ws, diagnostics) = self.check(&inputs);
        let (waiting, findings): (Vec<_>, Vec<_>) = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error && about_policy(d))
            .partition(|d| waits_for_its_template(d));
        let findings: Vec<String> = findings.into_iter().map(|d| one_line(&ws, d)).collect();
        let waiting: Vec<String> = waiting.into_iter().map(|d| one_line(&ws, d)).collect();
        if !findings.is_empty() {
            return Err(Refused {
                generation,
                findings,
            });
        }
        let namespaces = Namespaces::from_objects(&ws.objects);
        let set = PolicySet::new(ws, &self.config, &self.default_namespace);
        let (policies, templates) = set.counts();
        Ok(Loaded {
            set,
            generation,
            inputs,
            namespaces,
            description: format!(
                "{} polic{}, {} template{}{}",
                policies,
                if policies == 1 { "y" } else { "ies" },
                templates,
                if templates == 1 { "" } else { "s" },
                waiting
                    .iter()
                    .map(|w| format!("\n  waiting for its template (pods it selects are answered per --on-error): {w}"))
                    .collect::<String>()
            ),
            cache: InjectionCache::default(),
        })
    }
}

/// A policy read from the cluster that names a template the cluster does
/// not have (yet). Objects arrive one at a time (`kubectl apply -f dir/`
/// goes by file name) and `/validate` lets such a policy in with a warning:
/// refusing the whole set for it would freeze every other policy of the
/// cluster. Until its template comes, the pods it selects are answered
/// per `--on-error`. In a directory, which is one commit, it refuses.
fn waits_for_its_template(d: &Diagnostic) -> bool {
    // Findings about cluster objects name the object and have no file
    // position (`lint::detach_live_positions`).
    d.rule.id == "INJ101" && d.at.is_none() && d.object.is_some()
}

/// Whether a finding is about the policy set itself: a policy or template,
/// or a file that could not be read or parsed. Findings about workloads or
/// webhooks that happen to sit in the same directory do not refuse a set.
fn about_policy(d: &Diagnostic) -> bool {
    match &d.object {
        Some(object) => OWN_KINDS.contains(&object.kind.as_str()),
        None => true,
    }
}

/// `file:line:col: INJ002 message`, or `Kind/ns/name: …` for cluster objects.
pub fn one_line(ws: &Workspace, d: &Diagnostic) -> String {
    let place = match (&d.at, &d.object) {
        (Some(label), _) if !ws.sources.get(label.file).live => {
            let source = ws.sources.get(label.file);
            let at = source.line_col(label.span.start);
            format!("{}:{}:{}", source.name, at.line, at.column)
        }
        (_, Some(object)) => object.to_string(),
        (Some(label), None) => ws.sources.get(label.file).name.clone(),
        (None, None) => "-".to_owned(),
    };
    let path = d
        .path
        .as_deref()
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    format!("{place}: {} {}{path}", d.rule.id, d.message)
}

/// The files of a directory source and their sizes and modification
/// times: a change of any is a reason to reload.
pub fn directory_inputs(
    paths: &[PathBuf],
    discover_options: &DiscoverOptions,
) -> Result<(Vec<SetInput>, u64), String> {
    let found = discover(paths, discover_options)?;
    let mut fingerprint = Vec::new();
    for path in &found.files {
        let meta = std::fs::metadata(path).ok();
        let modified = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        fingerprint.push(format!(
            "{}\0{}\0{modified}",
            path.display(),
            meta.map_or(0, |m| m.len())
        ));
    }
    for error in &found.errors {
        fingerprint.push(format!("{}\0{}", error.path, error.message));
    }
    let inputs = found.files.into_iter().map(SetInput::Path).collect();
    Ok((
        inputs,
        crate::hash::fnv1a64(fingerprint.join("\n").as_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::object::cluster_object;

    fn options() -> SetOptions {
        SetOptions {
            config: Config::default(),
            default_namespace: "default".into(),
        }
    }

    fn object(json: &str) -> SetInput {
        cluster_object(serde_json::from_str(json).unwrap(), "kubectl-inject-system").into()
    }

    const TEMPLATE: &str = r#"{"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "SidecarTemplate",
        "metadata": {"name": "proxy", "namespace": "kubectl-inject-system", "managedFields": [{}]},
        "spec": {"version": "1.0.0", "containers": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]}}"#;

    #[test]
    fn a_template_in_the_injector_namespace_is_cluster_wide() {
        let SetInput::Object { name, json } = object(TEMPLATE) else {
            panic!("an object");
        };
        assert_eq!(name, "SidecarTemplate/proxy");
        assert!(!json.contains("managedFields"), "{json}");
        assert!(!json.contains("namespace"), "{json}");
    }

    #[test]
    fn a_set_with_errors_is_refused_with_its_findings() {
        let bad = r#"{"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "ClusterInjectionPolicy",
            "metadata": {"name": "mesh"}, "spec": {"action": "injekt", "template": "proxy"}}"#;
        let refused = options()
            .build(vec![object(TEMPLATE), object(bad)], 1)
            .unwrap_err();
        assert_eq!(refused.findings.len(), 1, "{refused}");
        assert!(
            refused.findings[0].starts_with("ClusterInjectionPolicy/mesh: INJ002"),
            "{refused}"
        );
        let good = bad.replace("injekt", "inject");
        let loaded = options()
            .build(vec![object(TEMPLATE), object(&good)], 1)
            .unwrap();
        assert_eq!(loaded.description, "1 policy, 1 template");
    }

    /// A policy whose template is not in the cluster yet does not hold back
    /// the rest of the cluster's set; in a directory it refuses the set.
    #[test]
    fn a_cluster_policy_may_wait_for_its_template_a_directorys_may_not() {
        let early = r#"{"apiVersion": "kubectl-inject.dev/v1alpha1", "kind": "ClusterInjectionPolicy",
            "metadata": {"name": "early"}, "spec": {"action": "inject", "template": "not-yet"}}"#;
        let loaded = options()
            .build(vec![object(TEMPLATE), object(early)], 1)
            .unwrap();
        assert!(
            loaded
                .description
                .starts_with("1 policy, 1 template\n  waiting for its template")
                && loaded
                    .description
                    .contains("ClusterInjectionPolicy/early: INJ101"),
            "{}",
            loaded.description
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("early.yaml");
        std::fs::write(
            &file,
            "apiVersion: kubectl-inject.dev/v1alpha1\nkind: ClusterInjectionPolicy\nmetadata: {name: early}\nspec: {action: inject, template: not-yet}\n",
        )
        .unwrap();
        let refused = options()
            .build(vec![object(TEMPLATE), SetInput::Path(file)], 1)
            .unwrap_err();
        assert!(
            refused.findings.len() == 1 && refused.findings[0].contains("INJ101"),
            "{refused}"
        );
    }
}
