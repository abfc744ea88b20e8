//! `projects/{p}/locations/{l}/keyRings[/{r}]`, with IAM.

use admit_service::Caller;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::Value;

use crate::extract::{Params, list as list_response, object, ok, page, param, split_method};
use crate::{ApiError, AppState};

pub(super) async fn create(
    State(s): State<AppState>,
    Path((project, location)): Path<(String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id = param(&q, "keyRingId").ok_or_else(|| ApiError::invalid("keyRingId is required"))?;
    // A KeyRing has no field a caller sets, but the body must still be one.
    object(&raw, "a KeyRing")?;
    Ok(ok(&s.create_key_ring(&project, &location, id).await?))
}

/// GET `keyRings/{r}` or `keyRings/{r}:getIamPolicy`.
pub(super) async fn get(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, location, ring)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&ring);
    let name = format!("projects/{project}/locations/{location}/keyRings/{id}");
    let found = s.get_key_ring(&name).await?;
    match method {
        None => Ok(ok(&found)),
        Some(m) => crate::iam::dispatch(&s, &caller, "key ring", &name, m, &Value::Null).await,
    }
}

/// POST `keyRings/{r}:setIamPolicy` / `:testIamPermissions` / `:getIamPolicy`.
pub(super) async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, location, ring)): Path<(String, String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&ring);
    let name = format!("projects/{project}/locations/{location}/keyRings/{id}");
    s.get_key_ring(&name).await?;
    let method = method.unwrap_or_default();
    crate::iam::dispatch(
        &s,
        &caller,
        "key ring",
        &name,
        method,
        &object(&raw, "an IAM request")?,
    )
    .await
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
