//! `--format sarif`: SARIF 2.1.0 for code scanning (SPEC "Reports").
//!
//! One run; `tool.driver.rules` lists every rule of [`RULES`] (so `ruleIndex`
//! is the rule's place there), results carry the same 1-based lines and
//! columns as the JSON report (`columnKind: unicodeCodePoints`), and
//! `artifacts` lists the files the results point at. Relative file names are
//! relative to `%SRCROOT%` (the directory the tool ran in), as code scanning
//! expects. Every result has a `partialFingerprints` entry built from the
//! rule, file, object and field path, not the line, so an alert survives
//! edits that move it.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_json::json;
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Location, LogicalLocation, Message, MultiformatMessageString,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
};

use super::Report;
use crate::diagnostic::{Diagnostic, FileSpan, Severity};
use crate::rules::{RULES, Rule};
use crate::source::FileId;

/// The schema code scanning and the SARIF validator resolve.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The `uriBaseId` of relative file names.
const SRCROOT: &str = "%SRCROOT%";
/// Key of our entry in `partialFingerprints`; bump the version if the hash
/// input ever changes, so old and new alerts are not confused.
const FINGERPRINT_KEY: &str = "kubectlInject/v1";

pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let sarif = build(report);
    serde_json::to_writer_pretty(&mut *out, &sarif)?;
    writeln!(out)
}

fn build(report: &Report<'_>) -> Sarif {
    let artifacts = Artifacts::collect(report);
    let mut fingerprints = Fingerprints::default();
    let results: Vec<SarifResult> = report
        .diagnostics
        .iter()
        .map(|d| result(report, &artifacts, &mut fingerprints, d))
        .collect();

    let mut driver = ToolComponent::builder()
        .name(env!("CARGO_PKG_NAME"))
        .version(env!("CARGO_PKG_VERSION"))
        .semantic_version(env!("CARGO_PKG_VERSION"))
        .rules(RULES.iter().map(|r| descriptor(r)).collect::<Vec<_>>())
        .build();
    if !env!("CARGO_PKG_REPOSITORY").is_empty() {
        driver.information_uri = Some(env!("CARGO_PKG_REPOSITORY").to_owned());
    }

    let mut run = Run::builder()
        .tool(Tool::from(driver))
        .results(results)
        .column_kind(json!("unicodeCodePoints"))
        .build();
    // `simulate` carries its workloads (and `--live` its live summary) as
    // in the JSON report.
    let mut properties = BTreeMap::new();
    if let Some(workloads) = super::json::workloads_json(report) {
        properties.insert("workloads".to_owned(), workloads);
    }
    if let Some(live) = report.live {
        properties.insert(
            "live".to_owned(),
            serde_json::to_value(live).expect("plain data"),
        );
    }
    if !properties.is_empty() {
        run.properties = Some(
            PropertyBag::builder()
                .additional_properties(properties)
                .build(),
        );
    }
    if !artifacts.order.is_empty() {
        run.artifacts = Some(
            artifacts
                .order
                .iter()
                .map(|&id| artifact(&report.sources.get(id).name))
                .collect(),
        );
    }

    Sarif::builder()
        .schema(SCHEMA)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

/// The files results point at, in order of first mention, with their index
/// in `run.artifacts`.
struct Artifacts {
    order: Vec<FileId>,
    index: HashMap<FileId, usize>,
}

impl Artifacts {
    fn collect(report: &Report<'_>) -> Self {
        let mut artifacts = Artifacts {
            order: Vec::new(),
            index: HashMap::new(),
        };
        let spans = report
            .diagnostics
            .iter()
            .flat_map(|d| d.at.iter().chain(d.labels.iter().map(|l| &l.at)));
        for span in spans {
            if !artifacts.index.contains_key(&span.file) {
                artifacts.index.insert(span.file, artifacts.order.len());
                artifacts.order.push(span.file);
            }
        }
        artifacts
    }
}

fn level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Info => ResultLevel::Note,
    }
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let configuration = ReportingConfiguration::builder()
        .level(json!(level(rule.severity)))
        .build();
    ReportingDescriptor::builder()
        .id(rule.id)
        .name(rule.name)
        .short_description(text(rule.summary))
        .full_description(text(&what_it_finds(rule)))
        .help(
            MultiformatMessageString::builder()
                .text(rule.explain)
                .markdown(rule.explain)
                .build(),
        )
        .help_uri(rule.help_uri())
        .default_configuration(configuration)
        .build()
}

fn text(s: &str) -> MultiformatMessageString {
    MultiformatMessageString::builder().text(s).build()
}

/// The "What it finds" section of a rule's page, as one paragraph; the
/// summary when the page has none.
fn what_it_finds(rule: &Rule) -> String {
    let Some(start) = rule.explain.find("## What it finds") else {
        return rule.summary.to_owned();
    };
    let section = &rule.explain[start..];
    let body = section.split_once('\n').map_or("", |(_, rest)| rest);
    let body = body.find("\n## ").map_or(body, |end| &body[..end]);
    let paragraph = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if paragraph.is_empty() {
        rule.summary.to_owned()
    } else {
        paragraph
    }
}

fn result(
    report: &Report<'_>,
    artifacts: &Artifacts,
    fingerprints: &mut Fingerprints,
    d: &Diagnostic,
) -> SarifResult {
    let mut text = d.message.clone();
    if let Some(help) = &d.help {
        text.push('\n');
        text.push_str(help);
    }
    let mut location = Location::builder().build();
    if let Some(at) = &d.at {
        location.physical_location = Some(physical(report, artifacts, at));
        location.message = d.label.as_deref().map(Message::from);
    }
    if let Some(object) = &d.object {
        location.logical_locations = Some(vec![
            LogicalLocation::builder()
                .name(object.name.clone())
                .fully_qualified_name(object.to_string())
                .kind("resource")
                .build(),
        ]);
    }

    let mut result = SarifResult::builder()
        .rule_id(d.rule.id)
        .level(level(d.severity))
        .message(Message::builder().text(text).build())
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_owned(),
            fingerprints.next(report, d),
        )]))
        .build();
    if report.baseline.is_some() {
        // `--base` reports only what the head adds to the base.
        result.baseline_state = Some(json!("new"));
    }
    if let Some(index) = RULES.iter().position(|r| r.id == d.rule.id) {
        result.rule_index = Some(index as i64);
    }
    if location.physical_location.is_some() || location.logical_locations.is_some() {
        result.locations = Some(vec![location]);
    }
    let deployables = report.deployable_paths(d);
    if !deployables.is_empty() {
        result.properties = Some(
            PropertyBag::builder()
                .additional_properties(BTreeMap::from([(
                    "deployables".to_owned(),
                    json!(deployables),
                )]))
                .build(),
        );
    }
    if !d.labels.is_empty() {
        result.related_locations = Some(
            d.labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    Location::builder()
                        .id(i as i64 + 1)
                        .physical_location(physical(report, artifacts, &label.at))
                        .message(Message::from(&label.message))
                        .build()
                })
                .collect(),
        );
    }
    result
}

fn physical(report: &Report<'_>, artifacts: &Artifacts, at: &FileSpan) -> PhysicalLocation {
    let file = report.sources.get(at.file);
    let (start, end) = file.range_line_col(&at.span);
    let mut location = artifact_location(&file.name);
    location.index = artifacts.index.get(&at.file).map(|&i| i as i64);
    let region = Region::builder()
        .start_line(start.line as i64)
        .start_column(start.column as i64)
        .end_line(end.line as i64)
        .end_column(end.column as i64)
        .build();
    PhysicalLocation::builder()
        .artifact_location(location)
        .region(region)
        .build()
}

fn artifact(name: &str) -> Artifact {
    let mut artifact = Artifact::builder()
        .location(artifact_location(name))
        .roles(vec![json!("analysisTarget")])
        .build();
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        artifact.source_language = Some("yaml".to_owned());
    } else if lower.ends_with(".json") {
        artifact.source_language = Some("json".to_owned());
    }
    artifact
}

/// A file name as a SARIF artifact location: relative names against
/// `%SRCROOT%`, absolute ones as `file:` URIs.
fn artifact_location(name: &str) -> ArtifactLocation {
    let name = name.replace('\\', "/");
    let bytes = name.as_bytes();
    let drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if name.starts_with('/') {
        ArtifactLocation::builder()
            .uri(format!("file://{}", encode_path(&name)))
            .build()
    } else if drive {
        ArtifactLocation::builder()
            .uri(format!(
                "file:///{}:{}",
                &name[..1],
                encode_path(&name[2..])
            ))
            .build()
    } else {
        ArtifactLocation::builder()
            .uri(encode_path(name.strip_prefix("./").unwrap_or(&name)))
            .uri_base_id(SRCROOT)
            .build()
    }
}

/// Percent-encodes everything in a path that is not an unreserved URI
/// character or `/` (so `<stdin>`, spaces, `:` and non-ASCII names still
/// make valid URI references).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Stable fingerprints: FNV-1a of rule id, file, object and field path, plus
/// the occurrence number of that hash in this run (as code scanning does for
/// its own line hashes), so findings that share all four stay distinct.
#[derive(Default)]
struct Fingerprints {
    seen: HashMap<u64, usize>,
}

impl Fingerprints {
    fn next(&mut self, report: &Report<'_>, d: &Diagnostic) -> String {
        let file =
            d.at.as_ref()
                .map_or("", |at| report.sources.get(at.file).name.as_str());
        let object = d.object.as_ref().map(|o| o.to_string()).unwrap_or_default();
        let path = d.path.as_deref().unwrap_or("");
        let hash = crate::hash::fnv1a64_parts(&[d.rule.id, file, &object, path]);
        let occurrence = self.seen.entry(hash).or_insert(0);
        *occurrence += 1;
        format!("{hash:016x}:{occurrence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::ObjectRef;
    use crate::lint::Summary;
    use crate::rules::{duplicate_object, invalid_yaml};
    use crate::source::{SourceFile, SourceMap};

    fn sarif_of(sources: &SourceMap, diagnostics: &[Diagnostic]) -> serde_json::Value {
        let summary = Summary::default();
        let report = Report::new(sources, diagnostics, &summary, "lint");
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn web() -> ObjectRef {
        ObjectRef {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
        }
    }

    #[test]
    fn shape_of_a_run() {
        let mut sources = SourceMap::default();
        let a = sources.add(SourceFile::new("apps/a b.yaml", "metadata:\n  name: wéb\n"));
        let b = sources.add(SourceFile::new("apps/b.yaml", "metadata:\n  name: web\n"));
        let d = Diagnostic::new(&duplicate_object::RULE, "defined twice")
            .at(b, 18..21)
            .label("defined again here")
            .with_label(a, 18..22, "first defined here")
            .object(Some(web()))
            .path("/metadata/name")
            .help("remove one");
        let live = Diagnostic::new(&invalid_yaml::RULE, "no file").object(Some(web()));
        let v = sarif_of(&sources, &[d, live]);

        assert_eq!(v["$schema"], SCHEMA);
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["columnKind"], "unicodeCodePoints");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), RULES.len());
        assert_eq!(rules[3]["id"], "INJ004");
        assert_eq!(rules[3]["helpUri"], duplicate_object::RULE.help_uri());
        assert_eq!(rules[3]["defaultConfiguration"]["level"], "error");
        assert!(
            rules[3]["fullDescription"]["text"]
                .as_str()
                .unwrap()
                .starts_with("Two definitions of one object: the same API group")
        );
        assert_eq!(rules[3]["help"]["markdown"], duplicate_object::RULE.explain);

        let first = &run["results"][0];
        assert_eq!(first["ruleId"], "INJ004");
        assert_eq!(first["ruleIndex"], 3);
        assert_eq!(first["level"], "error");
        assert_eq!(first["message"]["text"], "defined twice\nremove one");
        let loc = &first["locations"][0];
        let phys = &loc["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uri"], "apps/b.yaml");
        assert_eq!(phys["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(phys["artifactLocation"]["index"], 0);
        assert_eq!(
            phys["region"],
            json!({"endColumn": 12, "endLine": 2, "startColumn": 9, "startLine": 2})
        );
        assert_eq!(loc["message"]["text"], "defined again here");
        assert_eq!(
            loc["logicalLocations"][0],
            json!({"fullyQualifiedName": "Deployment/shop/web", "kind": "resource", "name": "web"})
        );
        let related = &first["relatedLocations"][0];
        assert_eq!(related["message"]["text"], "first defined here");
        let related_phys = &related["physicalLocation"];
        assert_eq!(related_phys["artifactLocation"]["uri"], "apps/a%20b.yaml");
        assert_eq!(related_phys["artifactLocation"]["index"], 1);
        // Columns count characters: `wéb` ends at column 12, not 13.
        assert_eq!(related_phys["region"]["endColumn"], 12);

        let second = &run["results"][1];
        assert!(second["locations"][0].get("physicalLocation").is_none());
        assert_eq!(
            second["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "Deployment/shop/web"
        );

        let artifacts = run["artifacts"].as_array().unwrap();
        assert_eq!(artifacts.len(), 2);
        assert_eq!(artifacts[0]["location"]["uri"], "apps/b.yaml");
        assert_eq!(artifacts[1]["sourceLanguage"], "yaml");
    }

    #[test]
    fn fingerprints_ignore_lines() {
        let fingerprint = |text: &str| {
            let mut sources = SourceMap::default();
            let f = sources.add(SourceFile::new("a.yaml", text));
            let start = text.find("web").unwrap();
            let d = Diagnostic::new(&duplicate_object::RULE, "defined twice")
                .at(f, start..start + 3)
                .object(Some(web()))
                .path("/metadata/name");
            let v = sarif_of(&sources, &[d.clone(), d]);
            let results = v["runs"][0]["results"].as_array().unwrap().clone();
            results
                .iter()
                .map(|r| r["partialFingerprints"][FINGERPRINT_KEY].clone())
                .collect::<Vec<_>>()
        };
        let before = fingerprint("metadata:\n  name: web\n");
        let after = fingerprint("# moved\n\nmetadata:\n  name: web\n");
        assert_eq!(before, after);
        assert_ne!(before[0], before[1], "repeated findings stay distinct");
    }

    #[test]
    fn uris() {
        let uri = |name: &str| {
            let loc = artifact_location(name);
            (loc.uri.unwrap(), loc.uri_base_id)
        };
        assert_eq!(uri("./a.yaml"), ("a.yaml".into(), Some(SRCROOT.into())));
        assert_eq!(uri("<stdin>"), ("%3Cstdin%3E".into(), Some(SRCROOT.into())));
        assert_eq!(
            uri("/tmp/x y.yaml"),
            ("file:///tmp/x%20y.yaml".into(), None)
        );
        assert_eq!(uri(r"C:\m\a.yaml"), ("file:///C:/m/a.yaml".into(), None));
        assert_eq!(uri("a:b.yaml"), ("a%3Ab.yaml".into(), Some(SRCROOT.into())));
    }

    #[test]
    fn what_it_finds_is_one_paragraph() {
        for rule in RULES {
            let text = what_it_finds(rule);
            assert!(!text.contains('\n') && !text.contains("##"), "{}", rule.id);
            assert!(!text.is_empty());
        }
    }
}
