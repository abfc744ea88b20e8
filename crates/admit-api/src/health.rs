//! `/healthz` (the process answers), `/readyz` (and its storage does) and `/metrics`
//! (Prometheus, OpenMetrics text).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

async fn metrics(State(s): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics().encode(),
    )
        .into_response()
}

async fn ready(State(s): State<AppState>) -> (StatusCode, &'static str) {
    match s.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n"),
    }
}
