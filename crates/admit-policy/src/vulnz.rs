//! Vulnerability gates, with Kritis' semantics: a VulnzSigningPolicy (the signer: separate
//! thresholds for fixable and unfixable vulnerabilities) and an ImageSecurityPolicy's package
//! requirements (admission). Both read Grafeas VULNERABILITY occurrences and both list every
//! violation, not only the first.
//!
//! Where Kritis was permissive admit is not: an unset threshold blocks everything, an
//! unfixable vulnerability falls under `maximumSeverity` unless told otherwise, and a severity
//! the scanner left unspecified counts as CRITICAL.

use std::collections::BTreeMap;

use admit_model::{
    AllowlistExpiry, ImageVulnerabilityRequirements, PackageVulnerabilityRequirements, Severity,
    Threshold,
};
use serde_json::Value;

/// One vulnerability found in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vuln {
    /// The CVE id: the note's last segment (`projects/goog-vulnz/notes/CVE-2024-1` → `CVE-2024-1`).
    pub cve: String,
    pub note: String,
    /// `effectiveSeverity` when the scanner set it (distro-adjusted), else `severity`.
    pub severity: Severity,
    pub fix_available: bool,
    /// Affected packages, for messages.
    pub packages: Vec<String>,
}

impl Vuln {
    /// Reads a VULNERABILITY occurrence (proto3 JSON); `None` for other kinds.
    pub fn from_occurrence(o: &Value) -> Option<Vuln> {
        let v = o.get("vulnerability")?;
        let note = o
            .get("noteName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let sev = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Severity>().ok())
                .filter(|s| !s.is_unspecified())
        };
        let issues = v
            .get("packageIssue")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let fix_available = match v.get("fixAvailable").and_then(Value::as_bool) {
            Some(f) => f,
            // Older scanners: a fixed version on any package issue.
            None => issues.iter().any(|i| {
                i.pointer("/fixedVersion/kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k != "MAXIMUM" && !k.is_empty())
            }),
        };
        Some(Vuln {
            cve: note.rsplit('/').next().unwrap_or(note).to_owned(),
            note: note.to_owned(),
            severity: sev("effectiveSeverity")
                .or_else(|| sev("severity"))
                .unwrap_or_default(),
            fix_available,
            packages: issues
                .iter()
                .filter_map(|i| i.get("affectedPackage").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
        })
    }

    fn describe(&self) -> String {
        let what = if self.fix_available {
            "fixable"
        } else {
            "unfixable"
        };
        let pkgs = if self.packages.is_empty() {
            String::new()
        } else {
            format!(" in {}", self.packages.join(", "))
        };
        format!("{what} {}{pkgs} with severity {}", self.cve, self.severity)
    }
}

/// How an allowlist treats one vulnerability.
enum Listed {
    No,
    Yes,
    /// Listed, but the entry expired (admit extension): what to say.
    Expired(String),
}

/// Whether `list` names the vulnerability: by CVE id, or by any note path ending in it
/// (`providers/goog-vulnz/notes/CVE-…` in seed 001, `projects/goog-vulnz/notes/CVE-…`); an
/// entry with an expiry at or before `now` no longer counts.
fn allowlisted(
    list: &[String],
    expiry: &BTreeMap<String, AllowlistExpiry>,
    v: &Vuln,
    now: u64,
) -> Listed {
    let Some(entry) = list
        .iter()
        .map(|a| a.trim())
        .find(|a| *a == v.cve || *a == v.note || a.rsplit('/').next() == Some(v.cve.as_str()))
    else {
        return Listed::No;
    };
    let Some(e) = expiry.get(entry).or_else(|| expiry.get(&v.cve)) else {
        return Listed::Yes;
    };
    match admit_model::parse_rfc3339(&e.expire_time) {
        Some((at, _)) if now < at => Listed::Yes,
        // Expired, or an expiry that does not parse (fail closed).
        _ => Listed::Expired(format!(
            "its allowlist entry `{entry}` expired at {}{}",
            e.expire_time,
            if e.reason.is_empty() {
                String::new()
            } else {
                format!(" (granted for: {})", e.reason)
            }
        )),
    }
}

/// Checks `admitAllowlistExpiry`: every time parses and every key is an allowlist entry.
pub fn check_allowlist_expiry(
    field: &str,
    list: &[String],
    expiry: &BTreeMap<String, AllowlistExpiry>,
) -> Result<(), String> {
    for (k, e) in expiry {
        if admit_model::parse_rfc3339(&e.expire_time).is_none() {
            return Err(format!(
                "{field}.admitAllowlistExpiry.{k}.expireTime: `{}` is not an RFC 3339 timestamp",
                e.expire_time
            ));
        }
        if !list
            .iter()
            .any(|a| a.trim() == k || a.trim().rsplit('/').next() == Some(k.as_str()))
        {
            return Err(format!(
                "{field}.admitAllowlistExpiry.{k}: not an entry of allowlistCVEs"
            ));
        }
    }
    Ok(())
}

/// A VulnzSigningPolicy's verdict at `now`: every violation (empty: the image may be signed).
pub fn check_signing_policy(
    req: &ImageVulnerabilityRequirements,
    vulns: &[Vuln],
    now: u64,
) -> Vec<String> {
    let fixable = req.maximum_fixable_severity.unwrap_or(Threshold::BlockAll);
    let unfixable = req
        .maximum_unfixable_severity
        .unwrap_or(Threshold::BlockAll);
    check(
        &req.allowlist_cves,
        &req.admit_allowlist_expiry,
        (fixable, unfixable),
        vulns,
        now,
    )
}

/// An ImageSecurityPolicy's package requirements at `now`: every violation.
pub fn check_package_requirements(
    req: &PackageVulnerabilityRequirements,
    vulns: &[Vuln],
    now: u64,
) -> Vec<String> {
    let max = req.maximum_severity.unwrap_or(Threshold::BlockAll);
    let unfixable = req.maximum_fix_unavailable_severity.unwrap_or(max);
    check(
        &req.allowlist_cves,
        &req.admit_allowlist_expiry,
        (max, unfixable),
        vulns,
        now,
    )
}

/// `thresholds`: (for fixable, for unfixable) vulnerabilities.
fn check(
    allow: &[String],
    expiry: &BTreeMap<String, AllowlistExpiry>,
    thresholds: (Threshold, Threshold),
    vulns: &[Vuln],
    now: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    for v in vulns {
        let expired = match allowlisted(allow, expiry, v, now) {
            Listed::Yes => continue,
            Listed::No => None,
            Listed::Expired(why) => Some(why),
        };
        let threshold = if v.fix_available {
            thresholds.0
        } else {
            thresholds.1
        };
        if !threshold.tolerates(v.severity) {
            out.push(format!(
                "found {}, above the threshold {threshold}{}",
                v.describe(),
                expired.map(|w| format!("; {w}")).unwrap_or_default()
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-11-30T00:00:00Z.
    const NOW: u64 = 1_795_996_800;

    fn vuln(cve: &str, sev: &str, fix: bool) -> Vuln {
        Vuln::from_occurrence(&json!({
            "noteName": format!("projects/goog-vulnz/notes/{cve}"),
            "kind": "VULNERABILITY",
            "vulnerability": {"severity": "LOW", "effectiveSeverity": sev, "fixAvailable": fix,
                              "packageIssue": [{"affectedPackage": "openssl"}]}
        }))
        .unwrap_or_else(|| Vuln {
            cve: String::new(),
            note: String::new(),
            severity: Severity::Unspecified,
            fix_available: false,
            packages: vec![],
        })
    }

    #[test]
    fn seed_003_policy_blocks_nothing_unfixable_and_allows_up_to_critical() {
        let req = ImageVulnerabilityRequirements {
            maximum_fixable_severity: Some(Threshold::Critical),
            maximum_unfixable_severity: Some(Threshold::AllowAll),
            allowlist_cves: vec![],
            admit_allowlist_expiry: BTreeMap::new(),
        };
        assert!(
            check_signing_policy(
                &req,
                &[
                    vuln("CVE-1", "CRITICAL", true),
                    vuln("CVE-2", "CRITICAL", false)
                ],
                NOW
            )
            .is_empty()
        );
    }

    #[test]
    fn thresholds_allowlists_and_safe_defaults() {
        let req = ImageVulnerabilityRequirements {
            maximum_fixable_severity: Some(Threshold::Medium),
            maximum_unfixable_severity: Some(Threshold::High),
            allowlist_cves: vec!["providers/goog-vulnz/notes/CVE-3".into()],
            admit_allowlist_expiry: BTreeMap::new(),
        };
        let v = [
            vuln("CVE-1", "HIGH", true),      // fixable above MEDIUM
            vuln("CVE-2", "HIGH", false),     // unfixable within HIGH
            vuln("CVE-3", "CRITICAL", true),  // allowlisted
            vuln("CVE-4", "CRITICAL", false), // unfixable above HIGH
        ];
        let got = check_signing_policy(&req, &v, NOW);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].contains(
                "fixable CVE-1 in openssl with severity HIGH, above the threshold MEDIUM"
            ),
            "{got:?}"
        );
        assert!(
            got[1].contains(
                "unfixable CVE-4 in openssl with severity CRITICAL, above the threshold HIGH"
            ),
            "{got:?}"
        );
        // Nothing set: everything blocks.
        let strict = check_signing_policy(
            &ImageVulnerabilityRequirements::default(),
            &[vuln("CVE-9", "MINIMAL", true)],
            NOW,
        );
        assert_eq!(strict.len(), 1);
        // ISP: unfixable falls under maximumSeverity unless told otherwise.
        let isp = PackageVulnerabilityRequirements {
            maximum_severity: Some(Threshold::Medium),
            maximum_fix_unavailable_severity: None,
            allowlist_cves: vec![],
            admit_allowlist_expiry: BTreeMap::new(),
        };
        assert_eq!(
            check_package_requirements(&isp, &[vuln("CVE-5", "HIGH", false)], NOW).len(),
            1
        );
        assert!(
            check_package_requirements(&isp, &[vuln("CVE-6", "MEDIUM", false)], NOW).is_empty()
        );
    }

    #[test]
    fn allowlist_entries_expire_and_say_so() {
        let mut expiry = BTreeMap::new();
        expiry.insert(
            "providers/goog-vulnz/notes/CVE-3".to_owned(),
            AllowlistExpiry {
                expire_time: "2026-12-01T00:00:00Z".into(),
                reason: "vendor fix due in November, SEC-77".into(),
            },
        );
        let req = ImageVulnerabilityRequirements {
            maximum_fixable_severity: Some(Threshold::Medium),
            maximum_unfixable_severity: Some(Threshold::Medium),
            allowlist_cves: vec!["providers/goog-vulnz/notes/CVE-3".into()],
            admit_allowlist_expiry: expiry,
        };
        let v = [vuln("CVE-3", "CRITICAL", true)];
        let before = admit_model::parse_rfc3339("2026-11-30T23:59:59Z").map_or(0, |t| t.0);
        let at = admit_model::parse_rfc3339("2026-12-01T00:00:00Z").map_or(0, |t| t.0);
        assert!(check_signing_policy(&req, &v, before).is_empty());
        let after = check_signing_policy(&req, &v, at);
        assert_eq!(after.len(), 1);
        assert!(
            after[0].contains(
                "its allowlist entry `providers/goog-vulnz/notes/CVE-3` expired at 2026-12-01T00:00:00Z (granted for: vendor fix due in November, SEC-77)"
            ),
            "{after:?}"
        );
        // Checked when loaded: a bad time or an entry that is not in the list, named.
        assert!(
            check_allowlist_expiry("spec", &req.allowlist_cves, &req.admit_allowlist_expiry)
                .is_ok()
        );
        let mut bad = req.admit_allowlist_expiry.clone();
        bad.insert(
            "CVE-9".into(),
            AllowlistExpiry {
                expire_time: "soon".into(),
                reason: String::new(),
            },
        );
        let e = check_allowlist_expiry("spec", &req.allowlist_cves, &bad).unwrap_err();
        assert!(
            e.contains("spec.admitAllowlistExpiry.CVE-9.expireTime"),
            "{e}"
        );
    }
}
