//! Vulnerability gates, with Kritis' semantics: a VulnzSigningPolicy (the signer: separate
//! thresholds for fixable and unfixable vulnerabilities) and an ImageSecurityPolicy's package
//! requirements (admission). Both read Grafeas VULNERABILITY occurrences and both list every
//! violation, not only the first.
//!
//! Where Kritis was permissive admit is not: an unset threshold blocks everything, an
//! unfixable vulnerability falls under `maximumSeverity` unless told otherwise, and a severity
//! the scanner left unspecified counts as CRITICAL.

use admit_model::{
    ImageVulnerabilityRequirements, PackageVulnerabilityRequirements, Severity, Threshold,
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

/// Whether `list` names the vulnerability: by CVE id, or by any note path ending in it
/// (`providers/goog-vulnz/notes/CVE-…` in seed 001, `projects/goog-vulnz/notes/CVE-…`).
fn allowlisted(list: &[String], v: &Vuln) -> bool {
    list.iter().any(|a| {
        let a = a.trim();
        a == v.cve || a == v.note || a.rsplit('/').next() == Some(v.cve.as_str())
    })
}

/// A VulnzSigningPolicy's verdict: every violation (empty: the image may be signed).
pub fn check_signing_policy(req: &ImageVulnerabilityRequirements, vulns: &[Vuln]) -> Vec<String> {
    let fixable = req.maximum_fixable_severity.unwrap_or(Threshold::BlockAll);
    let unfixable = req
        .maximum_unfixable_severity
        .unwrap_or(Threshold::BlockAll);
    check(&req.allowlist_cves, fixable, unfixable, vulns)
}

/// An ImageSecurityPolicy's package requirements: every violation.
pub fn check_package_requirements(
    req: &PackageVulnerabilityRequirements,
    vulns: &[Vuln],
) -> Vec<String> {
    let max = req.maximum_severity.unwrap_or(Threshold::BlockAll);
    let unfixable = req.maximum_fix_unavailable_severity.unwrap_or(max);
    check(&req.allowlist_cves, max, unfixable, vulns)
}

fn check(
    allow: &[String],
    fixable: Threshold,
    unfixable: Threshold,
    vulns: &[Vuln],
) -> Vec<String> {
    let mut out = Vec::new();
    for v in vulns {
        if allowlisted(allow, v) {
            continue;
        }
        let threshold = if v.fix_available { fixable } else { unfixable };
        if !threshold.tolerates(v.severity) {
            out.push(format!(
                "found {}, above the threshold {threshold}",
                v.describe()
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
        };
        assert!(
            check_signing_policy(
                &req,
                &[
                    vuln("CVE-1", "CRITICAL", true),
                    vuln("CVE-2", "CRITICAL", false)
                ]
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
        };
        let v = [
            vuln("CVE-1", "HIGH", true),      // fixable above MEDIUM
            vuln("CVE-2", "HIGH", false),     // unfixable within HIGH
            vuln("CVE-3", "CRITICAL", true),  // allowlisted
            vuln("CVE-4", "CRITICAL", false), // unfixable above HIGH
        ];
        let got = check_signing_policy(&req, &v);
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
        );
        assert_eq!(strict.len(), 1);
        // ISP: unfixable falls under maximumSeverity unless told otherwise.
        let isp = PackageVulnerabilityRequirements {
            maximum_severity: Some(Threshold::Medium),
            maximum_fix_unavailable_severity: None,
            allowlist_cves: vec![],
        };
        assert_eq!(
            check_package_requirements(&isp, &[vuln("CVE-5", "HIGH", false)]).len(),
            1
        );
        assert!(check_package_requirements(&isp, &[vuln("CVE-6", "MEDIUM", false)]).is_empty());
    }
}
