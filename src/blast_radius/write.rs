//! The blast radius as text for a terminal, JSON, or Markdown for a job
//! summary or a pull-request comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{BlastRadius, CauseKind, Change, Side};
use crate::report::{SUMMARY_ROWS, escape_cell, plural};

/// `diff --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Causes, then the workloads by namespace.
    Human,
    /// SPEC "PR gate": `{"version", "base", "head", "changes", "summary"}` (and `causes`).
    Json,
    /// For `$GITHUB_STEP_SUMMARY` or a pull-request comment.
    Markdown,
}

pub fn write(radius: &BlastRadius, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, radius)?;
            writeln!(out)
        }
        Format::Human => out.write_all(human(radius).as_bytes()),
        Format::Markdown => out.write_all(markdown(radius).as_bytes()),
    }
}

fn side_text(side: Option<&Side>) -> String {
    let Some(side) = side else {
        return "—".to_owned();
    };
    let decision = side.decision.as_str();
    match &side.template {
        Some(template) => format!("{decision} {template}"),
        None => decision.to_owned(),
    }
}

fn headline(radius: &BlastRadius) -> String {
    let s = &radius.summary;
    if s.workloads_changed == 0 {
        return format!(
            "{} → {}: no workload's injection changes",
            radius.base, radius.head
        );
    }
    let environments = if s.environments > 0 {
        format!(" of {}", plural(s.environments, "environment"))
    } else {
        String::new()
    };
    format!(
        "{} → {}: injection changes for {} in {}{environments}",
        radius.base,
        radius.head,
        plural(s.workloads_changed, "workload"),
        plural(s.namespaces, "namespace")
    )
}

fn cause_lines(radius: &BlastRadius) -> impl Iterator<Item = String> + '_ {
    radius.causes.iter().map(|c| {
        let verb = match c.cause {
            CauseKind::Template | CauseKind::Decision => " changes",
            CauseKind::Pod | CauseKind::Added | CauseKind::Removed => ":",
        };
        format!(
            "{}: {}{verb} {} in {}",
            c.injector,
            c.what,
            plural(c.workloads, "workload"),
            plural(c.namespaces, "namespace")
        )
    })
}

/// Changes by environment (when the paths hold several) and namespace.
fn by_namespace(changes: &[Change]) -> BTreeMap<(Option<&str>, &str), Vec<&Change>> {
    let mut groups: BTreeMap<(Option<&str>, &str), Vec<&Change>> = BTreeMap::new();
    for change in changes {
        groups
            .entry((change.environment.as_deref(), &change.namespace))
            .or_default()
            .push(change);
    }
    groups
}

fn workload_count(changes: &[&Change]) -> usize {
    let mut names: Vec<_> = changes.iter().map(|c| (&c.kind, &c.name)).collect();
    names.dedup();
    names.len()
}

fn human(radius: &BlastRadius) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}", headline(radius));
    for line in cause_lines(radius) {
        let _ = writeln!(text, "  {line}");
    }
    for ((environment, namespace), changes) in by_namespace(&radius.changes) {
        let title = match environment {
            Some(env) => format!("environment {env}, namespace {namespace}"),
            None => format!("namespace {namespace}"),
        };
        let _ = writeln!(
            text,
            "\n{title} ({})",
            plural(workload_count(&changes), "workload")
        );
        // One column for the workloads of a namespace, so the changes line up.
        let width = changes
            .iter()
            .map(|c| c.kind.chars().count() + 1 + c.name.chars().count())
            .max()
            .unwrap_or(0);
        for c in changes {
            let _ = writeln!(
                text,
                "  {:<width$}  {}: {} → {}{}  ({})",
                format!("{}/{}", c.kind, c.name),
                c.injector,
                side_text(c.before.as_ref()),
                side_text(c.after.as_ref()),
                if c.pod_changed {
                    ", injected pod changes"
                } else {
                    ""
                },
                c.file
            );
        }
    }
    text
}

fn markdown(radius: &BlastRadius) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## kubectl-inject diff: blast radius\n");
    let s = &radius.summary;
    if s.workloads_changed == 0 {
        let _ = writeln!(
            md,
            "Against `{}`, no workload's injection changes.\n",
            escape_cell(&radius.base)
        );
        return md;
    }
    let _ = writeln!(
        md,
        "Against `{}`, the change alters injection for **{}** in **{}**.\n",
        escape_cell(&radius.base),
        plural(s.workloads_changed, "workload"),
        plural(s.namespaces, "namespace")
    );
    md.push_str("| Injector | Change | Workloads | Namespaces |\n|---|---|---:|---:|\n");
    for c in &radius.causes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            c.injector,
            escape_cell(&c.what),
            c.workloads,
            c.namespaces
        );
    }
    md.push('\n');
    let mut rows = 0;
    for ((environment, namespace), changes) in by_namespace(&radius.changes) {
        let title = match environment {
            Some(env) => format!("{env} / {namespace}"),
            None => namespace.to_owned(),
        };
        let _ = writeln!(
            md,
            "<details><summary>{} ({})</summary>\n",
            escape_cell(&title),
            plural(workload_count(&changes), "workload")
        );
        md.push_str("| Workload | Injector | Before | After | Injected pod | File |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for c in changes {
            if rows == SUMMARY_ROWS {
                break;
            }
            rows += 1;
            let _ = writeln!(
                md,
                "| {}/{} | {} | {} | {} | {} | `{}` |",
                escape_cell(&c.kind),
                escape_cell(&c.name),
                c.injector,
                escape_cell(&side_text(c.before.as_ref())),
                escape_cell(&side_text(c.after.as_ref())),
                if c.pod_changed { "changes" } else { "same" },
                escape_cell(&c.file).replace('`', "'")
            );
        }
        md.push_str("\n</details>\n\n");
    }
    if radius.changes.len() > rows {
        let _ = writeln!(
            md,
            "… and {} more (the JSON report, `--format json`, has them all).\n",
            radius.changes.len() - rows
        );
    }
    md
}
