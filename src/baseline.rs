//! Findings a change adds: the head's findings minus the base's.
//!
//! A finding is matched across revisions by its rule, the object it is
//! about and the field path of the node at fault, never by line number, so
//! a finding "moves" with its object when lines shift above it, or when the
//! object moves to another file. List items with a `name` are addressed by
//! it (`/spec/containers[web]/image`), so inserting a container above does
//! not make the findings of the next one new. Findings about no object (a
//! file that is not YAML) are matched by rule, file (following renames) and
//! message without its numbers.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, ObjectRef};
use crate::lint::{Analysis, LintOutcome};
use crate::load::Workspace;
use crate::model::index::ObjectIndex;
use crate::source::git::{GitRepo, Revision};
use crate::yaml::{FieldPath, pointer};

/// What a `--base` run compared with, for the reports.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// The revision as the user named it.
    pub base: String,
    /// The commit it resolved to.
    pub commit: String,
    /// Findings of the head that the base already had: not reported.
    pub preexisting: usize,
}

/// Runs `analysis` on the working tree and on the same paths at `base`,
/// and keeps the head's findings the base does not have. The summary's
/// counts are those of the findings kept.
pub fn analyse_against(
    analysis: &Analysis<'_>,
    base: &str,
    stdin: impl Read,
) -> Result<(Workspace, LintOutcome, Baseline), String> {
    let repo = GitRepo::for_paths(&analysis.paths)?;
    let revision = repo.resolve(base)?;
    let (head_ws, mut head) = analysis.run(stdin)?;
    let mut baseline = Baseline {
        base: base.to_owned(),
        commit: revision.commit.to_string(),
        preexisting: 0,
    };
    if head.diagnostics.is_empty() {
        // Nothing to tell apart: the base cannot make the report shorter.
        return Ok((head_ws, head, baseline));
    }
    let renames = repo.renames(&revision, None)?;
    let (base_ws, base_outcome) = analyse_at_base(analysis, &repo, revision.clone(), &renames)?;
    let repo_path = |name: &str| {
        repo.repo_path(Path::new(name))
            .unwrap_or_else(|| name.to_owned())
    };
    let namespace = analysis.default_namespace();
    let head_prints = fingerprints(&head_ws, &head.diagnostics, &namespace, |name| {
        let path = repo_path(name);
        renames.get(&path).cloned().unwrap_or(path)
    });
    let base_prints = fingerprints(&base_ws, &base_outcome.diagnostics, &namespace, repo_path);
    baseline.preexisting = keep_new(&mut head.diagnostics, head_prints, base_prints);
    head.summary.count(&head.diagnostics);
    Ok((head_ws, head, baseline))
}

/// What a finding is about, independent of where its lines are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    rule: &'static str,
    anchor: Anchor,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Anchor {
    Object(ObjectRef),
    /// Repository path of the file (the base's name for a renamed file) and
    /// the message with its digits left out (parser positions move).
    File(String, String),
}

/// The fingerprints of `diagnostics`, found in `ws`. `file_key` names a
/// file the same way on both sides (repository path, renames followed).
pub fn fingerprints(
    ws: &Workspace,
    diagnostics: &[Diagnostic],
    default_namespace: &str,
    file_key: impl Fn(&str) -> String,
) -> Vec<Fingerprint> {
    let index = ObjectIndex::new(&ws.objects);
    diagnostics
        .iter()
        .map(|d| {
            let containing =
                d.at.as_ref()
                    .and_then(|at| index.containing(&ws.objects, at.file, at.span.start));
            let path = match (containing, &d.path, &d.at) {
                (Some(object), Some(pointer), _) => pointer::named(&object.root, pointer),
                (Some(object), None, Some(at)) => {
                    FieldPath::at(&object.root, at.span.start).pointer()
                }
                (None, Some(pointer), _) => pointer.clone(),
                (_, None, _) => String::new(),
            };
            let anchor = match (&d.object, containing) {
                (Some(object), _) => Anchor::Object(object.clone()),
                (None, Some(object)) => Anchor::Object(object.object_ref(default_namespace)),
                (None, None) => {
                    let file =
                        d.at.as_ref()
                            .map(|at| file_key(&ws.sources.get(at.file).name))
                            .unwrap_or_default();
                    let message = d.message.chars().filter(|c| !c.is_ascii_digit()).collect();
                    Anchor::File(file, message)
                }
            };
            Fingerprint {
                rule: d.rule.id,
                anchor,
                path,
            }
        })
        .collect()
}

/// `analysis` at `base`: the same paths, read from Git, and the old places
/// of files renamed into them (see [`paths_at_base`]).
pub fn analyse_at_base(
    analysis: &Analysis<'_>,
    repo: &GitRepo,
    base: Revision,
    renames: &HashMap<String, String>,
) -> Result<(Workspace, LintOutcome), String> {
    Analysis {
        paths: paths_at_base(repo, &analysis.paths, renames),
        progress: false,
        revision: Some((repo, base)),
        ..analysis.clone()
    }
    .run(std::io::empty())
}

/// The paths to read at the base: the run's, and the old places of files
/// renamed into them (`lint services/` after `git mv apps/web.yaml
/// services/`), so that what they had is not new.
fn paths_at_base(
    repo: &GitRepo,
    paths: &[PathBuf],
    renames: &HashMap<String, String>,
) -> Vec<PathBuf> {
    let named: Vec<String> = paths.iter().filter_map(|p| repo.repo_path(p)).collect();
    let under = |path: &str| {
        named.iter().any(|dir| {
            dir.is_empty()
                || path == dir
                || path
                    .strip_prefix(dir.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    };
    let mut out = paths.to_vec();
    let mut moved_in: Vec<&String> = renames
        .iter()
        .filter(|(new, old)| under(new) && !under(old))
        .map(|(_, old)| old)
        .collect();
    moved_in.sort();
    out.extend(moved_in.into_iter().map(|old| repo.workdir().join(old)));
    out
}

/// Keeps the head's findings that the base does not have (as many times as
/// the base has them fewer); returns how many were left out.
pub fn keep_new(
    head: &mut Vec<Diagnostic>,
    head_prints: Vec<Fingerprint>,
    base_prints: Vec<Fingerprint>,
) -> usize {
    let mut base_counts: HashMap<Fingerprint, usize> = HashMap::new();
    for print in base_prints {
        *base_counts.entry(print).or_default() += 1;
    }
    let mut prints = head_prints.into_iter();
    let before = head.len();
    head.retain(|_| {
        let print = prints.next().expect("one fingerprint per finding");
        match base_counts.get_mut(&print) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        }
    });
    before - head.len()
}
