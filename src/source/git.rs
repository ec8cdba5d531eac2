//! Git revisions for `--base` and `diff`: revisions resolved, a revision's
//! tree written to a temporary folder (Kustomize and Helm render from files;
//! the repository's index, HEAD and working tree are never touched), and
//! the renames between two revisions. No `git` process; works in a shallow
//! clone as long as the revision's commit has been fetched.
//!
//! The analysis names a revision's files as the same paths are named in the
//! working tree (`apps/web.yaml` for `kubectl inject lint apps/`), so a
//! report of the base and one of the head speak of the same files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{DiffFindOptions, DiffOptions, Repository, Tree};

use super::absolute_normalized;

/// A repository opened for reading revisions.
pub struct GitRepo {
    repo: Repository,
    /// The working tree, canonical (symlinks resolved), to make paths
    /// repository-relative.
    workdir: PathBuf,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("workdir", &self.workdir)
            .finish()
    }
}

/// A resolved revision: what the user wrote and the commit it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub spec: String,
    pub commit: git2::Oid,
}

impl GitRepo {
    /// The repository holding `path` (searched upward, as `git` does).
    pub fn discover(path: &Path) -> Result<GitRepo, String> {
        let start = existing_ancestor(&absolute_normalized(path));
        let repo = Repository::discover(&start).map_err(|e| {
            format!(
                "--base needs a Git repository: {} is not inside one ({})",
                start.display(),
                e.message()
            )
        })?;
        let workdir = repo.workdir().ok_or_else(|| {
            "--base needs a repository with a working tree, not a bare one".to_owned()
        })?;
        let workdir = workdir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", workdir.display()))?;
        Ok(GitRepo { repo, workdir })
    }

    /// The working tree's root (canonical).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The repository holding the first of a run's paths (none may be
    /// stdin: it has no revision).
    pub fn for_paths(paths: &[PathBuf]) -> Result<GitRepo, String> {
        if paths.iter().any(|p| p.as_os_str() == "-") {
            return Err("--base reads files from Git; stdin (`-`) has no revision".to_owned());
        }
        GitRepo::discover(paths.first().map_or(Path::new("."), PathBuf::as_path))
    }

    /// Resolves `spec` (a branch, tag, `origin/main`, `HEAD~1`, a SHA) to a commit.
    pub fn resolve(&self, spec: &str) -> Result<Revision, String> {
        let object = self.repo.revparse_single(spec).map_err(|e| {
            let shallow = if self.repo.is_shallow() {
                " This is a shallow clone: fetch the base first \
                 (`git fetch --depth=1 origin <base>`, or `fetch-depth: 0` in actions/checkout)."
            } else {
                ""
            };
            format!(
                "revision `{spec}` not found in {}: {}.{shallow}",
                self.workdir.display(),
                e.message()
            )
        })?;
        let commit = object
            .peel_to_commit()
            .map_err(|e| format!("revision `{spec}` does not name a commit: {}", e.message()))?;
        Ok(Revision {
            spec: spec.to_owned(),
            commit: commit.id(),
        })
    }

    fn tree(&self, revision: &Revision) -> Result<Tree<'_>, String> {
        self.repo
            .find_commit(revision.commit)
            .and_then(|c| c.tree())
            .map_err(|e| format!("reading the tree of `{}`: {}", revision.spec, e.message()))
    }

    /// `path` (as the user named it, relative to the current directory)
    /// relative to the repository root, `/`-separated; `""` is the root.
    pub fn repo_path(&self, path: &Path) -> Option<String> {
        let absolute = absolute_normalized(path);
        let canonical = canonical_lexically(&absolute);
        let relative = canonical.strip_prefix(&self.workdir).ok()?;
        let parts: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Writes the tree of `revision` into `dir` (which must exist), as a
    /// checkout would, without touching the repository's index, HEAD or
    /// working tree: Kustomize and Helm need files on disk to render a
    /// revision's deployables. A submodule is written at the commit the
    /// revision records for it, from the submodule's own repository in the
    /// working tree (so its files are compared with themselves, not taken
    /// for new); one that is not checked out, or lacks that commit, stays
    /// empty, as in a fresh clone.
    pub fn checkout_to(&self, revision: &Revision, dir: &Path) -> Result<(), String> {
        let commit = self
            .repo
            .find_commit(revision.commit)
            .map_err(|e| format!("reading `{}`: {}", revision.spec, e.message()))?;
        let tree = commit
            .tree()
            .map_err(|e| format!("reading the tree of `{}`: {}", revision.spec, e.message()))?;
        write_tree(&self.repo, commit.as_object(), dir).map_err(|e| {
            match self.missing_blob(&tree, &e) {
                Some(path) => format!(
                    "`{path}` at `{}` is not in this clone{}: run `git diff --stat {} >/dev/null` (git fetches missing blobs on demand; the library this tool reads Git with cannot) or clone without a filter, then run again",
                    revision.spec,
                    if self.is_partial() {
                        " (a partial clone, `--filter=blob:none`)"
                    } else {
                        ""
                    },
                    revision.spec
                ),
                None => format!(
                    "writing `{}` to {}: {}",
                    revision.spec,
                    dir.display(),
                    e.message()
                ),
            }
        })?;
        let mut submodules = Vec::new();
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() == Some(git2::ObjectType::Commit) {
                let name = entry.name().unwrap_or_default();
                submodules.push((format!("{parent}{name}"), entry.id()));
            }
            git2::TreeWalkResult::Ok
        });
        for (path, id) in submodules {
            let written = Repository::open(self.workdir.join(&path))
                .ok()
                .and_then(|sub| {
                    let commit = sub.find_commit(id).ok()?;
                    write_tree(&sub, commit.as_object(), &dir.join(&path)).ok()
                });
            // Not checked out here, or without that commit: left empty.
            let _ = written;
        }
        Ok(())
    }

    /// The path in `tree` of the blob a "not found" error names.
    fn missing_blob(&self, tree: &Tree<'_>, error: &git2::Error) -> Option<String> {
        if error.code() != git2::ErrorCode::NotFound {
            return None;
        }
        let message = error.message();
        let id = message
            .split(|c: char| !c.is_ascii_hexdigit())
            .find(|word| word.len() == 40)?;
        let id = git2::Oid::from_str(id).ok()?;
        let mut found = None;
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.id() == id {
                found = Some(format!("{parent}{}", entry.name().unwrap_or_default()));
                return git2::TreeWalkResult::Abort;
            }
            git2::TreeWalkResult::Ok
        });
        found
    }

    /// Whether the repository is a partial clone (objects left on a promisor remote).
    fn is_partial(&self) -> bool {
        self.repo.config().is_ok_and(|config| {
            config.get_string("extensions.partialclone").is_ok()
                || config
                    .entries(Some("remote\\..*\\.promisor"))
                    .is_ok_and(|mut entries| entries.next().is_some())
        })
    }

    /// Files renamed between `base` and `head` (the working tree, untracked
    /// files included, when `head` is `None`): new repository path → old.
    pub fn renames(
        &self,
        base: &Revision,
        head: Option<&Revision>,
    ) -> Result<HashMap<String, String>, String> {
        let base_tree = self.tree(base)?;
        let mut options = DiffOptions::new();
        options.include_untracked(true).recurse_untracked_dirs(true);
        let diff = match head {
            Some(head) => {
                let head_tree = self.tree(head)?;
                self.repo
                    .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut options))
            }
            None => self
                .repo
                .diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut options)),
        };
        let mut diff =
            diff.map_err(|e| format!("comparing `{}` with the head: {}", base.spec, e.message()))?;
        diff.find_similar(Some(
            DiffFindOptions::new().renames(true).for_untracked(true),
        ))
        .map_err(|e| format!("finding renamed files: {}", e.message()))?;
        let mut renames = HashMap::new();
        for delta in diff.deltas() {
            if delta.status() != git2::Delta::Renamed {
                continue;
            }
            let (Some(old), Some(new)) = (delta.old_file().path(), delta.new_file().path()) else {
                continue;
            };
            renames.insert(slash_path(new), slash_path(old));
        }
        Ok(renames)
    }
}

/// Writes `treeish` of `repo` into `dir`, leaving the repository's index,
/// HEAD and working tree alone.
fn write_tree(
    repo: &Repository,
    treeish: &git2::Object<'_>,
    dir: &Path,
) -> Result<(), git2::Error> {
    let mut options = git2::build::CheckoutBuilder::new();
    options
        .target_dir(dir)
        .force()
        .update_index(false)
        .recreate_missing(true);
    repo.checkout_tree(treeish, Some(&mut options))
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The nearest ancestor of `path` that exists (a path may be gone from the
/// working tree and still be asked for at a revision).
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    while !current.exists() {
        if !current.pop() {
            return PathBuf::from(".");
        }
    }
    current
}

/// `path` with its longest existing prefix canonicalized (symlinks such as
/// macOS's /tmp → /private/tmp resolved) and the rest kept as written.
fn canonical_lexically(path: &Path) -> PathBuf {
    let existing = existing_ancestor(path);
    let rest = path.strip_prefix(&existing).unwrap_or(Path::new(""));
    match existing.canonicalize() {
        Ok(canonical) => canonical.join(rest),
        Err(_) => path.to_path_buf(),
    }
}
