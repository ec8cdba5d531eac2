//! `kubectl inject lint PATHS…` and `kubectl inject simulate PATHS…`: one
//! pipeline (load, rules, simulation), two ways of reporting it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::{FailOn, GlobalArgs, Outcome, fail, paths_or_current_dir};
use crate::baseline::analyse_against;
use crate::lint::Analysis;
use crate::live::{ConnectOptions, keep_drift_only_where_covered, parse_timeout, read_cluster};
use crate::load::{DEFAULT_MAX_FILE_SIZE, Input};
use crate::report::{Format, HumanOptions, Report, markdown_summary};

#[derive(Debug, Args)]
pub struct LintArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Print each workload's reason chain (every decision step that mattered)
    #[arg(long)]
    pub explain: bool,
    /// Print what injection adds to each workload (a structural diff of its pod)
    #[arg(long)]
    pub diff: bool,
    /// Manual injection with a known injector (as `istioctl kube-inject`,
    /// `linkerd inject --manual`): no webhook gate, the injector's own checks
    #[arg(long, value_name = "NAME", value_parser = known_injector)]
    pub injector: Option<&'static str>,
    /// Simulate what runs in the cluster (`-n NS`, the context's namespace, or
    /// `-A`): its pods, their owners and webhooks, with the policies from
    /// PATHS (else the cluster's), and report drift (INJ401–INJ403)
    #[arg(long, conflicts_with = "base")]
    pub live: bool,
}

/// Parses `--injector`: one of the known injectors, or the repository's own.
pub fn known_injector(name: &str) -> Result<&'static str, String> {
    if name == crate::engine::OWN_INJECTOR {
        return Ok(crate::engine::OWN_INJECTOR);
    }
    crate::injectors::known::gate::static_name(name).ok_or_else(|| {
        format!(
            "unknown injector `{name}`; known: {}, or {} (the repository's own alone, as `serve` injects)",
            crate::injectors::known::KNOWN.join(", "),
            crate::engine::OWN_INJECTOR
        )
    })
}

/// Inputs and reporting, shared by `lint` and `simulate`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Files and directories to lint (`-` reads stdin); default: the current directory
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report in --format to FILE; the terminal still gets the human report
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Lowest severity that makes the exit code 1
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Ignore every `lint.kubectl-inject.dev/ignore` annotation (for protected branches)
    #[arg(long)]
    pub no_suppressions: bool,
    /// Report only the findings the working tree adds to REV (a branch, tag or
    /// commit, read from the Git object database: no checkout)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Largest input file read, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
}

pub fn lint_command(global: &GlobalArgs, args: LintArgs) -> Outcome {
    run(
        global,
        &args.run,
        "lint",
        &HumanOptions::default(),
        None,
        false,
    )
}

pub fn simulate_command(global: &GlobalArgs, args: SimulateArgs) -> Outcome {
    let extra = HumanOptions {
        explain: args.explain,
        diff: args.diff,
        ..HumanOptions::default()
    };
    run(
        global,
        &args.run,
        "simulate",
        &extra,
        args.injector,
        args.live,
    )
}

/// `extra` carries the command's own human-report switches; `injector` is
/// `simulate --injector`; `live` is `simulate --live`.
fn run(
    global: &GlobalArgs,
    args: &RunArgs,
    command: &str,
    extra: &HumanOptions,
    injector: Option<&'static str>,
    live: bool,
) -> Outcome {
    let mut config = match global.load_config() {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    // Live runs read PATHS only for the policies and templates to try.
    let paths = if live {
        args.paths.clone()
    } else {
        paths_or_current_dir(&args.paths)
    };
    let live_inputs = if live {
        let with_policies = paths.is_empty() && config.policies.is_empty();
        match read_live(global, with_policies) {
            Ok((inputs, version)) => {
                // A pinned `kubernetesVersion` wins: it may be the version
                // a cluster is about to be upgraded to.
                if config.kubernetes_version.is_none() {
                    config.kubernetes_version = version;
                }
                inputs
            }
            Err(outcome) => return outcome,
        }
    } else {
        Vec::new()
    };
    let analysis = Analysis {
        namespace: global.namespace.clone(),
        no_suppressions: args.no_suppressions,
        max_file_size: args.max_file_size,
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
        manual_injector: injector,
        environment: global.environment.clone(),
        // `--diff` shows each injected pod; the other reports need none.
        keep_pods: extra.diff,
        ..Analysis::new(paths, &config)
    };
    let stdin = std::io::stdin().lock();
    let result = match &args.base {
        None if live => analysis
            .run_with(live_inputs, stdin)
            .map(|(ws, mut outcome)| {
                keep_drift_only_where_covered(&ws, &mut outcome);
                (ws, outcome, None)
            }),
        None => analysis.run(stdin).map(|(ws, outcome)| (ws, outcome, None)),
        Some(base) => analyse_against(&analysis, base, stdin)
            .map(|(ws, outcome, baseline)| (ws, outcome, Some(baseline))),
    };
    let (workspace, outcome, baseline) = match result {
        Ok(done) => done,
        Err(message) => return fail(miette::miette!("{message}")),
    };
    if std::env::var_os("KUBECTL_INJECT_TIMINGS").is_some_and(|v| !v.is_empty()) {
        eprintln!("kubectl-inject: timings: {}", workspace.timings);
    }
    let mut report = Report::new(
        &workspace.sources,
        &outcome.diagnostics,
        &outcome.summary,
        command,
    )
    .with_baseline(baseline.as_ref())
    .with_deployables(&workspace.deployables);
    if command == "simulate" {
        report = report
            .with_workloads(&outcome.simulation.workloads)
            .with_live(outcome.simulation.live.as_ref());
    }
    match emit(&report, args, extra) {
        Ok(()) => {}
        // `kubectl inject lint | head`: the reader left; that is not a failure.
        Err(EmitError::BrokenPipe) => {}
        Err(EmitError::Other(message)) => return fail(miette::miette!("{message}")),
    }
    let failing = args
        .fail_on
        .threshold()
        .is_some_and(|threshold| outcome.diagnostics.iter().any(|d| d.severity >= threshold));
    // The process ends here: freeing millions of nodes one by one would
    // only delay the exit (a quarter of a second on 50,000 documents).
    std::mem::forget((workspace, outcome));
    if failing {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

/// Reads the cluster for `simulate --live`; warnings (lists RBAC refused,
/// with what they cost) go to stderr, failures end the run (exit code 2).
fn read_live(
    global: &GlobalArgs,
    with_policies: bool,
) -> Result<(Vec<Input>, Option<String>), Outcome> {
    let request_timeout = match global.request_timeout.as_deref().map(parse_timeout) {
        Some(Err(message)) => return Err(fail(miette::miette!("{message}"))),
        Some(Ok(timeout)) => timeout,
        None => None,
    };
    let options = ConnectOptions {
        kubeconfig: global.kubeconfig.clone(),
        context: global.context.clone(),
        cluster: global.cluster.clone(),
        user: global.user.clone(),
        request_timeout,
    };
    let started = std::time::Instant::now();
    let (fetched, described) = read_cluster(
        &options,
        global.namespace.as_deref(),
        global.all_namespaces,
        with_policies,
    )
    .map_err(|error| {
        let outcome = fail(miette::miette!("{error}"));
        if let Some(remedy) = error.remedy() {
            eprintln!("{remedy}");
        }
        outcome
    })?;
    let counts: Vec<String> = fetched
        .counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    let version = fetched
        .kubernetes_version
        .as_deref()
        .map(|v| format!(" on Kubernetes {v}"))
        .unwrap_or_default();
    eprintln!(
        "kubectl-inject: read {described}{version} in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        counts.join(", ")
    );
    for warning in &fetched.warnings {
        eprintln!("warning: {warning}");
    }
    Ok((fetched.inputs, fetched.kubernetes_version))
}

pub enum EmitError {
    BrokenPipe,
    Other(String),
}

impl From<String> for EmitError {
    fn from(message: String) -> Self {
        EmitError::Other(message)
    }
}

/// Writes the report where the flags say.
pub fn emit(report: &Report<'_>, args: &RunArgs, extra: &HumanOptions) -> Result<(), EmitError> {
    let stdout = std::io::stdout();
    let human = HumanOptions {
        explain: extra.explain,
        diff: extra.diff,
        ..HumanOptions::for_terminal(stdout.is_terminal())
    };
    let mut out = stdout.lock();
    let write_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => EmitError::BrokenPipe,
        _ => EmitError::Other(format!("writing the report: {e}")),
    };
    match &args.output_file {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .map_err(|e| EmitError::Other(format!("{}: {e}", path.display())))?;
            report
                .write(
                    args.format,
                    &mut file,
                    &HumanOptions {
                        color: false,
                        links: false,
                        ..human.clone()
                    },
                )
                .map_err(write_err)?;
            report
                .write(Format::Human, &mut out, &human)
                .map_err(write_err)?;
        }
        None => report
            .write(args.format, &mut out, &human)
            .map_err(write_err)?,
    }
    out.flush().map_err(write_err)?;
    if args.format == Format::Github {
        write_step_summary(report).map_err(EmitError::Other)?;
    }
    Ok(())
}

/// Appends the Markdown summary to `GITHUB_STEP_SUMMARY` when Actions set it.
fn write_step_summary(report: &Report<'_>) -> Result<(), String> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "GITHUB_STEP_SUMMARY ({}): {e}",
                PathBuf::from(&path).display()
            )
        })?;
    file.write_all(markdown_summary(report).as_bytes())
        .map_err(|e| format!("GITHUB_STEP_SUMMARY: {e}"))
}
