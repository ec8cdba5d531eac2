//! Per-rule fixtures, found by rule id: `tests/fixtures/<RULE>/fires.yaml` makes the rule fire
//! exactly at the positions its first line lists; `quiet.yaml` keeps the
//! whole linter quiet. A directory may hold a `kubectl-inject.yaml` (e.g. a
//! Kubernetes version) used for both. The rendered human and JSON reports of
//! every `fires.yaml` are snapshots (`tests/snapshots/`).

mod common;

use std::path::Path;

use common::{expected_positions, fixture_config, fixtures, lint_with, positions, render};
use kubectl_inject::deployables::render::Renderers;
use kubectl_inject::lint::Analysis;
use kubectl_inject::report::Format;
use rayon::prelude::*;

fn check_fixture(rule: &str) {
    let dir = fixtures().join(rule);
    if dir.join("fires").is_dir() {
        return check_tree_fixture(rule, &dir);
    }
    let config = fixture_config(&dir);
    let fires = dir.join("fires.yaml");
    let (ws, outcome) = lint_with(std::slice::from_ref(&fires), &config);
    assert_eq!(
        positions(&ws, &outcome, rule),
        expected_positions(&fires),
        "{rule} fires.yaml: positions of {rule}"
    );
    insta::with_settings!({snapshot_suffix => rule, prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("human", render(&ws, &outcome, Format::Human));
        insta::assert_snapshot!("json", render(&ws, &outcome, Format::Json));
    });

    let quiet = dir.join("quiet.yaml");
    let (ws, outcome) = lint_with(std::slice::from_ref(&quiet), &config);
    assert!(
        outcome.diagnostics.is_empty(),
        "{rule} quiet.yaml must give no findings, got:\n{}",
        render(&ws, &outcome, Format::Human)
    );
}

/// A rule about deployables: `fires/` and `quiet/` are trees read as a
/// repository (Kustomize roots built with the real Kustomize, Helm absent
/// whatever the machine has), and `fires/FIRES` lists `PATH:LINE:COL` of
/// every finding, paths relative to `fires/`.
fn check_tree_fixture(rule: &str, dir: &Path) {
    let config = fixture_config(dir);
    let analyse = |tree: &Path| {
        Analysis {
            renderers: Renderers {
                helm: "kubectl-inject-test-no-helm".into(),
                ..Renderers::default()
            },
            ..Analysis::new(vec![tree.to_path_buf()], &config)
        }
        .run(std::io::empty())
        .expect("the fixture tree exists")
    };
    let fires = dir.join("fires");
    let (ws, outcome) = analyse(&fires);
    let prefix = format!("{}/", fires.display());
    let found: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule.id == rule)
        .map(|d| {
            let at = d.at.as_ref().expect("fixture findings have a position");
            let file = ws.sources.get(at.file);
            let lc = file.line_col(at.span.start);
            let name = file.name.strip_prefix(&prefix).unwrap_or(&file.name);
            format!("{name}:{}:{}", lc.line, lc.column)
        })
        .collect();
    let expected: Vec<String> = std::fs::read_to_string(fires.join("FIRES"))
        .expect("fires/FIRES lists the positions")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, expected, "{rule} fires/: positions of {rule}");
    insta::with_settings!({snapshot_suffix => rule, prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("human", render(&ws, &outcome, Format::Human));
        insta::assert_snapshot!("json", render(&ws, &outcome, Format::Json));
    });
    let (ws, outcome) = analyse(&dir.join("quiet"));
    assert!(
        outcome.diagnostics.is_empty(),
        "{rule} quiet/ must give no findings, got:\n{}",
        render(&ws, &outcome, Format::Human)
    );
}

/// Rules whose fixtures live elsewhere: INJ006 (unreadable files) in the
/// CLI tests; the live-only drift rules INJ401–INJ403, which never fire on
/// files, in `fixtures/live/`, run by `tests/drift.rs`.
const FIXTURES_ELSEWHERE: &[&str] = &["INJ006", "INJ401", "INJ402", "INJ403"];

/// Every rule of the registry against its fixture directory, found by its
/// id: a rule added to the registry is tested here without a line of its
/// own. They run in parallel; a failure names each rule that disagrees.
#[test]
fn every_rule_fires_where_its_fixture_says_and_keeps_quiet_otherwise() {
    let failures: Vec<String> = kubectl_inject::rules::RULES
        .par_iter()
        .filter(|rule| !FIXTURES_ELSEWHERE.contains(&rule.id))
        .filter_map(|rule| {
            let outcome = std::panic::catch_unwind(|| check_fixture(rule.id));
            outcome.err().map(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                format!("{}: {message}", rule.id)
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every fixture directory belongs to a rule of the registry (a renamed or
/// removed rule leaves none behind).
#[test]
fn every_fixture_directory_belongs_to_a_rule() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("INJ") {
            assert!(
                kubectl_inject::rules::find(&name).is_some(),
                "tests/fixtures/{name} names no rule"
            );
        }
    }
}
