//! The import directions of `src/`, in one place.
//!
//! Data flows one way: sources → documents with positions → model → facts
//! (decisions, injected pods) → rules (findings) → reports. Each top-level
//! module of `src/` sits on one floor of [`FLOORS`], lowest first, and may
//! import only from its own floor and the floors below. The test reads every
//! `crate::…` path in the code (unit-test modules, which may build fixtures
//! with anything, are left out) and fails on an import that runs up, naming
//! the file; docs/architecture.md draws the same floors.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The floors, lowest first; the modules on one floor may import each other.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "text and files",
        &[
            "diff",
            "hash",
            "severity",
            "source",
            "whole_file",
            "words",
            "yaml",
        ],
    ),
    ("objects", &["model"]),
    ("schemas", &["schema"]),
    ("configuration", &["config"]),
    ("documents", &["load"]),
    ("renderings", &["deployables"]),
    ("injectors (facts)", &["injectors"]),
    ("simulation (facts)", &["engine"]),
    ("findings as data", &["diagnostic"]),
    ("rules", &["rules"]),
    ("suppressions", &["suppress"]),
    ("analysis", &["lint"]),
    (
        "analyses of revisions and outputs",
        &["baseline", "golden", "render"],
    ),
    ("reports and clusters", &["report", "live"]),
    ("what runs on reports", &["blast_radius", "webhook"]),
    ("command line", &["cli"]),
];

/// Imports forbidden though they run down: the injectors read objects of the
/// model and the settings the engine hands them, not the loader's workspace
/// or the configuration file.
const APART: &[(&str, &str)] = &[("injectors", "config"), ("injectors", "load")];

/// Imports allowed to run up, each with its reason (none today: every layer
/// imports only from below). One added here must be explained in
/// docs/architecture.md too. The test fails when one is gone (remove it
/// here) or a new one appears.
#[rustfmt::skip]
const NOT_YET: &[(&str, &str, &str)] = &[
    // (file, imported module, what is left)
];

fn floor_of(module: &str) -> Option<usize> {
    FLOORS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/engine/known.rs` → `engine`; `src/lint.rs` → `lint`.
fn module_of(relative: &str) -> &str {
    let rest = relative.trim_start_matches("src/");
    let first = rest.split('/').next().unwrap();
    first.trim_end_matches(".rs")
}

/// The top-level modules a file's code (before its unit tests) names with
/// `crate::`.
fn imports(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let name: String = code[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn imports_run_down_the_floors_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut upward = BTreeSet::new();
    let mut unplaced = BTreeSet::new();
    for path in &files {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = module_of(&relative);
        if matches!(module, "lib" | "main") {
            continue;
        }
        let Some(floor) = floor_of(module) else {
            unplaced.insert(module.to_owned());
            continue;
        };
        for imported in imports(&fs::read_to_string(path).unwrap()) {
            if imported == module {
                continue;
            }
            let apart = APART.contains(&(module, imported.as_str()));
            match floor_of(&imported) {
                Some(to) if to > floor || apart => {
                    upward.insert((relative.clone(), imported));
                }
                Some(_) => {}
                None => {
                    unplaced.insert(imported);
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules on no floor (add them to FLOORS): {unplaced:?}"
    );
    let known: BTreeSet<(String, String)> = NOT_YET
        .iter()
        .map(|(file, module, _)| (file.to_string(), module.to_string()))
        .collect();
    let new: Vec<_> = upward.difference(&known).collect();
    let gone: Vec<_> = known.difference(&upward).collect();
    assert!(
        new.is_empty(),
        "imports that run up a floor, or that APART forbids (a lower layer must not know a higher one): {new:#?}"
    );
    assert!(
        gone.is_empty(),
        "no longer run up: remove them from NOT_YET: {gone:#?}"
    );
}

#[test]
fn every_module_of_the_crate_is_on_a_floor() {
    let lib = include_str!("../src/lib.rs");
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
        {
            let name = name.trim_end_matches(';');
            assert!(floor_of(name).is_some(), "`{name}` is on no floor");
        }
    }
}
