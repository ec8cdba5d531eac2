//! INJ009: a suppression that suppresses nothing.

use crate::diagnostic::{Diagnostic, FileSpan, ObjectRef, Severity};

pub const RULE: super::Rule = super::Rule {
    id: "INJ009",
    name: "unused-suppression",
    severity: Severity::Info,
    summary: "a suppression that suppresses nothing",
    explain: include_str!("unused_suppression.md"),
};

/// The suppression of `rule` at `at`, in `object`, that silenced nothing.
pub fn report(rule: &str, at: &FileSpan, object: &ObjectRef) -> Diagnostic {
    let known = super::find(rule).is_some() || super::RESERVED.contains(&rule);
    let (message, help) = if known {
        (
            format!(
                "suppression of {} suppresses nothing: the rule reports nothing on this object",
                rule
            ),
            "remove the entry; stale suppressions hide the next real finding".to_owned(),
        )
    } else {
        (
            format!("suppression of {}: there is no such rule", rule),
            match super::suggest(rule) {
                Some(id) => format!("did you mean `{id}`? `kubectl inject rules` lists them"),
                None => "`kubectl inject rules` lists the rule ids".to_owned(),
            },
        )
    };
    Diagnostic::new(&RULE, message)
        .at(at.file, at.span.clone())
        .label("unused")
        .object(Some(object.clone()))
        .help(help)
}
