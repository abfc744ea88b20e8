//! Policy validation, as the real service applies it on `updatePolicy`, with every violation
//! reported at once and each naming its field.

use std::collections::BTreeMap;

use admit_model::{AdmissionRule, AttestorName, EvaluationMode, Policy};

use crate::error::Violation;
use crate::pattern::ExemptPattern;

fn v(field: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation {
        field: field.into(),
        message: message.into(),
    }
}

/// RFC 1123 label: what Kubernetes accepts as a namespace name.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// RFC 1123 subdomain: what Kubernetes accepts as a service-account name.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn check_cluster_key(k: &str) -> Result<(), String> {
    let Some((location, cluster)) = k.split_once('.') else {
        return Err("key must be `location.clusterId`, e.g. `us-central1-a.prod-cluster`".into());
    };
    if !is_dns_label(location) {
        return Err(format!(
            "location `{location}` must be lower-case letters, digits and `-`"
        ));
    }
    // GKE cluster ids: a lower-case letter, then letters, digits, `-`; at most 40 characters.
    let b = cluster.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 40
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cluster id `{cluster}` must start with a letter and use lower-case letters, digits and `-` (at most 40)"
        ))
    }
}

fn check_namespace_key(k: &str) -> Result<(), String> {
    if is_dns_label(k) {
        Ok(())
    } else {
        Err("key must be a Kubernetes namespace name (lower-case RFC 1123 label)".into())
    }
}

fn check_service_account_key(k: &str) -> Result<(), String> {
    match k.split_once(':') {
        Some((ns, sa)) if is_dns_label(ns) && is_dns_subdomain(sa) => Ok(()),
        _ => Err("key must be `namespace:serviceaccount`, e.g. `test-ns:default`".into()),
    }
}

/// `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`, scheme optional.
pub(crate) fn parse_istio_identity(k: &str) -> Option<(String, String, String)> {
    let rest = k.strip_prefix("spiffe://").unwrap_or(k);
    let mut parts = rest.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(td), Some("ns"), Some(ns), Some("sa"), Some(sa), None)
            if !td.is_empty()
                && td.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
                })
                && is_dns_label(ns)
                && is_dns_subdomain(sa) =>
        {
            Some((td.to_owned(), ns.to_owned(), sa.to_owned()))
        }
        _ => None,
    }
}

fn check_istio_key(k: &str) -> Result<(), String> {
    parse_istio_identity(k).map(|_| ()).ok_or_else(|| {
        "key must be `spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>` (scheme optional)".into()
    })
}

fn check_rule(field: &str, rule: &AdmissionRule, out: &mut Vec<Violation>) {
    if rule.evaluation_mode.is_unspecified() {
        out.push(v(
            format!("{field}.evaluationMode"),
            "required: ALWAYS_ALLOW, REQUIRE_ATTESTATION or ALWAYS_DENY",
        ));
    }
    if rule.enforcement_mode.is_unspecified() {
        out.push(v(
            format!("{field}.enforcementMode"),
            "required: ENFORCED_BLOCK_AND_AUDIT_LOG or DRYRUN_AUDIT_LOG_ONLY",
        ));
    }
    let requires = rule.evaluation_mode == EvaluationMode::RequireAttestation;
    match (requires, rule.require_attestations_by.is_empty()) {
        (true, true) => out.push(v(
            format!("{field}.requireAttestationsBy"),
            "REQUIRE_ATTESTATION needs at least one attestor",
        )),
        (false, false) => out.push(v(
            format!("{field}.requireAttestationsBy"),
            format!(
                "must be empty unless evaluationMode is REQUIRE_ATTESTATION (it is {})",
                rule.evaluation_mode
            ),
        )),
        _ => {}
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, name) in rule.require_attestations_by.iter().enumerate() {
        let f = format!("{field}.requireAttestationsBy[{i}]");
        if let Err(e) = AttestorName::parse(name) {
            out.push(v(f, e.to_string()));
        } else if !seen.insert(name) {
            out.push(v(f, format!("attestor `{name}` is listed twice")));
        }
    }
}

fn check_map(
    field: &str,
    map: &BTreeMap<String, AdmissionRule>,
    key_rule: fn(&str) -> Result<(), String>,
    out: &mut Vec<Violation>,
) {
    for (k, rule) in map {
        let f = format!("{field}[{k:?}]");
        if let Err(e) = key_rule(k) {
            out.push(v(&f, e));
        }
        check_rule(&f, rule, out);
    }
}

/// Every violation in `policy`; empty when it is valid.
pub fn validate(policy: &Policy) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(name) = &policy.name {
        let ok = match name.split('/').collect::<Vec<_>>()[..] {
            ["projects", p, "policy"] => admit_model::ProjectId::parse(p).is_ok(),
            ["locations", l, "policy"] => is_dns_label(l),
            _ => false,
        };
        if !ok {
            out.push(v(
                "name",
                "must be `projects/{project}/policy` or `locations/{location}/policy`",
            ));
        }
    }
    if let Some(b) = &policy.admit_breakglass {
        if let Some(p) = &b.ticket_pattern
            && let Err(e) = regex::RegexBuilder::new(p).size_limit(1 << 20).build()
        {
            out.push(v("admitBreakglass.ticketPattern", format!("`{p}`: {e}")));
        }
        if let Some(l) = &b.lifetime
            && admit_model::parse_duration(l).is_none()
        {
            out.push(v(
                "admitBreakglass.lifetime",
                format!("`{l}`: a duration such as 90m, 24h or 7d"),
            ));
        }
        if b.allowed_users
            .iter()
            .chain(&b.allowed_groups)
            .chain(&b.refused_namespaces)
            .any(|x| x.trim().is_empty())
        {
            out.push(v(
                "admitBreakglass",
                "users, groups and namespaces must not be empty",
            ));
        }
    }
    match &policy.default_admission_rule {
        None => out.push(v("defaultAdmissionRule", "required")),
        Some(rule) => check_rule("defaultAdmissionRule", rule, &mut out),
    }
    for (i, p) in policy.admission_whitelist_patterns.iter().enumerate() {
        if let Err(e) = ExemptPattern::parse(&p.name_pattern) {
            let reason = match e {
                crate::PolicyError::Pattern { reason, .. } => reason,
                other => other.to_string(),
            };
            out.push(v(
                format!("admissionWhitelistPatterns[{i}].namePattern"),
                format!("`{}`: {reason}", p.name_pattern),
            ));
        }
        if let Some(t) = &p.admit_expire_time
            && t != "never"
            && admit_model::parse_rfc3339(t).is_none()
        {
            out.push(v(
                format!("admissionWhitelistPatterns[{i}].admitExpireTime"),
                format!("`{t}` is not an RFC 3339 timestamp"),
            ));
        }
    }
    check_map(
        "clusterAdmissionRules",
        &policy.cluster_admission_rules,
        check_cluster_key,
        &mut out,
    );
    check_map(
        "kubernetesNamespaceAdmissionRules",
        &policy.kubernetes_namespace_admission_rules,
        check_namespace_key,
        &mut out,
    );
    check_map(
        "kubernetesServiceAccountAdmissionRules",
        &policy.kubernetes_service_account_admission_rules,
        check_service_account_key,
        &mut out,
    );
    check_map(
        "istioServiceIdentityAdmissionRules",
        &policy.istio_service_identity_admission_rules,
        check_istio_key,
        &mut out,
    );
    let used: Vec<&str> = [
        (
            "clusterAdmissionRules",
            policy.cluster_admission_rules.is_empty(),
        ),
        (
            "kubernetesNamespaceAdmissionRules",
            policy.kubernetes_namespace_admission_rules.is_empty(),
        ),
        (
            "kubernetesServiceAccountAdmissionRules",
            policy.kubernetes_service_account_admission_rules.is_empty(),
        ),
        (
            "istioServiceIdentityAdmissionRules",
            policy.istio_service_identity_admission_rules.is_empty(),
        ),
    ]
    .into_iter()
    .filter(|(_, empty)| !empty)
    .map(|(n, _)| n)
    .collect();
    if used.len() > 1 {
        out.push(v(
            used[1..].join(", "),
            format!(
                "only one kind of specific rule may be set; {} is already set",
                used[0]
            ),
        ));
    }
    out
}
