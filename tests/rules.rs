//! Per-rule fixtures: `tests/fixtures/<RULE>/fires.yaml` makes the rule fire
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

macro_rules! fixture_tests {
    ($($name:ident => $rule:literal),* $(,)?) => {
        $(#[test] fn $name() { check_fixture($rule); })*

        /// Every implemented rule has a fixture directory (INJ006, which is
        /// about unreadable files, is covered by the CLI tests instead; the
        /// live-only drift rules INJ401–INJ403 never fire on files and have
        /// their fixtures in `fixtures/live/`, run by `tests/drift.rs`).
        #[test]
        fn every_rule_has_fixtures() {
            let covered = [$($rule),*];
            for rule in kubectl_inject::rules::RULES {
                if matches!(rule.id, "INJ006" | "INJ401" | "INJ402" | "INJ403") { continue; }
                assert!(covered.contains(&rule.id), "{} has no fixture test", rule.id);
            }
        }
    };
}

fixture_tests! {
    inj001_invalid_yaml => "INJ001",
    inj002_schema_violation => "INJ002",
    inj003_unknown_kind => "INJ003",
    inj004_duplicate_object => "INJ004",
    inj005_duplicate_key => "INJ005",
    inj008_suppression_without_reason => "INJ008",
    inj010_build_failed => "INJ010",
    inj011_chart_not_rendered => "INJ011",
    inj012_not_run => "INJ012",
    inj013_missing_deployable_path => "INJ013",
    inj014_patch_matches_nothing => "INJ014",
    inj009_unused_suppression => "INJ009",
    inj103_policy_conflict => "INJ103",
    inj105_unknown_namespace => "INJ105",
    inj106_uncovered_namespace => "INJ106",
    inj107_namespaced_policy_reach => "INJ107",
    inj210_pod_override_not_allowed => "INJ210",
    inj302_injected_container_without_resources => "INJ302",
    inj307_injected_container_without_readiness => "INJ307",
    inj101_unknown_template => "INJ101",
    inj102_template_inheritance_cycle => "INJ102",
    inj104_parameter_value_rejected => "INJ104",
    inj108_unknown_interpolation => "INJ108",
    inj111_template_inheritance_too_deep => "INJ111",
    inj201_invalid_label_or_annotation => "INJ201",
    inj202_unknown_injector_key => "INJ202",
    inj203_rejected_injector_value => "INJ203",
    inj204_injection_off_with_overrides => "INJ204",
    inj205_conflicting_injection_controls => "INJ205",
    inj206_competing_interceptors => "INJ206",
    inj207_misplaced_pod_key => "INJ207",
    inj208_deprecated_injector_key => "INJ208",
    inj209_contradictory_namespace_labels => "INJ209",
    inj211_unreachable_opt_in => "INJ211",
    inj212_injection_requested_where_skipped => "INJ212",
    inj301_pod_security_violation => "INJ301",
    inj303_injected_port_collision => "INJ303",
    inj304_injected_name_collision => "INJ304",
    inj305_sidecar_already_present => "INJ305",
    inj306_injected_image_unpinned => "INJ306",
    inj308_quota_cannot_hold_sidecars => "INJ308",
    inj309_init_container_after_proxy_init => "INJ309",
    inj310_pod_annotations_too_large => "INJ310",
    inj311_native_sidecar_on_old_kubernetes => "INJ311",
    inj312_injected_pod_too_large => "INJ312",
    inj404_webhook_misconfigured => "INJ404",
    inj405_double_injection => "INJ405",
}
