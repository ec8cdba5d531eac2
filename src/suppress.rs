//! Suppression annotations: `lint.kubectl-inject.dev/ignore: "INJ206=reason,…"`
//! on an object or on its pod template.
//!
//! An entry silences its rule's findings inside that object. An entry
//! without a reason is not applied (INJ008); one that silences nothing is
//! reported (INJ009).

use std::ops::Range;

use crate::diagnostic::{Diagnostic, FileSpan, ObjectRef};
use crate::model::Object;
use crate::rules::{self, suppression_without_reason, unused_suppression};
use crate::source::FileId;
use crate::yaml::Node;

/// The annotation key.
pub const ANNOTATION: &str = "lint.kubectl-inject.dev/ignore";

/// One entry of a suppression annotation.
#[derive(Debug, Clone)]
pub struct Suppression {
    /// Rule id as written (upper-cased).
    pub rule: String,
    pub reason: Option<String>,
    pub file: FileId,
    /// The entry inside the annotation value (or the whole value).
    pub span: Range<usize>,
    /// The object it belongs to and the range of that object's document.
    pub object: ObjectRef,
    pub scope: Range<usize>,
}

/// Reads every suppression entry of an object (object metadata and pod template).
pub fn collect(object: &Object, source: &str, default_namespace: &str) -> Vec<Suppression> {
    let object_ref = object.object_ref(default_namespace);
    let object_metadata = object.root.get("metadata");
    let template_metadata = object
        .pod_template()
        .filter(|t| !std::ptr::eq(*t, &object.root))
        .and_then(|t| t.get("metadata"));
    let mut out = Vec::new();
    for metadata in [object_metadata, template_metadata].into_iter().flatten() {
        let Some(value) = metadata.get("annotations").and_then(|a| a.get(ANNOTATION)) else {
            continue;
        };
        parse_entries(value, source, &mut |rule, reason, span| {
            out.push(Suppression {
                rule,
                reason,
                file: object.file,
                span,
                object: object_ref.clone(),
                scope: object.root.span.clone(),
            });
        });
    }
    out
}

fn parse_entries(
    value: &Node,
    source: &str,
    emit: &mut impl FnMut(String, Option<String>, Range<usize>),
) {
    let Some(text) = value.as_str() else { return };
    let raw = source.get(value.span.clone()).unwrap_or_default();
    let mut search_from = 0;
    for entry in split_entries(text) {
        let trimmed = entry.trim();
        if trimmed.is_empty() {
            continue;
        }
        // Point at the entry itself when it appears verbatim in the source
        // (a plain or simply quoted value), else at the whole value.
        let span = match raw[search_from.min(raw.len())..].find(trimmed) {
            Some(i) => {
                let start = value.span.start + search_from + i;
                search_from += i + trimmed.len();
                start..start + trimmed.len()
            }
            None => value.span.clone(),
        };
        let (rule, reason) = match trimmed.split_once('=') {
            Some((rule, reason)) => (rule.trim(), Some(reason.trim())),
            None => (trimmed, None),
        };
        let reason = reason.filter(|r| !r.is_empty()).map(str::to_owned);
        // Rule names are accepted as well as ids; store the id.
        let rule = rules::find(rule).map_or_else(|| rule.to_ascii_uppercase(), |r| r.id.to_owned());
        emit(rule, reason, span);
    }
}

/// Splits `INJ206=reason,INJ302=reason` into entries. A comma starts a new
/// entry only when a rule id (`INJ…`) or a rule name follows it, so reasons
/// may contain commas.
fn split_entries(text: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices(',') {
        let next = text[i + 1..].trim_start();
        let token_end = next.find(['=', ',']).unwrap_or(next.len());
        let token = next[..token_end].trim();
        let is_id = token.len() > 3
            && token.is_char_boundary(3)
            && token[..3].eq_ignore_ascii_case("INJ")
            && token[3..].bytes().all(|b| b.is_ascii_digit());
        let is_rule = is_id || rules::find(token).is_some();
        if is_rule {
            entries.push(&text[start..i]);
            start = i + 1;
        }
    }
    entries.push(&text[start..]);
    entries
}

/// Applies suppressions to `diagnostics` (removing what they silence) and
/// returns the INJ008/INJ009 findings about the suppressions themselves.
pub fn apply(suppressions: &[Suppression], diagnostics: &mut Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut used = vec![false; suppressions.len()];
    diagnostics.retain(|d| {
        let Some(at) = &d.at else { return true };
        let mut keep = true;
        for (i, s) in suppressions.iter().enumerate() {
            if s.reason.is_some()
                && s.rule == d.rule.id
                && s.file == at.file
                && s.scope.contains(&at.span.start)
            {
                used[i] = true;
                keep = false;
            }
        }
        keep
    });
    suppressions
        .iter()
        .zip(used)
        .filter_map(|(s, used)| {
            let at = FileSpan {
                file: s.file,
                span: s.span.clone(),
            };
            match (&s.reason, used) {
                (None, _) => Some(suppression_without_reason::report(&s.rule, &at, &s.object)),
                (Some(_), false) => Some(unused_suppression::report(&s.rule, &at, &s.object)),
                (Some(_), true) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Limits, parse_stream};

    #[test]
    fn reasons_may_hold_commas() {
        assert_eq!(
            split_entries("INJ004=kept, see JIRA-1, until May,inj302, duplicate-key=generated"),
            [
                "INJ004=kept, see JIRA-1, until May",
                "inj302",
                " duplicate-key=generated"
            ]
        );
        assert_eq!(split_entries("INJ004=a,,b"), ["INJ004=a,,b"]);
    }

    #[test]
    fn entries_point_at_themselves() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    lint.kubectl-inject.dev/ignore: \"INJ004=known, inj302\"\n";
        let (_, root) = parse_stream(text, &Limits::default()).documents.remove(0);
        let object = Object::from_root(FileId(0), 0, root).unwrap();
        let found = collect(&object, text, "default");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].rule, "INJ004");
        assert_eq!(found[0].reason.as_deref(), Some("known"));
        assert_eq!(&text[found[0].span.clone()], "INJ004=known");
        assert_eq!(found[1].rule, "INJ302");
        assert_eq!(found[1].reason, None);
        assert_eq!(&text[found[1].span.clone()], "inj302");
    }
}
