//! `/metrics`: Prometheus text, with prometheus-client (the Prometheus
//! project's own Rust client).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    injector: &'static str,
    outcome: &'static str,
    allowed: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    what: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
    cache_hits: Counter,
    cache_misses: Counter,
    reloads: Family<ReloadLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    generation: Gauge,
    policies: Gauge,
    templates: Gauge,
    connections: Gauge,
}

/// Admission latency buckets: 100 µs to about 3 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kubectl_inject");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "admission_decisions",
            "Admission decisions by injector, outcome (inject, skip, deny, conflict, ignored, invalid, valid, refused, error) and whether the request was allowed",
            decisions.clone(),
        );
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "admission_duration_seconds",
            "Time from the request's arrival to its answer, by endpoint",
            latency.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "template_cache_hits",
            "Pods answered from the cache of rendered templates (replicas of one pod shape)",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "template_cache_misses",
            "Pods whose template was rendered for them",
            cache_misses.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Reloads of the policy set and of the TLS certificate, by result (success, refused)",
            reloads.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "errors",
            "Errors by kind (malformed, too_large, deadline, panic, no_policy_set, tls_handshake, header_timeout, connection_cap, watch)",
            errors.clone(),
        );
        let generation = Gauge::default();
        registry.register(
            "policy_set_generation",
            "Generation of the policy set in service (0: none yet)",
            generation.clone(),
        );
        let policies = Gauge::default();
        registry.register(
            "policies",
            "Policies in the set in service",
            policies.clone(),
        );
        let templates = Gauge::default();
        registry.register(
            "templates",
            "Template versions in the set in service",
            templates.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "open_connections",
            "Connections open now, TLS handshakes included (at most --max-connections)",
            connections.clone(),
        );
        Metrics {
            registry,
            decisions,
            latency,
            cache_hits,
            cache_misses,
            reloads,
            errors,
            generation,
            policies,
            templates,
            connections,
        }
    }

    pub fn decision(&self, outcome: &'static str, allowed: bool) {
        self.decisions
            .get_or_create(&DecisionLabels {
                injector: crate::engine::OWN_INJECTOR,
                outcome,
                allowed: if allowed { "true" } else { "false" },
            })
            .inc();
    }

    pub fn latency(&self, endpoint: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    pub fn cache(&self, hit: bool) {
        if hit {
            self.cache_hits.inc();
        } else {
            self.cache_misses.inc();
        }
    }

    pub fn reload(&self, what: &'static str, success: bool) {
        let result = if success { "success" } else { "refused" };
        self.reloads
            .get_or_create(&ReloadLabels { what, result })
            .inc();
    }

    pub fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&ErrorLabels { kind }).inc();
    }

    pub fn set_in_service(&self, generation: u64, policies: usize, templates: usize) {
        self.generation.set(generation as i64);
        self.policies.set(policies as i64);
        self.templates.set(templates as i64);
    }

    pub fn connections(&self, open: usize) {
        self.connections.set(open as i64);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
