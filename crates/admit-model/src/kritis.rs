//! Kritis' custom resources (`kritis.grafeas.io/v1beta1`), as seeds 001 and 003 write them:
//! VulnzSigningPolicy (the signer's), ImageSecurityPolicy, GenericAttestationPolicy and
//! AttestationAuthority (the admission webhook's). Unknown `spec` fields are rejected naming
//! the field; `metadata` keeps only what matters and tolerates the rest (kubectl adds plenty).

use serde::{Deserialize, Serialize};

wire_enum!(
    /// A vulnerability's severity (Grafeas `Severity`).
    Severity, "severity" {
        Unspecified = "SEVERITY_UNSPECIFIED",
        Minimal = "MINIMAL",
        Low = "LOW",
        Medium = "MEDIUM",
        High = "HIGH",
        Critical = "CRITICAL",
    }
);

wire_enum!(
    /// The most severe vulnerability a policy tolerates.
    Threshold, "severity threshold" {
        BlockAll = "BLOCK_ALL",
        Low = "LOW",
        Medium = "MEDIUM",
        High = "HIGH",
        Critical = "CRITICAL",
        AllowAll = "ALLOW_ALL",
    }
);

impl Threshold {
    /// Whether a vulnerability of `severity` is within the threshold. An unspecified severity
    /// counts as CRITICAL: an unknown risk is not a small one.
    pub fn tolerates(self, severity: Severity) -> bool {
        let rank = |s: Severity| match s {
            Severity::Minimal => 0,
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical | Severity::Unspecified => 4,
        };
        match self {
            Threshold::BlockAll => false,
            Threshold::AllowAll => true,
            Threshold::Low => rank(severity) <= 1,
            Threshold::Medium => rank(severity) <= 2,
            Threshold::High => rank(severity) <= 3,
            Threshold::Critical => rank(severity) <= 4,
        }
    }
}

/// The parts of `metadata` Kritis reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `apiVersion`, `kind`, `metadata` and a typed `spec`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource<S> {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: S,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageVulnerabilityRequirements {
    /// Unset: BLOCK_ALL (admit's safe default).
    #[serde(default)]
    pub maximum_fixable_severity: Option<Threshold>,
    /// Unset: BLOCK_ALL.
    #[serde(default)]
    pub maximum_unfixable_severity: Option<Threshold>,
    #[serde(default, rename = "allowlistCVEs")]
    pub allowlist_cves: Vec<String>,
    /// admit extension: when entries of `allowlistCVEs` stop applying.
    #[serde(
        default,
        rename = "admitAllowlistExpiry",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub admit_allowlist_expiry: std::collections::BTreeMap<String, AllowlistExpiry>,
}

/// admit extension: an allowlist entry's end (RFC 3339) and why it was granted. Keyed by the
/// entry as written in `allowlistCVEs` (or its CVE id).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowlistExpiry {
    pub expire_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VulnzSigningPolicySpec {
    #[serde(default)]
    pub image_vulnerability_requirements: ImageVulnerabilityRequirements,
    /// Older Kritis versions carried these; accepted and unused (flags decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

pub type VulnzSigningPolicy = Resource<VulnzSigningPolicySpec>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageVulnerabilityRequirements {
    /// Unset: BLOCK_ALL (Kritis tolerated up to CRITICAL).
    #[serde(default)]
    pub maximum_severity: Option<Threshold>,
    /// For vulnerabilities without a fix. Unset: the same as `maximumSeverity` (Kritis
    /// tolerated everything).
    #[serde(default)]
    pub maximum_fix_unavailable_severity: Option<Threshold>,
    #[serde(default, rename = "allowlistCVEs", alias = "whitelistCVEs")]
    pub allowlist_cves: Vec<String>,
    /// admit extension: when entries of `allowlistCVEs` stop applying.
    #[serde(
        default,
        rename = "admitAllowlistExpiry",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub admit_allowlist_expiry: std::collections::BTreeMap<String, AllowlistExpiry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSecurityPolicySpec {
    /// Images (full references) exempt from the policy. `imageAllowList` is the spelling of
    /// Kritis' own CRD (Go's JSON decoding ignored the case).
    #[serde(default, alias = "imageWhitelist", alias = "imageAllowList")]
    pub image_allowlist: Vec<String>,
    #[serde(default)]
    pub package_vulnerability_requirements: PackageVulnerabilityRequirements,
    /// An AttestationAuthority of the same namespace: an image it has attested skips the
    /// vulnerability check, and an image that passes the check is attested with the key in
    /// `privateKeySecretName` (Kritis' auto-attestation; needs the cluster, not a directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_authority_name: Option<String>,
    /// A Secret of the same namespace holding `private` (an armored OpenPGP secret key),
    /// `public` and optionally `passphrase`, as Kritis reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_secret_name: Option<String>,
}

pub type ImageSecurityPolicy = Resource<ImageSecurityPolicySpec>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericAttestationPolicySpec {
    #[serde(default)]
    pub attestation_authority_names: Vec<String>,
    /// Images admitted without attestations (Binary Authorization glob syntax); the older
    /// spelling `admissionWhitelistPatterns` is accepted too.
    #[serde(
        default,
        alias = "admissionWhitelistPatterns",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub admission_allowlist_patterns: Vec<NamePattern>,
}

/// `{namePattern: …}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamePattern {
    pub name_pattern: String,
}

pub type GenericAttestationPolicy = Resource<GenericAttestationPolicySpec>;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestationAuthoritySpec {
    /// `projects/P` (the note is then `projects/P/notes/<metadata.name>`) or
    /// `projects/P/notes/N`, optionally prefixed with an API version (`v1beta1/`).
    pub note_reference: String,
    /// Base64 of an ASCII-armored OpenPGP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_data: Option<String>,
    /// Several such keys (an intermediate Kritis version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_key_list: Vec<String>,
    /// Kritis' current form: typed keys, OpenPGP or PKIX.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<KritisPublicKey>,
    /// A Secret of the same namespace whose `public` entry is one more OpenPGP key (armored),
    /// as in Kritis' example AttestationAuthority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_secret_name: Option<String>,
}

/// One of `spec.publicKeys` (Kritis' `PublicKey`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KritisPublicKey {
    /// PGP: the key's fingerprint or blank (the fingerprint is used either way, as in Kritis);
    /// PKIX: a URI, required.
    #[serde(default)]
    pub key_id: String,
    /// `PGP` or `PKIX`.
    #[serde(default)]
    pub key_type: String,
    /// Base64 of an ASCII-armored OpenPGP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ascii_armored_pgp_public_key: Option<String>,
    /// Go serialises an unset struct as `{}` or with empty strings: both mean unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkix_public_key: Option<KritisPkixKey>,
}

/// `publicKeys[].pkixPublicKey`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KritisPkixKey {
    #[serde(default)]
    pub public_key_pem: String,
    /// Binary Authorization's names (`ECDSA_P256_SHA256`, `RSA_PSS_2048_SHA256`, …).
    #[serde(default)]
    pub signature_algorithm: String,
}

impl KritisPkixKey {
    /// Whether every field is empty (Go's zero value).
    pub fn is_unset(&self) -> bool {
        self.public_key_pem.is_empty() && self.signature_algorithm.is_empty()
    }
}

pub type AttestationAuthority = Resource<AttestationAuthoritySpec>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_order_severities_and_fail_safe_on_unknown() {
        assert!(Threshold::Medium.tolerates(Severity::Low));
        assert!(Threshold::Medium.tolerates(Severity::Medium));
        assert!(!Threshold::Medium.tolerates(Severity::High));
        assert!(!Threshold::High.tolerates(Severity::Unspecified));
        assert!(Threshold::Critical.tolerates(Severity::Unspecified));
        assert!(!Threshold::BlockAll.tolerates(Severity::Minimal));
        assert!(Threshold::AllowAll.tolerates(Severity::Critical));
    }
}
