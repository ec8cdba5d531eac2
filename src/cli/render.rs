//! `kubectl inject render PATHS…`: manual injection. Every input document on
//! stdout in order, injected workloads mutated, everything else unchanged; or,
//! with `--output-dir`, one file per input file mirroring the input tree.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::{GlobalArgs, Outcome, fail};
use crate::diagnostic::Severity;
use crate::lint::Analysis;
use crate::render::{RenderedFile, render};
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
        );
        let stderr = std::io::stderr();
        let human = HumanOptions::for_terminal(stderr.is_terminal());
        let mut err = stderr.lock();
        let _ = report.write(Format::Human, &mut err, &human);
        let _ = err.flush();
    }

    let rendered: Vec<RenderedFile> = render(&workspace, &outcome.simulation)
        .into_iter()
        .filter(|f| inputs.contains_key(&f.name))
        .collect();
    let written = match &args.output_dir {
        None => write_stdout(&rendered),
        Some(dir) => write_dir(dir, &rendered, &inputs, &cwd),
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

fn write_stdout(files: &[RenderedFile]) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut text = String::new();
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
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

fn write_dir(
    dir: &Path,
    files: &[RenderedFile],
    inputs: &HashMap<String, InputFile>,
    cwd: &Path,
) -> Result<(), String> {
    for file in files {
        let Some(input) = inputs.get(&file.name) else {
            continue;
        };
        let target = dir.join(relative_path(input, cwd));
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
