//! INJ002: a `kubectl-inject.dev` document that fails its JSON Schema.
//!
//! The document is validated as the API server sees it (its JSON form)
//! against the embedded schema of its kind ([`crate::schema`]). Each
//! violation becomes one finding at the node at fault, found through the
//! error's instance path: an unknown field at its key, a missing field at the
//! key of the object that lacks it, a wrong value at the value. The schema
//! location of the error (its absolute keyword location) gives the allowed
//! field names for a did-you-mean, the type or values expected, and the
//! field's description for the help.

use std::fmt::Write as _;
use std::ops::Range;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::{GROUP_VERSIONS, OWN_KINDS, Object};
use crate::schema::location::{SchemaAt, show_json};
use crate::words::{article, capitalise, did_you_mean, first_sentence, list, plural};
use crate::yaml::{Node, Value};

pub const RULE: super::Rule = super::Rule {
    id: "INJ002",
    name: "schema-violation",
    severity: Severity::Error,
    summary: "a kubectl-inject.dev document that fails its JSON Schema",
    explain: include_str!("schema_violation.md"),
};

/// One finding per schema violation, at the field at fault.
pub fn check(object: &Object, default_namespace: &str) -> Vec<Diagnostic> {
    if !object.is_own()
        || !GROUP_VERSIONS.contains(&object.version())
        || !OWN_KINDS.contains(&object.kind.as_str())
    {
        return Vec::new();
    }
    let Some(validator) = crate::schema::validator(&object.kind) else {
        return Vec::new();
    };
    let instance = object.root.to_json();
    let context = Context { object };
    let mut findings = Vec::new();
    for error in validator.iter_errors(&instance) {
        context.collect(&error, &mut findings);
    }
    // `anyOf`/`oneOf` branches and overlapping keywords may say the same
    // thing twice; keep the first of each (place, message).
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.span.clone(), f.message.clone())));
    findings.sort_by_key(|f| f.span.start);
    let object_ref = object.object_ref(default_namespace);
    findings
        .into_iter()
        .map(|f| {
            Diagnostic::new(&RULE, f.message)
                .at(object.file, f.span)
                .label(f.label)
                .help(f.help)
                .object(Some(object_ref.clone()))
                .path(f.path)
        })
        .collect()
}

/// A violation, placed and worded.
struct Finding {
    span: Range<usize>,
    path: String,
    message: String,
    label: String,
    help: String,
}

struct Context<'o> {
    object: &'o Object,
}

impl Context<'_> {
    /// What happens to the object when it is applied as it is.
    fn consequence(&self) -> String {
        if self.object.kind == "InjectionTest" {
            "`kubectl inject test` cannot run the test".to_owned()
        } else {
            format!("the API server rejects the {}", self.object.kind)
        }
    }

    fn collect(&self, error: &ValidationError<'_>, out: &mut Vec<Finding>) {
        let pointer = error.instance_path().as_str();
        let Some((node, key_span)) = self.object.root.lookup_pointer(pointer) else {
            // The path always exists in the document it was computed from;
            // should it not, point at the object rather than lose the finding.
            out.push(Self::finding_at(
                self.object.kind_span(),
                pointer,
                error.to_string(),
                "invalid",
                String::new(),
            ));
            return;
        };
        let schema = SchemaAt::of(error);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for key in unexpected {
                    out.push(self.unknown_field(node, pointer, key, schema.as_ref()));
                }
            }
            ValidationErrorKind::Required { property } => {
                let field = property.as_str().unwrap_or_default();
                out.push(self.missing_field(node, key_span, pointer, field, schema.as_ref()));
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                // Report the branch that got furthest into the document (its
                // errors are the most specific), not one error per branch.
                let best = context
                    .iter()
                    .filter(|branch| !branch.is_empty())
                    .max_by_key(|branch| {
                        let depth = branch
                            .iter()
                            .map(|e| e.instance_path().as_str().matches('/').count())
                            .max();
                        (depth.unwrap_or(0), std::cmp::Reverse(branch.len()))
                    });
                match best {
                    Some(branch) => branch.iter().for_each(|e| self.collect(e, out)),
                    None => {
                        out.push(self.bad_value(node, key_span, pointer, error, schema.as_ref()));
                    }
                }
            }
            _ => out.push(self.bad_value(node, key_span, pointer, error, schema.as_ref())),
        }
    }

    fn finding_at(
        span: Range<usize>,
        pointer: &str,
        message: String,
        label: &str,
        help: String,
    ) -> Finding {
        Finding {
            span,
            path: pointer.to_owned(),
            message,
            label: label.to_owned(),
            help,
        }
    }

    /// `additionalProperties`: one finding per key, at the key.
    fn unknown_field(
        &self,
        node: &Node,
        pointer: &str,
        key: &str,
        schema: Option<&SchemaAt>,
    ) -> Finding {
        let span = node
            .entry(key)
            .map_or_else(|| node.span.clone(), |e| e.key_span.clone());
        let allowed = schema.map(SchemaAt::property_names).unwrap_or_default();
        let container = self.describe_object(pointer, schema);
        let suggestion = did_you_mean(key, allowed.iter().map(String::as_str));
        let message = match suggestion {
            Some(name) => format!(
                "unknown field `{key}` in {container}: did you mean `{name}`? {}",
                capitalise(&self.consequence())
            ),
            None => format!(
                "unknown field `{key}` in {container}: {}",
                self.consequence()
            ),
        };
        let help = match suggestion {
            Some(name) => format!("rename `{key}` to `{name}`"),
            None if allowed.is_empty() => format!("remove `{key}`"),
            None => format!(
                "remove `{key}`; the fields of {container} are {}",
                list(&allowed, 30)
            ),
        };
        Self::finding_at(
            span,
            &join_pointer(pointer, key),
            message,
            "unknown field",
            help,
        )
    }

    /// `required`: at the key of the object that lacks the field.
    fn missing_field(
        &self,
        node: &Node,
        key_span: Option<Range<usize>>,
        pointer: &str,
        field: &str,
        schema: Option<&SchemaAt>,
    ) -> Finding {
        let span = if pointer.is_empty() {
            self.object.kind_span()
        } else {
            key_span.unwrap_or_else(|| first_key_span(node))
        };
        let container = self.describe_object(pointer, schema);
        let condition = schema
            .and_then(SchemaAt::condition)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let message = format!(
            "missing required field `{field}` in {container}{condition}: {}",
            self.consequence()
        );
        let help = match schema.and_then(|s| s.property_description(field)) {
            Some(description) => format!("add `{field}`: {}", first_sentence(&description)),
            None => format!("add `{field}`"),
        };
        Self::finding_at(
            span,
            &join_pointer(pointer, field),
            message,
            &format!("`{field}` missing"),
            help,
        )
    }

    /// A value of the wrong type, outside an enum or pattern, out of range, …:
    /// at the value (at the key when the value is a collection, which spans lines).
    fn bad_value(
        &self,
        node: &Node,
        key_span: Option<Range<usize>>,
        pointer: &str,
        error: &ValidationError<'_>,
        schema: Option<&SchemaAt>,
    ) -> Finding {
        // A collection spans lines and an empty value (`spec:`) has no text:
        // point at their key instead.
        let at_key = match node.value {
            Value::Map(_) | Value::Seq(_) => true,
            Value::Null => node.span.is_empty(),
            _ => false,
        };
        let span = match (at_key, key_span) {
            (true, Some(key)) => key,
            (true, None) if pointer.is_empty() => self.object.kind_span(),
            (true, None) => first_key_span(node),
            _ => node.span.clone(),
        };
        let field = self.describe_field(pointer);
        let shown = show_value(node);
        let consequence = self.consequence();
        let description = schema
            .and_then(SchemaAt::description)
            .map(|d| first_sentence(&d));
        let (message, label, help) = match error.kind() {
            ValidationErrorKind::Type { .. } => {
                let expected = schema
                    .and_then(SchemaAt::keyword)
                    .map_or_else(|| "of another type".to_owned(), type_names);
                let help = match (expected.as_str(), &node.value) {
                    (
                        "a string",
                        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null,
                    ) => {
                        format!(
                            "quote the value: `\"{shown}\"` (YAML reads it as {})",
                            describe_yaml(node)
                        )
                    }
                    ("a boolean (true or false)", Value::String(_)) => {
                        "write `true` or `false`, without quotes".to_owned()
                    }
                    ("an integer" | "a number", Value::String(s))
                        if s.trim().parse::<f64>().is_ok() =>
                    {
                        format!("remove the quotes: `{}`", s.trim())
                    }
                    _ => format!("make {field} {expected}"),
                };
                (
                    format!(
                        "{field} must be {expected}, not {}: {consequence}",
                        describe_yaml(node)
                    ),
                    format!("expected {expected}"),
                    help,
                )
            }
            ValidationErrorKind::Enum { options } => {
                let values: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(show_json).collect())
                    .unwrap_or_default();
                let suggestion = node.as_str().and_then(|s| {
                    did_you_mean(
                        s,
                        options
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Json::as_str),
                    )
                });
                let help = match suggestion {
                    Some(value) => format!("did you mean `{value}`?"),
                    None => format!("use one of {}", list(&values, 20)),
                };
                (
                    format!(
                        "`{shown}` is not a valid value for {field}; expected one of {}: {consequence}",
                        list(&values, 20)
                    ),
                    "not an allowed value".to_owned(),
                    help,
                )
            }
            ValidationErrorKind::Constant { expected_value } => (
                format!(
                    "{field} must be `{}`, not `{shown}`: {consequence}",
                    show_json(expected_value)
                ),
                format!("expected `{}`", show_json(expected_value)),
                format!("set {field} to `{}`", show_json(expected_value)),
            ),
            ValidationErrorKind::Pattern { pattern } => (
                format!(
                    "`{shown}` is not a valid {field}: it must match `{pattern}`; {consequence}"
                ),
                "does not match the pattern".to_owned(),
                match &description {
                    Some(d) => format!("change the value to match the pattern. {d}"),
                    None => format!("change the value to match `{pattern}`"),
                },
            ),
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit } => (
                format!("{field} is {shown}, below the minimum {limit}: {consequence}"),
                "too small".to_owned(),
                format!("use a value of at least {limit}"),
            ),
            ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => (
                format!("{field} is {shown}, above the maximum {limit}: {consequence}"),
                "too large".to_owned(),
                format!("use a value of at most {limit}"),
            ),
            ValidationErrorKind::MinItems { limit } => (
                format!(
                    "{field} needs at least {limit} item{}: {consequence}",
                    plural(*limit)
                ),
                "too few items".to_owned(),
                description
                    .clone()
                    .unwrap_or_else(|| format!("add items to {field}")),
            ),
            ValidationErrorKind::MinLength { .. } if node.as_str() == Some("") => (
                format!("{field} must not be empty: {consequence}"),
                "empty".to_owned(),
                description
                    .clone()
                    .unwrap_or_else(|| format!("give {field} a value")),
            ),
            ValidationErrorKind::MaxLength { limit } => (
                format!("{field} is longer than {limit} characters: {consequence}"),
                "too long".to_owned(),
                format!("shorten {field} to at most {limit} characters"),
            ),
            ValidationErrorKind::UniqueItems => (
                format!("{field} lists the same item twice: {consequence}"),
                "duplicate items".to_owned(),
                "remove the duplicate".to_owned(),
            ),
            ValidationErrorKind::FalseSchema => (
                format!("{field} is not allowed here: {consequence}"),
                "not allowed".to_owned(),
                format!("remove {field}"),
            ),
            _ => (
                format!("{field}: {error}; {consequence}"),
                "invalid".to_owned(),
                description
                    .clone()
                    .unwrap_or_else(|| "see `kubectl inject schema` for the field".to_owned()),
            ),
        };
        Self::finding_at(span, pointer, message, &label, help)
    }

    /// "`spec.containers[0].image`", or "the document" at the root.
    fn describe_field(&self, pointer: &str) -> String {
        if pointer.is_empty() {
            format!("the {}", self.object.kind)
        } else {
            format!("`{}`", display_path(&self.object.root, pointer))
        }
    }

    /// Names the object a field belongs to: "a Container (`spec.containers[0]`)",
    /// "`spec.rollout`", "the SidecarTemplate".
    fn describe_object(&self, pointer: &str, schema: Option<&SchemaAt>) -> String {
        let where_ = self.describe_field(pointer);
        match schema.and_then(SchemaAt::k8s_type) {
            Some(name) if !pointer.is_empty() => format!("{} {name} ({where_})", article(&name)),
            _ => where_,
        }
    }
}

/// `spec.containers[0].imagePullPolicy`, following the document so that a
/// numeric key of a mapping is not taken for an index.
fn display_path(root: &Node, pointer: &str) -> String {
    let mut out = String::new();
    let mut node = Some(root);
    for segment in crate::yaml::pointer::segments(pointer) {
        let in_seq = node.is_some_and(|n| matches!(n.value, Value::Seq(_)));
        if in_seq {
            let _ = write!(out, "[{segment}]");
            node = node.and_then(|n| n.as_seq()?.get(segment.parse::<usize>().ok()?));
        } else {
            let simple = !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if simple {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&segment);
            } else {
                let _ = write!(out, "[{segment:?}]");
            }
            node = node.and_then(|n| n.get(&segment));
        }
    }
    out
}

fn join_pointer(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", crate::yaml::pointer::escape(key))
}

/// Where a finding about a mapping without a key of its own (a list item)
/// points: its first key, else the mapping.
fn first_key_span(node: &Node) -> Range<usize> {
    node.as_map()
        .and_then(|entries| entries.first())
        .map_or_else(|| node.span.clone(), |e| e.key_span.clone())
}

/// The value as written, for messages (collections abbreviated).
fn show_value(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => s.clone(),
        Value::Seq(_) => "[…]".to_owned(),
        Value::Map(_) => "{…}".to_owned(),
    }
}

/// What YAML made of the node: "a number", "a mapping", …
fn describe_yaml(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// "a string", "an integer or a string", from a schema's `type`.
fn type_names(types: &Json) -> String {
    let name = |t: &str| match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        "object" => "a mapping",
        "array" => "a list",
        "null" => "null",
        _ => "of another type",
    };
    match types {
        Json::String(t) => name(t).to_owned(),
        Json::Array(ts) => ts
            .iter()
            .filter_map(Json::as_str)
            .map(name)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "of another type".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, SourceFile};

    /// Checks every document of `text`; returns (line, column, message, help) per finding.
    fn run(text: &str) -> Vec<(usize, usize, String, String)> {
        let file = SourceFile::new("test.yaml", text);
        let parsed = crate::yaml::parse_stream(text, &Default::default());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed
            .documents
            .into_iter()
            .filter_map(|(index, root)| Object::from_root(FileId(0), index, root))
            .flat_map(|object| check(&object, "default"))
            .map(|d| {
                assert_eq!(d.rule.id, "INJ002");
                assert!(d.object.is_some() && d.path.is_some());
                let at = file.line_col(d.at.expect("a place").span.start);
                (at.line, at.column, d.message, d.help.unwrap_or_default())
            })
            .collect()
    }

    const TEMPLATE: &str = "\
apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata: {name: envoy-proxy}
spec:
  version: 1.4.0
  containers:
    - name: envoy
      image: envoyproxy/envoy:v1.31.0
      resources:
        limits: {cpu: 1, memory: 128Mi}
";

    #[test]
    fn a_valid_template_gives_nothing() {
        assert_eq!(run(TEMPLATE), vec![]);
    }

    #[test]
    fn bad_enum_value_at_the_value() {
        let text = TEMPLATE.replace(
            "      resources:",
            "      imagePullPolicy: Alwayz\n      resources:",
        );
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let (line, column, message, help) = &findings[0];
        assert_eq!((*line, *column), (9, 24));
        assert!(
            message.contains("`Alwayz`") && message.contains("`Always`, `IfNotPresent`, `Never`"),
            "{message}"
        );
        assert!(
            message.contains("`spec.containers[0].imagePullPolicy`"),
            "{message}"
        );
        assert!(
            message.contains("the API server rejects the SidecarTemplate"),
            "{message}"
        );
        assert_eq!(help, "did you mean `Always`?");
    }

    #[test]
    fn unknown_field_at_its_key_with_did_you_mean() {
        let text = TEMPLATE.replace("      resources:", "      resource:");
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let (line, column, message, help) = &findings[0];
        assert_eq!((*line, *column), (9, 7));
        assert!(
            message.starts_with("unknown field `resource` in a Container (`spec.containers[0]`): did you mean `resources`?"),
            "{message}"
        );
        assert_eq!(help, "rename `resource` to `resources`");
    }

    #[test]
    fn several_unknown_fields_one_finding_each() {
        let text = TEMPLATE.replace(
            "      resources:",
            "      foo: 1\n      bar: 2\n      resources:",
        );
        let findings = run(&text);
        let places: Vec<_> = findings.iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(places, vec![(9, 7), (10, 7)], "{findings:?}");
        assert!(
            findings[0].3.contains("`imagePullPolicy`"),
            "{}",
            findings[0].3
        );
    }

    #[test]
    fn missing_version_at_the_spec_key() {
        let text = TEMPLATE.replace("  version: 1.4.0\n", "");
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let (line, column, message, help) = &findings[0];
        assert_eq!((*line, *column), (4, 1));
        assert!(
            message.starts_with("missing required field `version` in `spec`"),
            "{message}"
        );
        assert!(
            help.starts_with("add `version`: Semantic version"),
            "{help}"
        );
    }

    #[test]
    fn wrong_type_at_the_value() {
        let text = TEMPLATE.replace("version: 1.4.0", "version: 1.4");
        let findings = run(&text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        let (line, column, message, help) = &findings[0];
        assert_eq!((*line, *column), (5, 12));
        assert!(
            message.starts_with("`spec.version` must be a string, not a number"),
            "{message}"
        );
        assert!(help.starts_with("quote the value: `\"1.4\"`"), "{help}");
    }

    #[test]
    fn missing_name_of_a_list_item_and_missing_spec() {
        let text = "\
apiVersion: kubectl-inject.dev/v1alpha1
kind: SidecarTemplate
metadata: {name: envoy-proxy}
spec:
  version: 1.4.0
  containers:
    - image: envoyproxy/envoy:v1.31.0
---
apiVersion: kubectl-inject.dev/v1alpha1
kind: InjectionTest
metadata: {name: t}
";
        let findings = run(text);
        let places: Vec<_> = findings.iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(places, vec![(7, 7), (10, 7)], "{findings:?}");
        assert!(
            findings[0].2.contains("`name` in a Container"),
            "{}",
            findings[0].2
        );
        assert!(
            findings[1].2.contains("`spec` in the InjectionTest"),
            "{}",
            findings[1].2
        );
        assert!(
            findings[1]
                .2
                .contains("`kubectl inject test` cannot run the test"),
            "{}",
            findings[1].2
        );
    }

    #[test]
    fn conditional_requirement_and_range() {
        let text = "\
apiVersion: kubectl-inject.dev/v1alpha1
kind: ClusterInjectionPolicy
metadata: {name: mesh-default}
spec:
  action: inject
  rollout: {template: envoy-proxy@1.5.0, percent: 110}
";
        let findings = run(text);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!((findings[0].0, findings[0].1), (4, 1));
        assert!(
            findings[0]
                .2
                .contains("`template` in `spec` (required when `action` is `inject`)"),
            "{}",
            findings[0].2
        );
        assert_eq!((findings[1].0, findings[1].1), (6, 51));
        assert!(
            findings[1].2.contains("above the maximum 100"),
            "{}",
            findings[1].2
        );
    }

    #[test]
    fn an_empty_spec_points_at_its_key() {
        let text = "apiVersion: kubectl-inject.dev/v1alpha1\nkind: InjectionTest\nmetadata: {name: t}\nspec:\n";
        let findings = run(text);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!((findings[0].0, findings[0].1), (4, 1));
        assert!(
            findings[0]
                .2
                .starts_with("`spec` must be a mapping, not null"),
            "{}",
            findings[0].2
        );
    }

    #[test]
    fn other_groups_and_unknown_kinds_are_not_checked() {
        assert_eq!(
            run("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {bogus: 1}\n"),
            vec![]
        );
        assert_eq!(
            run("apiVersion: kubectl-inject.dev/v1alpha1\nkind: Sidecar\nmetadata: {name: p}\n"),
            vec![]
        );
        assert_eq!(
            run("apiVersion: kubectl-inject.dev/v2\nkind: SidecarTemplate\nmetadata: {name: p}\n"),
            vec![]
        );
    }
}
