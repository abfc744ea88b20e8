//! Kritis' admission checks, next to the project policy: a namespace's ImageSecurityPolicies
//! against the image's Grafeas vulnerabilities (in the enforced project, with a finished
//! DISCOVERY scan required), and its GenericAttestationPolicies against attestations under each
//! AttestationAuthority's note, verified with the authority's OpenPGP keys.

use admit_policy::{ImageRef, KritisPolicies, Vuln, check_package_requirements};
use admit_store::OccurrenceScope;
use serde_json::Value;

use crate::{Service, ServiceError};

/// Every failing image with its violations.
pub type KritisViolations = Vec<(String, Vec<String>)>;

fn same_image(a: &str, b: &ImageRef) -> bool {
    ImageRef::parse(a.split_once("://").map_or(a, |(_, r)| r))
        .is_ok_and(|r| r.canonical() == b.canonical())
}

impl Service {
    async fn image_occurrences(
        &self,
        scope: OccurrenceScope,
        image: &ImageRef,
        kind: &str,
    ) -> Result<Vec<Value>, ServiceError> {
        let digest = image.digest().unwrap_or_default();
        let filter = format!("kind = \"{kind}\" AND has_suffix(resourceUrl, \"{digest}\")");
        Ok(self
            .bounded_occurrences(&scope, &filter)
            .await?
            .into_iter()
            .filter(|o| {
                o.get("resourceUri")
                    .and_then(Value::as_str)
                    .is_some_and(|u| same_image(u, image))
            })
            .collect())
    }

    /// Kritis' verdict on the images of a workload in `namespace` (empty: admitted). Storage
    /// errors are errors: the caller denies.
    #[tracing::instrument(level = "debug", skip_all, fields(project, namespace))]
    pub async fn evaluate_kritis(
        &self,
        policies: &KritisPolicies,
        project: &str,
        namespace: &str,
        images: &[String],
    ) -> Result<KritisViolations, ServiceError> {
        let mut out = Vec::new();
        for raw in images {
            let mut v = Vec::new();
            self.kritis_image(policies, project, namespace, raw, &mut v)
                .await?;
            if !v.is_empty() {
                out.push((raw.clone(), v));
            }
        }
        Ok(out)
    }

    async fn kritis_image(
        &self,
        policies: &KritisPolicies,
        project: &str,
        namespace: &str,
        raw: &str,
        v: &mut Vec<String>,
    ) -> Result<(), ServiceError> {
        let Some(ns) = policies.namespace(namespace) else {
            v.push(format!(
                "namespace {namespace} has no Kritis ImageSecurityPolicy or GenericAttestationPolicy, and admit denies by default there"
            ));
            return Ok(());
        };
        let image = match ImageRef::parse(raw) {
            Ok(i) if i.digest().is_some() => i,
            _ => {
                v.push(format!(
                    "{raw} is not a fully qualified image: Kritis policies need REPOSITORY@sha256:DIGEST"
                ));
                return Ok(());
            }
        };
        let mut vulns: Option<Result<Vec<Vuln>, String>> = None;
        for isp in &ns.image_security {
            if isp
                .spec
                .image_allowlist
                .iter()
                .any(|a| same_image(a, &image))
            {
                continue;
            }
            let who = format!("ImageSecurityPolicy {namespace}/{}", isp.metadata.name);
            if vulns.is_none() {
                let scope = OccurrenceScope::Project(project.to_owned());
                let scans = self
                    .image_occurrences(scope.clone(), &image, "DISCOVERY")
                    .await?;
                let finished = scans.iter().any(|d| {
                    d.pointer("/discovery/analysisStatus")
                        .and_then(Value::as_str)
                        == Some("FINISHED_SUCCESS")
                });
                vulns = Some(if finished {
                    Ok(self
                        .image_occurrences(scope, &image, "VULNERABILITY")
                        .await?
                        .iter()
                        .filter_map(Vuln::from_occurrence)
                        .collect())
                } else {
                    Err(format!(
                        "no finished vulnerability scan of {raw} in project {project} (import one with `admit vulns import`)"
                    ))
                });
            }
            match vulns.as_ref() {
                Some(Ok(found)) => {
                    for f in check_package_requirements(
                        &isp.spec.package_vulnerability_requirements,
                        found,
                        (self.clock)().0,
                    ) {
                        v.push(format!("{who}: {f}"));
                    }
                }
                Some(Err(e)) => v.push(format!("{who}: {e}")),
                None => {}
            }
        }
        for (gap, patterns) in &ns.attestation {
            if patterns.iter().any(|p| p.matches(&image)) {
                continue;
            }
            let who = format!("GenericAttestationPolicy {namespace}/{}", gap.metadata.name);
            for name in &gap.spec.attestation_authority_names {
                let Some(aa) = ns.authorities.get(name) else {
                    v.push(format!("{who}: AttestationAuthority {name} is not defined"));
                    continue;
                };
                let occs: Vec<admit_model::Occurrence> = self
                    .image_occurrences(
                        OccurrenceScope::Note(aa.note.to_string()),
                        &image,
                        "ATTESTATION",
                    )
                    .await?
                    .into_iter()
                    .filter_map(|o| serde_json::from_value(o).ok())
                    .collect();
                if let Err(reasons) = aa.check(&image, &occs) {
                    v.push(format!(
                        "{who}: not attested by AttestationAuthority {name}: {}",
                        reasons.join("; ")
                    ));
                }
            }
        }
        Ok(())
    }
}
