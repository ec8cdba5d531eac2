//! Finding input files: named files, directories walked in parallel, stdin.
//!
//! Directories are walked with the `ignore` crate (ripgrep's walker), so
//! `.gitignore`d and hidden paths are skipped; a path named on the command
//! line is always read, hidden or ignored. Symlinks are followed and loops
//! reported, not followed forever.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{WalkBuilder, WalkState};

/// What to walk and what to leave out.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Gitignore-style globs (from the configuration's `ignore`), relative to `ignore_root`.
    pub ignore: Vec<String>,
    pub ignore_root: PathBuf,
}

/// An input that could not be read as a whole (a walk error, a symlink loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    pub message: String,
}

/// The inputs found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Files to read, in a stable order; `-` is stdin.
    pub files: Vec<PathBuf>,
    pub errors: Vec<InputError>,
}

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Expands the named paths into files. A named path that does not exist is
/// an error for the whole run (exit 2), not a finding.
pub fn discover(paths: &[PathBuf], options: &DiscoverOptions) -> Result<Discovered, String> {
    let ignore = build_ignore(options)?;
    let mut out = Discovered::default();
    let mut dirs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            out.files.push(path.clone());
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{}: no such file or directory", path.display())
            }
            _ => format!("{}: {e}", path.display()),
        })?;
        if meta.is_dir() {
            dirs.push(path.clone());
        } else {
            out.files.push(path.clone());
        }
    }
    if !dirs.is_empty() {
        let (files, errors) = walk(&dirs, ignore.as_ref());
        out.files.extend(files);
        out.errors.extend(errors);
    }
    out.files.sort();
    out.files.dedup();
    out.errors.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

pub(super) fn build_ignore(options: &DiscoverOptions) -> Result<Option<Gitignore>, String> {
    if options.ignore.is_empty() {
        return Ok(None);
    }
    let mut builder = GitignoreBuilder::new(&options.ignore_root);
    for glob in &options.ignore {
        builder
            .add_line(None, glob)
            .map_err(|e| format!("ignore pattern `{glob}`: {e}"))?;
    }
    builder.build().map(Some).map_err(|e| e.to_string())
}

fn walk(dirs: &[PathBuf], ignore: Option<&Gitignore>) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut builder = WalkBuilder::new(&dirs[0]);
    for dir in &dirs[1..] {
        builder.add(dir);
    }
    builder
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(true);
    if let Some(ignore) = ignore.cloned() {
        builder.filter_entry(move |entry| !is_ignored(&ignore, entry.path(), entry.file_type()));
    }
    // Where the named directories really are: a symlink below them that
    // leads elsewhere (`/proc/self/environ`, a home directory) is not
    // followed, so nothing outside the paths given is read or shown.
    let roots: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.canonicalize().unwrap_or_else(|_| absolute_normalized(d)))
        .collect();
    let files = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    builder.build_parallel().run(|| {
        Box::new(|result| {
            match result {
                Ok(entry) => {
                    if entry.path_is_symlink()
                        && let Some(error) = outside(entry.path(), &roots)
                    {
                        errors.lock().unwrap().push(error);
                        return WalkState::Skip;
                    }
                    let is_file = entry.file_type().is_some_and(|t| t.is_file());
                    if is_file && has_manifest_extension(entry.path()) {
                        files.lock().unwrap().push(entry.into_path());
                    }
                }
                Err(err) => errors.lock().unwrap().push(walk_error(err)),
            }
            WalkState::Continue
        })
    });
    (files.into_inner().unwrap(), errors.into_inner().unwrap())
}

/// An error for a symlink whose target is outside every root (or cannot be
/// resolved); `None` when it stays inside.
fn outside(link: &Path, roots: &[PathBuf]) -> Option<InputError> {
    let message = match link.canonicalize() {
        Ok(target) if roots.iter().any(|r| target.starts_with(r)) => return None,
        Ok(target) => format!(
            "symlink to {}, outside the paths given: not followed",
            target.display()
        ),
        Err(e) => format!("symlink that cannot be resolved ({e}): not followed"),
    };
    let path = link.display().to_string();
    Some(InputError {
        path: path.strip_prefix("./").unwrap_or(&path).to_owned(),
        message,
    })
}

fn is_ignored(ignore: &Gitignore, path: &Path, file_type: Option<std::fs::FileType>) -> bool {
    let is_dir = file_type.is_some_and(|t| t.is_dir());
    is_ignored_path(ignore, &absolute_normalized(path), is_dir)
}

/// Whether the configuration's `ignore` globs leave out `absolute`. The
/// globs are relative to the configuration's folder: a path outside it is
/// matched by none of them.
pub(super) fn is_ignored_path(ignore: &Gitignore, absolute: &Path, is_dir: bool) -> bool {
    absolute.starts_with(ignore.path())
        && ignore
            .matched_path_or_any_parents(absolute, is_dir)
            .is_ignore()
}

/// An absolute path with `.` and `..` resolved lexically (as the user meant
/// them, without following symlinks), so globs match `../../vendor/x.yaml`.
pub fn absolute_normalized(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether a walked file is an input: a manifest (`.yaml`, `.yml`,
/// `.json`), or a kustomization named `Kustomization` (no extension).
pub(super) fn has_manifest_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        || path.file_name().is_some_and(|n| n == "Kustomization")
}

fn walk_error(err: ignore::Error) -> InputError {
    let (path, err) = unwrap_path(err);
    let message = match &err {
        ignore::Error::Loop { ancestor, child } => format!(
            "symlink loop: {} points back to {}; not followed",
            child.display(),
            ancestor.display()
        ),
        other => other.to_string(),
    };
    InputError {
        path: path.map(|p| p.display().to_string()).unwrap_or_default(),
        message,
    }
}

fn unwrap_path(err: ignore::Error) -> (Option<PathBuf>, ignore::Error) {
    match err {
        ignore::Error::WithPath { path, err } => {
            let (_, inner) = unwrap_path(*err);
            (Some(path), inner)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            unwrap_path(*err)
        }
        ignore::Error::Loop { ref child, .. } => (Some(child.clone()), err),
        other => (None, other),
    }
}
