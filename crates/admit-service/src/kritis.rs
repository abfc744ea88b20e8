//! Kritis' admission checks, next to the project policy: a namespace's ImageSecurityPolicies
//! against the image's Grafeas vulnerabilities (in the enforced project, with a finished
//! DISCOVERY scan required), and its GenericAttestationPolicies against attestations under each
//! AttestationAuthority's note, verified with the authority's keys. An ImageSecurityPolicy
//! naming an AttestationAuthority skips images it has attested and attests those that pass with
//! the key from its Secret (Kritis' auto-attestation), so each image is checked once.

use admit_policy::{
    CompiledAttestor, ImageRef, KritisPolicies, SecretKeys, Vuln, check_package_requirements,
};
use admit_store::OccurrenceScope;
use base64::Engine as _;
use serde_json::{Value, json};

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
    /// errors are errors: the caller denies. `attest`: an image that passes an
    /// ImageSecurityPolicy naming an authority is attested (Kritis' auto-attestation); false for
    /// a Kubernetes dry run and for continuous validation, which must change nothing.
    #[tracing::instrument(level = "debug", skip_all, fields(project, namespace))]
    pub async fn evaluate_kritis(
        &self,
        policies: &KritisPolicies,
        project: &str,
        namespace: &str,
        images: &[String],
        attest: bool,
    ) -> Result<KritisViolations, ServiceError> {
        let mut out = Vec::new();
        for raw in images {
            let mut v = Vec::new();
            self.kritis_image(policies, project, namespace, raw, attest, &mut v)
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
        attest: bool,
        v: &mut Vec<String>,
    ) -> Result<(), ServiceError> {
        let Some(ns) = policies.namespace(namespace) else {
            if policies.denies_unlisted() {
                v.push(format!(
                    "namespace {namespace} has no Kritis ImageSecurityPolicy or GenericAttestationPolicy, and admit denies by default there"
                ));
            }
            return Ok(());
        };
        if !ns.broken.is_empty() {
            v.extend(ns.broken.iter().map(|e| {
                format!("a Kritis policy of namespace {namespace} cannot be evaluated (fail closed): {e}")
            }));
            return Ok(());
        }
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
        for sp in &ns.image_security {
            let isp = &sp.policy;
            if isp
                .spec
                .image_allowlist
                .iter()
                .any(|a| same_image(a, &image))
            {
                continue;
            }
            let who = format!("ImageSecurityPolicy {namespace}/{}", isp.metadata.name);
            if let Some((_, aa)) = &sp.authority
                && self.attested_by(aa, &image).await?.is_ok()
            {
                continue;
            }
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
            let before = v.len();
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
            if attest
                && v.len() == before
                && let (Some((name, aa)), Some(key)) = (&sp.authority, &sp.signer)
            {
                // Kritis logged a failed auto-attestation and admitted: the image passed.
                if let Err(e) = self.kritis_attest(aa, key, &image).await {
                    tracing::warn!(
                        authority = %name,
                        image = %image.canonical(),
                        error = %e.message,
                        "Kritis auto-attestation failed"
                    );
                }
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
                if let Err(reasons) = self.attested_by(aa, &image).await? {
                    v.push(format!(
                        "{who}: not attested by AttestationAuthority {name}: {}",
                        reasons.join("; ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether `aa` has attested `image` (`Err`: why not). Storage errors are errors.
    async fn attested_by(
        &self,
        aa: &CompiledAttestor,
        image: &ImageRef,
    ) -> Result<Result<(), Vec<String>>, ServiceError> {
        let occs: Vec<admit_model::Occurrence> = self
            .image_occurrences(
                OccurrenceScope::Note(aa.note.to_string()),
                image,
                "ATTESTATION",
            )
            .await?
            .into_iter()
            .filter_map(|o| serde_json::from_value(o).ok())
            .collect();
        Ok(aa.check(image, &occs).map(|_| ()))
    }

    /// Attests `image` under the authority's note with the Secret's OpenPGP key, creating the
    /// note when it does not exist (as Kritis did).
    async fn kritis_attest(
        &self,
        aa: &CompiledAttestor,
        key: &SecretKeys,
        image: &ImageRef,
    ) -> Result<(), ServiceError> {
        let Some(private) = &key.private else {
            return Err(ServiceError::invalid("the Secret has no `private` entry"));
        };
        let note = aa.note.to_string();
        let project = aa.note.project.to_string();
        if self.get_note(&note).await.is_err() {
            let id = aa.note.note.clone();
            let body = json!({"attestation": {"hint": {"humanReadableName": id}}});
            if let Err(e) = self.create_note(&project, &id, body).await
                && e.code != crate::error::Code::AlreadyExists
            {
                return Err(e);
            }
        }
        let url = format!("https://{}", image.canonical());
        let payload = admit_crypto::create_signature_payload(&image.canonical())
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        let (armored, fingerprint) =
            admit_crypto::pgp_sign_message(private, &key.passphrase, payload.as_bytes()).map_err(
                |e| ServiceError::invalid(format!("signing with the Secret's key: {e}")),
            )?;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let body = json!({
            "resourceUri": url,
            "noteName": note,
            "attestation": {
                "serializedPayload": b64(payload.as_bytes()),
                "signatures": [{"publicKeyId": fingerprint, "signature": b64(armored.as_bytes())}],
            },
        });
        self.create_occurrences(&project, vec![body]).await?;
        Ok(())
    }
}
