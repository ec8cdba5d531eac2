//! `kubectl inject render PATHS…` (IN PROGRESS: being written).

use std::path::PathBuf;

use clap::Args;

use super::{GlobalArgs, Outcome, fail};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Files and directories to render (`-` reads stdin)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Write one file per input file, mirroring the input tree, instead of stdout
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: RenderArgs) -> Outcome {
    let _ = (global, args);
    fail(miette::miette!("render is not available in this build"))
}
