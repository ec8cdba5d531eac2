//! A GitOps repository read as deployables: `cargo bench --bench deployables`.
//!
//! Generates a deterministic Kustomize repository in a temporary directory:
//!
//! - `bases/b0..`: `BENCH_BASES` (default 10) bases, each a kustomization of
//!   five workloads (Deployments and StatefulSets, each in its own file with
//!   its Service, pod specs asking for Istio, Linkerd, the repository's own
//!   injector, Vault or Dapr) and a ConfigMap; some carry deliberate
//!   findings (a rejected Istio value, a pod key on the workload's own
//!   metadata, a misspelt Linkerd key);
//! - `overlays/o000..`: `BENCH_OVERLAYS` (default 100) overlays, each using
//!   every base, with `namespace:`, `images:`, `labels:`,
//!   `commonAnnotations:`, a strategic-merge patch file and an inline JSON
//!   6902 patch, and its own Namespace (injection on by the repository's
//!   label, on by Istio's, or off); every tenth patch file carries a
//!   deliberate finding;
//! - `policy/`: the repository's own `kubectl-inject.dev/v1alpha1`
//!   templates and ClusterInjectionPolicies (`testdata/policy/`), named in
//!   `.kubectl-inject.yaml` as `policies:` (never in a kustomization:
//!   Kustomize refuses two objects of one kind and name).
//!
//! No `environments:`: each overlay is its own environment (SPEC
//! "Deployables"). The release binary (built by `cargo bench` alongside this
//! one) is then run from the repository's root under `/usr/bin/time` with
//! `KUBECTL_INJECT_TIMINGS=1`: `lint --format json .` and
//! `simulate --format json .`, `BENCH_RUNS` times each (default 1: a run is
//! long). Printed: wall time, peak RSS, CPU time, where the run's time went
//! (the binary's timings line: rendering and its share of the run, the sum
//! of the builds' own times, analysis), builds per second, findings and
//! workloads (read from the JSON, and checked against what the generator
//! meant: every overlay's workloads present, each base finding reported
//! once listing every overlay, each overlay finding once listing its own).
//! Then the floor the tool cannot beat: a bare `kubectl kustomize
//! overlays/oNNN` (or `kustomize build`, when on PATH, as the tool prefers)
//! over every overlay, one at a time and as many at a time as there are
//! cores (the tool's own parallelism).
//!
//! Afterwards the same for a smaller variant, `BENCH_BASES` ×
//! `BENCH_SMALL_OVERLAYS` (default 10; 0 skips it), so regressions show
//! quickly.
//!
//! Knobs: `BENCH_BASES` (10), `BENCH_OVERLAYS` (100), `BENCH_SMALL_OVERLAYS`
//! (10), `BENCH_RUNS` (1), `BENCH_KEEP=1` keeps the generated trees (and the
//! JSON the binary printed) and prints their paths.
//!
//! Peak RSS is `/usr/bin/time`'s `%M`: the largest single process of the
//! run's tree (the tool, unless a `kubectl` child was larger); CPU is `%U +
//! %S`, the tool and every renderer it started. The binary's JSON goes to a
//! file beside the tree (not inside it: it would be read next time), not to
//! `/dev/null`, so it can be checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

fn main() {
    let bases = env_usize("BENCH_BASES", 10).max(1);
    let overlays = env_usize("BENCH_OVERLAYS", 100).max(1);
    let small = env_usize("BENCH_SMALL_OVERLAYS", 10);
    let runs = env_usize("BENCH_RUNS", 1).max(1);
    let keep = std::env::var_os("BENCH_KEEP").is_some_and(|v| v == "1");

    let Some(exe) = binary() else {
        eprintln!("deployables bench: the release binary is not built (cargo build --release)");
        std::process::exit(2);
    };
    if !Path::new("/usr/bin/time").exists() {
        eprintln!("deployables bench: needs GNU time at /usr/bin/time (wall time and peak RSS)");
        std::process::exit(2);
    }
    let Some(floor) = kustomize_program() else {
        eprintln!(
            "deployables bench: neither `kustomize` nor `kubectl` is on PATH; nothing to measure"
        );
        std::process::exit(2);
    };

    let mut variants = vec![(bases, overlays)];
    if small > 0 && small < overlays {
        variants.push((bases, small));
    }
    let mut failures = Vec::new();
    for (bases, overlays) in variants {
        failures.extend(run_variant(&exe, &floor, bases, overlays, runs, keep));
    }
    if !failures.is_empty() {
        eprintln!();
        for failure in &failures {
            eprintln!("check failed: {failure}");
        }
        panic!(
            "{} check(s) failed: the tool did not report what the generator wrote",
            failures.len()
        );
    }
}

/// Generates one repository, runs the binary on it and the renderer floor;
/// the checks that failed.
fn run_variant(
    exe: &Path,
    floor: &Kustomize,
    bases: usize,
    overlays: usize,
    runs: usize,
    keep: bool,
) -> Vec<String> {
    let dir = tempfile::Builder::new()
        .prefix("kubectl-inject-bench-deployables-")
        .tempdir()
        .expect("temp dir");
    let root = dir.path().join("repo");
    let started = Instant::now();
    let tree = generate(&root, bases, overlays);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "== deployables bench: {bases} bases × {overlays} overlays: {overlays} builds, {} base renderings, {} objects and {} workloads rendered, {threads} threads",
        bases * overlays,
        tree.objects_per_overlay * overlays,
        tree.workloads_per_overlay * overlays,
    );
    println!(
        "generated {} files, {:.2} MB, in {:.1?} under {}",
        tree.files,
        mb(tree.bytes),
        started.elapsed(),
        root.display()
    );

    // The machine may be shared: other processes' load slows the
    // renderers most (they are CPU-bound), so it is printed with the numbers.
    println!("load average before: {}", load_average());
    let mut failures = Vec::new();
    let mut tool_walls = BTreeMap::new();
    for command in ["lint", "simulate"] {
        let mut measured = Vec::new();
        for run in 0..runs {
            let json = dir.path().join(format!("{command}-{run}.json"));
            let m = run_tool(exe, command, &root, &json);
            if run == 0 {
                failures.extend(check(command, &m, &tree));
            }
            measured.push(m);
        }
        measured.sort_by(|a, b| a.wall.total_cmp(&b.wall));
        let best = &measured[0];
        print_run(command, best, &measured, overlays);
        tool_walls.insert(command, best.wall);
    }

    let bare: Vec<PathBuf> = (0..overlays).map(|o| root.join(overlay_dir(o))).collect();
    let wrappers = write_wrappers(dir.path(), overlays);
    let sequential = render_floor(floor, &root, &bare, 1);
    let parallel = render_floor(floor, &root, &bare, threads);
    let wrapped = render_floor(floor, &root, &wrappers, threads);
    println!(
        "floor    `{} overlays/oNNN > /dev/null` over the {overlays} overlays:",
        floor.label()
    );
    for (name, f) in [
        ("one at a time".to_owned(), &sequential),
        (format!("{threads} at a time"), &parallel),
        (
            format!("{threads} at a time, the tool's wrapper (buildMetadata)"),
            &wrapped,
        ),
    ] {
        println!(
            "         {name}: {:.2} s wall ({:.2} builds/s), {:.2} s of build time, {:.2} s CPU, {} failed",
            f.wall.as_secs_f64(),
            overlays as f64 / f.wall.as_secs_f64(),
            f.total.as_secs_f64(),
            f.cpu,
            f.failed
        );
    }
    println!(
        "         the tool's wrapper costs {:.2}× a bare build ({threads} at a time)",
        wrapped.wall.as_secs_f64() / parallel.wall.as_secs_f64()
    );
    let bare_floor = parallel.wall.as_secs_f64();
    let wrapper_floor = wrapped.wall.as_secs_f64();
    for (command, wall) in &tool_walls {
        println!(
            "         {command}: {wall:.2} s = the bare floor + {:.2} s ({:.2}×) = the wrapper floor + {:.2} s ({:.2}×)",
            wall - bare_floor,
            wall / bare_floor,
            wall - wrapper_floor,
            wall / wrapper_floor,
        );
    }
    let failed = sequential.failed + parallel.failed + wrapped.failed;
    if failed > 0 {
        failures.push(format!(
            "{bases}×{overlays}: {failed} builds of the floor failed"
        ));
    }

    println!("load average after: {}", load_average());
    if keep {
        let kept = dir.keep();
        println!("kept the tree at {}", kept.join("repo").display());
    }
    failures
}

// ---------------------------------------------------------------------------
// Running the binary.

/// One run of the binary.
struct Measured {
    /// `/usr/bin/time`: wall seconds, peak RSS (kB), user + system CPU seconds.
    wall: f64,
    peak_kb: u64,
    cpu: f64,
    exit: Option<i32>,
    timings: Option<Timings>,
    json: Option<Value>,
    stderr: String,
}

/// `kubectl-inject: timings: read X s (rendering Y s: N builds, Z s of
/// renderer time), analysis W s`.
#[derive(Debug, Clone, Copy)]
struct Timings {
    read: f64,
    rendering: f64,
    builds: usize,
    renderer: f64,
    analysis: f64,
}

impl Timings {
    fn parse(stderr: &str) -> Option<Timings> {
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("kubectl-inject: timings: "))?;
        // Every number in order: read, rendering, builds, renderer, analysis.
        let numbers: Vec<f64> = line
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|s| !s.is_empty() && *s != ".")
            .filter_map(|s| s.parse().ok())
            .collect();
        let [read, rendering, builds, renderer, analysis] = numbers[..] else {
            return None;
        };
        Some(Timings {
            read,
            rendering,
            builds: builds as usize,
            renderer,
            analysis,
        })
    }
}

fn run_tool(exe: &Path, command: &str, root: &Path, json: &Path) -> Measured {
    let stdout = std::fs::File::create(json).expect("JSON output file");
    // Run from the repository's root, as CI does, so `.kubectl-inject.yaml`
    // is found by walking up.
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%e %M %U %S"])
        .arg(exe)
        .args([command, "--format", "json", "."])
        .current_dir(root)
        .env("KUBECTL_INJECT_TIMINGS", "1")
        .env_remove("KUBECTL_INJECT_CONFIG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("/usr/bin/time");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let fields: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let (wall, peak_kb, cpu) = match fields[..] {
        [wall, peak, user, system] => (wall, peak as u64, user + system),
        _ => (f64::NAN, 0, f64::NAN),
    };
    let json = std::fs::read(json)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    Measured {
        wall,
        peak_kb,
        cpu,
        // `/usr/bin/time` exits with the command's status.
        exit: output.status.code(),
        timings: Timings::parse(&stderr),
        json,
        stderr,
    }
}

fn print_run(command: &str, m: &Measured, all: &[Measured], overlays: usize) {
    let walls = if all.len() > 1 {
        format!(
            " (best of {}: {})",
            all.len(),
            all.iter()
                .map(|m| format!("{:.2}", m.wall))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    println!(
        "{command:<8} wall {:.2} s{walls}, peak RSS {:.1} MB, CPU {:.2} s (the tool and its renderers), exit {}",
        m.wall,
        m.peak_kb as f64 / 1024.0,
        m.cpu,
        m.exit.map_or("signal".to_owned(), |c| c.to_string())
    );
    match m.timings {
        Some(t) => {
            let rest = (m.wall - t.read - t.analysis).max(0.0);
            println!(
                "         read {:.2} s: rendering {:.2} s wall = {:.0} % of the run ({} builds, {:.2} builds/s, {:.2} s of renderer time = {:.2} builds at once), the rest of reading {:.2} s",
                t.read,
                t.rendering,
                100.0 * t.rendering / m.wall,
                t.builds,
                t.builds as f64 / t.rendering,
                t.renderer,
                t.renderer / t.rendering,
                t.read - t.rendering,
            );
            println!(
                "         analysis {:.2} s = {:.0} % of the run; outside reading and analysis (start, report, exit) {:.2} s; the tool's own part {:.2} s = {:.0} %",
                t.analysis,
                100.0 * t.analysis / m.wall,
                rest,
                m.wall - t.rendering,
                100.0 * (m.wall - t.rendering) / m.wall,
            );
            if t.builds != overlays {
                println!("         (expected {overlays} builds)");
            }
        }
        None => println!("         no timings line on stderr"),
    }
    if let Some(json) = &m.json {
        let summary = &json["summary"];
        let diagnostics = json["diagnostics"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_reach: BTreeMap<usize, usize> = BTreeMap::new();
        for d in diagnostics {
            *by_rule
                .entry(d["rule"].as_str().unwrap_or("?"))
                .or_default() += 1;
            *by_reach.entry(deployables_of(d).len()).or_default() += 1;
        }
        println!(
            "         {} findings ({} errors, {} warnings, {} infos): {}",
            diagnostics.len(),
            summary["errors"],
            summary["warnings"],
            summary["infos"],
            by_rule
                .iter()
                .map(|(rule, n)| format!("{rule}×{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "         findings by the number of deployables they list: {}",
            by_reach
                .iter()
                .map(|(reach, n)| format!("{n}×{reach}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let workloads = json["workloads"].as_array().map(Vec::len);
        println!(
            "         summary: {} files, {} documents, {} workloads ({} injected){}",
            summary["files"],
            summary["documents"],
            summary["workloads"],
            summary["injected"],
            workloads.map_or(String::new(), |n| format!("; {n} workloads in the JSON"))
        );
    } else {
        let tail: Vec<&str> = m.stderr.lines().rev().take(10).collect();
        println!(
            "         no JSON on stdout; stderr ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

fn deployables_of(d: &Value) -> Vec<&str> {
    d["deployables"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What the generator meant against what the binary printed.
fn check(command: &str, m: &Measured, tree: &Tree) -> Vec<String> {
    let mut failures = Vec::new();
    let variant = format!("{}×{} {command}", tree.bases, tree.overlays.len());
    let mut fail = |message: String| failures.push(format!("{variant}: {message}"));
    if !matches!(m.exit, Some(0 | 1)) {
        fail(format!(
            "exit {:?}; stderr:\n{}",
            m.exit,
            m.stderr.trim_end()
        ));
        return failures;
    }
    let Some(json) = &m.json else {
        fail("no JSON on stdout".into());
        return failures;
    };
    if let Some(t) = m.timings
        && t.builds != tree.overlays.len()
    {
        fail(format!(
            "{} builds, expected one per overlay ({})",
            t.builds,
            tree.overlays.len()
        ));
    }
    let diagnostics = json["diagnostics"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    // Nothing may fail to build or be left unbuilt.
    for d in diagnostics {
        let rule = d["rule"].as_str().unwrap_or_default();
        if matches!(rule, "INJ001" | "INJ006" | "INJ010" | "INJ012" | "INJ014") {
            fail(format!("unexpected {rule}: {}", d["message"]));
        }
    }
    // Each deliberate finding: once, where it was written, listing exactly
    // the deployables it is in.
    for expected in &tree.findings {
        let found: Vec<&Value> = diagnostics
            .iter()
            .filter(|d| {
                d["rule"].as_str() == Some(expected.rule)
                    && d["file"].as_str() == Some(expected.file.as_str())
                    && d["line"].as_u64() == Some(expected.line as u64)
            })
            .collect();
        let want: BTreeSet<&str> = expected.deployables.iter().map(String::as_str).collect();
        match found[..] {
            [d] => {
                let got: BTreeSet<&str> = deployables_of(d).into_iter().collect();
                if got != want {
                    fail(format!(
                        "{} at {}:{} lists {} deployables, expected {} (missing {:?}, extra {:?})",
                        expected.rule,
                        expected.file,
                        expected.line,
                        got.len(),
                        want.len(),
                        want.difference(&got).take(5).collect::<Vec<_>>(),
                        got.difference(&want).take(5).collect::<Vec<_>>(),
                    ));
                }
            }
            [] => {
                let near: Vec<String> = diagnostics
                    .iter()
                    .filter(|d| d["file"].as_str() == Some(expected.file.as_str()))
                    .map(|d| format!("{} at line {}", d["rule"], d["line"]))
                    .collect();
                fail(format!(
                    "no {} at {}:{} ({}); in that file: {near:?}",
                    expected.rule, expected.file, expected.line, expected.what
                ));
            }
            _ => fail(format!(
                "{} at {}:{} reported {} times, expected once",
                expected.rule,
                expected.file,
                expected.line,
                found.len()
            )),
        }
    }
    // No finding lists a deployable twice or one that does not exist.
    let overlays: BTreeSet<&str> = tree.overlays.iter().map(String::as_str).collect();
    for d in diagnostics {
        let listed = deployables_of(d);
        let unique: BTreeSet<&str> = listed.iter().copied().collect();
        if unique.len() != listed.len() || unique.iter().any(|l| !overlays.contains(l)) {
            fail(format!(
                "{} at {}:{} lists {listed:?}",
                d["rule"], d["file"], d["line"]
            ));
            break;
        }
    }
    let summary_workloads = json["summary"]["workloads"].as_u64().unwrap_or(0) as usize;
    let expected_workloads = tree.workloads_per_overlay * tree.overlays.len();
    if summary_workloads != expected_workloads {
        fail(format!(
            "summary: {summary_workloads} workloads, expected {expected_workloads}"
        ));
    }
    // `simulate` lists the workloads: every overlay's, each at its base file.
    if command == "simulate" {
        let workloads = json["workloads"].as_array().map_or(&[][..], Vec::as_slice);
        let mut per_overlay: BTreeMap<&str, usize> = BTreeMap::new();
        let mut misplaced = Vec::new();
        let mut shared_environment = 0;
        for w in workloads {
            let path = w["deployable"]["path"].as_str().unwrap_or("?");
            *per_overlay.entry(path).or_default() += 1;
            // No `environments:`: each overlay is its own environment.
            if w["deployable"]["environment"].as_str() != Some(path) {
                shared_environment += 1;
            }
            let name = w["name"].as_str().unwrap_or_default();
            let file = w["file"].as_str().unwrap_or_default();
            match tree.workload_files.get(name) {
                Some((want, line)) if want == file && w["line"].as_u64() == Some(*line as u64) => {}
                _ => misplaced.push(format!("{name} at {file}:{}", w["line"])),
            }
        }
        for overlay in &tree.overlays {
            let n = per_overlay.get(overlay.as_str()).copied().unwrap_or(0);
            if n != tree.workloads_per_overlay {
                fail(format!(
                    "{overlay}: {n} workloads, expected {}",
                    tree.workloads_per_overlay
                ));
            }
        }
        if workloads.len() != expected_workloads {
            fail(format!(
                "{} workloads in the JSON, expected {expected_workloads}",
                workloads.len()
            ));
        }
        if shared_environment > 0 {
            fail(format!(
                "{shared_environment} workloads in an environment other than their overlay's own"
            ));
        }
        if !misplaced.is_empty() {
            fail(format!(
                "{} workloads not at their base file's document, e.g. {:?}",
                misplaced.len(),
                &misplaced[..misplaced.len().min(5)]
            ));
        }
    }
    failures
}

/// The release binary: the one `cargo bench` built, else `target/release`.
fn binary() -> Option<PathBuf> {
    option_env!("CARGO_BIN_EXE_kubectl-inject")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/kubectl-inject");
            p.exists().then_some(p)
        })
}

// ---------------------------------------------------------------------------
// The floor: the renderer alone.

/// The renderer the tool would use: `kustomize build` when on PATH, else
/// `kubectl kustomize` (SPEC "Deployables").
enum Kustomize {
    Standalone(PathBuf),
    Kubectl(PathBuf),
}

impl Kustomize {
    fn label(&self) -> &'static str {
        match self {
            Kustomize::Standalone(_) => "kustomize build",
            Kustomize::Kubectl(_) => "kubectl kustomize",
        }
    }

    fn command(&self, dir: &Path) -> Command {
        let (program, sub) = match self {
            Kustomize::Standalone(p) => (p, "build"),
            Kustomize::Kubectl(p) => (p, "kustomize"),
        };
        let mut c = Command::new(program);
        c.arg(sub).arg(dir);
        c
    }
}

fn kustomize_program() -> Option<Kustomize> {
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    on_path("kustomize")
        .map(Kustomize::Standalone)
        .or_else(|| on_path("kubectl").map(Kustomize::Kubectl))
}

struct Floor {
    wall: Duration,
    /// The sum of the builds' own wall times.
    total: Duration,
    /// User + system CPU of the builds.
    cpu: f64,
    failed: usize,
}

/// What the tool builds instead of each overlay: a kustomization outside
/// the repository listing it, with `buildMetadata` (render.rs).
fn write_wrappers(dir: &Path, overlays: usize) -> Vec<PathBuf> {
    (0..overlays)
        .map(|o| {
            let wrapper = dir.join("wrappers").join(format!("o{o:03}"));
            std::fs::create_dir_all(&wrapper).expect("mkdir");
            std::fs::write(
                wrapper.join("kustomization.yaml"),
                format!(
                    "resources:\n- ../../repo/{}\nbuildMetadata: [originAnnotations, transformerAnnotations]\n",
                    overlay_dir(o)
                ),
            )
            .expect("write");
            wrapper
        })
        .collect()
}

/// Builds every directory of `dirs` with the bare renderer, `workers` at a time.
fn render_floor(program: &Kustomize, root: &Path, dirs: &[PathBuf], workers: usize) -> Floor {
    let overlays = dirs.len();
    let next = AtomicUsize::new(0);
    let total = std::sync::Mutex::new(Duration::ZERO);
    let failed = AtomicUsize::new(0);
    let cpu_before = children_cpu();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(overlays) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= overlays {
                        break;
                    }
                    let t = Instant::now();
                    let ok = program
                        .command(&dirs[i])
                        .current_dir(root)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(mut total) = total.lock() {
                        *total += t.elapsed();
                    }
                }
            });
        }
    });
    Floor {
        wall: started.elapsed(),
        total: total.into_inner().unwrap_or_default(),
        cpu: children_cpu() - cpu_before,
        failed: failed.into_inner(),
    }
}

/// User + system CPU seconds of this process's waited-for children
/// (`/proc/self/stat` `cutime` and `cstime`, in USER_HZ = 100 ticks).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: field 3 onwards.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17 (1-based), 14 and 15 here.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(13) + ticks(14)) / 100.0
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

// ---------------------------------------------------------------------------
// The generator.

/// What was generated, and what the tool must find in it.
struct Tree {
    bases: usize,
    files: usize,
    bytes: u64,
    /// `overlays/o000`…
    overlays: Vec<String>,
    /// Objects and workloads one overlay renders.
    objects_per_overlay: usize,
    workloads_per_overlay: usize,
    /// Each workload's name, and its file and line (its `apiVersion`).
    workload_files: BTreeMap<String, (String, usize)>,
    /// The deliberate findings.
    findings: Vec<Expected>,
}

/// A finding the generator wrote on purpose.
struct Expected {
    rule: &'static str,
    /// Relative to the repository's root, as the JSON names files.
    file: String,
    /// 1-based line of the key at fault.
    line: usize,
    deployables: Vec<String>,
    what: &'static str,
}

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORKLOADS_PER_BASE: usize = 5;
const APPS: &[&str] = &[
    "web", "api", "checkout", "cart", "payments", "search", "auth", "catalog", "orders", "billing",
    "ledger", "notify", "gateway", "reports", "ingest", "indexer",
];
/// Every workload runs this image; each overlay's `images:` retags it.
const APP_IMAGE: &str = "registry.example.com/platform/app";

/// The repository's own injector: `testdata/policy/`, as the README's example uses it.
const POLICY_FILES: &[(&str, &str)] = &[
    (
        "policy/templates/base-proxy.yaml",
        include_str!("../testdata/policy/templates/base-proxy.yaml"),
    ),
    (
        "policy/templates/envoy-proxy.yaml",
        include_str!("../testdata/policy/templates/envoy-proxy.yaml"),
    ),
    (
        "policy/templates/otel-agent.yaml",
        include_str!("../testdata/policy/templates/otel-agent.yaml"),
    ),
    (
        "policy/cluster-policies.yaml",
        include_str!("../testdata/policy/cluster-policies.yaml"),
    ),
];

const CONFIG: &str =
    "# kubectl-inject's configuration (SPEC \"Configuration\"). No `environments:`:
# each overlay is its own environment, with the policies below in each.
kubernetesVersion: \"1.33\"
policies: [\"policy/\"]
injectors:
  istio: {version: \"1.28\"}
  linkerd: {version: stable-2.14}
";

/// How a workload asks for a sidecar.
#[derive(Clone, Copy, PartialEq)]
enum Asks {
    /// Nothing: the namespace and the repository's policies decide.
    Nothing,
    Istio,
    Linkerd,
    /// The repository's own injector, by template annotation.
    Own,
    Vault,
    Dapr,
}

/// One line-counting writer of a file.
struct Text {
    text: String,
}

impl Text {
    fn new() -> Text {
        Text {
            text: String::new(),
        }
    }

    /// The 1-based line the next line written will have.
    fn line(&self) -> usize {
        self.text.matches('\n').count() + 1
    }

    fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }
}

struct Gen {
    rng: Rng,
    root: PathBuf,
    tree: Tree,
}

impl Gen {
    fn write(&mut self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        self.tree.files += 1;
        self.tree.bytes += text.len() as u64;
    }

    /// A workload and its Service in one file; deliberate findings by
    /// `(base, index)`.
    fn workload(&mut self, base: usize, index: usize, name: &str) -> String {
        let stateful = index == 2 || index == 4;
        let kind = if stateful {
            "StatefulSet"
        } else {
            "Deployment"
        };
        // Workload 0 asks for Istio (it carries the base's Istio finding);
        // 1 is the JSON 6902 patches' target; the rest vary.
        let asks = match index {
            0 => Asks::Istio,
            1 => Asks::Nothing,
            _ => *self.rng.pick(&[
                Asks::Istio,
                Asks::Linkerd,
                Asks::Own,
                Asks::Vault,
                Asks::Dapr,
                Asks::Nothing,
            ]),
        };
        let file = format!("bases/b{base}/{name}.yaml");
        let mut t = Text::new();
        t.push(&format!(
            "# {name}: the {kind} and its Service (team {}).",
            base % 4
        ));
        self.tree
            .workload_files
            .insert(name.to_owned(), (file.clone(), t.line()));
        t.push("apiVersion: apps/v1");
        t.push(&format!("kind: {kind}"));
        t.push("metadata:");
        t.push(&format!("  name: {name}"));
        t.push("  labels:");
        t.push(&format!("    app: {name}"));
        t.push(&format!("    app.kubernetes.io/name: {name}"));
        t.push(&format!(
            "    tier: {}",
            self.rng.pick(&["frontend", "backend", "data"])
        ));
        if index == 1 && base.is_multiple_of(3) {
            // Deliberate: INJ207, a pod annotation on the workload's own metadata.
            t.push("  annotations:");
            self.expect(
                "INJ207",
                &file,
                t.line(),
                "linkerd.io/inject on the workload's metadata",
            );
            t.push("    linkerd.io/inject: enabled");
        }
        t.push("spec:");
        t.push(&format!("  replicas: {}", self.rng.range(1, 5)));
        if stateful {
            t.push(&format!("  serviceName: {name}"));
        }
        t.push("  selector:");
        t.push("    matchLabels:");
        t.push(&format!("      app: {name}"));
        t.push("  template:");
        t.push("    metadata:");
        t.push("      labels:");
        t.push(&format!("        app: {name}"));
        t.push(&format!("        app.kubernetes.io/name: {name}"));
        if asks == Asks::Istio {
            t.push("        sidecar.istio.io/inject: \"true\"");
        }
        t.push("      annotations:");
        t.push("        prometheus.io/scrape: \"true\"");
        t.push("        prometheus.io/port: \"9090\"");
        match asks {
            Asks::Nothing => {}
            Asks::Istio => {
                t.push("        sidecar.istio.io/proxyCPU: 100m");
                if index == 0 && base.is_multiple_of(2) {
                    // Deliberate: INJ203, not a Kubernetes quantity.
                    self.expect(
                        "INJ203",
                        &file,
                        t.line(),
                        "sidecar.istio.io/proxyMemory: 128MB",
                    );
                    t.push("        sidecar.istio.io/proxyMemory: \"128MB\"");
                } else {
                    t.push("        sidecar.istio.io/proxyMemory: 128Mi");
                }
                t.push("        sidecar.istio.io/proxyCPULimit: 500m");
                t.push("        sidecar.istio.io/proxyMemoryLimit: 512Mi");
                t.push(
                    "        proxy.istio.io/config: '{\"holdApplicationUntilProxyStarts\": true}'",
                );
                // Istio's pods opt out of the platform proxy, except in
                // every fourth base (INJ206: two intercepting proxies).
                if base % 4 != 1 {
                    t.push("        kubectl-inject.dev/inject: \"false\"");
                }
            }
            Asks::Linkerd => {
                t.push("        linkerd.io/inject: enabled");
                if base.is_multiple_of(5) {
                    // Deliberate: INJ202, a misspelt Linkerd key.
                    self.expect(
                        "INJ202",
                        &file,
                        t.line(),
                        "config.linkerd.io/proxy-cpu-requests",
                    );
                    t.push("        config.linkerd.io/proxy-cpu-requests: 50m");
                } else {
                    t.push("        config.linkerd.io/proxy-cpu-request: 50m");
                }
                t.push("        config.linkerd.io/proxy-cpu-limit: 500m");
                t.push("        config.linkerd.io/proxy-memory-request: 32Mi");
                t.push("        config.linkerd.io/proxy-memory-limit: 256Mi");
                t.push("        kubectl-inject.dev/inject: \"false\"");
            }
            Asks::Own => {
                t.push("        kubectl-inject.dev/inject: \"true\"");
                t.push(&format!(
                    "        kubectl-inject.dev/template: envoy-proxy@1.{}.0",
                    4 + self.rng.below(2)
                ));
                t.push("        sidecar.kubectl-inject.dev/proxy-cpu: 200m");
            }
            Asks::Vault => {
                t.push("        vault.hashicorp.com/agent-inject: \"true\"");
                t.push(&format!("        vault.hashicorp.com/role: {name}"));
            }
            Asks::Dapr => {
                t.push("        dapr.io/enabled: \"true\"");
                t.push(&format!("        dapr.io/app-id: {name}"));
                t.push("        dapr.io/app-port: \"8080\"");
                t.push("        dapr.io/sidecar-cpu-request: 50m");
                t.push("        dapr.io/sidecar-memory-request: 64Mi");
                t.push("        dapr.io/sidecar-cpu-limit: 250m");
                t.push("        dapr.io/sidecar-memory-limit: 256Mi");
            }
        }
        t.push("    spec:");
        t.push(&format!("      serviceAccountName: {name}"));
        t.push("      securityContext:");
        t.push("        runAsNonRoot: true");
        t.push("        runAsUser: 1000");
        t.push("      containers:");
        t.push("        - name: app");
        t.push(&format!(
            "          image: {APP_IMAGE}:{}.{}.{}",
            self.rng.below(4),
            self.rng.below(20),
            self.rng.below(10)
        ));
        t.push("          imagePullPolicy: IfNotPresent");
        t.push("          ports:");
        t.push("            - name: http");
        t.push("              containerPort: 8080");
        t.push("              protocol: TCP");
        t.push("            - name: metrics");
        t.push("              containerPort: 9090");
        t.push("          env:");
        t.push("            - name: LOG_LEVEL");
        t.push("              value: info");
        t.push("            - name: POD_NAME");
        t.push("              valueFrom:");
        t.push("                fieldRef:");
        t.push("                  fieldPath: metadata.name");
        t.push("          resources:");
        t.push(&format!(
            "            requests: {{cpu: {}m, memory: {}Mi}}",
            self.rng.range(50, 500),
            self.rng.range(64, 512)
        ));
        t.push(&format!(
            "            limits: {{cpu: \"1\", memory: {}Mi}}",
            self.rng.range(512, 2048)
        ));
        t.push("          readinessProbe:");
        t.push("            httpGet: {path: /healthz, port: http}");
        t.push("            periodSeconds: 10");
        t.push("          securityContext:");
        t.push("            allowPrivilegeEscalation: false");
        t.push("            readOnlyRootFilesystem: true");
        t.push("            capabilities: {drop: [ALL]}");
        t.push("          volumeMounts:");
        t.push("            - name: config");
        t.push("              mountPath: /etc/app");
        t.push("              readOnly: true");
        if stateful {
            t.push("            - name: data");
            t.push("              mountPath: /var/lib/app");
        }
        t.push("      volumes:");
        t.push("        - name: config");
        t.push("          configMap:");
        t.push(&format!("            name: config-b{base}"));
        if stateful {
            t.push("  volumeClaimTemplates:");
            t.push("    - metadata:");
            t.push("        name: data");
            t.push("      spec:");
            t.push("        accessModes: [ReadWriteOnce]");
            t.push("        resources:");
            t.push(&format!(
                "          requests: {{storage: {}Gi}}",
                self.rng.range(1, 100)
            ));
        }
        t.push("---");
        t.push("apiVersion: v1");
        t.push("kind: Service");
        t.push("metadata:");
        t.push(&format!("  name: {name}"));
        t.push("  labels:");
        t.push(&format!("    app: {name}"));
        t.push("spec:");
        t.push("  selector:");
        t.push(&format!("    app: {name}"));
        t.push("  ports:");
        t.push("    - name: http");
        t.push("      port: 80");
        t.push("      targetPort: http");
        t.push("    - name: http-metrics");
        t.push("      port: 9090");
        t.push("      targetPort: metrics");
        self.write(&file, &t.text);
        format!("{name}.yaml")
    }

    fn base(&mut self, base: usize) -> Vec<String> {
        let mut names = Vec::new();
        let mut resources = Vec::new();
        for index in 0..WORKLOADS_PER_BASE {
            let app = APPS[(base * WORKLOADS_PER_BASE + index) % APPS.len()];
            let name = format!("{app}-b{base}");
            resources.push(self.workload(base, index, &name));
            names.push(name);
        }
        let mut t = Text::new();
        t.push("apiVersion: v1");
        t.push("kind: ConfigMap");
        t.push("metadata:");
        t.push(&format!("  name: config-b{base}"));
        t.push("data:");
        t.push("  LOG_LEVEL: info");
        t.push("  app.yaml: |");
        t.push("    server:");
        t.push("      port: 8080");
        t.push(&format!("      timeout: {}s", self.rng.range(1, 60)));
        t.push("    # a comment inside a block scalar");
        self.write(&format!("bases/b{base}/configmap.yaml"), &t.text);
        resources.push("configmap.yaml".into());

        let mut k = Text::new();
        k.push("apiVersion: kustomize.config.k8s.io/v1beta1");
        k.push("kind: Kustomization");
        k.push("resources:");
        for r in &resources {
            k.push(&format!("  - {r}"));
        }
        k.push("labels:");
        k.push("  - pairs:");
        k.push(&format!("      app.kubernetes.io/part-of: b{base}"));
        self.write(&format!("bases/b{base}/kustomization.yaml"), &k.text);
        names
    }

    /// Overlay `o` using every base; `names[b]` are base `b`'s workloads.
    fn overlay(&mut self, o: usize, names: &[Vec<String>]) {
        let dir = overlay_dir(o);
        let ns = format!("o{o:03}");
        let team = format!("team-{:02}", o % 7);

        // Its Namespace: injection by the repository's label, by Istio's,
        // with telemetry too, or off.
        let mut t = Text::new();
        t.push("apiVersion: v1");
        t.push("kind: Namespace");
        t.push("metadata:");
        t.push(&format!("  name: {ns}"));
        t.push("  labels:");
        t.push(&format!("    team: {team}"));
        match o % 4 {
            0 => t.push("    kubectl-inject.dev/injection: enabled"),
            1 => t.push("    istio-injection: enabled"),
            2 => {
                t.push("    kubectl-inject.dev/injection: enabled");
                t.push("    telemetry: enabled");
            }
            _ => t.push("    kubectl-inject.dev/injection: disabled"),
        }
        self.write(&format!("{dir}/namespace.yaml"), &t.text);

        // A strategic-merge patch of base (o mod bases)'s Istio workload.
        let smp_base = o % names.len();
        let smp_target = names[smp_base][0].clone();
        let smp_file = format!("{dir}/patch-{smp_target}.yaml");
        let mut t = Text::new();
        t.push(&format!(
            "# {ns}: more replicas and proxy room for {smp_target}."
        ));
        t.push("apiVersion: apps/v1");
        t.push("kind: Deployment");
        t.push("metadata:");
        t.push(&format!("  name: {smp_target}"));
        t.push("spec:");
        t.push(&format!("  replicas: {}", 2 + o % 5));
        t.push("  template:");
        t.push("    metadata:");
        t.push("      annotations:");
        t.push("        sidecar.istio.io/proxyCPULimit: \"2\"");
        if o.is_multiple_of(10) {
            // Deliberate: INJ203 in one overlay's patch.
            self.expect_in(
                "INJ203",
                &smp_file,
                t.line(),
                vec![dir.clone()],
                "sidecar.istio.io/proxyMemoryLimit: 1GB in a patch",
            );
            t.push("        sidecar.istio.io/proxyMemoryLimit: \"1GB\"");
        } else {
            t.push("        sidecar.istio.io/proxyMemoryLimit: 1Gi");
        }
        self.write(&smp_file, &t.text);

        // The kustomization, with an inline JSON 6902 patch of another
        // base's workload 1.
        let json_target = &names[(o + 1) % names.len()][1];
        let mut k = Text::new();
        k.push("apiVersion: kustomize.config.k8s.io/v1beta1");
        k.push("kind: Kustomization");
        k.push(&format!("namespace: {ns}"));
        k.push("resources:");
        k.push("  - namespace.yaml");
        for b in 0..names.len() {
            k.push(&format!("  - ../../bases/b{b}"));
        }
        k.push("images:");
        k.push(&format!("  - name: {APP_IMAGE}"));
        k.push(&format!("    newTag: \"2.{}.{}\"", o / 10, o % 10));
        k.push("labels:");
        k.push("  - pairs:");
        k.push(&format!("      environment: {ns}"));
        k.push(&format!("      team: {team}"));
        k.push("commonAnnotations:");
        k.push(&format!("  example.com/overlay: {ns}"));
        k.push(&format!("  example.com/owner: {team}"));
        k.push("patches:");
        k.push(&format!("  - path: patch-{smp_target}.yaml"));
        k.push("  - target:");
        k.push("      kind: Deployment");
        k.push(&format!("      name: {json_target}"));
        k.push("    patch: |-");
        k.push("      - op: replace");
        k.push("        path: /spec/replicas");
        k.push(&format!("        value: {}", 1 + o % 3));
        k.push("      - op: add");
        k.push("        path: /spec/template/metadata/annotations/sidecar.istio.io~1proxyCPU");
        k.push(&format!("        value: {}m", 100 + 10 * (o % 10)));
        self.write(&format!("{dir}/kustomization.yaml"), &k.text);
        self.tree.overlays.push(dir);
    }

    /// A deliberate finding in a base: in every overlay.
    fn expect(&mut self, rule: &'static str, file: &str, line: usize, what: &'static str) {
        self.tree.findings.push(Expected {
            rule,
            file: file.to_owned(),
            line,
            // Filled in once the overlays are known.
            deployables: Vec::new(),
            what,
        });
    }

    fn expect_in(
        &mut self,
        rule: &'static str,
        file: &str,
        line: usize,
        deployables: Vec<String>,
        what: &'static str,
    ) {
        self.tree.findings.push(Expected {
            rule,
            file: file.to_owned(),
            line,
            deployables,
            what,
        });
    }
}

fn overlay_dir(o: usize) -> String {
    format!("overlays/o{o:03}")
}

fn generate(root: &Path, bases: usize, overlays: usize) -> Tree {
    let mut g = Gen {
        rng: Rng(0x6b75_7374_6f6d_697a),
        root: root.to_owned(),
        tree: Tree {
            bases,
            files: 0,
            bytes: 0,
            overlays: Vec::new(),
            // Per base: each workload and its Service, and a ConfigMap;
            // and the overlay's Namespace.
            objects_per_overlay: bases * (2 * WORKLOADS_PER_BASE + 1) + 1,
            workloads_per_overlay: bases * WORKLOADS_PER_BASE,
            workload_files: BTreeMap::new(),
            findings: Vec::new(),
        },
    };
    g.write(".kubectl-inject.yaml", CONFIG);
    for (path, text) in POLICY_FILES {
        g.write(path, text);
    }
    let names: Vec<Vec<String>> = (0..bases).map(|b| g.base(b)).collect();
    let in_bases = g.tree.findings.len();
    for o in 0..overlays {
        g.overlay(o, &names);
    }
    let all = g.tree.overlays.clone();
    for expected in &mut g.tree.findings[..in_bases] {
        expected.deployables = all.clone();
    }
    let mut readme = String::new();
    let _ = writeln!(
        readme,
        "# Generated by `cargo bench --bench deployables`: {bases} bases, {overlays} overlays\n\nDeliberate findings:\n"
    );
    for e in &g.tree.findings {
        let _ = writeln!(
            readme,
            "- {} at {}:{} ({}), in {} deployables",
            e.rule,
            e.file,
            e.line,
            e.what,
            e.deployables.len()
        );
    }
    g.write("README.md", &readme);
    g.tree
}

// ---------------------------------------------------------------------------

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}
