//! `POST projects/{p}/policy:describeImage` (admit extension), behind `admit images describe`:
//! what admit knows of one image. It gives:
//! - its digest, resolved at the registry for a tag, in the shape of gcloud's
//!   `container images describe` `image_summary`;
//! - every attestor of the project, satisfied or not and why (Grafeas attestations, and cosign
//!   signatures for cosign keys);
//! - the cosign signatures stored with it;
//! - its vulnerability counts by severity;
//! - the verdict the current policy would give it in a namespace.

use std::time::Duration;

use admit_policy::{Context, ImageRef};
use admit_store::Page;
use serde_json::{Value, json};

use crate::{AdmissionRequest, Service, ServiceError};

impl Service {
    pub async fn describe_image(&self, project: &str, req: &Value) -> Result<Value, ServiceError> {
        let raw = req["image"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ServiceError::invalid("image: required"))?;
        let namespace = req["namespace"].as_str().unwrap_or("default");
        let parsed =
            ImageRef::parse(raw).map_err(|e| ServiceError::invalid(format!("image: {e}")))?;
        let (digest, resolved_at) = match parsed.digest() {
            Some(d) => (d.to_owned(), "the reference"),
            None => {
                let Some(registry) = &self.registry else {
                    return Err(ServiceError::precondition(format!(
                        "image: `{raw}` names no digest, and this server has no registry access to resolve it"
                    )));
                };
                let r = registry
                    .resolve(raw, Duration::from_secs(10))
                    .await
                    .map_err(|e| ServiceError::precondition(format!("image: {e}")))?;
                (r.digest, "the registry")
            }
        };
        let pinned = format!("{}@{digest}", parsed.repository());
        let image =
            ImageRef::parse(&pinned).map_err(|e| ServiceError::invalid(format!("image: {e}")))?;
        let repository = parsed.repository();
        let path = repository
            .strip_prefix(&format!("{}/", parsed.domain()))
            .unwrap_or(&repository)
            .to_owned();
        let mut out = json!({
            "image": raw,
            "image_summary": {
                "digest": digest,
                "fully_qualified_digest": pinned,
                "registry": parsed.domain(),
                "repository": path,
            },
            "digestFrom": resolved_at,
            "attestors": self.attestor_findings(project, &image).await?,
            "vulnerabilities": self.severity_counts(project, &digest).await?,
        });
        if let Some(registry) = &self.registry {
            out["cosignSignatures"] = match registry
                .cosign_signatures(&pinned, Duration::from_secs(10))
                .await
            {
                Ok(found) => json!({
                    "location": found.location,
                    "count": found.layers.len(),
                    "keyless": found.layers.iter().filter(|l| l.annotations.contains_key(admit_registry::cosign::CERTIFICATE_ANNOTATION)).count(),
                    "bundles": found.bundles.len(),
                }),
                Err(e) => json!({"error": e.to_string()}),
            };
        }
        let (now, _) = (self.clock)();
        let decision = self
            .evaluate_admission(
                &AdmissionRequest {
                    project: project.to_owned(),
                    images: vec![pinned.clone()],
                    context: Context {
                        cluster: self.cluster.name.clone(),
                        namespace: Some(namespace.to_owned()),
                        service_account: Some("default".into()),
                        istio_identity: Some(format!(
                            "spiffe://{}/ns/{namespace}/sa/default",
                            self.cluster.trust_domain
                        )),
                    },
                },
                now,
            )
            .await?;
        if let Some(d) = decision.images.first() {
            out["verdict"] = json!({
                "namespace": namespace,
                "verdict": d.verdict,
                "basis": d.basis.to_string(),
                "failures": d.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
        }
        Ok(out)
    }

    /// Every attestor of `project`: whether it is satisfied for `image`, by what, or why not.
    async fn attestor_findings(
        &self,
        project: &str,
        image: &ImageRef,
    ) -> Result<Vec<Value>, ServiceError> {
        let mut out = Vec::new();
        let mut page = Page {
            size: Page::MAX_SIZE,
            token: None,
        };
        loop {
            let listed = self.list_attestors(project, &page).await?;
            for a in listed.items {
                let Some((etag, compiled)) = self.compiled_attestor(&a.name).await? else {
                    continue;
                };
                let finding = match compiled {
                    Err(e) => json!({"attestor": a.name, "satisfied": false, "reasons": [e]}),
                    Ok(c) => {
                        let r = match self.verify_for(&c, &etag, image).await? {
                            Err(reasons) if c.has_cosign_keys() => {
                                self.with_cosign_evidence(&c, image, reasons).await
                            }
                            r => r,
                        };
                        match r {
                            Ok(s) => json!({"attestor": a.name, "satisfied": true,
                                "by": {"occurrence": s.occurrence, "keyId": s.key_id}}),
                            Err(reasons) => {
                                json!({"attestor": a.name, "satisfied": false, "reasons": reasons})
                            }
                        }
                    }
                };
                out.push(finding);
            }
            match listed.next_page_token {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Vulnerability occurrences of the digest in `project`, counted by severity.
    async fn severity_counts(&self, project: &str, digest: &str) -> Result<Value, ServiceError> {
        let summary = self
            .vulnerability_summary(project, &format!("has_suffix(resourceUrl, \"{digest}\")"))
            .await?;
        let mut counts = serde_json::Map::new();
        for c in summary["counts"].as_array().into_iter().flatten() {
            let total: u64 = c["totalCount"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let key = c["severity"].as_str().unwrap_or("TOTAL");
            let now = counts.get(key).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(key.to_owned(), json!(now + total));
        }
        Ok(Value::Object(counts))
    }
}
