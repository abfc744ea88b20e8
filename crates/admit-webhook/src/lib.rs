//! The Kubernetes admission webhook: parses AdmissionReview (`admission.k8s.io/v1` and
//! `v1beta1`), finds every container image of the workload, asks the service for a decision,
//! applies breakglass and dry-run, audits the outcome, and answers before the API server's
//! deadline. Anything that goes wrong is a denial.
//!
//! Must not depend on: storage backends, TLS or the binary (which serves this router over TLS).

mod answer;
mod audit;
mod breakglass;
mod cloud_run;
pub mod continuous;
mod cv_event;
mod handler;
mod image_review;
mod mutate;
mod review;
mod workload;

use std::sync::Arc;

use admit_service::Service;
use axum::Router;
use axum::routing::{get, post};

/// What the webhook reads from an untrusted request body before any decision: the review and
/// the images of its workload. Exposed for the fuzz targets (`fuzz/`), which must reach the
/// same code the network does; returns the images or the refusal.
#[doc(hidden)]
pub fn inspect_review(body: &[u8]) -> Result<Vec<String>, String> {
    let r = review::parse(body)?;
    let w = workload::extract(&r.group, &r.kind, &r.object)?;
    let _ = review::respond(&r.api_version, &r.uid, false, Some("fuzz"), None, &w.images);
    // What `/mutate` would pin, templates included: every pointer must resolve in the object.
    for t in mutate::targets(&r, true) {
        if r.object
            .pointer(&t.pointer)
            .and_then(serde_json::Value::as_str)
            != Some(t.image.as_str())
        {
            return Err(format!(
                "mutation target {} does not point at {}",
                t.pointer, t.image
            ));
        }
    }
    Ok(w.images)
}

/// The annotation that admits a non-conformant workload (audited).
pub const BREAKGLASS_ANNOTATION: &str = "alpha.image-policy.k8s.io/break-glass";
/// The label GKE also accepts for breakglass (`"true"`).
pub const BREAKGLASS_LABEL: &str = "image-policy.k8s.io/break-glass";

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
    pub kritis: Option<KritisFeed>,
    /// Reviews decided at once; more are answered 503 at once (never queued without bound).
    pub max_in_flight: usize,
    /// The registry client `/mutate` resolves tags with (`None`: `/mutate` changes nothing).
    pub registry: Option<Arc<admit_registry::Registry>>,
    /// Whether `/mutate` also pins controllers' pod templates (Deployments, Jobs, …).
    pub mutate_templates: bool,
}

/// Kritis' policies as the webhook sees them: fixed (from files) or kept current by a watch of
/// the API server. `None` until the first list has completed: every review is then denied.
pub type KritisFeed = tokio::sync::watch::Receiver<Option<Arc<admit_policy::KritisPolicies>>>;

/// A feed that never changes, for policies read from files.
pub fn fixed_kritis(policies: admit_policy::KritisPolicies) -> KritisFeed {
    tokio::sync::watch::channel(Some(Arc::new(policies))).1
}

/// The largest AdmissionReview read: the API server caps an object at 3 MiB and a review holds
/// the object and the old object, so anything bigger is not from an API server.
pub const MAX_REVIEW_BODY: usize = 7 * 1024 * 1024;

#[derive(Debug, Clone)]
struct State {
    service: Arc<Service>,
    config: Arc<WebhookConfig>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// `/healthz`, `/readyz` and `/metrics`, for probes and scrapes on a port without client-certificate
/// authentication (the kubelet presents none).
pub fn health_router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(handler::ready_service))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// Prometheus metrics on the health port, for in-cluster scrapes (no client certificate).
async fn metrics(
    axum::extract::State(service): axum::extract::State<Arc<Service>>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        service.metrics().encode(),
    )
        .into_response()
}

/// `POST /validate` (AdmissionReview), `POST /mutate` (tag → digest), `POST /imagepolicy`
/// (ImageReview), `/healthz`, `/readyz`.
pub fn router(service: Arc<Service>, config: WebhookConfig) -> Router {
    let state = State {
        service,
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
        config: Arc::new(config),
    };
    Router::new()
        .route(
            "/validate",
            post(handler::validate).layer(axum::extract::DefaultBodyLimit::max(MAX_REVIEW_BODY)),
        )
        .route(
            "/mutate",
            post(mutate::mutate).layer(axum::extract::DefaultBodyLimit::max(MAX_REVIEW_BODY)),
        )
        .route(
            "/imagepolicy",
            post(image_review::image_review)
                .layer(axum::extract::DefaultBodyLimit::max(MAX_REVIEW_BODY)),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(handler::ready))
        .with_state(state)
}

/// Waits (at most 2 s) until every audit line handed to stdout's writer thread is written:
/// what a graceful stop does before the process exits.
pub fn flush_stdout() {
    answer::stdout_flush();
}
