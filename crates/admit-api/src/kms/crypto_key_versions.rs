//! `…/cryptoKeys/{k}/cryptoKeyVersions[/{v}]`, `…/publicKey`, `:asymmetricSign`, `:destroy`.

use admit_service::SignRequest;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::extract::{Params, body, list as list_response, ok, page, split_method};
use crate::{ApiError, AppState};

type KeyPath = (String, String, String, String);
type VersionPath = (String, String, String, String, String);

fn key((project, location, ring, key): &KeyPath) -> String {
    format!("projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{key}")
}

fn version(p: VersionPath) -> (String, String, Option<String>) {
    let (project, location, ring, k, v) = p;
    let (id, method) = split_method(&v);
    let name = format!(
        "{}/cryptoKeyVersions/{id}",
        key(&(project, location, ring, k))
    );
    (name, id.to_owned(), method.map(str::to_owned))
}

pub(super) async fn create(
    State(s): State<AppState>,
    Path(p): Path<KeyPath>,
) -> Result<Response, ApiError> {
    Ok(ok(&s.create_crypto_key_version(&key(&p)).await?))
}

pub(super) async fn list(
    State(s): State<AppState>,
    Path(p): Path<KeyPath>,
    q: Params,
) -> Result<Response, ApiError> {
    let l = s.list_crypto_key_versions(&key(&p), &page(&q)?).await?;
    Ok(list_response(
        "cryptoKeyVersions",
        &l.items,
        l.next_page_token,
    ))
}

pub(super) async fn get(
    State(s): State<AppState>,
    Path(p): Path<VersionPath>,
) -> Result<Response, ApiError> {
    match version(p) {
        (name, _, None) => Ok(ok(&s.get_crypto_key_version(&name).await?)),
        (_, _, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with GET"
        ))),
    }
}

/// PATCH `cryptoKeyVersions/{v}?updateMask=state` (`gcloud kms keys versions enable|disable`).
pub(super) async fn patch(
    State(s): State<AppState>,
    Path(p): Path<VersionPath>,
    q: Params,
    raw: Bytes,
) -> Result<Response, ApiError> {
    match version(p) {
        (name, _, None) => {
            let v = crate::extract::object(&raw, "a CryptoKeyVersion")?;
            Ok(ok(&s
                .patch_crypto_key_version(&name, &v, &crate::extract::update_mask(&q))
                .await?))
        }
        (_, _, Some(m)) => Err(ApiError::not_found(format!(
            "method `{m}` is not served with PATCH"
        ))),
    }
}

pub(super) async fn public_key(
    State(s): State<AppState>,
    Path(p): Path<VersionPath>,
) -> Result<Response, ApiError> {
    let (name, _, _) = version(p);
    Ok(ok(&s.get_public_key(&name).await?))
}

pub(super) async fn custom(
    State(s): State<AppState>,
    Path(p): Path<VersionPath>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    match version(p) {
        (name, _, Some(m)) if m == "asymmetricSign" => {
            let req: SignRequest = body(&raw)?;
            Ok(ok(&s.asymmetric_sign(&name, req).await?))
        }
        (name, _, Some(m)) if m == "destroy" => {
            Ok(ok(&s.destroy_crypto_key_version(&name).await?))
        }
        (name, _, Some(m)) if m == "restore" => {
            Ok(ok(&s.restore_crypto_key_version(&name).await?))
        }
        (_, _, m) => Err(ApiError::not_found(format!(
            "unknown key version method {m:?}"
        ))),
    }
}
