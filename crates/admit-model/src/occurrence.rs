//! The Grafeas occurrence, as far as attestation needs it. Fields we do not model are kept in
//! `other` and written back unchanged, so nothing a scanner or builder stored is lost.

use serde::{Deserialize, Serialize};

use crate::Bytes;

wire_enum!(
    /// Grafeas `NoteKind`.
    NoteKind, "kind" numbered {
        Unspecified = "NOTE_KIND_UNSPECIFIED" => 0,
        Vulnerability = "VULNERABILITY" => 1,
        Build = "BUILD" => 2,
        Image = "IMAGE" => 3,
        Package = "PACKAGE" => 4,
        Deployment = "DEPLOYMENT" => 5,
        Discovery = "DISCOVERY" => 6,
        Attestation = "ATTESTATION" => 7,
        Upgrade = "UPGRADE" => 8,
        Compliance = "COMPLIANCE" => 9,
        DsseAttestation = "DSSE_ATTESTATION" => 10,
        VulnerabilityAssessment = "VULNERABILITY_ASSESSMENT" => 11,
        SbomReference = "SBOM_REFERENCE" => 12,
        Secret = "SECRET" => 13,
    }
);

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One signature over an attestation's payload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    #[serde(default)]
    pub signature: Bytes,
    #[serde(default, alias = "public_key_id")]
    pub public_key_id: String,
}

/// A JWT attestation (stored and returned; not used for verification).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Jwt {
    #[serde(default, alias = "compact_jwt")]
    pub compact_jwt: String,
}

/// `AttestationOccurrence`: the serialized simple-signing payload and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationOccurrence {
    #[serde(
        default,
        alias = "serialized_payload",
        skip_serializing_if = "Bytes::is_empty"
    )]
    pub serialized_payload: Bytes,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwts: Vec<Jwt>,
}

/// A Grafeas v1 occurrence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Occurrence {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, alias = "resource_uri")]
    pub resource_uri: String,
    #[serde(default, alias = "note_name")]
    pub note_name: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: NoteKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<AttestationOccurrence>,
    #[serde(
        default,
        alias = "create_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time: Option<String>,
    #[serde(
        default,
        alias = "update_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time: Option<String>,
    /// Every other field (vulnerability, build, envelope, remediation, …), preserved verbatim.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}
