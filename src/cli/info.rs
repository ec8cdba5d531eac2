//! The informational subcommands: `rules`, `explain`, `schema`, `completion`, `version`.

use clap::{Args, CommandFactory};

use super::{Cli, Outcome, fail};
use crate::rules::{self, RULES};
use crate::schema;

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Print the catalogue as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id (INJ002) or name (schema-violation)
    pub rule: String,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Kind (SidecarTemplate, InjectionPolicy, ClusterInjectionPolicy, InjectionTest); lists them when omitted
    pub kind: Option<String>,
    /// Print the CustomResourceDefinitions generated from the schemas (all
    /// of them, or KIND's) as multi-document YAML, as deploy/crds.yaml holds them
    #[arg(long)]
    pub crd: bool,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to complete for
    pub shell: clap_complete::Shell,
}

pub fn rules(args: RulesArgs) -> Outcome {
    if args.json {
        let list: Vec<_> = RULES
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "name": r.name, "severity": r.severity,
                    "summary": r.summary, "help_uri": r.help_uri(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("JSON of strings")
        );
        return Outcome::Clean;
    }
    let width = RULES.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!("{:<7} {:<width$} {:<8} SUMMARY", "ID", "NAME", "SEVERITY");
    for r in RULES {
        println!(
            "{:<7} {:<width$} {:<8} {}",
            r.id, r.name, r.severity, r.summary
        );
    }
    Outcome::Clean
}

pub fn explain(args: ExplainArgs) -> Outcome {
    match rules::find(&args.rule) {
        Some(rule) => {
            print!("{}", rule.explain);
            Outcome::Clean
        }
        None => {
            let hint = match rules::suggest(&args.rule) {
                Some(s) if rules::RESERVED.contains(&s) => {
                    format!(
                        "{s} is reserved for a later version; `kubectl inject rules` lists what this build checks"
                    )
                }
                Some(s) => format!("did you mean `{s}`?"),
                None => "`kubectl inject rules` lists the rules".to_owned(),
            };
            fail(miette::miette!(help = hint, "unknown rule `{}`", args.rule))
        }
    }
}

pub fn schema(args: SchemaArgs) -> Outcome {
    if args.crd {
        return crd(args.kind.as_deref());
    }
    let Some(kind) = args.kind else {
        for kind in schema::kinds() {
            println!("{kind}");
        }
        return Outcome::Clean;
    };
    match schema::schema_text(&kind) {
        Some(text) => {
            println!("{}", text.trim_end());
            Outcome::Clean
        }
        None => fail(miette::miette!(
            help = format!("the kinds are: {}", schema::kinds().join(", ")),
            "no schema for kind `{kind}`"
        )),
    }
}

/// `schema --crd [KIND]`.
fn crd(kind: Option<&str>) -> Outcome {
    match schema::crd::yaml(kind) {
        Some(text) => {
            print!("{text}");
            Outcome::Clean
        }
        None => {
            let kinds: Vec<&str> = schema::crd::kinds().collect();
            let kind = kind.unwrap_or_default();
            let why = if schema::schema_text(kind).is_some() {
                format!("`{kind}` is not a cluster resource: it has no CustomResourceDefinition")
            } else {
                format!("no CustomResourceDefinition for kind `{kind}`")
            };
            fail(miette::miette!(
                help = format!("the kinds with one are: {}", kinds.join(", ")),
                "{why}"
            ))
        }
    }
}

pub fn completion(args: CompletionArgs) -> Outcome {
    let mut command = Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "kubectl-inject",
        &mut std::io::stdout(),
    );
    Outcome::Clean
}

pub fn version() -> Outcome {
    println!("kubectl-inject v{}", env!("CARGO_PKG_VERSION"));
    Outcome::Clean
}
