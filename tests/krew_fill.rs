//! `.github/scripts/fill_krew_manifest.py`, the release workflow's step that
//! fills `krew-manifest.yaml` in for a tag: run on fake release archives for
//! every shipped target, the result must name the tag, point every `uri` at
//! the tag's archive and carry each archive's real sha256; a missing archive,
//! a leftover placeholder or a sha256 before its uri must fail the release.
//!
//! The digests expected here are computed by `sha256sum` (or `shasum -a 256`),
//! not by the script's own hashlib. The tests are skipped, with a message,
//! where `python3` is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubectl_inject::yaml::{Limits, parse_stream};
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::package_root;

const TAG: &str = "v9.8.7";
const RELEASES: &str = "https://github.com/kubectl-inject/kubectl-inject/releases/download";
const PLACEHOLDER: &str = "feedfacecafebeeffeedfacecafebeeffeedfacecafebeeffeedfacecafebeef";

/// The shipped platforms: krew os/arch, the Rust target and the archive type,
/// as `.github/workflows/release.yml` packages them.
const SHIPPED: &[(&str, &str, &str, &str)] = &[
    ("linux", "amd64", "x86_64-unknown-linux-musl", "tar.gz"),
    ("linux", "arm64", "aarch64-unknown-linux-musl", "tar.gz"),
    ("darwin", "amd64", "x86_64-apple-darwin", "tar.gz"),
    ("darwin", "arm64", "aarch64-apple-darwin", "tar.gz"),
    ("windows", "amd64", "x86_64-pc-windows-msvc", "zip"),
];

fn script() -> PathBuf {
    package_root().join(".github/scripts/fill_krew_manifest.py")
}

fn have_python() -> bool {
    common::have_python("the krew manifest filler")
}

fn archive_name(target: &str, ext: &str) -> String {
    format!("kubectl-inject-{TAG}-{target}.{ext}")
}

/// A dist directory with a small fake archive, different for each target.
fn fake_dist() -> TempDir {
    let dist = tempfile::tempdir().expect("temp dir");
    for (_, _, target, ext) in SHIPPED {
        fs::write(
            dist.path().join(archive_name(target, ext)),
            format!("not really an archive: kubectl-inject {TAG} for {target}\n"),
        )
        .expect("write a fake archive");
    }
    dist
}

/// The lowercase hex sha256 of `path`, from the system's checksum tool.
fn sha256_of(path: &Path) -> String {
    let tools: [(&str, &[&str]); 2] = [("sha256sum", &[]), ("shasum", &["-a", "256"])];
    for (tool, args) in tools {
        let Ok(out) = Command::new(tool).args(args).arg(path).output() else {
            continue;
        };
        assert!(out.status.success(), "{tool} {}", path.display());
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let digest = text.split_whitespace().next().expect("a digest").to_owned();
        assert_eq!(digest.len(), 64, "{tool}: {text}");
        return digest.to_ascii_lowercase();
    }
    panic!("neither sha256sum nor shasum is installed");
}

fn run_script(args: &[&std::ffi::OsStr]) -> Output {
    Command::new("python3")
        .arg(script())
        .args(args)
        .current_dir(package_root())
        .output()
        .expect("run python3")
}

fn fill(dist: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--tag".as_ref(), TAG.as_ref()];
    args.push("--dist".as_ref());
    args.push(dist.as_os_str());
    args.extend_from_slice(extra);
    run_script(&args)
}

fn parse_manifest(text: &str) -> Value {
    let parsed = parse_stream(text, &Limits::default());
    assert!(
        parsed.problems.is_empty(),
        "the filled manifest is not valid YAML: {:?}",
        parsed.problems.first().map(|p| &p.message)
    );
    assert_eq!(parsed.documents.len(), 1);
    parsed.documents[0].1.to_json()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn fills_version_uris_and_digests_for_the_tag() {
    if !have_python() {
        return;
    }
    let dist = fake_dist();
    let out = fill(dist.path(), &[]);
    assert!(out.status.success(), "the script failed: {}", stderr(&out));

    // Default --out: DIST/krew-manifest.yaml, also printed on stdout.
    let written = fs::read_to_string(dist.path().join("krew-manifest.yaml"))
        .expect("DIST/krew-manifest.yaml is written");
    assert_eq!(String::from_utf8_lossy(&out.stdout), written);
    assert!(!written.contains(PLACEHOLDER));

    let manifest = parse_manifest(&written);
    assert_eq!(manifest["spec"]["version"], TAG);
    assert_eq!(manifest["metadata"]["name"], "inject");
    let platforms = manifest["spec"]["platforms"].as_array().expect("platforms");
    assert_eq!(platforms.len(), SHIPPED.len());
    for (os, arch, target, ext) in SHIPPED {
        let platform = platforms
            .iter()
            .find(|p| {
                let labels = &p["selector"]["matchLabels"];
                labels["os"] == *os && labels["arch"] == *arch
            })
            .unwrap_or_else(|| panic!("no platform for {os}/{arch}"));
        let archive = archive_name(target, ext);
        let uri = platform["uri"].as_str().expect("uri");
        assert!(
            uri.contains(&format!("/download/{TAG}/kubectl-inject-{TAG}-{target}")),
            "{os}/{arch}: {uri}"
        );
        assert_eq!(uri, format!("{RELEASES}/{TAG}/{archive}"));
        assert_eq!(
            platform["sha256"].as_str().expect("sha256"),
            sha256_of(&dist.path().join(&archive)),
            "{os}/{arch}: the sha256 of {archive}"
        );
    }

    // Only version, uri and sha256 lines change; comments, files, bin and
    // selectors stay as they are.
    let template = fs::read_to_string(package_root().join("krew-manifest.yaml")).expect("template");
    assert_eq!(template.lines().count(), written.lines().count());
    for (before, after) in template.lines().zip(written.lines()) {
        let key = before.trim_start();
        if !(before.starts_with("  version: ")
            || key.starts_with("uri: ")
            || key.starts_with("sha256: "))
        {
            assert_eq!(before, after);
        }
    }
}

#[test]
fn out_and_manifest_flags_are_honoured() {
    if !have_python() {
        return;
    }
    let dist = fake_dist();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let template = elsewhere.path().join("template.yaml");
    fs::copy(package_root().join("krew-manifest.yaml"), &template).expect("copy the template");
    let target = elsewhere.path().join("filled.yaml");
    let out = fill(
        dist.path(),
        &[
            "--manifest".as_ref(),
            template.as_os_str(),
            "--out".as_ref(),
            target.as_os_str(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let filled = fs::read_to_string(&target).expect("--out is written");
    assert_eq!(parse_manifest(&filled)["spec"]["version"], TAG);
    assert!(
        !dist.path().join("krew-manifest.yaml").exists(),
        "nothing written to DIST when --out is given"
    );
}

#[test]
fn a_missing_archive_fails_the_release() {
    if !have_python() {
        return;
    }
    let dist = fake_dist();
    let missing = archive_name("aarch64-apple-darwin", "tar.gz");
    fs::remove_file(dist.path().join(&missing)).expect("remove one archive");
    let out = fill(dist.path(), &[]);
    assert!(!out.status.success(), "must fail without {missing}");
    assert!(
        stderr(&out).contains(&format!("missing release archive {missing}")),
        "{}",
        stderr(&out)
    );
    assert!(!dist.path().join("krew-manifest.yaml").exists());
}

#[test]
fn an_archive_of_another_tag_does_not_count() {
    if !have_python() {
        return;
    }
    let dist = fake_dist();
    let windows = archive_name("x86_64-pc-windows-msvc", "zip");
    fs::rename(
        dist.path().join(&windows),
        dist.path()
            .join("kubectl-inject-v9.8.6-x86_64-pc-windows-msvc.zip"),
    )
    .expect("rename");
    let out = fill(dist.path(), &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&windows), "{}", stderr(&out));
}

#[test]
fn a_leftover_placeholder_or_a_sha256_before_its_uri_fails() {
    if !have_python() {
        return;
    }
    let dist = fake_dist();
    let template = fs::read_to_string(package_root().join("krew-manifest.yaml")).expect("template");
    let work = tempfile::tempdir().expect("temp dir");

    // A placeholder the script does not rewrite (here: in a comment).
    let leftover = work.path().join("leftover.yaml");
    fs::write(&leftover, format!("{template}# sha256: {PLACEHOLDER}\n")).expect("write");
    let out = fill(dist.path(), &["--manifest".as_ref(), leftover.as_os_str()]);
    assert!(!out.status.success(), "a leftover placeholder must fail");
    assert!(stderr(&out).contains("placeholder"), "{}", stderr(&out));

    // A platform whose sha256 comes before its uri (the uri commented out).
    let swapped = template.replacen("      uri: ", "      # uri: ", 1);
    let path = work.path().join("swapped.yaml");
    fs::write(&path, swapped).expect("write");
    let out = fill(dist.path(), &["--manifest".as_ref(), path.as_os_str()]);
    assert!(!out.status.success(), "a sha256 without its uri must fail");
    assert!(stderr(&out).contains("before its uri"), "{}", stderr(&out));
}

#[test]
fn the_release_workflow_calls_the_script() {
    let workflow = fs::read_to_string(package_root().join(".github/workflows/release.yml"))
        .expect("release.yml");
    assert!(
        workflow.contains("python3 .github/scripts/fill_krew_manifest.py --tag"),
        "release.yml must fill the manifest with the script"
    );
    assert!(
        !workflow.contains("python3 - <<"),
        "release.yml must not keep an inline copy of the script"
    );
}
