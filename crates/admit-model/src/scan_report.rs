//! Scanner reports into Grafeas: Trivy's JSON (`trivy image -f json`, schema 2) and Grype's
//! JSON (`grype -o json`) become one VULNERABILITY occurrence per CVE per image (severity,
//! effective severity, CVSS score, fix availability, every affected package with its installed
//! and fixed versions) plus the CVE notes they point at.
//!
//! Unknown fields are ignored (both formats grow); the fields read are required and a bad one
//! is named with its path (`Results[1].Vulnerabilities[3].Severity`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::ModelError;

/// Which scanner wrote the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFormat {
    Trivy,
    Grype,
}

impl std::str::FromStr for ScanFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "trivy" => Ok(ScanFormat::Trivy),
            "grype" => Ok(ScanFormat::Grype),
            other => Err(format!("unknown report format `{other}` (trivy, grype)")),
        }
    }
}

/// What an import writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanImport {
    /// CVE notes: (note id, note body), in `note_project`.
    pub notes: Vec<(String, Value)>,
    /// VULNERABILITY occurrences.
    pub occurrences: Vec<Value>,
    /// The scanner and its version, for the DISCOVERY occurrence.
    pub scanner: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyReport {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    results: Vec<TrivyResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(default)]
    target: String,
    #[serde(default, rename = "Type")]
    kind: String,
    #[serde(default)]
    vulnerabilities: Vec<TrivyVuln>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    pkg_name: String,
    installed_version: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    status: Option<String>,
    severity: TrivySeverity,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
    #[serde(default, rename = "CVSS")]
    cvss: BTreeMap<String, TrivyCvss>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum TrivySeverity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Deserialize)]
struct TrivyCvss {
    #[serde(default, rename = "V3Score")]
    v3_score: Option<f64>,
    #[serde(default, rename = "V2Score")]
    v2_score: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    descriptor: Option<GrypeDescriptor>,
}

#[derive(Debug, Deserialize)]
struct GrypeDescriptor {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
}

#[derive(Debug, Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    artifact: GrypeArtifact,
}

#[derive(Debug, Deserialize)]
struct GrypeVuln {
    id: String,
    severity: GrypeSeverity,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    cvss: Vec<GrypeCvss>,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Debug, Deserialize)]
enum GrypeSeverity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Deserialize)]
struct GrypeCvss {
    #[serde(default)]
    version: String,
    metrics: GrypeMetrics,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMetrics {
    base_score: f64,
}

#[derive(Debug, Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
    state: String,
}

#[derive(Debug, Deserialize)]
struct GrypeArtifact {
    name: String,
    version: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// One affected package, normalised.
struct Issue {
    package: String,
    package_type: String,
    installed: String,
    fixed: Option<String>,
}

/// One CVE in the image, normalised.
struct Finding {
    severity: &'static str,
    cvss: Option<f64>,
    title: Option<String>,
    description: Option<String>,
    url: Option<String>,
    issues: Vec<Issue>,
}

fn decode<T: for<'de> Deserialize<'de>>(format: &'static str, text: &str) -> Result<T, ModelError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| ModelError::Decode {
        format,
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

fn trivy(text: &str, out: &mut BTreeMap<String, Finding>) -> Result<String, ModelError> {
    let r: TrivyReport = decode("Trivy JSON", text)?;
    if let Some(v) = r.schema_version
        && v != 2
    {
        return Err(ModelError::Decode {
            format: "Trivy JSON",
            path: "SchemaVersion".into(),
            message: format!("schema version {v} is not supported (2)"),
        });
    }
    for res in r.results {
        for v in res.vulnerabilities {
            let severity = match v.severity {
                TrivySeverity::Unknown => "SEVERITY_UNSPECIFIED",
                TrivySeverity::Low => "LOW",
                TrivySeverity::Medium => "MEDIUM",
                TrivySeverity::High => "HIGH",
                TrivySeverity::Critical => "CRITICAL",
            };
            // NVD's score first, as Container Analysis reports it; else any vendor's.
            let cvss = v
                .cvss
                .get("nvd")
                .into_iter()
                .chain(v.cvss.values())
                .find_map(|c| c.v3_score.or(c.v2_score));
            let fixed = v
                .fixed_version
                .filter(|f| !f.is_empty() && v.status.as_deref() != Some("will_not_fix"));
            let f = out.entry(v.id).or_insert_with(|| Finding {
                severity,
                cvss,
                title: v.title,
                description: v.description,
                url: v.primary_url,
                issues: vec![],
            });
            f.issues.push(Issue {
                package: v.pkg_name,
                package_type: if res.kind.is_empty() {
                    res.target.clone()
                } else {
                    res.kind.clone()
                },
                installed: v.installed_version,
                fixed,
            });
        }
    }
    Ok("trivy".into())
}

fn grype(text: &str, out: &mut BTreeMap<String, Finding>) -> Result<String, ModelError> {
    let r: GrypeReport = decode("Grype JSON", text)?;
    for m in r.matches {
        let v = m.vulnerability;
        let severity = match v.severity {
            GrypeSeverity::Unknown => "SEVERITY_UNSPECIFIED",
            GrypeSeverity::Negligible => "MINIMAL",
            GrypeSeverity::Low => "LOW",
            GrypeSeverity::Medium => "MEDIUM",
            GrypeSeverity::High => "HIGH",
            GrypeSeverity::Critical => "CRITICAL",
        };
        let cvss = v
            .cvss
            .iter()
            .filter(|c| c.version.starts_with('3'))
            .chain(v.cvss.iter())
            .map(|c| c.metrics.base_score)
            .next();
        let fixed = v
            .fix
            .as_ref()
            .filter(|f| f.state == "fixed")
            .and_then(|f| f.versions.first().cloned());
        let f = out.entry(v.id).or_insert_with(|| Finding {
            severity,
            cvss,
            title: None,
            description: v.description,
            url: v.urls.first().cloned(),
            issues: vec![],
        });
        f.issues.push(Issue {
            package: m.artifact.name,
            package_type: m.artifact.kind,
            installed: m.artifact.version,
            fixed,
        });
    }
    Ok(match r.descriptor {
        Some(d) if !d.name.is_empty() => format!("{} {}", d.name, d.version).trim().to_owned(),
        _ => "grype".into(),
    })
}

/// Turns a report into notes and occurrences for `resource_uri`, with CVE notes in
/// `note_project`.
pub fn parse_scan_report(
    format: ScanFormat,
    text: &str,
    resource_uri: &str,
    note_project: &str,
) -> Result<ScanImport, ModelError> {
    let mut findings = BTreeMap::new();
    let scanner = match format {
        ScanFormat::Trivy => trivy(text, &mut findings)?,
        ScanFormat::Grype => grype(text, &mut findings)?,
    };
    let mut out = ScanImport {
        scanner,
        ..ScanImport::default()
    };
    for (cve, f) in findings {
        let fix_available = f.issues.iter().any(|i| i.fixed.is_some());
        let issues: Vec<Value> = f
            .issues
            .iter()
            .map(|i| {
                json!({
                    "affectedPackage": i.package,
                    "affectedVersion": {"name": i.installed, "kind": "NORMAL", "fullName": i.installed},
                    "fixedVersion": match &i.fixed {
                        Some(v) => json!({"name": v, "kind": "NORMAL", "fullName": v}),
                        None => json!({"kind": "MAXIMUM"}),
                    },
                    "fixAvailable": i.fixed.is_some(),
                    "packageType": i.package_type,
                    "effectiveSeverity": f.severity,
                })
            })
            .collect();
        let mut vuln = json!({
            "severity": f.severity,
            "effectiveSeverity": f.severity,
            "fixAvailable": fix_available,
            "packageIssue": issues,
            "shortDescription": f.title.clone().unwrap_or_else(|| cve.clone()),
        });
        if let Some(s) = f.cvss {
            vuln["cvssScore"] = json!(s);
        }
        if let Some(d) = &f.description {
            vuln["longDescription"] = json!(d);
        }
        if let Some(u) = &f.url {
            vuln["relatedUrls"] = json!([{"url": u, "label": "More Info"}]);
        }
        out.occurrences.push(json!({
            "resourceUri": resource_uri,
            "noteName": format!("projects/{note_project}/notes/{cve}"),
            "kind": "VULNERABILITY",
            "vulnerability": vuln,
        }));
        let mut note = json!({
            "shortDescription": cve,
            "vulnerability": {"severity": f.severity},
        });
        if let Some(s) = f.cvss {
            note["vulnerability"]["cvssScore"] = json!(s);
        }
        if let Some(d) = f.description {
            note["longDescription"] = json!(d);
        }
        out.notes.push((cve, note));
    }
    Ok(out)
}
