//! Prometheus metrics (prometheus-client, OpenMetrics text exposition): admission latency and
//! decisions by verdict, rule scope and namespace; admission cache hits and misses; store call
//! latency by operation; audit batch sizes; continuous validation's violating pods, events and
//! runs; build info.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// `verdict`, `scope` (the rule that decided, or `exempt`, `none`…), `namespace`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub verdict: String,
    pub scope: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    verdict: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabels {
    namespace: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric admit exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    admission_seconds: Family<VerdictLabels, Histogram>,
    cache: Family<CacheLabels, Counter>,
    store_seconds: Family<OperationLabels, Histogram>,
    registry_seconds: Family<OperationLabels, Histogram>,
    audit_batch: Histogram,
    cv_violating: Family<NamespaceLabels, Gauge>,
    cv_events: Family<EventLabels, Counter>,
    cv_run_seconds: Histogram,
    feed_up: Gauge,
    feed_events: Family<EventLabels, Counter>,
    audit_log_bytes: Gauge,
    audit_log_max_bytes: Gauge,
    audit_log_segments: Gauge,
    audit_ingest_lag: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// 100 µs to ~13 s, doubling.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("admit");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "admission_decisions",
            "Admission decisions, by verdict, deciding rule scope and namespace",
            decisions.clone(),
        );
        let admission_seconds =
            Family::<VerdictLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        registry.register(
            "admission_duration_seconds",
            "Time to decide and record one admission review, by verdict",
            admission_seconds.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "admission_cache_lookups",
            "Admission cache lookups (policy, attestor, verification), by result",
            cache.clone(),
        );
        let store_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency as fn() -> Histogram,
        );
        registry.register(
            "store_call_duration_seconds",
            "Storage call latency, by operation and outcome",
            store_seconds.clone(),
        );
        let registry_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(
            latency as fn() -> Histogram,
        );
        registry.register(
            "registry_call_duration_seconds",
            "Container registry call latency (resolve, metadata, signatures; cache hits are not calls), by outcome",
            registry_seconds.clone(),
        );
        let audit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "audit_batch_records",
            "Audit records written per group commit",
            audit_batch.clone(),
        );
        let cv_violating = Family::<NamespaceLabels, Gauge>::default();
        registry.register(
            "continuous_validation_violating_pods",
            "Running pods that violate a policy, by namespace, as of the last continuous validation run",
            cv_violating.clone(),
        );
        let cv_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "continuous_validation_events",
            "Continuous validation events recorded: violation, conformant (again), config_error",
            cv_events.clone(),
        );
        let cv_run_seconds = latency();
        registry.register(
            "continuous_validation_run_duration_seconds",
            "Time to re-evaluate the pods of one continuous validation run",
            cv_run_seconds.clone(),
        );
        let feed_up = Gauge::default();
        registry.register(
            "change_feed_up",
            "1 while the store's change feed follows every commit (a warm review then reads nothing from the database); 0 while every cached entry is checked against the database",
            feed_up.clone(),
        );
        let feed_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "change_feed_events",
            "Change feed events: live (started or resumed; caches cleared), down (stopped following), changes (a batch of commits applied)",
            feed_events.clone(),
        );
        let audit_log_bytes = Gauge::default();
        registry.register(
            "audit_log_bytes",
            "Bytes the on-disk audit log holds (retention drops whole old segments past audit_log_max_bytes)",
            audit_log_bytes.clone(),
        );
        let audit_log_max_bytes = Gauge::default();
        registry.register(
            "audit_log_max_bytes",
            "The on-disk audit log's size bound (--audit-log-max-bytes)",
            audit_log_max_bytes.clone(),
        );
        let audit_log_segments = Gauge::default();
        registry.register(
            "audit_log_segments",
            "Segment files the on-disk audit log holds",
            audit_log_segments.clone(),
        );
        let audit_ingest_lag = Gauge::default();
        registry.register(
            "audit_ingest_lag_records",
            "Audit records durable in the on-disk log but not yet copied into the store",
            audit_ingest_lag.clone(),
        );
        registry.register(
            "build",
            "admit's build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Metrics {
            registry,
            decisions,
            admission_seconds,
            cache,
            store_seconds,
            registry_seconds,
            audit_batch,
            cv_violating,
            cv_events,
            cv_run_seconds,
            feed_up,
            feed_events,
            audit_log_bytes,
            audit_log_max_bytes,
            audit_log_segments,
            audit_ingest_lag,
        }
    }

    /// The violating pods per namespace after a continuous validation run (namespaces no
    /// longer listed are set to 0, so a fixed namespace reads 0, not its last count).
    pub fn continuous_validation_run(
        &self,
        violating: &std::collections::BTreeMap<String, i64>,
        seconds: f64,
    ) {
        for (ns, n) in violating {
            self.cv_violating
                .get_or_create(&NamespaceLabels {
                    namespace: ns.clone(),
                })
                .set(*n);
        }
        self.cv_run_seconds.observe(seconds);
    }

    /// One recorded continuous validation event (`violation`, `conformant`, `config_error`).
    pub fn continuous_validation_event(&self, event: &'static str) {
        self.cv_events.get_or_create(&EventLabels { event }).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// One admission: its labels and how long it took.
    pub fn observe_admission(&self, labels: &DecisionLabels, seconds: f64) {
        self.admission_seconds
            .get_or_create(&VerdictLabels {
                verdict: labels.verdict.clone(),
            })
            .observe(seconds);
        self.decisions.get_or_create(labels).inc();
    }

    pub(crate) fn cache(&self, cache: &'static str, hit: bool) {
        let (hits, misses) = if hit { (1, 0) } else { (0, 1) };
        self.cache_counts(cache, hits, misses);
    }

    /// Several lookups of one cache at once (one label lookup per result, not per lookup).
    pub(crate) fn cache_counts(&self, cache: &'static str, hits: u64, misses: u64) {
        for (result, n) in [("hit", hits), ("miss", misses)] {
            if n > 0 {
                self.cache
                    .get_or_create(&CacheLabels { cache, result })
                    .inc_by(n);
            }
        }
    }

    pub(crate) fn change_feed(&self, event: &'static str, up: bool) {
        self.feed_up.set(i64::from(up));
        self.feed_events.get_or_create(&EventLabels { event }).inc();
    }

    pub(crate) fn audit_log(&self, usage: &admit_auditlog::Usage, lag: u64) {
        let i = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.audit_log_bytes.set(i(usage.bytes));
        self.audit_log_max_bytes.set(i(usage.max_bytes));
        self.audit_log_segments.set(i(usage.segments as u64));
        self.audit_ingest_lag.set(i(lag));
    }

    pub(crate) fn audit_batch(&self, records: usize) {
        self.audit_batch.observe(records as f64);
    }

    pub(crate) fn registry_call(&self, operation: &'static str, ok: bool, took: Duration) {
        self.registry_seconds
            .get_or_create(&OperationLabels {
                operation,
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn store_call(&self, operation: &'static str, ok: bool, started: Instant) {
        self.store_seconds
            .get_or_create(&OperationLabels {
                operation,
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Shared handle.
pub type SharedMetrics = Arc<Metrics>;
