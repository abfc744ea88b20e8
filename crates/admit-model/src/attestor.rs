//! The Binary Authorization `Attestor` resource (`projects/{p}/attestors/{a}`).
//!
//! v1 calls the note field `userOwnedGrafeasNote`; v1beta1 and v1alpha2 call it
//! `userOwnedDrydockNote`. Both decode into the same field; the API layer picks the name on
//! output by version.

use serde::{Deserialize, Serialize};

wire_enum!(
    /// `PkixPublicKey.SignatureAlgorithm`, every value of the v1 proto, plus `EC_SIGN_ED25519`
    /// (an admit extension, named as KMS names it, because the proto has no Ed25519 value).
    /// Pairs such as `RSA_PSS_2048_SHA256` / `RSA_SIGN_PSS_2048_SHA256` are aliases.
    SignatureAlgorithm, "signatureAlgorithm" numbered {
        Unspecified = "SIGNATURE_ALGORITHM_UNSPECIFIED" => 0,
        RsaPss2048Sha256 = "RSA_PSS_2048_SHA256" => 1,
        RsaSignPss2048Sha256 = "RSA_SIGN_PSS_2048_SHA256" => 1,
        RsaPss3072Sha256 = "RSA_PSS_3072_SHA256" => 2,
        RsaSignPss3072Sha256 = "RSA_SIGN_PSS_3072_SHA256" => 2,
        RsaPss4096Sha256 = "RSA_PSS_4096_SHA256" => 3,
        RsaSignPss4096Sha256 = "RSA_SIGN_PSS_4096_SHA256" => 3,
        RsaPss4096Sha512 = "RSA_PSS_4096_SHA512" => 4,
        RsaSignPss4096Sha512 = "RSA_SIGN_PSS_4096_SHA512" => 4,
        RsaSignPkcs12048Sha256 = "RSA_SIGN_PKCS1_2048_SHA256" => 5,
        RsaSignPkcs13072Sha256 = "RSA_SIGN_PKCS1_3072_SHA256" => 6,
        RsaSignPkcs14096Sha256 = "RSA_SIGN_PKCS1_4096_SHA256" => 7,
        RsaSignPkcs14096Sha512 = "RSA_SIGN_PKCS1_4096_SHA512" => 8,
        EcdsaP256Sha256 = "ECDSA_P256_SHA256" => 9,
        EcSignP256Sha256 = "EC_SIGN_P256_SHA256" => 9,
        EcdsaP384Sha384 = "ECDSA_P384_SHA384" => 10,
        EcSignP384Sha384 = "EC_SIGN_P384_SHA384" => 10,
        EcdsaP521Sha512 = "ECDSA_P521_SHA512" => 11,
        EcSignP521Sha512 = "EC_SIGN_P521_SHA512" => 11,
        EcSignEd25519 = "EC_SIGN_ED25519" => -1,
    }
);

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A PEM SubjectPublicKeyInfo and the algorithm it is declared to verify with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PkixPublicKey {
    #[serde(default, alias = "public_key_pem")]
    pub public_key_pem: String,
    #[serde(
        default,
        alias = "signature_algorithm",
        skip_serializing_if = "is_default"
    )]
    pub signature_algorithm: SignatureAlgorithm,
    /// v1 only; blank or equal to the wrapping `AttestorPublicKey.id`.
    #[serde(default, alias = "key_id", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// admit extension: the interval in which an attestation by a key counts, judged by when the
/// server recorded the attestation (the occurrence's `createTime`). Either end may be open.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyValidity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

/// admit extension: a key id the attestor no longer trusts. Kept when the key is removed, so
/// adding it back does not restore it; the server stamps `revokeTime`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokedKey {
    #[serde(default)]
    pub key_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub revoke_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One of an attestor's keys: exactly one of PGP or PKIX.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestorPublicKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(
        default,
        alias = "ascii_armored_pgp_public_key",
        skip_serializing_if = "Option::is_none"
    )]
    pub ascii_armored_pgp_public_key: Option<String>,
    #[serde(
        default,
        alias = "pkix_public_key",
        skip_serializing_if = "Option::is_none"
    )]
    pub pkix_public_key: Option<PkixPublicKey>,
    /// admit extension: when attestations by this key count.
    #[serde(
        default,
        rename = "admitValidity",
        skip_serializing_if = "Option::is_none"
    )]
    pub admit_validity: Option<KeyValidity>,
    /// admit extension: `true` makes this PKIX key a cosign key, so a cosign signature it
    /// made over the image's digest, stored in the registry as cosign stores it, also
    /// satisfies the attestor. Omitted on an update: kept; `false`: cleared.
    #[serde(
        default,
        rename = "admitCosign",
        skip_serializing_if = "Option::is_none"
    )]
    pub admit_cosign: Option<bool>,
}

/// The Grafeas note whose occurrences are this attestor's attestations, and its keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserOwnedGrafeasNote {
    #[serde(default, alias = "note_reference")]
    pub note_reference: String,
    #[serde(default, alias = "public_keys", skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<AttestorPublicKey>,
    #[serde(
        default,
        alias = "delegation_service_account_email",
        skip_serializing_if = "Option::is_none"
    )]
    pub delegation_service_account_email: Option<String>,
}

/// An attestor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attestor {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(
        default,
        alias = "userOwnedDrydockNote",
        alias = "user_owned_grafeas_note",
        alias = "user_owned_drydock_note",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_owned_grafeas_note: Option<UserOwnedGrafeasNote>,
    #[serde(
        default,
        alias = "update_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// admit extension: key ids whose attestations no longer count.
    #[serde(
        default,
        rename = "admitRevokedKeys",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub admit_revoked_keys: Vec<RevokedKey>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, decode};

    #[test]
    fn every_signature_algorithm_round_trips_through_display_and_from_str() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<SignatureAlgorithm>().ok(), Some(*alg));
        }
    }

    #[test]
    fn beta_note_field_name_is_accepted() {
        let a: Attestor = decode(
            r#"{"name":"projects/p/attestors/a","userOwnedDrydockNote":{"noteReference":"projects/p/notes/n"}}"#,
            Format::Json,
        )
        .unwrap_or_default();
        assert_eq!(
            a.user_owned_grafeas_note
                .map(|n| n.note_reference)
                .as_deref(),
            Some("projects/p/notes/n")
        );
    }
}
