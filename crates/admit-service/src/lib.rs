//! admit's use cases, between the wire (api, webhook) and storage: validation, id and etag
//! handling, key generation and signing, attestation validation with the engine.
//!
//! Owns: what a request means. Must not depend on: axum/HTTP types, sqlx, or the binary.
//! Library crates never read the environment; time comes from the injected clock.

mod access;
mod admission;
mod admission_state;
mod attestors;
mod audit_disk;
mod audit_log;
mod cloud_run;
mod cosign_evidence;
mod custom_roles;
mod describe_image;
mod error;
mod grafeas_body;
mod iam;
mod key_trust;
mod kms;
mod kms_lifecycle;
mod kritis;
mod logging;
mod metered_store;
pub mod metrics;
mod notes;
mod occurrences;
mod platform_attest;
mod platform_eval;
mod platform_policies;
mod platform_sigstore;
mod platform_slsa;
mod policy;
mod raced;
mod roles;
mod service_accounts;
mod service_usage;
mod simulate;
pub mod v1beta1;
mod validate_attestation;
mod verify;

use std::sync::Arc;

use admit_crypto::SoftwareKeyBackend;
use admit_store::Store;

pub use access::{
    AccessConfig, Caller, OidcIssuer, SharedJwks, ancestry, check_member, project_number,
    project_of, service_agent,
};
pub use admission::AdmissionRequest;
pub use admit_store::AuditEntry;
pub use audit_log::AuditTicket;
pub use custom_roles::testable_permissions;
pub use error::{Code, ServiceError};
pub use grafeas_body::snake_to_camel;
pub use kms::{SignRequest, SignResponse};
pub use kritis::KritisViolations;
pub use logging::log_entry;
pub use occurrences::{MAX_BATCH, MAX_OCCURRENCES_PER_IMAGE};
pub use roles::{PERMISSIONS, grants, known_roles};
pub use simulate::RunningPods;
pub use validate_attestation::validate_attestation;

/// Seconds and nanoseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> (u64, u32) + Send + Sync>;

/// The service: one per process, shared by every handler.
pub struct Service {
    store: Arc<dyn Store>,
    keys: Arc<SoftwareKeyBackend>,
    clock: Clock,
    admission: Arc<admission_state::AdmissionState>,
    audit: Arc<audit_log::AuditQueue>,
    access: Option<Arc<AccessConfig>>,
    metrics: Arc<metrics::Metrics>,
    writes: tokio::sync::watch::Receiver<u64>,
    cluster: simulate::ClusterView,
    /// Registry access for checks that read image metadata (`imageFreshnessCheck`).
    registry: Option<Arc<admit_registry::Registry>>,
    /// The audit trail on disk, when the server keeps one.
    disk_log: Option<Arc<audit_disk::DiskLog>>,
    /// What keyless cosign signatures are verified against.
    sigstore_root: Option<Arc<admit_crypto::sigstore::TrustRoot>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(store: Arc<dyn Store>, keys: SoftwareKeyBackend, clock: Clock) -> Self {
        let metrics = Arc::new(metrics::Metrics::new());
        let admission = Arc::new(admission_state::AdmissionState::new(true));
        let metered = metered_store::MeteredStore::new(store, metrics.clone(), admission.clone());
        let writes = metered.writes();
        let store: Arc<dyn Store> = Arc::new(metered);
        Service {
            metrics,
            writes,
            cluster: simulate::ClusterView::default(),
            registry: None,
            sigstore_root: None,
            disk_log: None,
            store,
            keys: Arc::new(keys),
            clock,
            admission,
            audit: Arc::default(),
            access: None,
        }
    }

    /// The cluster this server serves (`location.name`), its Istio trust domain and where its
    /// running pods are read, for the policy simulator.
    pub fn with_cluster(
        mut self,
        name: Option<String>,
        trust_domain: String,
        pods: Option<Arc<dyn RunningPods>>,
    ) -> Self {
        self.cluster = simulate::ClusterView {
            name,
            trust_domain,
            pods,
        };
        self
    }

    /// Lets checks that read image metadata (`imageFreshnessCheck`) reach registries.
    pub fn with_registry(mut self, registry: Arc<admit_registry::Registry>) -> Self {
        let metrics = self.metrics.clone();
        registry.observe_with(Arc::new(move |operation, ok, took| {
            metrics.registry_call(operation, ok, took);
        }));
        self.registry = Some(registry);
        self
    }

    /// The Sigstore trust root keyless cosign signatures are verified against.
    pub fn with_sigstore_root(mut self, root: Arc<admit_crypto::sigstore::TrustRoot>) -> Self {
        self.sigstore_root = Some(root);
        self
    }

    /// Turns the admission caches off (every review verifies: the "cold" benchmark).
    pub fn without_admission_cache(self) -> Self {
        self.admission.disable();
        self
    }

    /// Starts following the store's change feed, so that what admission keeps in memory is
    /// used without asking the database while the feed is live (and checked against it while
    /// it is not). Runs until the runtime stops.
    pub fn follow_changes(&self) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let store = self.store.clone();
        tokio::spawn(async move { store.follow_changes(tx).await });
        let state = self.admission.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                match event {
                    admit_store::FeedEvent::Live => {
                        state.feed_live();
                        metrics.change_feed("live", true);
                        tracing::info!("change feed live: admission state is kept in memory");
                    }
                    admit_store::FeedEvent::Down(why) => {
                        state.feed_down();
                        metrics.change_feed("down", false);
                        tracing::warn!(reason = %why, "change feed down: every admission reads the database until it is back");
                    }
                    admit_store::FeedEvent::Changes(changes) => {
                        state.apply(&changes);
                        metrics.change_feed("changes", state.is_live());
                    }
                }
            }
        });
    }

    /// Changes whenever a resource (policy, attestor, note, occurrence, key, IAM policy, …) is
    /// written through this service: what continuous validation waits on.
    pub fn resource_writes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writes.clone()
    }

    /// The metrics this service records (and the webhook adds to).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn now(&self) -> String {
        let (s, n) = (self.clock)();
        admit_model::rfc3339(s, n)
    }

    /// Whether storage answers.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        self.store.ping().await.map_err(Into::into)
    }
}

/// Validates a resource id segment (attestor, note, key ring, key).
pub(crate) fn check_id(field: &str, id: &str) -> Result<(), ServiceError> {
    let ok = !id.is_empty()
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!(
            "{field} `{id}` must be 1-63 letters, digits, `-` or `_`"
        )))
    }
}

/// Validates a project id from a URL.
pub(crate) fn check_project(project: &str) -> Result<(), ServiceError> {
    admit_model::ProjectId::parse(project)
        .map(|_| ())
        .map_err(|e| ServiceError::invalid(e.to_string()))
}
