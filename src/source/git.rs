//! Inputs at a Git revision, read from the object database: no checkout, no
//! temporary worktree, no `git` process. Works in a shallow clone as long as
//! the revision's commit has been fetched.
//!
//! Files read at a revision get the names the same paths have in the working
//! tree (`apps/web.yaml` for `kubectl inject lint apps/`), so a report of the
//! base and one of the head speak of the same files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::{
    DiffFindOptions, DiffOptions, ObjectType, Repository, Tree, TreeWalkMode, TreeWalkResult,
};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::discover::{build_ignore, has_manifest_extension, is_ignored_path};
use super::{DiscoverOptions, absolute_normalized};
use crate::load::{Input, ReadError, display_name};

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

    /// The manifest files under `paths` at `revision`, named as the same
    /// paths are in the working tree. Hidden entries below a named path are
    /// skipped and the configuration's `ignore` globs apply, as for the
    /// working tree; symlinks and submodules are not followed.
    pub fn read(
        &self,
        revision: &Revision,
        paths: &[PathBuf],
        options: &DiscoverOptions,
        max_file_size: u64,
    ) -> Result<Vec<Input>, String> {
        let tree = self.tree(revision)?;
        let ignore = build_ignore(options)?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut ignore_files = IgnoreFiles::new(self);
        for path in paths {
            let repo_path = self.repo_path(path).ok_or_else(|| {
                format!(
                    "{} is outside the Git repository at {}",
                    path.display(),
                    self.workdir.display()
                )
            })?;
            let entry_tree;
            let (root_tree, is_dir) = if repo_path.is_empty() {
                (&tree, true)
            } else {
                match tree.get_path(Path::new(&repo_path)) {
                    Ok(entry) if entry.kind() == Some(ObjectType::Tree) => {
                        entry_tree = self.repo.find_tree(entry.id()).map_err(|e| {
                            format!("{repo_path} at `{}`: {}", revision.spec, e.message())
                        })?;
                        (&entry_tree, true)
                    }
                    Ok(_) => (&tree, false),
                    // The path is new in the working tree: nothing at this revision.
                    Err(_) => continue,
                }
            };
            if !is_dir {
                if seen.insert(repo_path.clone()) {
                    out.push(self.read_blob(&tree, display_name(path), &repo_path, max_file_size));
                }
                continue;
            }
            let mut found = Vec::new();
            root_tree
                .walk(TreeWalkMode::PreOrder, |dir, entry| {
                    let name = entry.name().unwrap_or_default();
                    if name.starts_with('.') {
                        return TreeWalkResult::Skip;
                    }
                    let sub = format!("{dir}{name}");
                    let is_tree = entry.kind() == Some(ObjectType::Tree);
                    if let Some(ignore) = &ignore {
                        let absolute = absolute_normalized(&path.join(&sub));
                        if is_ignored_path(ignore, &absolute, is_tree) {
                            return TreeWalkResult::Skip;
                        }
                    }
                    if ignore_files.ignores(&tree, &join_repo_path(&repo_path, &sub), is_tree) {
                        return TreeWalkResult::Skip;
                    }
                    // Blobs only: 0o120000 is a symlink, a commit is a submodule.
                    if entry.kind() == Some(ObjectType::Blob)
                        && entry.filemode() != 0o120000
                        && has_manifest_extension(Path::new(name))
                    {
                        found.push(sub);
                    }
                    TreeWalkResult::Ok
                })
                .map_err(|e| {
                    format!(
                        "walking {} at `{}`: {}",
                        path.display(),
                        revision.spec,
                        e.message()
                    )
                })?;
            for sub in found {
                let file_repo_path = join_repo_path(&repo_path, &sub);
                if seen.insert(file_repo_path.clone()) {
                    let name = display_name(&path.join(&sub));
                    out.push(self.read_blob(&tree, name, &file_repo_path, max_file_size));
                }
            }
        }
        // `discover` sorts the working tree's files as paths (by component,
        // so `a/x` before `a-b/x`); the same order here keeps duplicates in
        // the same order on both sides.
        out.sort_by(|a, b| Path::new(input_name(a)).cmp(Path::new(input_name(b))));
        Ok(out)
    }

    fn read_blob(
        &self,
        tree: &Tree<'_>,
        name: String,
        repo_path: &str,
        max_file_size: u64,
    ) -> Input {
        let bytes = tree
            .get_path(Path::new(repo_path))
            .and_then(|entry| self.repo.find_blob(entry.id()))
            .map_err(|e| ReadError::Io(e.message().to_owned()))
            .and_then(|blob| {
                let size = blob.size() as u64;
                if size > max_file_size {
                    Err(ReadError::TooLarge(size))
                } else {
                    Ok(blob.content().to_vec())
                }
            });
        Input::Read { name, bytes }
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

/// The `.gitignore` and `.ignore` files of a revision, read from its tree
/// as the working tree's walker reads them from disk, so both sides of a
/// comparison leave out the same files.
struct IgnoreFiles<'r> {
    repo: &'r GitRepo,
    /// Per directory (repository path): its `.ignore`, then its `.gitignore`.
    by_dir: HashMap<String, Vec<Gitignore>>,
}

impl<'r> IgnoreFiles<'r> {
    fn new(repo: &'r GitRepo) -> Self {
        IgnoreFiles {
            repo,
            by_dir: HashMap::new(),
        }
    }

    /// Whether the ignore files of the directories above `repo_path` leave
    /// it out: the deepest file that has a say decides, `.ignore` before
    /// `.gitignore`, a `!pattern` keeps the path.
    fn ignores(&mut self, tree: &Tree<'_>, repo_path: &str, is_dir: bool) -> bool {
        let absolute = self.repo.workdir.join(repo_path);
        let mut dir = repo_path;
        while let Some(parent) = parent_dir(dir) {
            dir = parent;
            for matcher in self.matchers(tree, dir) {
                let found = matcher.matched_path_or_any_parents(&absolute, is_dir);
                if found.is_ignore() {
                    return true;
                }
                if found.is_whitelist() {
                    return false;
                }
            }
        }
        false
    }

    fn matchers(&mut self, tree: &Tree<'_>, dir: &str) -> &[Gitignore] {
        let repo = self.repo;
        self.by_dir.entry(dir.to_owned()).or_insert_with(|| {
            [".ignore", ".gitignore"]
                .iter()
                .filter_map(|file| {
                    let path = join_repo_path(dir, file);
                    let entry = tree.get_path(Path::new(&path)).ok()?;
                    let blob = repo.repo.find_blob(entry.id()).ok()?;
                    let mut builder = GitignoreBuilder::new(repo.workdir.join(dir));
                    for line in String::from_utf8_lossy(blob.content()).lines() {
                        // A bad line is skipped, as git does.
                        let _ = builder.add_line(None, line);
                    }
                    builder.build().ok()
                })
                .collect()
        })
    }
}

/// `a/b/c` → `a/b` → `a` → `` → none.
fn parent_dir(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind('/').map_or("", |i| &path[..i]))
}

fn input_name(input: &Input) -> &str {
    match input {
        Input::Read { name, .. } | Input::Live { name, .. } | Input::Rendered { name, .. } => name,
        Input::Path(path) => path.to_str().unwrap_or_default(),
    }
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn join_repo_path(dir: &str, sub: &str) -> String {
    if dir.is_empty() {
        sub.to_owned()
    } else {
        format!("{dir}/{sub}")
    }
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
