//! Wire and domain types shared by every admit crate: the Binary Authorization policy and
//! attestor resources, the Grafeas attestation occurrence, resource-name newtypes, and the
//! proto3-JSON conventions (enum strings, padded base64 bytes) that gcloud depends on.
//!
//! Owns: serde shapes with the exact wire field names, YAML/JSON decoding that names the
//! offending field, and resource-name parsing.
//! Must not depend on: any other admit crate, async runtimes, I/O, the environment or a clock.
//! Semantic validation of a policy (rule-map keys, exempt patterns) belongs to `admit-policy`.

#[macro_use]
mod wire_enum;

mod attestor;
mod bytes;
mod codec;
mod error;
mod filter;
mod kms;
mod kritis;
pub mod logging_query;
mod names;
mod occurrence;
mod pod_images;
mod policy;
mod scan_report;
mod time;
pub use attestor::{
    Attestor, AttestorPublicKey, KeyValidity, PkixPublicKey, RevokedKey, SignatureAlgorithm,
    UserOwnedGrafeasNote,
};
pub use bytes::Bytes;
pub use codec::{
    Format, MAX_YAML_ALIAS_EVENTS, MAX_YAML_NODES, decode, decode_many, decode_value, from_value,
    to_json_pretty, to_yaml,
};
pub use error::ModelError;
pub use filter::{
    Filter, FilterError, FilterField, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS,
};
pub use kms::{
    CryptoKeyPurpose, CryptoKeyVersionAlgorithm, CryptoKeyVersionState, ProtectionLevel,
};
pub use kritis::{
    AllowlistExpiry, AttestationAuthority, AttestationAuthoritySpec, GenericAttestationPolicy,
    GenericAttestationPolicySpec, ImageSecurityPolicy, ImageSecurityPolicySpec,
    ImageVulnerabilityRequirements, KritisPkixKey, KritisPublicKey, NamePattern, ObjectMeta,
    PackageVulnerabilityRequirements, Resource, Severity, Threshold, VulnzSigningPolicy,
    VulnzSigningPolicySpec,
};
pub use names::{AttestorName, NoteName, PolicyName, ProjectId};
pub use occurrence::{AttestationOccurrence, Jwt, NoteKind, Occurrence, Signature};
pub use pod_images::{IMAGE_FIELDS, ImageField, PodImage, is_pod_spec, pod_spec_images};
pub use policy::{
    AdmissionRule, AdmissionWhitelistPattern, BreakglassPolicy, EnforcementMode, EvaluationMode,
    GlobalPolicyEvaluationMode, Policy, parse_duration,
};
pub use scan_report::{ScanFormat, ScanImport, parse_scan_report};
pub use time::{parse_rfc3339, rfc3339};
