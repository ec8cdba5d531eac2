//! Kubernetes label selectors, with the API server's semantics.
//!
//! `matchLabels` and every `matchExpressions` requirement are ANDed; an
//! empty selector matches everything; `NotIn` and `DoesNotExist` match when
//! the key is absent (`apimachinery/pkg/labels/selector.go`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Labels of an object (a namespace, a pod).
pub type Labels = BTreeMap<String, String>;

/// A `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Reads a selector from JSON; `None` when it is malformed (the schema
    /// check reports that).
    pub fn from_json(value: &serde_json::Value) -> Option<LabelSelector> {
        serde_json::from_value(value.clone()).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl std::fmt::Display for LabelSelector {
    /// The `kubectl get -l` spelling: `app=web,tier in (a,b),!legacy`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .match_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for r in &self.match_expressions {
            parts.push(match r.operator {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        if parts.is_empty() {
            f.write_str("(everything)")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selector(json: serde_json::Value) -> LabelSelector {
        LabelSelector::from_json(&json).unwrap()
    }

    #[test]
    fn empty_matches_everything() {
        assert!(LabelSelector::default().matches(&labels(&[])));
    }

    #[test]
    fn operators_follow_the_api_server() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let s = |json| selector(json).matches(&l);
        assert!(s(serde_json::json!({"matchLabels": {"app": "web"}})));
        assert!(!s(
            serde_json::json!({"matchLabels": {"app": "web", "x": "y"}})
        ));
        assert!(s(
            serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]})
        ));
        assert!(!s(
            serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})
        ));
        // NotIn and DoesNotExist match an absent key.
        assert!(s(
            serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})
        ));
        assert!(s(
            serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]})
        ));
        assert!(!s(
            serde_json::json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]})
        ));
        assert!(s(
            serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]})
        ));
        // Everything is ANDed.
        assert!(!s(
            serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]})
        ));
    }

    #[test]
    fn displays_like_kubectl() {
        let s = selector(
            serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "legacy", "operator": "DoesNotExist"}]}),
        );
        assert_eq!(s.to_string(), "app=web,tier in (a,b),!legacy");
    }
}
