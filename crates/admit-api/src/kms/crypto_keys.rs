//! `…/keyRings/{r}/cryptoKeys[/{k}]`.

use admit_service::Caller;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use serde_json::Value;

use crate::extract::{
    Params, bool_param, list as list_response, object, ok, page, param, split_method,
};
use crate::{ApiError, AppState};

fn ring(project: &str, location: &str, ring: &str) -> String {
    format!("projects/{project}/locations/{location}/keyRings/{ring}")
}

pub(super) async fn create(
    State(s): State<AppState>,
    Path((project, location, r)): Path<(String, String, String)>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let id =
        param(&q, "cryptoKeyId").ok_or_else(|| ApiError::invalid("cryptoKeyId is required"))?;
    let skip = bool_param(&q, "skipInitialVersionCreation")?;
    let key = object(&raw, "a CryptoKey")?;
    Ok(ok(&s
        .create_crypto_key(&ring(&project, &location, &r), id, key, skip)
        .await?))
}

/// GET `cryptoKeys/{k}` or `cryptoKeys/{k}:getIamPolicy`.
pub(super) async fn get(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, location, r, key)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&key);
    let name = format!("{}/cryptoKeys/{id}", ring(&project, &location, &r));
    let found = s.get_crypto_key(&name).await?;
    match method {
        None => Ok(ok(&found)),
        Some(m) => crate::iam::dispatch(&s, &caller, "crypto key", &name, m, &Value::Null).await,
    }
}

/// PATCH `cryptoKeys/{k}?updateMask=…` (`gcloud kms keys update`).
pub(super) async fn patch(
    State(s): State<AppState>,
    Path((project, location, r, key)): Path<(String, String, String, String)>,
    q: crate::extract::Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&key);
    if let Some(m) = method {
        return Err(ApiError::not_found(format!(
            "method `{m}` is not served with PATCH"
        )));
    }
    let name = format!("{}/cryptoKeys/{id}", ring(&project, &location, &r));
    let body = crate::extract::object(&raw, "a CryptoKey")?;
    Ok(ok(&s
        .patch_crypto_key(&name, &body, &crate::extract::update_mask(&q))
        .await?))
}

/// POST `cryptoKeys/{k}:setIamPolicy` / `:testIamPermissions` / `:getIamPolicy`.
pub(super) async fn custom(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((project, location, r, key)): Path<(String, String, String, String)>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let (id, method) = split_method(&key);
    let name = format!("{}/cryptoKeys/{id}", ring(&project, &location, &r));
    s.get_crypto_key(&name).await?;
    crate::iam::dispatch(
        &s,
        &caller,
        "crypto key",
        &name,
        method.unwrap_or_default(),
        &object(&raw, "an IAM request")?,
    )
    .await
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path((project, location, r)): Path<(String, String, String)>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s
        .list_crypto_keys(&ring(&project, &location, &r), &page(&q)?)
        .await?;
    Ok(list_response("cryptoKeys", &l.items, l.next_page_token))
}
