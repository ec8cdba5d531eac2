//! Grouping what was read into deployables and environments (SPEC
//! "Deployables"): each Kustomize root and chart is a deployable; plain
//! files are grouped by the Flux/Argo CD folder that applies them, the
//! Flux cluster folder that holds them, the configured environment whose
//! paths match them, or else together; environments come from the
//! configuration, then one per Flux cluster folder (with what its objects
//! apply, transitively), then one per remaining deployable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::gitops;
use super::layout;
use super::read::{FoundRef, Job, Origins, Read, Reader};
use crate::config::Config;
use crate::model::deployable::{
    Deployable, DeployableId, DeployableKind, Deployables, Environment, EnvironmentId,
};
use crate::source::{FileId, absolute_normalized};

impl Reader<'_> {
    /// Groups what was read into deployables and environments.
    pub(super) fn finish(mut self) -> Result<Read, String> {
        let config = self.options.config;
        let mut units: Vec<Unit> = Vec::new();
        // Roots and charts.
        for (job, files) in std::mem::take(&mut self.rendered_units) {
            let (kind, dir) = match &job {
                Job::Kustomize(root) => (DeployableKind::Kustomize, root.clone()),
                Job::Chart { dir, .. } => (DeployableKind::Helm, dir.clone()),
            };
            if units.iter().any(|u| u.dir == dir && u.kind == kind) {
                continue;
            }
            units.push(Unit::new(kind, dir, files));
        }
        // Plain folders that Flux or Argo CD apply, and Flux cluster folders.
        let flux_dirs: Vec<PathBuf> = self
            .refs
            .iter()
            .filter(|r| r.re.kind == DeployableKind::Flux)
            .filter_map(|r| r.resolved.clone())
            .collect();
        let mut folders: Vec<PathBuf> = self
            .refs
            .iter()
            .filter(|r| r.re.kind == DeployableKind::Flux)
            .map(|r| gitops::cluster_folder(&r.held_in, &flux_dirs))
            .collect();
        folders.sort();
        folders.dedup();
        let mut plain_dirs: Vec<PathBuf> = self
            .refs
            .iter()
            .filter_map(|r| r.resolved.clone())
            .filter(|d| d.is_dir() && !units.iter().any(|u| &u.dir == d))
            .chain(folders.iter().cloned())
            .collect();
        plain_dirs.sort();
        plain_dirs.dedup();
        let mut groups: BTreeMap<PathBuf, Vec<FileId>> = BTreeMap::new();
        let mut by_env: BTreeMap<usize, Vec<FileId>> = BTreeMap::new();
        let mut rest = Vec::new();
        let mut shared = Vec::new();
        let mut live = Vec::new();
        for (id, path, is_policy) in &self.plain {
            if *is_policy {
                shared.push(*id);
                continue;
            }
            if path.as_os_str().is_empty() {
                live.push(*id);
                continue;
            }
            // The innermost applied folder holding the file.
            let folder = plain_dirs
                .iter()
                .filter(|d| !path.as_os_str().is_empty() && path.starts_with(d))
                .max_by_key(|d| d.components().count());
            if let Some(folder) = folder {
                groups.entry(folder.clone()).or_default().push(*id);
            } else if let Some(env) = config.environments.iter().position(|e| {
                !path.as_os_str().is_empty() && layout::matches_paths(&e.paths, &config.root, path)
            }) {
                by_env.entry(env).or_default().push(*id);
            } else {
                rest.push(*id);
            }
        }
        for (dir, files) in groups {
            units.push(Unit::new(DeployableKind::Files, dir, files));
        }
        for (_, files) in by_env {
            let dir = self.common_dir(&files);
            units.push(Unit::new(DeployableKind::Files, dir, files));
        }
        if !rest.is_empty() || (units.is_empty() && live.is_empty()) {
            let dir = self.common_dir(&rest);
            units.push(Unit::new(DeployableKind::Files, dir, rest));
        }
        if !shared.is_empty() {
            let dir = self.common_dir(&shared);
            units.push(Unit {
                shared: true,
                ..Unit::new(DeployableKind::Files, dir, shared)
            });
        }
        if !live.is_empty() {
            units.push(Unit {
                live: true,
                ..Unit::new(DeployableKind::Files, PathBuf::from("cluster"), live)
            });
        }
        // What Flux and Argo CD objects say of the units they apply.
        for found in &self.refs {
            let Some(dir) = &found.resolved else { continue };
            for unit in units.iter_mut().filter(|u| &u.dir == dir) {
                unit.kind = found.re.kind;
                unit.name.get_or_insert_with(|| found.re.name.clone());
                if unit.namespace.is_none() {
                    unit.namespace = found.re.namespace.clone();
                    unit.force_namespace = found.re.force_namespace;
                }
            }
        }

        let mut environments = assign_environments(
            &units,
            &self.refs,
            &folders,
            &self.plain,
            config,
            &self.read.origins,
        );
        if let Some(live) = units.iter().position(|u| u.live) {
            let env = match &self.options.environment {
                Some(name) => environments.iter().position(|e| &e.name == name),
                None if environments.len() == 1 => Some(0),
                None => {
                    let names: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(format!(
                        "the paths hold {} environments ({}); name the one this cluster is with --environment",
                        names.len(),
                        names.join(", ")
                    ));
                }
            };
            let Some(env) = env else {
                return Err(format!(
                    "no environment `{}` among the paths",
                    self.options.environment.as_deref().unwrap_or_default()
                ));
            };
            environments[env].units.insert(live);
        }
        let names = &self.read.origins.names;
        let mut deployables = Deployables::default();
        for (env_index, env) in environments.iter().enumerate() {
            let config_env = config.environments.iter().find(|e| e.name == env.name);
            deployables.environments.push(Environment {
                name: env.name.clone(),
                deployables: Vec::new(),
                kubernetes_version: config_env.and_then(|e| e.kubernetes_version.clone()),
                namespace: config_env.and_then(|e| e.namespace.clone()),
                helm_values: config_env
                    .map(|e| e.helm.values.iter().map(|v| config.root.join(v)).collect())
                    .unwrap_or_default(),
            });
            let _ = env_index;
        }
        let mut file_deployable: HashMap<FileId, DeployableId> = HashMap::new();
        for (i, unit) in units.iter().enumerate() {
            let id = DeployableId(i as u32);
            let envs: Vec<EnvironmentId> = if unit.shared {
                (0..environments.len())
                    .map(|e| EnvironmentId(e as u32))
                    .collect()
            } else {
                environments
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.units.contains(&i))
                    .map(|(e, _)| EnvironmentId(e as u32))
                    .collect()
            };
            for env in &envs {
                deployables.environments[env.0 as usize]
                    .deployables
                    .push(id);
            }
            deployables.list.push(Deployable {
                kind: unit.kind,
                path: if unit.live {
                    "cluster".to_owned()
                } else {
                    names.display(&unit.dir)
                },
                dir: unit.dir.clone(),
                name: unit.name.clone(),
                environments: envs,
                namespace: unit.namespace.clone(),
                force_namespace: unit.force_namespace,
                files: unit.files.clone(),
            });
            for file in &unit.files {
                file_deployable.insert(*file, id);
            }
        }
        for object in &mut self.read.ws.objects {
            let id = file_deployable
                .get(&object.file)
                .copied()
                .unwrap_or_default();
            object.deployable = id;
            let Some(d) = deployables.get(id) else {
                continue;
            };
            if let Some(ns) = &d.namespace
                && !object.is_cluster_scoped()
                && (d.force_namespace || object.namespace.is_none())
            {
                object.namespace = Some(ns.clone());
            }
        }
        // Files Kustomize read count as files, once, unless read as plain files too.
        let plain: BTreeSet<&PathBuf> = self.plain.iter().map(|(_, p, _)| p).collect();
        self.read.ws.files += self
            .read_by_renderers
            .iter()
            .filter(|p| !plain.contains(p))
            .count();
        for (index, dir) in std::mem::take(&mut self.tags) {
            let id = deployables.list.iter().position(|d| d.dir == dir);
            if let (Some(id), Some(problem)) = (id, self.read.problems.get_mut(index)) {
                problem.deployable = Some(DeployableId(id as u32));
            }
        }
        self.read.ws.unused_files = self.unused;
        self.read.ws.deployables = deployables;
        Ok(self.read)
    }

    /// The deepest directory holding all of `files`.
    pub(super) fn common_dir(&self, files: &[FileId]) -> PathBuf {
        let paths: Vec<&Path> = self
            .plain
            .iter()
            .filter(|(id, path, _)| files.contains(id) && !path.as_os_str().is_empty())
            .map(|(_, p, _)| p.parent().unwrap_or(p))
            .collect();
        let Some(first) = paths.first() else {
            return absolute_normalized(Path::new("."));
        };
        let mut common = first.to_path_buf();
        for p in &paths[1..] {
            while !p.starts_with(&common) {
                if !common.pop() {
                    break;
                }
            }
        }
        common
    }
}

/// A deployable before it has an id: what it is made of.
#[derive(Debug)]
struct Unit {
    kind: DeployableKind,
    dir: PathBuf,
    files: Vec<FileId>,
    name: Option<String>,
    namespace: Option<String>,
    force_namespace: bool,
    /// Applied to every environment (the configuration's `policies`).
    shared: bool,
    /// Objects read from a live cluster: they join the environment the
    /// run names (`--environment`), or its only one.
    live: bool,
}

impl Unit {
    fn new(kind: DeployableKind, dir: PathBuf, files: Vec<FileId>) -> Unit {
        Unit {
            kind,
            dir,
            files,
            name: None,
            namespace: None,
            force_namespace: false,
            shared: false,
            live: false,
        }
    }
}

/// One environment as assigned: its name and the units in it.
struct Assigned {
    name: String,
    units: BTreeSet<usize>,
}

/// Environments (SPEC): the configuration's first (by path), then one per
/// Flux cluster folder (with what its Flux objects apply, transitively),
/// then one per remaining deployable.
fn assign_environments(
    units: &[Unit],
    refs: &[FoundRef],
    folders: &[PathBuf],
    plain: &[(FileId, PathBuf, bool)],
    config: &Config,
    origins: &Origins,
) -> Vec<Assigned> {
    let mut envs: Vec<Assigned> = config
        .environments
        .iter()
        .map(|e| Assigned {
            name: e.name.clone(),
            units: BTreeSet::new(),
        })
        .collect();
    let mut placed: Vec<Option<usize>> = vec![None; units.len()];
    for (i, unit) in units.iter().enumerate() {
        if unit.shared || unit.live {
            continue;
        }
        let matched = config.environments.iter().position(|e| {
            layout::matches_paths(&e.paths, &config.root, &unit.dir)
                || unit.files.iter().any(|f| {
                    plain.iter().any(|(id, p, _)| {
                        id == f
                            && !p.as_os_str().is_empty()
                            && layout::matches_paths(&e.paths, &config.root, p)
                    })
                })
        });
        if let Some(env) = matched {
            envs[env].units.insert(i);
            placed[i] = Some(env);
        }
    }
    // Flux cluster folders.
    let mut folder_env: HashMap<&Path, usize> = HashMap::new();
    for folder in folders {
        let claimed = units
            .iter()
            .position(|u| &u.dir == folder)
            .and_then(|u| placed[u]);
        let env = match claimed {
            Some(env) => env,
            None => {
                let base = folder
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| origins.names.display(folder));
                let name = if envs.iter().any(|e| e.name == base) {
                    origins.names.display(folder)
                } else {
                    base
                };
                envs.push(Assigned {
                    name,
                    units: BTreeSet::new(),
                });
                envs.len() - 1
            }
        };
        folder_env.insert(folder.as_path(), env);
        for (i, unit) in units.iter().enumerate() {
            if placed[i].is_none() && !unit.shared && unit.dir.starts_with(folder) {
                envs[env].units.insert(i);
                placed[i] = Some(env);
            }
        }
    }
    // What each Flux/Argo CD object applies joins the environments of the
    // unit holding the object, until nothing changes.
    let unit_of_file = |file: FileId| units.iter().position(|u| u.files.contains(&file));
    loop {
        let mut changed = false;
        for found in refs {
            let Some(dir) = &found.resolved else { continue };
            let Some(holder) = unit_of_file(found.file) else {
                continue;
            };
            let holder_envs: Vec<usize> = (0..envs.len())
                .filter(|&e| envs[e].units.contains(&holder))
                .collect();
            for (i, unit) in units.iter().enumerate() {
                if &unit.dir != dir || unit.shared {
                    continue;
                }
                // The configuration's placement wins.
                if placed[i].is_some_and(|p| p < config.environments.len()) {
                    continue;
                }
                for &env in &holder_envs {
                    if envs[env].units.insert(i) {
                        placed[i].get_or_insert(env);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (i, unit) in units.iter().enumerate() {
        if placed[i].is_some() || unit.shared || unit.live {
            continue;
        }
        let mut name = origins.names.display(&unit.dir);
        if envs.iter().any(|e| e.name == name) {
            name = format!("{name} ({})", unit.kind.as_str());
        }
        envs.push(Assigned {
            name,
            units: BTreeSet::from([i]),
        });
    }
    // Environments of the configuration that nothing fell into are left out.
    envs.retain(|e| !e.units.is_empty());
    if envs.is_empty() {
        envs.push(Assigned {
            name: "default".into(),
            units: BTreeSet::new(),
        });
    }
    envs
}
