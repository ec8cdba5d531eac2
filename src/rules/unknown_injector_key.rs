//! INJ202: an unknown key under a known injector prefix, with a did-you-mean.

use crate::diagnostic::{Diagnostic, Severity};
use crate::injectors::known::{PodKey, vocabulary};
use crate::model::Object;

pub const RULE: super::Rule = super::Rule {
    id: "INJ202",
    name: "unknown-injector-key",
    severity: Severity::Warning,
    summary: "an unknown key under a known injector prefix, with a did-you-mean",
    explain: include_str!("unknown_injector_key.md"),
};

pub fn new(key: &str, injector: &str, suggestion: Option<&str>) -> Diagnostic {
    let mut message = format!("`{key}` is not a key {injector} reads; it is ignored");
    if let Some(suggestion) = suggestion {
        message.push_str(&format!(" (did you mean `{suggestion}`?)"));
    }
    let help = match suggestion {
        Some(suggestion) => format!("rename the key to `{suggestion}`"),
        None => format!("remove the key, or check the spelling against {injector}'s documentation"),
    };
    Diagnostic::new(&RULE, message)
        .label("unknown key")
        .help(help)
}

/// A finding per pod-template label or annotation key under a known
/// injector's prefix that the injector does not read (only for injectors
/// whose vocabulary is complete).
pub fn check(object: &Object, default_namespace: &str, keys: &[PodKey<'_>]) -> Vec<Diagnostic> {
    let vocabulary = vocabulary();
    keys.iter()
        .filter_map(|pod_key| {
            let key = pod_key.entry.key.as_str();
            let injector = vocabulary.injector_of(key)?;
            if !injector.complete || injector.key(key).is_some() {
                return None;
            }
            let finding = new(key, &injector.display, injector.suggest(key));
            Some(super::injection_controls::at_key(
                finding,
                pod_key,
                object,
                default_namespace,
            ))
        })
        .collect()
}
