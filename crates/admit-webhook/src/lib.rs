//! The Kubernetes admission webhook: parses AdmissionReview (`admission.k8s.io/v1` and
//! `v1beta1`), finds every container image of the workload, asks the service for a decision,
//! applies breakglass and dry-run, audits the outcome, and answers before the API server's
//! deadline. Anything that goes wrong is a denial.
//!
//! Must not depend on: storage backends, TLS or the binary (which serves this router over TLS).

mod audit;
mod handler;
mod review;
mod workload;

use std::sync::Arc;

use admit_service::Service;
use axum::Router;
use axum::routing::{get, post};

/// The annotation that admits a non-conformant workload (audited).
pub const BREAKGLASS_ANNOTATION: &str = "alpha.image-policy.k8s.io/break-glass";

/// How this webhook instance is deployed.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The project whose policy is enforced.
    pub project: String,
    /// `location.name` of this cluster (selects `clusterAdmissionRules`).
    pub cluster: Option<String>,
    /// When set, breakglass also needs this annotation with a non-empty justification.
    pub breakglass_justification_annotation: Option<String>,
    /// The SPIFFE trust domain for Istio identities (`cluster.local` by default).
    pub istio_trust_domain: String,
    /// Kritis' namespace policies, when configured: they must allow as well.
    pub kritis: Option<Arc<admit_policy::KritisPolicies>>,
}

#[derive(Debug, Clone)]
struct State {
    service: Arc<Service>,
    config: Arc<WebhookConfig>,
}

/// `POST /validate`, `/healthz`, `/readyz`.
pub fn router(service: Arc<Service>, config: WebhookConfig) -> Router {
    let state = State {
        service,
        config: Arc::new(config),
    };
    Router::new()
        .route("/validate", post(handler::validate))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(handler::ready))
        .with_state(state)
}
