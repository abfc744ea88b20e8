//! Cryptography for attestations: PKIX public keys (PEM SubjectPublicKeyInfo) checked against
//! the algorithm an attestor declares, OpenPGP keys and signatures, the simple-signing payload,
//! the DSSE pre-authentication encoding, server-assigned key ids, and Sigstore's keyless
//! signatures and bundles (verified offline against a trust root given as files).
//!
//! Owns: parsing keys once into verifiers, and every signature check.
//! Must not depend on: async runtimes, I/O, the environment, a clock, or any admit crate but
//! `admit-model`. aws-lc-rs is the one crypto provider for PKIX; rpgp handles OpenPGP.

mod der;
mod error;
mod jwt;
mod kms;
mod pae;
mod payload;
mod pgp_key;
mod pkix;
pub mod sigstore;

pub use error::CryptoError;
pub use jwt::{ClaimRules, Jwks, check_claims};
pub use kms::{
    GeneratedKey, MasterKey, SignInput, SoftwareKeyBackend, crc32c, kms_algorithm_supported,
    random_uuid,
};
pub use pae::{DEFAULT_DSSE_TYPE, pae};
pub use payload::{
    ATOMIC_SIGNATURE_TYPE, BINAUTHZ_SIGNATURE_TYPE, COSIGN_SIGNATURE_TYPE, SimpleSigning,
    create_signature_payload,
};
pub use pgp_key::{PgpKey, PgpVerified, pgp_sign_message, pgp_signed_content};
pub use pkix::{KeyKind, PkixKey, pkix_key_id, sha256, sha384, sha512, sign_with_private_key_pem};
