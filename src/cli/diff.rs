//! `kubectl inject diff --base REV [--head REV] [PATH…]`: the blast radius
//! of a change (see [`crate::blast_radius`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{GlobalArgs, Outcome, fail, paths_or_current_dir};
use crate::blast_radius::{self, Format};
use crate::lint::Analysis;
use crate::load::DEFAULT_MAX_FILE_SIZE;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Files and directories to compare; default: the current directory
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The revision to compare with (a branch, tag or commit; read from Git, no checkout)
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The revision to compare (default: the working tree)
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Largest input file read, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

pub fn run(global: &GlobalArgs, args: DiffArgs) -> Outcome {
    let config = match global.load_config() {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let paths = paths_or_current_dir(&args.paths);
    let analysis = Analysis {
        namespace: global.namespace.clone(),
        max_file_size: args.max_file_size,
        environment: global.environment.clone(),
        ..Analysis::new(paths, &config)
    };
    let radius = match blast_radius::analyse(&analysis, &args.base, args.head.as_deref()) {
        Ok(radius) => radius,
        Err(message) => return fail(miette::miette!("{message}")),
    };
    let written = match &args.output_file {
        Some(path) => std::fs::File::create(path)
            .and_then(|mut file| blast_radius::write(&radius, args.format, &mut file))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match blast_radius::write(&radius, args.format, &mut out).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("writing the report: {e}"))
                }
                _ => Ok(()),
            }
        }
    };
    match written {
        Ok(()) => Outcome::Clean,
        Err(message) => fail(miette::miette!("{message}")),
    }
}
