//! Cloud KMS `v1`, the asymmetric-signing subset.

mod crypto_key_versions;
mod crypto_keys;
mod key_rings;

use axum::Router;
use axum::routing::get;

use crate::AppState;

const RING: &str = "/v1/projects/{project}/locations/{location}/keyRings/{ring}";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/projects/{project}/locations/{location}/keyRings",
            get(key_rings::list).post(key_rings::create),
        )
        .route(RING, get(key_rings::get).post(key_rings::custom))
        .route(
            &format!("{RING}/cryptoKeys"),
            get(crypto_keys::list).post(crypto_keys::create),
        )
        .route(
            &format!("{RING}/cryptoKeys/{{key}}"),
            get(crypto_keys::get)
                .patch(crypto_keys::patch)
                .post(crypto_keys::custom),
        )
        .route(
            &format!("{RING}/cryptoKeys/{{key}}/cryptoKeyVersions"),
            get(crypto_key_versions::list).post(crypto_key_versions::create),
        )
        .route(
            &format!("{RING}/cryptoKeys/{{key}}/cryptoKeyVersions/{{version}}"),
            get(crypto_key_versions::get)
                .patch(crypto_key_versions::patch)
                .post(crypto_key_versions::custom),
        )
        .route(
            &format!("{RING}/cryptoKeys/{{key}}/cryptoKeyVersions/{{version}}/publicKey"),
            get(crypto_key_versions::public_key),
        )
}
