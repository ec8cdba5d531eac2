//! How reports name a file the user did not name: a base two folders up, a
//! patch, a Helm template. Files under a path the user named are spelt
//! from it (`repo/base/deploy.yaml` when they named `repo/`), the others
//! relative to the current directory, as the loader names what it walks.

use std::path::{Component, Path, PathBuf};

use crate::load::display_name;
use crate::source::absolute_normalized;

#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Named paths: absolute, and as the user wrote them.
    named: Vec<(PathBuf, PathBuf)>,
    cwd: PathBuf,
    /// A tree read in place of another (a Git revision written to a
    /// temporary folder): paths under the first are named as under the second.
    rewrite: Option<(PathBuf, PathBuf)>,
}

impl Names {
    pub fn new(named: &[PathBuf]) -> Names {
        let cwd = absolute_normalized(Path::new("."));
        let mut named: Vec<(PathBuf, PathBuf)> = named
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .map(|p| (absolute_normalized(p), p.clone()))
            .collect();
        // The deepest named path spells a file first.
        named.sort_by_key(|(abs, _)| std::cmp::Reverse(abs.components().count()));
        Names {
            named,
            cwd,
            rewrite: None,
        }
    }

    /// Names files under `from` as if they were under `to`.
    pub fn with_rewrite(mut self, from: PathBuf, to: PathBuf) -> Names {
        self.rewrite = Some((from, to));
        self
    }

    /// The path a report shows for `absolute`.
    pub fn display(&self, absolute: &Path) -> String {
        let absolute = self.real(absolute);
        for (abs, as_named) in &self.named {
            if let Ok(rest) = absolute.strip_prefix(abs) {
                let name = display_name(&as_named.join(rest));
                let name = name.trim_end_matches('/');
                return if name.is_empty() { "." } else { name }.to_owned();
            }
        }
        match relative_to(&absolute, &self.cwd) {
            Some(rel) if !rel.as_os_str().is_empty() => display_name(&rel),
            Some(_) => ".".to_owned(),
            None => display_name(&absolute),
        }
    }

    /// Where `path` really is (undoing a rewrite).
    pub fn real(&self, path: &Path) -> PathBuf {
        match &self.rewrite {
            Some((from, to)) => match path.strip_prefix(from) {
                Ok(rest) => to.join(rest),
                Err(_) => path.to_path_buf(),
            },
            None => path.to_path_buf(),
        }
    }
}

/// `path` relative to `base`, both absolute and normalised, with `..` where
/// needed; `None` on another drive or root.
pub fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    if path.first() != base.first() {
        return None;
    }
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/b/c.yaml"), Path::new("/a/d")),
            Some(PathBuf::from("../b/c.yaml"))
        );
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/b")),
            Some(PathBuf::new())
        );
    }

    #[test]
    fn files_under_a_named_path_are_spelt_from_it() {
        let cwd = absolute_normalized(Path::new("."));
        let names = Names::new(&[PathBuf::from("repo/overlays")]);
        assert_eq!(
            names.display(&cwd.join("repo/overlays/prod/patch.yaml")),
            "repo/overlays/prod/patch.yaml"
        );
        assert_eq!(
            names.display(&cwd.join("repo/base/deploy.yaml")),
            "repo/base/deploy.yaml"
        );
        let rewritten = Names::new(&[]).with_rewrite(PathBuf::from("/tmp/x"), cwd.join("repo"));
        assert_eq!(
            rewritten.display(Path::new("/tmp/x/base/d.yaml")),
            "repo/base/d.yaml"
        );
    }
}
