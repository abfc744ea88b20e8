//! Container Analysis / Grafeas `v1` and `v1beta1`: notes and occurrences.

mod notes;
mod occurrences;
mod v1beta1;

use axum::Router;
use axum::routing::{get, post};

use serde_json::Value;

use crate::{ApiError, AppState};

/// Stored bodies as v1 shows them (without what only v1beta1 says).
fn stripped(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(admit_service::v1beta1::strip_sidecar)
        .collect()
}

/// The v1beta1 sidecar is the server's own: a v1 client cannot write it.
fn refuse_sidecar(body: &Value) -> Result<(), ApiError> {
    if body.get(admit_service::v1beta1::SIDECAR).is_some() {
        return Err(ApiError::invalid(format!(
            "unknown field `{}`",
            admit_service::v1beta1::SIDECAR
        )));
    }
    Ok(())
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(v1beta1::routes())
        .route(
            "/v1/projects/{project}/notes",
            get(notes::list).post(notes::create),
        )
        .route(
            "/v1/projects/{project}/notes:batchCreate",
            post(notes::batch_create),
        )
        .route(
            "/v1/projects/{project}/notes/{note}",
            get(notes::get)
                .patch(notes::patch)
                .delete(notes::delete)
                .post(notes::custom),
        )
        .route(
            "/v1/projects/{project}/notes/{note}/occurrences",
            get(occurrences::list_for_note),
        )
        .route(
            "/v1/projects/{project}/occurrences",
            get(occurrences::list).post(occurrences::create),
        )
        .route(
            "/v1/projects/{project}/occurrences:batchCreate",
            post(occurrences::batch_create),
        )
        .route(
            "/v1/projects/{project}/occurrences:vulnerabilitySummary",
            get(occurrences::summary),
        )
        .route(
            "/v1/projects/{project}/occurrences/{occurrence}",
            get(occurrences::get)
                .patch(occurrences::patch)
                .delete(occurrences::delete)
                .post(occurrences::custom),
        )
        .route(
            "/v1/projects/{project}/occurrences/{occurrence}/notes",
            get(occurrences::note),
        )
}
