//! INJ208: a deprecated injector key (naming its replacement).

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::{Deprecation, PodKey, Where, vocabulary};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ208",
    name: "deprecated-injector-key",
    severity: Severity::Warning,
    summary: "a deprecated key (name its replacement)",
    explain: include_str!("deprecated_injector_key.md"),
};

pub fn new(key: &str, placement: Where, injector: &str, deprecation: &Deprecation) -> Diagnostic {
    let scope = if deprecation.placements.is_empty() {
        format!("`{key}`")
    } else {
        format!("`{key}` as a {}", placement.describe())
    };
    let mut message = format!("{scope} is deprecated in {injector}");
    if let Some(since) = &deprecation.since {
        message.push_str(&format!(" (since {since})"));
    }
    let help = match (&deprecation.replacement, deprecation.replacement_where) {
        (Some(replacement), Some(to)) => {
            message.push_str(&format!(
                ": use the {} `{replacement}` instead",
                to.describe()
            ));
            format!("move it to the {} `{replacement}`", to.describe())
        }
        (Some(replacement), None) => {
            message.push_str(&format!(": use `{replacement}` instead"));
            match &deprecation.note {
                Some(note) => format!("use `{replacement}`: {note}"),
                None => format!("rename the key to `{replacement}`"),
            }
        }
        (None, _) => {
            message.push_str("; it has no replacement");
            "remove the key; later versions may ignore it".to_owned()
        }
    };
    Diagnostic::new(&RULE, message)
        .label("deprecated")
        .help(help)
}

/// A finding per pod-template label or annotation key that its injector
/// deprecates in that placement.
pub fn check(object: &Object, default_namespace: &str, keys: &[PodKey<'_>]) -> Vec<Diagnostic> {
    let vocabulary = vocabulary();
    keys.iter()
        .filter_map(|pod_key| {
            let key = pod_key.entry.key.as_str();
            let injector = vocabulary.injector_of(key)?;
            let deprecation = injector.key(key)?.deprecation(pod_key.placement)?;
            let finding = new(key, pod_key.placement, &injector.display, deprecation);
            Some(super::injection_controls::at_key(
                finding,
                pod_key,
                object,
                default_namespace,
            ))
        })
        .collect()
}
