//! INJ009: a suppression that suppresses nothing.

use crate::diagnostic::{Diagnostic, Severity};
use crate::suppress::Suppression;

pub const RULE: super::Rule = super::Rule {
    id: "INJ009",
    name: "unused-suppression",
    severity: Severity::Info,
    summary: "a suppression that suppresses nothing",
    explain: include_str!("unused_suppression.md"),
};

pub fn report(suppression: &Suppression) -> Diagnostic {
    let known = super::find(&suppression.rule).is_some()
        || super::RESERVED.contains(&suppression.rule.as_str());
    let (message, help) = if known {
        (
            format!(
                "suppression of {} suppresses nothing: the rule reports nothing on this object",
                suppression.rule
            ),
            "remove the entry; stale suppressions hide the next real finding".to_owned(),
        )
    } else {
        (
            format!("suppression of {}: there is no such rule", suppression.rule),
            match super::suggest(&suppression.rule) {
                Some(id) => format!("did you mean `{id}`? `kubectl inject rules` lists them"),
                None => "`kubectl inject rules` lists the rule ids".to_owned(),
            },
        )
    };
    Diagnostic::new(&RULE, message)
        .at(suppression.file, suppression.span.clone())
        .label("unused")
        .object(Some(suppression.object.clone()))
        .help(help)
}
