//! `krew-manifest.yaml` against the rules of krew's `validate-krew-manifest`
//! (krew `internal/index/validation/validate.go`), every rule that can be
//! checked offline. The one rule left out needs the release archives: krew
//! installs each platform into a temporary `KREW_ROOT`, verifies the sha256
//! of the download and requires a licence file among the installed files;
//! here we check that each platform's `files` copy `LICENSE` instead.
//!
//! The manifest is read with the crate's own span-aware loader, so a broken
//! manifest fails with a line and column.

use std::collections::BTreeSet;

use kubectl_inject::yaml::{Limits, parse_stream};
use serde_json::Value;

const MANIFEST: &str = include_str!("../krew-manifest.yaml");
const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
/// The plugin name. In krew-index the manifest is `plugins/inject.yaml` and
/// krew takes the name from that file name; in this repository the file is
/// `krew-manifest.yaml`, so the name it will be published under is fixed here.
const PLUGIN_NAME: &str = "inject";
/// The value every `sha256` holds until the release workflow fills it in.
const SHA256_PLACEHOLDER: &str = "feedfacecafebeeffeedfacecafebeeffeedfacecafebeeffeedfacecafebeef";
const RELEASES: &str = "https://github.com/kubectl-inject/kubectl-inject/releases/download";

/// The os/arch pairs krew supports (`validate.go`, `osArchCombinations`).
const SUPPORTED: &[(&str, &str)] = &[
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

/// The platforms this project ships, with the Rust target each archive holds.
const SHIPPED: &[(&str, &str, &str)] = &[
    ("linux", "amd64", "x86_64-unknown-linux-musl"),
    ("linux", "arm64", "aarch64-unknown-linux-musl"),
    ("darwin", "amd64", "x86_64-apple-darwin"),
    ("darwin", "arm64", "aarch64-apple-darwin"),
    ("windows", "amd64", "x86_64-pc-windows-msvc"),
];

fn manifest() -> Value {
    let parsed = parse_stream(MANIFEST, &Limits::default());
    if let Some(problem) = parsed.problems.first() {
        let line = MANIFEST[..problem.span.start].matches('\n').count() + 1;
        panic!(
            "krew-manifest.yaml:{line}: {} ({:?})",
            problem.message, problem.kind
        );
    }
    assert_eq!(
        parsed.documents.len(),
        1,
        "krew-manifest.yaml must hold exactly one document"
    );
    parsed.documents[0].1.to_json()
}

fn platforms(manifest: &Value) -> &Vec<Value> {
    manifest["spec"]["platforms"]
        .as_array()
        .expect("spec.platforms is a list")
}

fn string<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} must be a string, found {value}"))
}

/// `^[\w-]+$` as Go's regexp reads it: ASCII letters, digits, `_` and `-`.
fn is_valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Windows device names, which cannot be file names (`validate.go`).
fn is_reserved_windows_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if ["CON", "PRN", "AUX", "NUL"].contains(&upper.as_str()) {
        return true;
    }
    ["COM", "LPT"].iter().any(|prefix| {
        upper
            .strip_prefix(prefix)
            .is_some_and(|n| n.len() == 1 && (b'1'..=b'9').contains(&n.as_bytes()[0]))
    })
}

/// A semantic version 2.0.0 (what apimachinery's `ParseSemantic` accepts)
/// after krew's required leading `v`.
fn is_v_semver(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|id| ident(id) && (!id.bytes().all(|b| b.is_ascii_digit()) || numeric(id)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

fn is_lowercase_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The os/arch pairs a platform selector matches (`matchLabels` and
/// `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`).
fn matched_pairs(selector: &Value, at: &str) -> BTreeSet<(&'static str, &'static str)> {
    let selector = selector
        .as_object()
        .unwrap_or_else(|| panic!("{at}.selector must be set"));
    assert!(!selector.is_empty(), "{at}.selector must not be empty");
    for key in selector.keys() {
        assert!(
            key == "matchLabels" || key == "matchExpressions",
            "{at}.selector has an unknown field `{key}`"
        );
    }
    let labels = selector.get("matchLabels").map(|m| {
        let m = m
            .as_object()
            .unwrap_or_else(|| panic!("{at}.selector.matchLabels must be a mapping"));
        assert!(
            !m.is_empty(),
            "{at}.selector.matchLabels is present but empty"
        );
        m
    });
    let expressions = selector.get("matchExpressions").map(|e| {
        let e = e
            .as_array()
            .unwrap_or_else(|| panic!("{at}.selector.matchExpressions must be a list"));
        assert!(
            !e.is_empty(),
            "{at}.selector.matchExpressions is present but empty"
        );
        e
    });
    for key in labels.iter().flat_map(|m| m.keys()) {
        assert!(
            key == "os" || key == "arch",
            "{at}.selector.matchLabels uses `{key}`; only `os` and `arch` are allowed"
        );
    }
    for expression in expressions.iter().flat_map(|e| e.iter()) {
        let key = string(&expression["key"], &format!("{at}.selector key"));
        assert!(
            key == "os" || key == "arch",
            "{at}.selector.matchExpressions uses `{key}`; only `os` and `arch` are allowed"
        );
    }
    let matches = |os: &str, arch: &str| {
        let value_of = |key: &str| if key == "os" { os } else { arch };
        let labels_ok =
            labels.is_none_or(|m| m.iter().all(|(k, v)| v.as_str() == Some(value_of(k))));
        let expressions_ok = expressions.is_none_or(|list| {
            list.iter().all(|e| {
                let value = value_of(e["key"].as_str().unwrap_or_default());
                let values: Vec<&str> = e["values"]
                    .as_array()
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                match e["operator"].as_str() {
                    Some("In") => values.contains(&value),
                    Some("NotIn") => !values.contains(&value),
                    Some("Exists") => true,
                    Some("DoesNotExist") => false,
                    other => panic!("{at}.selector: unknown operator {other:?}"),
                }
            })
        });
        labels_ok && expressions_ok
    };
    SUPPORTED
        .iter()
        .copied()
        .filter(|(os, arch)| matches(os, arch))
        .collect()
}

#[test]
fn api_version_and_kind() {
    let m = manifest();
    assert_eq!(m["apiVersion"], API_VERSION);
    assert_eq!(m["kind"], "Plugin");
}

#[test]
fn name_is_valid_and_is_the_published_name() {
    let m = manifest();
    let name = string(&m["metadata"]["name"], "metadata.name");
    assert!(is_valid_plugin_name(name), "`{name}` must match ^[\\w-]+$");
    assert!(
        !is_reserved_windows_name(name),
        "`{name}` is a reserved Windows device name"
    );
    // krew requires metadata.name == the manifest's file stem; the file will
    // be published as plugins/inject.yaml, giving the `kubectl-inject` binary
    // that kubectl runs as `kubectl inject`.
    assert_eq!(name, PLUGIN_NAME);
}

#[test]
fn version_is_v_semver_and_matches_the_crate() {
    let m = manifest();
    let version = string(&m["spec"]["version"], "spec.version");
    assert!(
        is_v_semver(version),
        "spec.version `{version}` is not a v-prefixed semantic version"
    );
    assert_eq!(version, format!("v{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn descriptions() {
    let m = manifest();
    let short = string(&m["spec"]["shortDescription"], "spec.shortDescription");
    assert!(!short.trim().is_empty(), "shortDescription is required");
    assert!(
        !short.contains(['\n', '\r']),
        "shortDescription must be a single line"
    );
    let description = string(&m["spec"]["description"], "spec.description");
    assert!(!description.trim().is_empty());
    let homepage = string(&m["spec"]["homepage"], "spec.homepage");
    assert!(homepage.starts_with("https://"));
}

#[test]
fn every_platform_is_complete() {
    let m = manifest();
    let version = string(&m["spec"]["version"], "spec.version");
    let platforms = platforms(&m);
    assert!(!platforms.is_empty(), "at least one platform is required");
    for (i, p) in platforms.iter().enumerate() {
        let at = format!("spec.platforms[{i}]");
        let uri = string(&p["uri"], &format!("{at}.uri"));
        assert!(
            uri.ends_with(".tar.gz") || uri.ends_with(".zip"),
            "{at}.uri must be a .tar.gz or .zip archive: {uri}"
        );
        assert!(
            uri.starts_with(&format!("{RELEASES}/{version}/kubectl-inject-{version}-")),
            "{at}.uri must point at the {version} release: {uri}"
        );
        let sha = string(&p["sha256"], &format!("{at}.sha256"));
        assert!(
            is_lowercase_sha256(sha),
            "{at}.sha256 must match ^[a-f0-9]{{64}}$: {sha}"
        );
        let bin = string(&p["bin"], &format!("{at}.bin"));
        assert!(!bin.is_empty(), "{at}.bin must be set");
        if let Some(files) = p.get("files") {
            let files = files
                .as_array()
                .unwrap_or_else(|| panic!("{at}.files must be a list"));
            assert!(!files.is_empty(), "{at}.files must be absent or non-empty");
            for (j, f) in files.iter().enumerate() {
                for field in ["from", "to"] {
                    let value = string(&f[field], &format!("{at}.files[{j}].{field}"));
                    assert!(!value.is_empty(), "{at}.files[{j}].{field} must be set");
                }
            }
        }
    }
}

#[test]
fn selectors_use_supported_pairs_without_overlap() {
    let m = manifest();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, p) in platforms(&m).iter().enumerate() {
        let at = format!("spec.platforms[{i}]");
        let pairs = matched_pairs(&p["selector"], &at);
        assert!(
            !pairs.is_empty(),
            "{at}.selector matches no supported os/arch pair"
        );
        for pair in pairs {
            assert!(
                seen.insert(pair),
                "{at}: {}/{} is already matched by another platform",
                pair.0,
                pair.1
            );
        }
    }
    let shipped: BTreeSet<(&str, &str)> = SHIPPED.iter().map(|(o, a, _)| (*o, *a)).collect();
    assert_eq!(
        seen, shipped,
        "the manifest must cover exactly the shipped platforms"
    );
}

#[test]
fn archives_match_the_release_workflow() {
    let m = manifest();
    let version = string(&m["spec"]["version"], "spec.version");
    for p in platforms(&m) {
        let pairs = matched_pairs(&p["selector"], "platform");
        let (os, arch) = pairs.first().copied().expect("one pair");
        let (_, _, target) = SHIPPED
            .iter()
            .find(|(o, a, _)| (*o, *a) == (os, arch))
            .expect("a shipped platform");
        let windows = os == "windows";
        let ext = if windows { "zip" } else { "tar.gz" };
        assert_eq!(
            p["uri"],
            format!("{RELEASES}/{version}/kubectl-inject-{version}-{target}.{ext}")
        );
        let bin = if windows {
            "kubectl-inject.exe"
        } else {
            "kubectl-inject"
        };
        // Windows supports only .exe entrypoints.
        assert_eq!(p["bin"], bin, "{os}/{arch}");
    }
}

#[test]
fn every_platform_installs_the_binary_and_a_licence() {
    let m = manifest();
    for (i, p) in platforms(&m).iter().enumerate() {
        let bin = p["bin"].as_str().unwrap_or_default();
        let from: Vec<&str> = p["files"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["from"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            from.contains(&bin),
            "spec.platforms[{i}]: files must copy the binary `{bin}`"
        );
        // krew-index requires a licence among the installed files.
        assert!(
            from.iter().any(|f| f.eq_ignore_ascii_case("LICENSE")),
            "spec.platforms[{i}]: files must copy LICENSE"
        );
    }
    let licence = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("LICENSE");
    let text = std::fs::read_to_string(&licence).expect("LICENSE at the repository root");
    assert!(text.contains("Apache License") && text.contains("Version 2.0"));
}

#[test]
fn sha256_values_are_real_or_the_placeholder() {
    // Placeholders in the repository, real digests in the released copy: never a mix.
    let m = manifest();
    let values: BTreeSet<&str> = platforms(&m)
        .iter()
        .filter_map(|p| p["sha256"].as_str())
        .collect();
    if values.contains(SHA256_PLACEHOLDER) {
        assert_eq!(values.len(), 1, "some sha256 values are filled, some not");
    } else {
        assert_eq!(
            values.len(),
            platforms(&m).len(),
            "two platforms share an archive digest"
        );
    }
}

#[test]
fn the_validators_of_this_test_reject_what_krew_rejects() {
    assert!(is_v_semver("v0.1.0"));
    assert!(is_v_semver("v1.2.3-rc.1+build.5"));
    assert!(!is_v_semver("0.1.0"));
    assert!(!is_v_semver("v1.2"));
    assert!(!is_v_semver("v01.2.3"));
    assert!(!is_v_semver("v1.2.3-01"));
    assert!(is_valid_plugin_name("inject-lint_2"));
    assert!(!is_valid_plugin_name("inject.lint"));
    assert!(is_reserved_windows_name("com1"));
    assert!(is_reserved_windows_name("NUL"));
    assert!(!is_reserved_windows_name("com10"));
    assert!(!is_lowercase_sha256(&"A".repeat(64)));
    assert!(is_lowercase_sha256(SHA256_PLACEHOLDER));
    let overlapping = serde_json::json!({"matchExpressions": [{"key": "os", "operator": "In", "values": ["linux"]}]});
    assert_eq!(matched_pairs(&overlapping, "t").len(), 5);
}
