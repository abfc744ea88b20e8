//! The Binary Authorization `Policy` resource (`projects/{p}/policy`, `locations/{l}/policy`).
//!
//! Field names and enum strings are exactly those of the v1 API, so a file exported by
//! `gcloud container binauthz policy export` decodes here and ours is accepted by
//! `policy import`. Unknown fields are rejected, as gcloud rejects them. proto3 JSON parsers
//! also accept the original snake_case names, hence the aliases.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

wire_enum!(
    /// Whether the system policy's exempt images apply (`ENABLE`) or not.
    GlobalPolicyEvaluationMode, "globalPolicyEvaluationMode" numbered {
        Unspecified = "GLOBAL_POLICY_EVALUATION_MODE_UNSPECIFIED" => 0,
        Enable = "ENABLE" => 1,
        Disable = "DISABLE" => 2,
    }
);

wire_enum!(
    /// What a rule demands of an image.
    EvaluationMode, "evaluationMode" numbered {
        Unspecified = "EVALUATION_MODE_UNSPECIFIED" => 0,
        AlwaysAllow = "ALWAYS_ALLOW" => 1,
        RequireAttestation = "REQUIRE_ATTESTATION" => 2,
        AlwaysDeny = "ALWAYS_DENY" => 3,
    }
);

wire_enum!(
    /// What happens to a non-conformant image.
    EnforcementMode, "enforcementMode" numbered {
        Unspecified = "ENFORCEMENT_MODE_UNSPECIFIED" => 0,
        EnforcedBlockAndAuditLog = "ENFORCED_BLOCK_AND_AUDIT_LOG" => 1,
        DryrunAuditLogOnly = "DRYRUN_AUDIT_LOG_ONLY" => 2,
    }
);

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// admit extension: accountable breakglass for a project. Unset, GKE's behaviour stays (the
/// break-glass annotation or label alone admits, and is audited).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakglassPolicy {
    /// Kubernetes usernames (the AdmissionReview's `userInfo.username`) who may break glass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_users: Vec<String>,
    /// Kubernetes groups (`userInfo.groups`) whose members may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_groups: Vec<String>,
    /// An admit IAM permission on the project that also allows it (`user:USERNAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_permission: Option<String>,
    /// Whether a justification is required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_justification: bool,
    /// The annotation holding it (default `admit.dev/breakglass-justification`; Cloud Run's
    /// breakglass annotation is its own justification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification_annotation: Option<String>,
    /// A regular expression the justification must contain a match of (the ticket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_pattern: Option<String>,
    /// How long a breakglass stands (`90m`, `24h`, `7d`), recorded as its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<String>,
    /// Namespaces where breakglass is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_namespaces: Vec<String>,
}

/// `90s`, `30m`, `24h`, `7d` → seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

/// One exempt-image pattern (`registry/path/to/image`, optional trailing `*` or `**`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdmissionWhitelistPattern {
    #[serde(default, alias = "name_pattern")]
    pub name_pattern: String,
    /// admit extension: when the exemption stops applying (RFC 3339).
    #[serde(
        default,
        rename = "admitExpireTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub admit_expire_time: Option<String>,
    /// admit extension: why the exemption exists (shown when it has expired).
    #[serde(
        default,
        rename = "admitReason",
        skip_serializing_if = "Option::is_none"
    )]
    pub admit_reason: Option<String>,
}

/// A rule: how images are evaluated and what happens when they fail.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdmissionRule {
    #[serde(default, alias = "evaluation_mode", skip_serializing_if = "is_default")]
    pub evaluation_mode: EvaluationMode,
    #[serde(
        default,
        alias = "require_attestations_by",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub require_attestations_by: Vec<String>,
    #[serde(
        default,
        alias = "enforcement_mode",
        skip_serializing_if = "is_default"
    )]
    pub enforcement_mode: EnforcementMode,
}

/// A project's (or the system's) admission policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(
        default,
        alias = "global_policy_evaluation_mode",
        skip_serializing_if = "is_default"
    )]
    pub global_policy_evaluation_mode: GlobalPolicyEvaluationMode,
    #[serde(
        default,
        alias = "admission_whitelist_patterns",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub admission_whitelist_patterns: Vec<AdmissionWhitelistPattern>,
    #[serde(
        default,
        alias = "default_admission_rule",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_admission_rule: Option<AdmissionRule>,
    #[serde(
        default,
        alias = "cluster_admission_rules",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub cluster_admission_rules: BTreeMap<String, AdmissionRule>,
    #[serde(
        default,
        alias = "kubernetes_namespace_admission_rules",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub kubernetes_namespace_admission_rules: BTreeMap<String, AdmissionRule>,
    #[serde(
        default,
        alias = "kubernetes_service_account_admission_rules",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub kubernetes_service_account_admission_rules: BTreeMap<String, AdmissionRule>,
    #[serde(
        default,
        alias = "istio_service_identity_admission_rules",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub istio_service_identity_admission_rules: BTreeMap<String, AdmissionRule>,
    /// admit extension: who may break glass, and what they must say.
    #[serde(
        default,
        rename = "admitBreakglass",
        skip_serializing_if = "Option::is_none"
    )]
    pub admit_breakglass: Option<BreakglassPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(
        default,
        alias = "update_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, decode, to_yaml};

    const EXPORTED: &str = "\
admissionWhitelistPatterns:
- namePattern: gcr.io/google_containers/*
defaultAdmissionRule:
  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG
  evaluationMode: REQUIRE_ATTESTATION
  requireAttestationsBy:
  - projects/my-proj/attestors/built-by-ci
etag: '\"abc\"'
globalPolicyEvaluationMode: ENABLE
name: projects/my-proj/policy
updateTime: '2024-05-01T10:00:00.123456Z'
";

    #[test]
    fn gcloud_export_round_trips_losslessly_with_sorted_keys() {
        let policy: Policy = decode(EXPORTED, Format::Yaml).unwrap_or_default();
        assert_eq!(
            policy.global_policy_evaluation_mode,
            GlobalPolicyEvaluationMode::Enable
        );
        assert_eq!(
            policy
                .default_admission_rule
                .as_ref()
                .map(|r| r.evaluation_mode),
            Some(EvaluationMode::RequireAttestation)
        );
        assert_eq!(
            policy.update_time.as_deref(),
            Some("2024-05-01T10:00:00.123456Z")
        );
        let out = to_yaml(&policy).unwrap_or_default();
        // Same keys in the same (sorted) order as gcloud; only the quoting style differs.
        let keys = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| l.split(':').next().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(keys(&out), keys(EXPORTED));
        assert_eq!(decode::<Policy>(&out, Format::Yaml).ok(), Some(policy));
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let err = decode::<Policy>(
            "defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcment: X\n",
            Format::Yaml,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("defaultAdmissionRule"), "{err}");
        assert!(err.contains("enforcment"), "{err}");
    }

    #[test]
    fn unknown_enum_value_is_named_with_its_path() {
        let err = decode::<Policy>(
            r#"{"clusterAdmissionRules":{"us-east1-b.prod":{"evaluationMode":"ALLOW_SOMETIMES"}}}"#,
            Format::Json,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("clusterAdmissionRules.us-east1-b.prod.evaluationMode"),
            "{err}"
        );
        assert!(err.contains("ALLOW_SOMETIMES"), "{err}");
        assert!(err.contains("REQUIRE_ATTESTATION"), "{err}");
    }

    #[test]
    fn snake_case_field_names_are_accepted_as_proto3_json_requires() {
        let p: Policy = decode(
            r#"{"default_admission_rule":{"evaluation_mode":"ALWAYS_DENY","enforcement_mode":"DRYRUN_AUDIT_LOG_ONLY"}}"#,
            Format::Json,
        )
        .unwrap_or_default();
        assert_eq!(
            p.default_admission_rule.map(|r| r.enforcement_mode),
            Some(EnforcementMode::DryrunAuditLogOnly)
        );
    }
}
