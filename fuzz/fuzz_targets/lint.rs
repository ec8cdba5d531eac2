//! `lint`: bytes → load (as stdin, in memory) → every rule, suppressions and
//! schema validation → all four report formats.
//!
//! Checks: no panic, no hang; every diagnostic's primary and label spans lie
//! in its file's text on character boundaries (and line/column round-trip);
//! the summary counts the diagnostics; the JSON and SARIF reports are valid
//! JSON; the human (miette) and GitHub writers do not fail. One input in
//! five is loaded as a live object: findings on it carry no position.

#![no_main]

mod common;

use kubectl_inject::config::Config;
use kubectl_inject::diagnostic::Severity;
use kubectl_inject::lint::{LintOptions, lint};
use kubectl_inject::report::{Format, HumanOptions, Report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One input in five is read as a live object (the drift rules run, and
    // no finding may keep a position in it).
    let live = data.len() % 5 == 1;
    let ws = if live {
        common::load_live(data)
    } else {
        common::load_bytes(data)
    };
    let config = Config::default();
    let outcome = lint(
        &ws,
        &config,
        &LintOptions {
            default_namespace: "default".to_owned(),
            // Both ways, decided by the input.
            no_suppressions: data.len() % 7 == 3,
            kubernetes_version: None,
            manual_injector: None,
            keep_pods: true,
        },
    );
    common::check_diagnostics(&ws.sources, &outcome.diagnostics);
    if live {
        for d in &outcome.diagnostics {
            assert!(
                d.at.as_ref().is_none_or(|at| !ws.sources.get(at.file).live),
                "{}: a finding on a live object kept a position",
                d.rule.id
            );
        }
    }
    let count = |s: Severity| {
        outcome
            .diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .count()
    };
    assert_eq!(outcome.summary.errors, count(Severity::Error));
    assert_eq!(outcome.summary.warnings, count(Severity::Warning));
    assert_eq!(outcome.summary.infos, count(Severity::Info));

    let report = Report::new(&ws.sources, &outcome.diagnostics, &outcome.summary, "lint");
    let human = HumanOptions::default();
    for format in [Format::Json, Format::Sarif, Format::Github, Format::Human] {
        let mut out = Vec::new();
        report
            .write(format, &mut out, &human)
            .unwrap_or_else(|e| panic!("{format:?} report failed: {e}"));
        if matches!(format, Format::Json | Format::Sarif) {
            serde_json::from_slice::<serde_json::Value>(&out)
                .unwrap_or_else(|e| panic!("{format:?} report is not JSON: {e}"));
        }
    }
});
