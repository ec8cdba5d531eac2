//! `kubectl inject test [DIR]`: runs the InjectionTest golden tests (see
//! [`crate::golden`]).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{GlobalArgs, Outcome, fail};
use crate::golden::run_all;

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Directory holding InjectionTest documents (searched recursively)
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Rewrite the expected output files from the current results
    #[arg(long)]
    pub update: bool,
}

pub fn run(global: &GlobalArgs, args: TestArgs) -> Outcome {
    let config = match global.load_config() {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if !args.dir.is_dir() {
        return fail(miette::miette!("{}: no such directory", args.dir.display()));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let summary = match run_all(&args.dir, &config, args.update, &mut out) {
        Ok(summary) => summary,
        Err(message) => return fail(miette::miette!("{message}")),
    };
    let _ = out.flush();
    if summary.errors > 0 {
        Outcome::Failure
    } else if summary.failed > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}
