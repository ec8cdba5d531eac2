//! The live drift rules (INJ401 missing-sidecar, INJ402 outdated-injection,
//! INJ403 unexpected-sidecar) and the live summary, on workspaces of LIVE
//! objects built from `tests/fixtures/live/<RULE>/{fires,quiet}.yaml`: each
//! object of a fixture is handed to the loader as `Input::Live`, as
//! `simulate --live` does with what the API server returns (JSON, named
//! `Kind/namespace/name`). A fixture's first line lists the objects the
//! rule fires on: `# fires: Pod/shop/web-x0 Pod/mesh/meshy`. The same files
//! loaded as plain files (a repository) give none of the three rules.

mod common;

use std::path::{Path, PathBuf};

use common::{fixture_config, lint_with};
use kubectl_inject::config::Config;
use kubectl_inject::lint::{LintOptions, LintOutcome, lint};
use kubectl_inject::load::{Input, LoadOptions, Workspace, load, load_inputs};
use kubectl_inject::report::{Format, HumanOptions, Report};
use serde_json::{Value, json};

const DRIFT: &[&str] = &["INJ401", "INJ402", "INJ403"];

fn dir(rule: &str) -> PathBuf {
    PathBuf::from("tests/fixtures/live").join(rule)
}

/// The objects of a fixture file as the API server would return them: one
/// `Input::Live` per object, its JSON named `Kind/namespace/name`.
fn live_inputs(path: &Path) -> Vec<Input> {
    let ws = load(
        &[path.to_path_buf()],
        &LoadOptions::default(),
        std::io::empty(),
    )
    .expect("the fixture exists");
    assert!(
        ws.problems.is_empty(),
        "{}: the fixture loads cleanly: {:?}",
        path.display(),
        ws.problems
    );
    ws.objects
        .iter()
        .map(|o| Input::Live {
            name: o.object_ref("default").to_string(),
            json: serde_json::to_string_pretty(&o.root.to_json()).expect("JSON"),
        })
        .collect()
}

fn options(config: &Config) -> LintOptions {
    LintOptions {
        default_namespace: config.namespace.clone().unwrap_or_else(|| "default".into()),
        no_suppressions: false,
        kubernetes_version: config.kubernetes_version(),
        manual_injector: None,
        keep_pods: true,
    }
}

/// Lints the objects of `path` as live objects.
fn lint_live(path: &Path, config: &Config) -> (Workspace, LintOutcome) {
    let ws = load_inputs(live_inputs(path), Vec::new(), &LoadOptions::default());
    let outcome = lint(&ws, config, &options(config));
    (ws, outcome)
}

/// `simulate`'s report (workloads and the live summary) in a format.
fn render(ws: &Workspace, outcome: &LintOutcome, format: Format) -> String {
    let report = Report::new(
        &ws.sources,
        &outcome.diagnostics,
        &outcome.summary,
        "simulate",
    )
    .with_workloads(&outcome.simulation.workloads)
    .with_live(outcome.simulation.live.as_ref());
    let mut out = Vec::new();
    report
        .write(format, &mut out, &HumanOptions::default())
        .expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

/// The objects a fixture's first line lists: `# fires: Pod/ns/a Pod/ns/b`.
fn expected_objects(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let first = text.lines().next().unwrap_or_default();
    let list = first.strip_prefix("# fires:").unwrap_or_else(|| {
        panic!(
            "{} must start with `# fires: Kind/ns/name …`",
            path.display()
        )
    });
    let mut objects: Vec<String> = list.split_whitespace().map(str::to_owned).collect();
    objects.sort();
    objects
}

/// `Kind/namespace/name` of every finding of `rule`, sorted.
fn fired_on(outcome: &LintOutcome, rule: &str) -> Vec<String> {
    let mut objects: Vec<String> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule.id == rule)
        .map(|d| {
            d.object
                .as_ref()
                .unwrap_or_else(|| panic!("{rule} names its object: {d:?}"))
                .to_string()
        })
        .collect();
    objects.sort();
    objects
}

fn drift_findings(outcome: &LintOutcome) -> Vec<String> {
    outcome
        .diagnostics
        .iter()
        .filter(|d| DRIFT.contains(&d.rule.id))
        .map(|d| format!("{}: {}", d.rule.id, d.message))
        .collect()
}

fn check_rule(rule: &str) {
    let dir = dir(rule);
    let config = fixture_config(&dir);
    let fires = dir.join("fires.yaml");
    let (_, outcome) = lint_live(&fires, &config);
    assert_eq!(
        fired_on(&outcome, rule),
        expected_objects(&fires),
        "{rule} fires.yaml: the pods {rule} fires on"
    );
    let others: Vec<String> = drift_findings(&outcome)
        .into_iter()
        .filter(|d| !d.starts_with(rule))
        .collect();
    assert!(
        others.is_empty(),
        "{rule} fires.yaml: only {rule}: {others:#?}"
    );
    for d in outcome.diagnostics.iter().filter(|d| d.rule.id == rule) {
        // Live findings name the object and the field, not a position.
        assert!(d.at.is_none(), "{d:?}");
        assert!(d.labels.is_empty(), "{d:?}");
        assert_eq!(d.object.as_ref().map(|o| o.kind.as_str()), Some("Pod"));
        assert!(
            d.path.as_deref().is_some_and(|p| p.starts_with('/')),
            "{d:?}"
        );
        assert!(d.help.is_some(), "{d:?}");
    }

    let quiet = dir.join("quiet.yaml");
    assert_eq!(expected_objects(&quiet), Vec::<String>::new());
    let (_, outcome) = lint_live(&quiet, &config);
    assert_eq!(
        drift_findings(&outcome),
        Vec::<String>::new(),
        "{rule} quiet.yaml: no drift"
    );
}

#[test]
fn inj401_missing_sidecar() {
    check_rule("INJ401");
}

#[test]
fn inj402_outdated_injection() {
    check_rule("INJ402");
}

#[test]
fn inj403_unexpected_sidecar() {
    check_rule("INJ403");
}

/// In a repository, pods are written before injection: the same objects
/// read from files give none of the drift rules, and no live summary.
#[test]
fn files_never_drift() {
    for rule in DRIFT {
        let dir = dir(rule);
        let config = fixture_config(&dir);
        for file in ["fires.yaml", "quiet.yaml"] {
            let (_, outcome) = lint_with(&[dir.join(file)], &config);
            assert_eq!(
                drift_findings(&outcome),
                Vec::<String>::new(),
                "{rule}/{file} as a file"
            );
            assert!(outcome.simulation.live.is_none(), "{rule}/{file} as a file");
        }
    }
}

/// `injected`, `missing`, `outdated`, `unexpected`, `not_injected`.
fn summary(rule: &str, file: &str) -> Value {
    let dir = dir(rule);
    let (_, outcome) = lint_live(&dir.join(file), &fixture_config(&dir));
    serde_json::to_value(
        outcome
            .simulation
            .live
            .expect("a live run has a live summary"),
    )
    .expect("JSON")
}

fn expected_summary(outcomes: [usize; 5]) -> Value {
    let [injected, missing, outdated, unexpected, not_injected] = outcomes;
    let should = injected + missing + outdated;
    json!({
        "pods": outcomes.iter().sum::<usize>(),
        "should_have_sidecar": should,
        "with_expected_sidecar": injected,
        "success_rate": if should == 0 { 1.0 } else { injected as f64 / should as f64 },
        "outcomes": {
            "injected": injected,
            "missing": missing,
            "outdated": outdated,
            "unexpected": unexpected,
            "not_injected": not_injected
        }
    })
}

#[test]
fn live_summary_counts_each_pod_once() {
    // [injected, missing, outdated, unexpected, not_injected]
    for (rule, file, outcomes) in [
        // web-x1 carries the current sidecar; five pods miss one.
        ("INJ401", "fires.yaml", [1, 5, 0, 0, 0]),
        // The finished Job pod is not counted.
        ("INJ401", "quiet.yaml", [2, 0, 0, 0, 3]),
        ("INJ402", "fires.yaml", [3, 0, 5, 0, 0]),
        ("INJ402", "quiet.yaml", [5, 0, 0, 0, 0]),
        ("INJ403", "fires.yaml", [0, 0, 0, 4, 1]),
        ("INJ403", "quiet.yaml", [2, 0, 0, 0, 2]),
    ] {
        assert_eq!(
            summary(rule, file),
            expected_summary(outcomes),
            "{rule}/{file}"
        );
    }
}

/// The help names the command that recreates the pod: the Deployment
/// found through its ReplicaSet, the StatefulSet, or the pod itself.
#[test]
fn help_names_what_recreates_the_pod() {
    let dir = dir("INJ401");
    let (_, outcome) = lint_live(&dir.join("fires.yaml"), &Config::default());
    let help = |name: &str| -> (String, String, String) {
        let d = outcome
            .diagnostics
            .iter()
            .find(|d| d.rule.id == "INJ401" && d.object.as_ref().is_some_and(|o| o.name == name))
            .unwrap_or_else(|| panic!("INJ401 on {name}"));
        (
            d.message.clone(),
            d.help.clone().unwrap_or_default(),
            d.path.clone().unwrap_or_default(),
        )
    };
    let (message, h, path) = help("web-7b9c6d5f4-x0");
    assert!(
        h.contains("`kubectl rollout restart deployment/web -n shop`"),
        "{h}"
    );
    assert!(
        message.contains("envoy-proxy@1.4.0") && message.contains("Deployment/shop/web"),
        "{message}"
    );
    assert_eq!(path, "/spec/containers");
    let (_, h, _) = help("db-0");
    assert!(
        h.contains("`kubectl rollout restart statefulset/db -n shop`"),
        "{h}"
    );
    let (_, h, _) = help("migrate-q8w4r");
    assert!(
        h.contains("`kubectl delete pod migrate-q8w4r -n shop`") && h.contains("Job migrate"),
        "{h}"
    );
    let (_, h, _) = help("debug");
    assert!(
        h.contains("`kubectl delete pod debug -n shop`") && h.contains("bare pod"),
        "{h}"
    );
    let (message, _, _) = help("meshy");
    assert!(
        message.contains("Istio") && message.contains("istio-proxy"),
        "{message}"
    );
}

/// INJ402 says what changed, and points at the field that shows it.
#[test]
fn outdated_names_both_versions() {
    let dir = dir("INJ402");
    let (_, outcome) = lint_live(&dir.join("fires.yaml"), &fixture_config(&dir));
    let find = |name: &str| {
        outcome
            .diagnostics
            .iter()
            .find(|d| d.rule.id == "INJ402" && d.object.as_ref().is_some_and(|o| o.name == name))
            .unwrap_or_else(|| panic!("INJ402 on {name}"))
    };
    for (name, old, new, path) in [
        (
            "legacy",
            "envoy-proxy@1.3.0",
            "envoy-proxy@1.4.0",
            "/metadata/annotations/kubectl-inject.dev~1status",
        ),
        // A pod falls in a rollout with its Deployment (by its own name it
        // would not).
        (
            "frontend-7b9c6d5f4-x0",
            "envoy-proxy@1.4.0",
            "envoy-proxy@1.5.0",
            "/metadata/annotations/kubectl-inject.dev~1status",
        ),
        (
            "meshy-old",
            "proxyv2:1.27.0",
            "proxyv2:1.28.0",
            "/spec/initContainers/1/image",
        ),
        (
            "meshy-canary",
            "revision `canary`",
            "revision `default`",
            "/metadata/annotations/sidecar.istio.io~1status",
        ),
        (
            "vote-bot-old",
            "stable-2.13.0",
            "stable-2.14.10",
            "/metadata/annotations/linkerd.io~1proxy-version",
        ),
    ] {
        let d = find(name);
        assert!(
            d.message.contains(old) && d.message.contains(new),
            "{name}: {}",
            d.message
        );
        assert_eq!(d.path.as_deref(), Some(path), "{name}");
    }
    assert!(
        find("frontend-7b9c6d5f4-x0")
            .help
            .as_deref()
            .is_some_and(|h| h.contains("deployment/frontend"))
    );
}

/// Without any policy or template of the repository's own injector among
/// the inputs, its status annotation is not judged (the policies may not
/// have been loaded at all).
#[test]
fn own_status_is_not_judged_without_policies() {
    let fires = dir("INJ403").join("fires.yaml");
    let inputs: Vec<Input> = live_inputs(&fires)
        .into_iter()
        .filter(|i| !matches!(i, Input::Live { name, .. } if name.contains("Policy/") || name.contains("SidecarTemplate/")))
        .collect();
    let ws = load_inputs(inputs, Vec::new(), &LoadOptions::default());
    let outcome = lint(&ws, &Config::default(), &options(&Config::default()));
    // Istio and Linkerd still are.
    assert_eq!(
        fired_on(&outcome, "INJ403"),
        ["Pod/legacy/meshy", "Pod/legacy/vote-bot"]
    );
}

#[test]
fn json_report_has_the_live_block_and_no_files() {
    let dir = dir("INJ401");
    let (ws, outcome) = lint_live(&dir.join("fires.yaml"), &Config::default());
    let text = render(&ws, &outcome, Format::Json);
    // `live` right after `summary`.
    let at = |key: &str| {
        text.find(&format!("\n  \"{key}\": "))
            .unwrap_or_else(|| panic!("{key}: {text}"))
    };
    assert!(
        at("version") < at("summary")
            && at("summary") < at("live")
            && at("live") < at("diagnostics")
    );
    let report: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(report["live"], expected_summary([1, 5, 0, 0, 0]));
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    let missing: Vec<&Value> = diagnostics
        .iter()
        .filter(|d| d["rule"] == "INJ401")
        .collect();
    assert_eq!(missing.len(), 5);
    for d in missing {
        for key in ["file", "line", "column", "end_line", "end_column"] {
            assert!(d[key].is_null(), "{key}: {d:#}");
        }
        assert_eq!(d["object"]["kind"], "Pod", "{d:#}");
        assert_eq!(d["severity"], "error", "{d:#}");
    }
    let workloads = report["workloads"].as_array().expect("workloads");
    assert!(!workloads.is_empty());
    for w in workloads {
        assert!(
            w["file"].is_null() && w["line"].is_null(),
            "live workloads have no file: {w:#}"
        );
    }
    let debug = workloads
        .iter()
        .find(|w| w["kind"] == "Pod" && w["name"] == "debug")
        .expect("the bare pod is simulated");
    assert_eq!(debug["injectors"][0]["decision"], "inject", "{debug:#}");

    // Files keep their names and lines, and no `live` block.
    let (ws, outcome) = lint_with(&[dir.join("fires.yaml")], &Config::default());
    let report: Value = serde_json::from_str(&render(&ws, &outcome, Format::Json)).expect("JSON");
    assert!(report.get("live").is_none(), "{:#}", report["summary"]);
    assert_eq!(
        report["workloads"][0]["file"],
        "tests/fixtures/live/INJ401/fires.yaml"
    );
    assert!(report["workloads"][0]["line"].is_u64());
}

/// A live pod is simulated as its controller creates it: an injector does
/// not see its own earlier sidecar ("already injected").
#[test]
fn injected_pods_are_simulated_as_created() {
    let dir = dir("INJ402");
    let (ws, outcome) = lint_live(&dir.join("quiet.yaml"), &fixture_config(&dir));
    let report: Value = serde_json::from_str(&render(&ws, &outcome, Format::Json)).expect("JSON");
    let vote = report["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == "vote-bot"))
        .expect("vote-bot");
    let linkerd = vote["injectors"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["injector"] == "linkerd"))
        .expect("linkerd decides");
    assert_eq!(linkerd["decision"], "inject", "{vote:#}");
    // The checks see the sidecar once, not a collision with itself.
    assert!(
        !outcome
            .diagnostics
            .iter()
            .any(|d| matches!(d.rule.id, "INJ304" | "INJ305")),
        "{:#?}",
        outcome.diagnostics
    );
}

#[test]
fn sarif_results_of_live_findings_have_logical_locations() {
    let dir = dir("INJ401");
    let (ws, outcome) = lint_live(&dir.join("fires.yaml"), &Config::default());
    let sarif: Value = serde_json::from_str(&render(&ws, &outcome, Format::Sarif)).expect("JSON");
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().expect("results");
    let debug = results
        .iter()
        .find(|r| {
            r["ruleId"] == "INJ401"
                && r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                    == "Pod/shop/debug"
        })
        .unwrap_or_else(|| panic!("an INJ401 result on Pod/shop/debug: {results:#?}"));
    let location = &debug["locations"][0];
    assert!(location.get("physicalLocation").is_none(), "{location:#}");
    assert_eq!(location["logicalLocations"][0]["kind"], "resource");
    assert_eq!(location["logicalLocations"][0]["name"], "debug");
    assert!(
        run.get("artifacts").is_none(),
        "no file to list: {:#}",
        run["artifacts"]
    );
    assert_eq!(run["properties"]["live"], expected_summary([1, 5, 0, 0, 0]));
}

#[test]
fn text_reports_carry_the_live_line() {
    let dir = dir("INJ401");
    let (ws, outcome) = lint_live(&dir.join("fires.yaml"), &Config::default());
    let line = "6 pods; 1 of 6 that should carry a sidecar do (16.7 %); 5 missing (INJ401), 0 outdated (INJ402), 0 unexpected (INJ403)";
    let human = render(&ws, &outcome, Format::Human);
    assert!(human.contains(&format!("\nlive: {line}\n")), "{human}");
    // --explain names live workloads without a file position.
    let report = Report::new(
        &ws.sources,
        &outcome.diagnostics,
        &outcome.summary,
        "simulate",
    )
    .with_workloads(&outcome.simulation.workloads)
    .with_live(outcome.simulation.live.as_ref());
    let mut out = Vec::new();
    let explain = HumanOptions {
        explain: true,
        ..HumanOptions::default()
    };
    report
        .write(Format::Human, &mut out, &explain)
        .expect("memory");
    let explained = String::from_utf8(out).expect("UTF-8");
    assert!(
        explained.contains("\nPod/shop/debug kubectl-inject: inject\n"),
        "{explained}"
    );
    let markdown = kubectl_inject::report::markdown_summary(&report);
    assert!(
        markdown.contains(&format!("**Live:** {line}.")),
        "{markdown}"
    );
    assert!(markdown.contains("`Pod/shop/debug`"), "{markdown}");
    // Workflow commands name the object instead of a file.
    let github = render(&ws, &outcome, Format::Github);
    assert!(
        github.contains("::error title=INJ401::Pod/shop/debug runs without"),
        "{github}"
    );
}

/// The human rendering of one finding of a rule (no snippet: a live
/// object has no file).
fn human_of(rule: &str, object: &str) -> String {
    let dir = dir(rule);
    let (ws, outcome) = lint_live(&dir.join("fires.yaml"), &fixture_config(&dir));
    let one: Vec<_> = outcome
        .diagnostics
        .iter()
        .filter(|d| d.rule.id == rule && d.object.as_ref().is_some_and(|o| o.to_string() == object))
        .cloned()
        .collect();
    assert_eq!(one.len(), 1, "{rule} on {object}");
    let mut summary = outcome.summary.clone();
    summary.count(&one);
    let report = Report::new(&ws.sources, &one, &summary, "simulate");
    let mut out = Vec::new();
    report
        .write(Format::Human, &mut out, &HumanOptions::default())
        .expect("memory");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn human_rendering_snapshots() {
    insta::assert_snapshot!(
        "inj401_human",
        human_of("INJ401", "Pod/shop/web-7b9c6d5f4-x0")
    );
    insta::assert_snapshot!("inj402_human", human_of("INJ402", "Pod/shop/legacy"));
}
