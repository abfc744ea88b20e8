use admit_model::SignatureAlgorithm;
use thiserror::Error;

/// Why a key, signature or payload was rejected. Variants name the step that failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("publicKeyPem: {0}")]
    Pem(String),
    #[error("public key: {0}")]
    UnsupportedKey(String),
    #[error("signatureAlgorithm {declared} does not match the key, which is {actual}")]
    AlgorithmMismatch {
        declared: SignatureAlgorithm,
        actual: String,
    },
    #[error("signatureAlgorithm must be set for a PKIX key (the key is {actual})")]
    AlgorithmUnspecified { actual: String },
    #[error("signature does not verify with {key}")]
    BadSignature { key: String },
    #[error("OpenPGP {step}: {reason}")]
    Pgp { step: &'static str, reason: String },
    #[error("payload {field}: {reason}")]
    Payload { field: &'static str, reason: String },
    #[error("KMS: {0}")]
    Kms(String),
    /// The stored key material or the machine failed (not the request): internal.
    #[error("KMS key material: {0}")]
    KeyMaterial(String),
    #[error("JWT: {0}")]
    Jwt(String),
    /// A Sigstore check (trust root, certificate, SCT, Rekor entry, bundle) failed.
    #[error("{step}: {reason}")]
    Sigstore { step: &'static str, reason: String },
    #[error("artifact URL `{url}`: {reason}")]
    ArtifactUrl { url: String, reason: String },
}
