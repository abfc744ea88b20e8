//! What admit knows of container registries: resolving an image reference to the digest a
//! registry serves for it, with the credentials users already have (docker's `config.json`,
//! its credential helpers), the system's TLS roots plus a custom CA, bounded by the caller's
//! deadline, and cached (a digest never changes; a tag briefly).
//!
//! Built on `oci-client` (OCI distribution: token and basic auth, manifest HEAD/GET).
//! Must not depend on: the policy engine, storage, the service or the webhook.

pub mod cosign;
mod credentials;
mod metadata;
mod resolve;

pub use cosign::{CosignSignatures, SignatureLayer};
pub use credentials::{Credentials, docker_config_dir};
pub use metadata::ImageMetadata;
pub use resolve::{Observer, Registry, RegistryConfig, Resolved};

/// Why a registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference is not an image reference.
    #[error("`{image}` is not a valid image reference: {message}")]
    InvalidReference { image: String, message: String },
    /// The registry answered with an error (its own message is kept).
    #[error("{registry} answered for {image}: {message}")]
    Registry {
        registry: String,
        image: String,
        message: String,
    },
    /// No answer within the deadline.
    #[error("{registry} did not answer for {image} within {millis} ms")]
    Timeout {
        registry: String,
        image: String,
        millis: u128,
    },
    /// docker's configuration or a credential helper failed.
    #[error("credentials for {registry}: {message}")]
    Credentials { registry: String, message: String },
    /// The CA file is unreadable or not PEM.
    #[error("registry CA: {0}")]
    Ca(String),
}
