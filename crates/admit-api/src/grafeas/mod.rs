//! Container Analysis / Grafeas `v1`: notes and occurrences.

mod notes;
mod occurrences;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
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
