//! The rule catalogue.
//!
//! One module per rule, with its `explain` page (Markdown, fixed headings:
//! what it finds, why it matters at admission, an example that fires, how to
//! fix) in a file of the same name beside it. [`RULES`] is the one registry;
//! ids are stable and never reused.

pub use crate::diagnostic::{DOCS_BASE, Rule};

use crate::diagnostic::Diagnostic;
use crate::engine::Drift;
use crate::injectors::own::catalog::Catalog;
use crate::model::{Object, ObjectRef};

pub mod build_failed;
pub mod chart_not_rendered;
pub mod competing_interceptors;
pub mod conflicting_injection_controls;
pub mod contradictory_namespace_labels;
pub mod deprecated_injector_key;
pub mod double_injection;
pub mod drift;
pub mod duplicate_key;
pub mod duplicate_object;
pub mod init_container_after_proxy_init;
pub mod injected_container_without_readiness;
pub mod injected_container_without_resources;
pub mod injected_image_unpinned;
pub mod injected_name_collision;
pub mod injected_pod;
pub mod injected_pod_too_large;
pub mod injected_port_collision;
mod injection_controls;
pub mod injection_off_with_overrides;
pub mod injection_requested_where_skipped;
pub mod invalid_label_or_annotation;
pub mod invalid_yaml;
pub mod labels_and_annotations;
pub mod misplaced_pod_key;
pub mod missing_deployable_path;
pub mod missing_sidecar;
pub mod namespaced_policy_reach;
pub mod native_sidecar_on_old_kubernetes;
pub mod not_run;
pub mod outdated_injection;
pub mod parameter_value_rejected;
pub mod patch_matches_nothing;
pub mod pod_annotations_too_large;
pub mod pod_override_not_allowed;
pub mod pod_security_violation;
pub mod policy_conflict;
pub mod quota_cannot_hold_sidecars;
pub mod reading;
pub mod rejected_injector_value;
pub mod schema_violation;
pub mod sidecar_already_present;
pub mod sidecar_blocks_completion;
pub mod simulation;
pub mod suppression_without_reason;
pub mod template_inheritance_cycle;
pub mod template_inheritance_too_deep;
pub mod uncovered_namespace;
pub mod unexpected_sidecar;
pub mod unknown_injector_key;
pub mod unknown_interpolation;
pub mod unknown_kind;
pub mod unknown_namespace;
pub mod unknown_template;
pub mod unreachable_opt_in;
pub mod unreadable_input;
pub mod unused_suppression;
pub mod webhook_misconfigured;

/// Every rule this build implements, by id.
pub static RULES: &[&Rule] = &[
    &invalid_yaml::RULE,
    &schema_violation::RULE,
    &unknown_kind::RULE,
    &duplicate_object::RULE,
    &duplicate_key::RULE,
    &unreadable_input::RULE,
    &suppression_without_reason::RULE,
    &unused_suppression::RULE,
    &build_failed::RULE,
    &chart_not_rendered::RULE,
    &not_run::RULE,
    &missing_deployable_path::RULE,
    &patch_matches_nothing::RULE,
    &unknown_template::RULE,
    &template_inheritance_cycle::RULE,
    &policy_conflict::RULE,
    &parameter_value_rejected::RULE,
    &unknown_namespace::RULE,
    &uncovered_namespace::RULE,
    &namespaced_policy_reach::RULE,
    &unknown_interpolation::RULE,
    &template_inheritance_too_deep::RULE,
    &invalid_label_or_annotation::RULE,
    &unknown_injector_key::RULE,
    &rejected_injector_value::RULE,
    &injection_off_with_overrides::RULE,
    &conflicting_injection_controls::RULE,
    &competing_interceptors::RULE,
    &misplaced_pod_key::RULE,
    &deprecated_injector_key::RULE,
    &contradictory_namespace_labels::RULE,
    &pod_override_not_allowed::RULE,
    &unreachable_opt_in::RULE,
    &injection_requested_where_skipped::RULE,
    &pod_security_violation::RULE,
    &injected_container_without_resources::RULE,
    &injected_port_collision::RULE,
    &injected_name_collision::RULE,
    &sidecar_already_present::RULE,
    &injected_image_unpinned::RULE,
    &injected_container_without_readiness::RULE,
    &quota_cannot_hold_sidecars::RULE,
    &init_container_after_proxy_init::RULE,
    &pod_annotations_too_large::RULE,
    &native_sidecar_on_old_kubernetes::RULE,
    &injected_pod_too_large::RULE,
    &sidecar_blocks_completion::RULE,
    &missing_sidecar::RULE,
    &outdated_injection::RULE,
    &unexpected_sidecar::RULE,
    &webhook_misconfigured::RULE,
    &double_injection::RULE,
];

/// A rule about the templates: the catalogue, every object, the default
/// namespace.
pub type TemplateRule = fn(&Catalog, &[Object], &str) -> Vec<Diagnostic>;

/// The rules about the templates, run once per run on the catalogue (the
/// objects and the default namespace say where each finding is).
pub static TEMPLATE_RULES: &[TemplateRule] = &[
    unknown_template::check_extends,
    template_inheritance_cycle::check,
    template_inheritance_too_deep::check,
    parameter_value_rejected::check_defaults,
    unknown_interpolation::check,
];

/// The rules that check each injected pod (one per injector that mutates
/// it), in the order they run.
pub static INJECTED_POD_RULES: &[fn(&injected_pod::CheckInput<'_>) -> Vec<Diagnostic>] = &[
    pod_security_violation::check,
    injected_name_collision::check,
    sidecar_already_present::check,
    injected_port_collision::check,
    injected_image_unpinned::check,
    native_sidecar_on_old_kubernetes::check,
    pod_annotations_too_large::check,
    quota_cannot_hold_sidecars::check,
    injected_container_without_resources::check,
    injected_container_without_readiness::check,
    sidecar_blocks_completion::check,
];

/// A live drift rule: its finding for a drift of its kind, `None` for the
/// others.
pub type DriftRule = fn(&[Object], &Drift) -> Option<Diagnostic>;

/// The live drift rules, run by [`drift::diagnostics`].
pub static DRIFT_RULES: &[DriftRule] = &[
    missing_sidecar::check,
    outdated_injection::check,
    unexpected_sidecar::check,
];

/// Ids the contract reserves for rules that later versions implement. A
/// configuration may already set them; they never fire in this build.
/// (INJ401–INJ403, the live drift rules, were the last ones reserved.)
pub const RESERVED: &[&str] = &[];

/// The registry as the configuration sees it (rule ids and names).
pub struct Registry;

impl crate::config::RuleNames for Registry {
    fn id_of(&self, id_or_name: &str) -> Option<&'static str> {
        match find(id_or_name) {
            Some(rule) => Some(rule.id),
            None => RESERVED
                .iter()
                .copied()
                .find(|id| id.eq_ignore_ascii_case(id_or_name)),
        }
    }

    fn suggest(&self, written: &str) -> Option<&'static str> {
        suggest(written)
    }
}

/// Looks a rule up by id (`INJ002`, case-insensitive) or name (`schema-violation`).
pub fn find(id_or_name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(id_or_name) || r.name == id_or_name)
}

/// The closest known id or name to a misspelt one, for did-you-mean help.
pub fn suggest(input: &str) -> Option<&'static str> {
    let names = RULES.iter().flat_map(|r| [r.id, r.name]);
    crate::words::did_you_mean(input, names.chain(RESERVED.iter().copied()))
}

/// `diagnostic` about `object_ref`, at the field `pointer` of `object`
/// (its key, or its value when it has no key; the object's name when the
/// pointer does not resolve), with the pointer as its field path.
fn at_pointer(
    diagnostic: Diagnostic,
    object: &Object,
    object_ref: ObjectRef,
    pointer: &str,
) -> Diagnostic {
    let span = object
        .root
        .lookup_pointer(pointer)
        .map(|(node, key)| key.unwrap_or_else(|| node.span.clone()))
        .unwrap_or_else(|| object.name_span());
    diagnostic
        .at(object.file, span)
        .object(Some(object_ref))
        .path(pointer.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_documented() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for rule in RULES {
            assert!(
                rule.id.starts_with("INJ") && rule.id.len() == 6,
                "{}",
                rule.id
            );
            assert!(!RESERVED.contains(&rule.id), "{} is implemented", rule.id);
            for heading in [
                "## What it finds",
                "## Why it matters",
                "## Example",
                "## How to fix",
            ] {
                assert!(
                    rule.explain.contains(heading),
                    "{} lacks {heading}",
                    rule.id
                );
            }
            assert!(
                rule.explain
                    .starts_with(&format!("# {}: {}", rule.id, rule.name)),
                "{}",
                rule.id
            );
        }
    }

    #[test]
    fn the_catalogue_is_in_id_order() {
        assert!(RULES.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn lookup_by_id_or_name() {
        assert_eq!(find("inj001").map(|r| r.name), Some("invalid-yaml"));
        assert_eq!(find("duplicate-object").map(|r| r.id), Some("INJ004"));
        assert_eq!(suggest("INJ01"), Some("INJ001"));
    }
}
