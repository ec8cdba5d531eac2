//! The command line: clap definitions, one module per subcommand.
//!
//! kubectl runs the plugin as `kubectl inject …` and passes every argument
//! through untouched, so the plugin parses kubectl's connection flags itself.

mod diff;
mod info;
mod lint;
mod render;
mod serve;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::diagnostic::Severity;

/// What the run amounted to, as the exit code scripts see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No finding at or above `--fail-on`.
    Clean,
    /// Findings at or above `--fail-on`.
    Findings,
    /// The tool could not do its job (bad flags, unreadable path, bad config).
    Failure,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Clean => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Failure => ExitCode::from(2),
        }
    }
}

/// Lint, simulate and render Kubernetes sidecar injection before it reaches the cluster.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-inject",
    bin_name = "kubectl inject",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's connection flags and the configuration file; accepted before or
/// after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: the first .kubectl-inject.yaml from the current directory up)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Namespace of objects that name none (and the namespace to read live)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Every namespace (live runs)
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Only this environment: a `.kubectl-inject.yaml` environment, a Flux
    /// cluster folder's name (`production` for clusters/production), or a
    /// deployable's path
    #[arg(long, global = true, value_name = "NAME")]
    pub environment: Option<String>,
    /// Path to the kubeconfig file (default: KUBECONFIG, then ~/.kube/config)
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help_heading = "Cluster connection"
    )]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Cluster connection"
    )]
    pub context: Option<String>,
    /// The kubeconfig cluster to use
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Cluster connection"
    )]
    pub cluster: Option<String>,
    /// The kubeconfig user to use
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        help_heading = "Cluster connection"
    )]
    pub user: Option<String>,
    /// How long to wait for one API request (e.g. 30s, 1m; 0 waits forever)
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        help_heading = "Cluster connection"
    )]
    pub request_timeout: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate policies and templates against their schemas and find invalid injection settings
    Lint(lint::LintArgs),
    /// Work out, for every workload, which injectors fire, why, and what the injected pod looks like
    Simulate(lint::SimulateArgs),
    /// Inject manually: the same manifests, workloads mutated, on stdout or into a directory
    Render(render::RenderArgs),
    /// The blast radius of a change: workloads whose injection differs from --base REV
    Diff(diff::DiffArgs),
    /// Run the injector: the mutating admission webhook (HTTPS) that injects with this engine
    Serve(serve::ServeArgs),
    /// Run the InjectionTest golden tests of a directory
    Test(test::TestArgs),
    /// List the rules
    Rules(info::RulesArgs),
    /// Explain a rule: what it finds, why it matters at admission, an example, how to fix
    Explain(info::ExplainArgs),
    /// Print the JSON Schema of a kubectl-inject.dev kind (or list the kinds)
    Schema(info::SchemaArgs),
    /// Print a shell completion script
    Completion(info::CompletionArgs),
    /// Print the version
    Version,
}

/// `--fail-on`: the lowest severity that fails the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Lint(args) => lint::lint_command(&cli.global, args),
        Command::Simulate(args) => lint::simulate_command(&cli.global, args),
        Command::Render(args) => render::run(&cli.global, args),
        Command::Serve(args) => serve::run_serve(&cli.global, args),
        Command::Test(args) => test::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::Rules(args) => info::rules(args),
        Command::Explain(args) => info::explain(args),
        Command::Schema(args) => info::schema(args),
        Command::Completion(args) => info::completion(args),
        Command::Version => info::version(),
    }
}

impl GlobalArgs {
    /// `--config`, or the first `.kubectl-inject.yaml` from the current
    /// directory up; a bad one is reported (exit code 2).
    pub fn load_config(&self) -> Result<crate::config::Config, Outcome> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        crate::config::Config::discover(self.config.as_deref(), &cwd, &crate::rules::Registry)
            .map_err(|error| fail(*error))
    }
}

/// The named paths, or the current directory when none is named.
pub fn paths_or_current_dir(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Prints a fatal error (exit code 2) as a miette report on stderr.
pub fn fail(error: impl Into<miette::Report>) -> Outcome {
    let report: miette::Report = error.into();
    eprintln!("{report:?}");
    Outcome::Failure
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn kubectl_flags_go_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-inject",
            "-n",
            "shop",
            "lint",
            "--context",
            "prod",
            "--format",
            "json",
            "apps/",
        ])
        .unwrap();
        assert_eq!(cli.global.namespace.as_deref(), Some("shop"));
        assert_eq!(cli.global.context.as_deref(), Some("prod"));
    }
}
