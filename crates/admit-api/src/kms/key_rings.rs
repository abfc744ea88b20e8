//! `projects/{p}/locations/{l}/keyRings[/{r}]`.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::extract::{Params, list as list_response, ok, page, param};
use crate::{ApiError, AppState};

pub(super) async fn create(
    State(s): State<AppState>,
    Path((project, location)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let id = param(&q, "keyRingId").ok_or_else(|| ApiError::invalid("keyRingId is required"))?;
    Ok(ok(&s.create_key_ring(&project, &location, id).await?))
}

pub(super) async fn get(
    State(s): State<AppState>,
    Path((project, location, ring)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    Ok(ok(&s
        .get_key_ring(&format!(
            "projects/{project}/locations/{location}/keyRings/{ring}"
        ))
        .await?))
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path((project, location)): Path<(String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_key_rings(
            &format!("projects/{project}/locations/{location}"),
            &page(&q)?,
        )
        .await?;
    Ok(list_response("keyRings", &l.items, l.next_page_token))
}
