//! The HTTP surface: Binary Authorization (`v1`, `v1beta1`, `v1alpha2`), Container Analysis /
//! Grafeas `v1` and the Cloud KMS `v1` subset, as gcloud 528 drives them, on one router.
//! Handlers extract, call the service, and map; every error is a google.rpc.Status.
//!
//! Must not depend on: storage backends, the binary, or anything that reads the environment.

mod audit;
mod authz;
mod binauthz;
mod canonical;
mod error;
mod extract;
mod grafeas;
mod health;
mod iam;
mod iam_admin;
mod kms;
mod logging;
mod resourcemanager;
mod serviceusage;

use std::sync::Arc;

use admit_service::Service;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePath;

pub use error::ApiError;

/// The largest request body accepted (a `batchCreate` of 1,000 occurrences fits); larger
/// bodies are refused with 413 before they are read into memory.
pub const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

/// Shared handler state.
pub type AppState = Arc<Service>;

/// The served application: the router behind path canonicalisation (one reading of the path
/// for access control and routing) and trailing-slash normalisation (seed 000 posts to
/// `…/notes/?noteId=`, which Google accepts).
pub fn app(state: AppState) -> Router {
    use tower::Layer as _;
    let normalized = NormalizePath::trim_trailing_slash(router(state));
    // Outside the router, so that routing itself sees the canonical path.
    let canonical = axum::middleware::from_fn(canonical::canonicalize).layer(normalized);
    Router::new().fallback_service(canonical)
}

/// Every route of every API, for `admit serve` and for in-process tests.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(audit::routes())
        .merge(logging::routes())
        .merge(serviceusage::routes())
        .merge(iam_admin::routes())
        .merge(binauthz::routes())
        .merge(grafeas::routes())
        .merge(kms::routes())
        .merge(resourcemanager::routes())
        // Every route above is authenticated and authorized; health checks below are not.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authz::enforce,
        ))
        .merge(health::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_served)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
        // No input may panic a handler; if one ever does, the caller still gets a
        // google.rpc.Status and the connection (and process) live on.
        .layer(CatchPanicLayer::custom(error::panicked))
        // A span per request (method, path), so whatever a handler logs says which request.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |r: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!("request", method = %r.method(), path = %r.uri().path())
                },
            ),
        )
        .with_state(state)
}
