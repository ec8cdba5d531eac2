//! `kubectl inject render PATHS…`: manual injection. Every input document on
//! stdout in order, injected workloads mutated, everything else unchanged; or,
//! with `--output-dir`, one file per input file mirroring the input tree.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::{GlobalArgs, Outcome, fail};
use crate::diagnostic::Severity;
use crate::engine::{Simulation, WorkloadResult};
use crate::lint::Analysis;
use crate::load::Workspace;
use crate::render::{render, render_file};
use crate::report::{Format, HumanOptions, Report};
use crate::source::{DiscoverOptions, absolute_normalized, discover};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Files and directories to render (`-` reads stdin)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Write one file per input file, mirroring the input tree, instead of stdout
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Inject with a known injector instead of the repository's own (as
    /// `istioctl kube-inject`, `linkerd inject --manual`): no webhook gate;
    /// `kubectl-inject`: the repository's own injector alone, as `serve` does
    #[arg(long, value_name = "NAME", value_parser = super::lint::known_injector)]
    pub injector: Option<&'static str>,
}

/// Where a rendered file came from: its path and the named input holding it.
struct InputFile {
    path: PathBuf,
    root: PathBuf,
}

pub fn run(global: &GlobalArgs, args: RenderArgs) -> Outcome {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let config = match global.load_config() {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let discover_options = DiscoverOptions {
        ignore: config.ignore.clone(),
        ignore_root: absolute_normalized(&config.root),
    };
    // The files to render: those of the named paths (policies named by the
    // configuration are loaded for the simulation, not rendered).
    let inputs = match discover(&args.paths, &discover_options) {
        Ok(found) => input_files(&args.paths, &found.files),
        Err(message) => return fail(miette::miette!("{message}")),
    };
    let analysis = Analysis {
        namespace: global.namespace.clone(),
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
        manual_injector: args.injector,
        environment: global.environment.clone(),
        ..Analysis::new(args.paths.clone(), &config)
    };
    let (workspace, outcome) = match analysis.run(std::io::stdin().lock()) {
        Ok(done) => done,
        Err(message) => return fail(miette::miette!("{message}")),
    };
    let errors = outcome
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error);
    if errors {
        let report = Report::new(
            &workspace.sources,
            &outcome.diagnostics,
            &outcome.summary,
            "render",
        )
        .with_deployables(&workspace.deployables);
        let stderr = std::io::stderr();
        let human = HumanOptions::for_terminal(stderr.is_terminal());
        let mut err = stderr.lock();
        let _ = report.write(Format::Human, &mut err, &human);
        let _ = err.flush();
    }

    let outputs = if !workspace.deployables.list.is_empty() {
        deployable_outputs(&workspace, &outcome.simulation, &inputs, &cwd)
    } else {
        render(&workspace, &outcome.simulation)
            .into_iter()
            .filter_map(|file| {
                let input = inputs.get(&file.name)?;
                Some(Output {
                    header: None,
                    path: relative_path(input, &cwd),
                    text: file.text,
                })
            })
            .collect()
    };
    let written = match &args.output_dir {
        None => write_stdout(&outputs),
        Some(dir) => {
            check_output_dir(dir, &args.paths, &outputs).and_then(|()| write_dir(dir, &outputs))
        }
    };
    if let Err(message) = written {
        return fail(miette::miette!("{message}"));
    }
    if errors {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

/// The loader's display name of each discovered file → where it came from.
fn input_files(named: &[PathBuf], files: &[PathBuf]) -> HashMap<String, InputFile> {
    files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                let input = InputFile {
                    path: PathBuf::from("stdin.yaml"),
                    root: PathBuf::new(),
                };
                return ("<stdin>".to_owned(), input);
            }
            // The named path holding the file: a directory above it, or the
            // file itself (then its directory is the root).
            let root = named
                .iter()
                .filter(|n| n.as_os_str() != "-" && n.as_path() != path.as_path())
                .filter(|n| path.starts_with(n))
                .max_by_key(|n| n.components().count())
                .cloned()
                .unwrap_or_else(|| path.parent().map(Path::to_path_buf).unwrap_or_default());
            let input = InputFile {
                path: path.clone(),
                root,
            };
            (display_name(path), input)
        })
        .collect()
}

/// The name the loader gives a file (see `load::display_name`).
fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).replace('\\', "/")
}

/// One piece of the output: a file, or a deployable's rendering.
struct Output {
    /// `# Deployable: …`, written before it on stdout.
    header: Option<String>,
    /// Where `--output-dir` writes it, relative to that directory.
    path: PathBuf,
    text: String,
}

/// Each deployable's injected output in turn: a rendering (`kustomize
/// build`, `helm template`) as one stream, plain files one by one; a
/// deployable applied to several environments once per environment (the
/// injection may differ). With several deployables, each starts with a
/// `# Deployable:` comment; a run of plain files prints them as they were.
fn deployable_outputs(
    ws: &Workspace,
    simulation: &Simulation,
    inputs: &HashMap<String, InputFile>,
    cwd: &Path,
) -> Vec<Output> {
    let deployables = &ws.deployables;
    let mut order: Vec<&crate::model::deployable::Deployable> = deployables.list.iter().collect();
    order.sort_by(|a, b| a.path.cmp(&b.path));
    let mut outputs = Vec::new();
    for deployable in order {
        let several_envs = deployable.environments.len() > 1;
        for env in &deployable.environments {
            let env_name = deployables
                .environment(*env)
                .map(|e| e.name.as_str())
                .unwrap_or_default();
            let header = if !deployables.several() {
                String::new()
            } else if several_envs {
                format!(
                    "# Deployable: {} ({}, environment {env_name})",
                    deployable.path,
                    deployable.kind.as_str()
                )
            } else {
                format!(
                    "# Deployable: {} ({})",
                    deployable.path,
                    deployable.kind.as_str()
                )
            };
            let mut first = true;
            for &file in &deployable.files {
                let source = ws.sources.get(file);
                // Plain files are those the user named (not the
                // configuration's policies); renderings are all theirs.
                let plain_input = inputs.get(&source.name);
                if !source.rendered && plain_input.is_none() {
                    continue;
                }
                let workloads: Vec<&WorkloadResult> = simulation
                    .workloads
                    .iter()
                    .filter(|w| w.environment == *env && w.pod_after.is_some())
                    .filter(|w| ws.objects.get(w.object).is_some_and(|o| o.file == file))
                    .collect();
                let (text, _) = render_file(ws, source, &workloads);
                let path = match plain_input {
                    Some(input) if !source.rendered => relative_path(input, cwd),
                    _ => {
                        let dir = plain_dir(&deployable.path);
                        if several_envs {
                            dir.join(format!("rendered.{env_name}.yaml"))
                        } else {
                            dir.join("rendered.yaml")
                        }
                    }
                };
                outputs.push(Output {
                    header: (first && !header.is_empty()).then(|| header.clone()),
                    path,
                    text,
                });
                first = false;
            }
        }
    }
    outputs
}

/// A deployable's path as a folder under `--output-dir` (`..` and roots dropped).
fn plain_dir(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

fn write_stdout(files: &[Output]) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut text = String::new();
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        if let Some(header) = &file.header {
            text.push_str(header);
            text.push('\n');
        }
        text.push_str(&file.text);
        if !file.text.is_empty() && !file.text.ends_with('\n') {
            text.push('\n');
        }
    }
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `kubectl inject render … | head`: the reader left; not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing the output: {e}")),
    }
}

/// Refuses an output directory that writing would misuse: one inside (or
/// holding) an input, whose files the next run would read back, or that
/// would overwrite an input; and two outputs with one target.
fn check_output_dir(dir: &Path, inputs: &[PathBuf], files: &[Output]) -> Result<(), String> {
    let out = absolute_normalized(dir);
    let out_real = dir.canonicalize().unwrap_or_else(|_| out.clone());
    for input in inputs.iter().filter(|p| p.as_os_str() != "-") {
        let input_abs = absolute_normalized(input);
        let input_real = input.canonicalize().unwrap_or_else(|_| input_abs.clone());
        if out.starts_with(&input_abs) || out_real.starts_with(&input_real) {
            return Err(format!(
                "--output-dir {} is inside the input {}: its files would be read back as input next time, and inputs overwritten; write elsewhere",
                dir.display(),
                input.display()
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for file in files {
        let target = out.join(&file.path);
        if !seen.insert(target.clone()) {
            return Err(format!(
                "two inputs would both be written to {}: render them apart, or to stdout",
                target.display()
            ));
        }
        // A target that is an input, or inside an input folder, would be
        // overwritten now or read back next time.
        let overwrites = inputs
            .iter()
            .filter(|p| p.as_os_str() != "-")
            .any(|input| target.starts_with(absolute_normalized(input)));
        if overwrites {
            return Err(format!(
                "{} is an input, or inside one: not overwritten; write elsewhere",
                target.display()
            ));
        }
    }
    Ok(())
}

/// Writes each output below `dir`, never through a symlink that is already
/// there (it could lead anywhere).
fn write_dir(dir: &Path, files: &[Output]) -> Result<(), String> {
    for file in files {
        let target = dir.join(&file.path);
        let mut at = dir.to_path_buf();
        for component in file.path.components() {
            at.push(component);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!(
                    "{} is a symlink: not written through (it could lead outside --output-dir)",
                    at.display()
                ));
            }
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, &file.text).map_err(|e| format!("{}: {e}", target.display()))?;
        eprintln!("wrote {}", target.display());
    }
    Ok(())
}

/// The path of an input under the output directory: relative to the current
/// directory when it is inside it, else relative to the named input holding it.
fn relative_path(input: &InputFile, cwd: &Path) -> PathBuf {
    let absolute = absolute_normalized(&input.path);
    if let Ok(rel) = absolute.strip_prefix(absolute_normalized(cwd))
        && is_plain_relative(rel)
    {
        return rel.to_path_buf();
    }
    let root = absolute_normalized(&input.root);
    match absolute.strip_prefix(&root) {
        Ok(rel) if is_plain_relative(rel) => rel.to_path_buf(),
        _ => input
            .path
            .file_name()
            .map_or_else(|| PathBuf::from("stdin.yaml"), PathBuf::from),
    }
}

fn is_plain_relative(path: &Path) -> bool {
    !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}
