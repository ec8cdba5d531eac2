//! Which discovered files are Kustomize roots, Helm charts or plain files.
//!
//! A directory with a kustomization is a root unless another kustomization
//! among the inputs uses it (as a resource, base or component); the files a
//! root reaches (resources, patches, generator inputs) are read by
//! Kustomize, not again on their own. A directory with `Chart.yaml` is a
//! chart: nothing under it is parsed as YAML (templates are not YAML until
//! rendered). Files under a kustomization that no kustomization uses are not
//! applied by anything: they are left out, and counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};

use super::kustomization::{self, Kustomization};
use crate::source::absolute_normalized;

/// Every kustomization read so far, by directory (absolute).
pub type Kustomizations = BTreeMap<PathBuf, Kustomization>;

/// The shape of one set of discovered files.
#[derive(Debug, Default)]
pub struct Layout {
    /// Kustomize roots (absolute directories), sorted.
    pub roots: Vec<PathBuf>,
    /// Helm charts (absolute directories), sorted.
    pub charts: Vec<PathBuf>,
    /// Files read on their own, as discovered (the user's spelling).
    pub plain: Vec<PathBuf>,
    /// Files under a kustomization directory that no kustomization uses.
    pub unused: Vec<PathBuf>,
    /// Components no kustomization among the inputs uses (never built alone).
    pub lone_components: Vec<PathBuf>,
}

/// Sorts `files` (as `discover` found them under `named`) into roots,
/// charts and plain files, reading every kustomization they involve into
/// `known` (including those outside the inputs that they use).
pub fn layout(files: &[PathBuf], named: &[PathBuf], known: &mut Kustomizations) -> Layout {
    let named_abs: Vec<PathBuf> = named
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .map(|p| absolute_normalized(p))
        .collect();
    let absolute: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                f.clone()
            } else {
                absolute_normalized(f)
            }
        })
        .collect();

    // Kustomizations and charts among the inputs.
    let mut input_dirs = BTreeSet::new();
    let mut charts = BTreeSet::new();
    for path in &absolute {
        let Some(dir) = path.parent() else { continue };
        if kustomization::is_kustomization_file(path) {
            input_dirs.insert(dir.to_path_buf());
        } else if path.file_name().is_some_and(|n| n == "Chart.yaml") {
            charts.insert(dir.to_path_buf());
        }
    }
    // A chart inside another chart (`charts/`) is a dependency of it.
    let charts: Vec<PathBuf> = charts
        .iter()
        .filter(|c| !charts.iter().any(|o| o != *c && c.starts_with(o)))
        .cloned()
        .collect();
    for dir in &input_dirs {
        read_into(dir, known);
    }
    // Everything the input kustomizations use, transitively.
    let mut used_by_inputs = BTreeSet::new();
    for dir in &input_dirs {
        let Some(k) = known.get(dir) else { continue };
        let uses: Vec<PathBuf> = k.local_uses().map(|(_, p)| p.to_path_buf()).collect();
        for used in uses {
            if used != *dir {
                used_by_inputs.insert(used);
            }
        }
    }
    let mut roots = Vec::new();
    let mut lone_components = Vec::new();
    for dir in &input_dirs {
        if used_by_inputs.contains(dir) || charts.iter().any(|c| dir.starts_with(c)) {
            continue;
        }
        match known.get(dir) {
            Some(k) if k.component => lone_components.push(dir.clone()),
            _ => roots.push(dir.clone()),
        }
    }
    let mut reached = BTreeSet::new();
    let mut reached_dirs = BTreeSet::new();
    for root in &roots {
        let c = closure(root, known);
        reached.extend(c.files);
        reached_dirs.extend(c.dirs);
    }
    // Kustomizations that only use each other in a cycle have no root:
    // build one of them, so that Kustomize reports the cycle.
    loop {
        let orphan = input_dirs.iter().find(|dir| {
            !reached_dirs.contains(*dir)
                && !charts.iter().any(|c| dir.starts_with(c))
                && known.get(*dir).is_some_and(|k| !k.component)
                && !lone_components.contains(*dir)
        });
        let Some(orphan) = orphan.cloned() else { break };
        let c = closure(&orphan, known);
        reached.extend(c.files);
        reached_dirs.extend(c.dirs);
        roots.push(orphan);
    }

    let mut owner_cache: HashMap<PathBuf, bool> = HashMap::new();
    let mut out = Layout {
        roots,
        charts: charts.clone(),
        lone_components,
        ..Layout::default()
    };
    for (file, abs) in files.iter().zip(&absolute) {
        if file.as_os_str() == "-" {
            out.plain.push(file.clone());
            continue;
        }
        if kustomization::is_kustomization_file(abs)
            || charts.iter().any(|c| abs.starts_with(c))
            || reached.contains(abs)
        {
            continue;
        }
        let explicit = named_abs.iter().any(|n| n == abs);
        let under = named_abs
            .iter()
            .filter(|n| abs.starts_with(n) && *n != abs)
            .max_by_key(|n| n.components().count());
        let owned = !explicit
            && under.is_some_and(|top| has_kustomization_between(abs, top, &mut owner_cache));
        if owned {
            out.unused.push(file.clone());
        } else {
            out.plain.push(file.clone());
        }
    }
    out
}

/// Whether a directory from `file`'s up to `top` (inclusive) holds a kustomization.
fn has_kustomization_between(file: &Path, top: &Path, cache: &mut HashMap<PathBuf, bool>) -> bool {
    let mut dir = file.parent();
    while let Some(d) = dir {
        let has = *cache
            .entry(d.to_path_buf())
            .or_insert_with(|| kustomization::file_in(d).is_some());
        if has {
            return true;
        }
        if d == top {
            break;
        }
        dir = d.parent();
    }
    false
}

/// Reads the kustomization of `dir` into `known`, and those it uses.
pub fn read_into(dir: &Path, known: &mut Kustomizations) {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        if known.contains_key(&dir) {
            continue;
        }
        let Some(file) = kustomization::file_in(&dir) else {
            continue;
        };
        let Some(k) = Kustomization::read(&file) else {
            continue;
        };
        for (_, used) in k.local_uses() {
            if used.is_dir() && !known.contains_key(used) {
                todo.push(used.to_path_buf());
            }
        }
        known.insert(dir, k);
    }
}

/// What a root reaches.
#[derive(Debug, Default)]
pub struct Closure {
    /// Kustomization directories, the root first.
    pub dirs: Vec<PathBuf>,
    /// Every file Kustomize reads for it (kustomization files included).
    pub files: BTreeSet<PathBuf>,
}

/// The kustomizations and files `root` reaches (cycles are cut; Kustomize
/// reports them).
pub fn closure(root: &Path, known: &Kustomizations) -> Closure {
    let mut out = Closure::default();
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Some(k) = known.get(&dir) else { continue };
        out.dirs.push(dir.clone());
        out.files.insert(k.file.clone());
        for (_, used) in k.local_uses() {
            if known.contains_key(used) {
                todo.push(used.to_path_buf());
            } else {
                out.files.insert(used.to_path_buf());
            }
        }
        out.files.extend(k.read_files().map(Path::to_path_buf));
    }
    out
}

/// The chain of kustomizations from `root` down to the one that lists
/// `resource` among its resources, root first; empty when none does.
pub fn chain_to(root: &Path, resource: &Path, known: &Kustomizations) -> Vec<PathBuf> {
    fn walk(
        dir: &Path,
        resource: &Path,
        known: &Kustomizations,
        path: &mut Vec<PathBuf>,
        seen: &mut BTreeSet<PathBuf>,
    ) -> bool {
        if !seen.insert(dir.to_path_buf()) {
            return false;
        }
        let Some(k) = known.get(dir) else {
            return false;
        };
        path.push(dir.to_path_buf());
        for (_, used) in k.local_uses() {
            if used == resource {
                return true;
            }
        }
        for (_, used) in k.local_uses() {
            if known.contains_key(used) && walk(used, resource, known, path, seen) {
                return true;
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    let mut seen = BTreeSet::new();
    if walk(root, resource, known, &mut path, &mut seen) {
        path
    } else {
        Vec::new()
    }
}

/// The names an object has had at each level of its chain (outermost
/// first): as rendered, then without each level's `namePrefix` and
/// `nameSuffix`, since a patch sees the name of its own level.
pub fn names_at_levels(rendered: &str, chain: &[PathBuf], known: &Kustomizations) -> Vec<String> {
    let mut names = vec![rendered.to_owned()];
    let mut name = rendered.to_owned();
    for dir in chain {
        if let Some(k) = known.get(dir) {
            if let Some(prefix) = k.field("namePrefix").and_then(|n| n.as_str()) {
                name = name.strip_prefix(prefix).unwrap_or(&name).to_owned();
            }
            if let Some(suffix) = k.field("nameSuffix").and_then(|n| n.as_str()) {
                name = name.strip_suffix(suffix).unwrap_or(&name).to_owned();
            }
        }
        names.push(name.clone());
    }
    names
}

/// Whether `path` is one of `patterns` (relative to `root`), under one, or
/// matches one as a gitignore-style glob.
pub fn matches_paths(patterns: &[String], root: &Path, path: &Path) -> bool {
    let root = absolute_normalized(root);
    let Ok(relative) = path.strip_prefix(&root) else {
        return false;
    };
    patterns.iter().any(|pattern| {
        let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
        if trimmed.is_empty() || trimmed == "." {
            return true;
        }
        if relative.starts_with(trimmed) {
            return true;
        }
        let mut builder = GlobSetBuilder::new();
        if let Ok(glob) = Glob::new(trimmed) {
            builder.add(glob);
        }
        if let Ok(glob) = Glob::new(&format!("{trimmed}/**")) {
            builder.add(glob);
        }
        builder.build().is_ok_and(|set| set.is_match(relative))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn roots_reach_their_bases_and_patches() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            &[
                ("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
                ("base/deploy.yaml", "kind: Deployment\n"),
                ("base/stray.yaml", "kind: ConfigMap\n"),
                (
                    "overlays/dev/kustomization.yaml",
                    "resources: [../../base]\ncomponents: [../../comp]\npatches: [{path: p.yaml}]\n",
                ),
                ("overlays/dev/p.yaml", "kind: Deployment\n"),
                (
                    "comp/kustomization.yaml",
                    "kind: Component\nresources: [extra.yaml]\n",
                ),
                ("comp/extra.yaml", "kind: Service\n"),
                ("lone/kustomization.yaml", "kind: Component\n"),
                ("chart/Chart.yaml", "name: c\n"),
                ("chart/templates/d.yaml", "{{ x }}\n"),
                ("plain/a.yaml", "kind: Namespace\n"),
            ],
        );
        let files: Vec<PathBuf> = [
            "base/deploy.yaml",
            "base/kustomization.yaml",
            "base/stray.yaml",
            "chart/Chart.yaml",
            "chart/templates/d.yaml",
            "comp/extra.yaml",
            "comp/kustomization.yaml",
            "lone/kustomization.yaml",
            "overlays/dev/kustomization.yaml",
            "overlays/dev/p.yaml",
            "plain/a.yaml",
        ]
        .iter()
        .map(|f| root.join(f))
        .collect();
        let mut known = Kustomizations::new();
        let found = layout(&files, &[root.to_path_buf()], &mut known);
        let root = absolute_normalized(root);
        assert_eq!(found.roots, vec![root.join("overlays/dev")]);
        assert_eq!(found.charts, vec![root.join("chart")]);
        assert_eq!(found.lone_components, vec![root.join("lone")]);
        assert_eq!(found.plain, vec![dir.path().join("plain/a.yaml")]);
        assert_eq!(found.unused, vec![dir.path().join("base/stray.yaml")]);
        assert_eq!(
            chain_to(
                &root.join("overlays/dev"),
                &root.join("base/deploy.yaml"),
                &known
            ),
            vec![root.join("overlays/dev"), root.join("base")]
        );
        let reached = closure(&root.join("overlays/dev"), &known).files;
        assert!(reached.contains(&root.join("overlays/dev/p.yaml")));
        assert!(reached.contains(&root.join("comp/extra.yaml")));
    }

    #[test]
    fn a_base_named_alone_is_a_root() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/kustomization.yaml", "resources: [d.yaml]\n"),
                ("base/d.yaml", "kind: Deployment\n"),
                ("overlay/kustomization.yaml", "resources: [../base]\n"),
            ],
        );
        let base = dir.path().join("base");
        let files = vec![base.join("d.yaml"), base.join("kustomization.yaml")];
        let found = layout(
            &files,
            std::slice::from_ref(&base),
            &mut Kustomizations::new(),
        );
        assert_eq!(found.roots, vec![absolute_normalized(&base)]);
        assert!(found.plain.is_empty());
    }
}
