use std::process::ExitCode;

/// A run allocates millions of small strings and nodes (every YAML key and
/// value, every JSON pod); mimalloc is markedly faster at that than the
/// system allocator (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use kubectl_inject::cli::{Cli, run};

fn main() -> ExitCode {
    // Bad flags are exit code 2, as kubectl users expect; --help and --version are 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    run(cli).into()
}
