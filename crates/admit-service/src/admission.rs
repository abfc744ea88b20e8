//! Admission: fetch what the policy needs, verify it (with caches that can never answer from
//! stale data), decide with the engine.
//!
//! Caches: the compiled policy per project, keyed by the policy's etag; each compiled attestor
//! keyed by its etag (so a key rotation or any attestor edit recompiles); and each verified
//! (attestor version, occurrence version, image) triple. Occurrences are listed on every
//! admission (an indexed lookup), so a deleted attestation stops counting at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use admit_model::Attestor;
use admit_policy::{
    CompiledAttestor, CompiledPolicy, Context, Decision, Evidence, ImageRef, Request, Satisfied,
};
use admit_store::Kind;

use crate::grafeas_body::with_times;
use crate::{Code, Service, ServiceError};

type Verified = Result<Satisfied, Vec<String>>;
/// An attestor compiled at one etag (or why it cannot be).
type CompiledAt = (String, Result<Arc<CompiledAttestor>, String>);
/// A cached compiled attestor: etag, KMS-backed keys, their states' fingerprint, compiled.
type CachedAttestor = (
    String,
    Arc<Vec<(String, String)>>,
    String,
    Result<Arc<CompiledAttestor>, String>,
);
/// (attestor, attestor etag, occurrence, occurrence update time, canonical image).
type VerifyKey = (String, String, String, String, String);

/// Bounds the verification cache; past it the cache is cleared (entries are cheap to rebuild).
const MAX_VERIFIED: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct AdmissionCache {
    enabled: bool,
    policies: Mutex<HashMap<String, (String, Arc<CompiledPolicy>)>>,
    /// By attestor: its etag, its KMS-backed keys and their versions' state fingerprint (the
    /// compiled attestor depends on both), and the compiled attestor.
    attestors: Mutex<HashMap<String, CachedAttestor>>,
    verified: Mutex<HashMap<VerifyKey, Verified>>,
}

impl AdmissionCache {
    pub(crate) fn new(enabled: bool) -> Self {
        AdmissionCache {
            enabled,
            ..Default::default()
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the webhook asks.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    pub project: String,
    pub images: Vec<String>,
    pub context: Context,
}

impl Service {
    async fn compiled_policy(&self, project: &str) -> Result<Arc<CompiledPolicy>, ServiceError> {
        // A hit costs the policy's etag alone: no body read, no parse.
        if self.admission.enabled {
            crate::check_project(project)?;
            let etag = self
                .store
                .etag(Kind::Policy, &crate::policy::policy_name(project))
                .await?
                .unwrap_or_else(|| "default".into());
            if let Some((e, c)) = lock(&self.admission.policies).get(project)
                && *e == etag
            {
                self.metrics.cache("policy", true);
                return Ok(c.clone());
            }
        }
        let policy = self.get_policy(project).await?;
        let etag = policy.etag.clone().unwrap_or_else(|| "default".into());
        self.metrics.cache("policy", false);
        let compiled = Arc::new(CompiledPolicy::new(policy).map_err(|e| {
            ServiceError::new(Code::Internal, format!("the stored policy is invalid: {e}"))
        })?);
        if self.admission.enabled {
            lock(&self.admission.policies).insert(project.to_owned(), (etag, compiled.clone()));
        }
        Ok(compiled)
    }

    pub(crate) async fn compiled_attestor(
        &self,
        name: &str,
    ) -> Result<Option<CompiledAt>, ServiceError> {
        // Keys backed by this server's KMS vouch only while their version is ENABLED, so the
        // compiled attestor depends on those versions' states as well as on the attestor. A
        // cached entry at the same etag knows which versions to look at without parsing, and
        // checking it costs the attestor's etag alone.
        if self.admission.enabled {
            let Some(current) = self.store.etag(Kind::Attestor, name).await? else {
                return Ok(None);
            };
            let cached = lock(&self.admission.attestors)
                .get(name)
                .filter(|c| c.0 == current)
                .cloned();
            if let Some((etag, keys, states, compiled)) = cached {
                let (_, now) = self.kms_unusable_keys(&keys).await?;
                if now == states {
                    self.metrics.cache("attestor", true);
                    return Ok(Some((format!("{etag}|{states}"), compiled)));
                }
            }
        }
        let Some(doc) = self.store.get(Kind::Attestor, name).await? else {
            return Ok(None);
        };
        self.metrics.cache("attestor", false);
        let parsed = serde_json::from_value::<Attestor>(doc.body).map_err(|e| e.to_string());
        let keys = Arc::new(
            parsed
                .as_ref()
                .map(crate::kms_lifecycle::kms_backed_keys)
                .unwrap_or_default(),
        );
        let (unusable, states) = self.kms_unusable_keys(&keys).await?;
        let compiled = parsed
            .and_then(|mut a| {
                a.admit_revoked_keys.extend(unusable);
                CompiledAttestor::compile(&a).map_err(|e| e.to_string())
            })
            .map(Arc::new);
        if self.admission.enabled {
            lock(&self.admission.attestors).insert(
                name.to_owned(),
                (doc.etag.clone(), keys, states.clone(), compiled.clone()),
            );
        }
        Ok(Some((format!("{}|{states}", doc.etag), compiled)))
    }

    /// Every attestation of `image` under the attestor's note, each verified once per version.
    #[tracing::instrument(level = "debug", skip_all, fields(attestor = %attestor.name, image = %image))]
    pub(crate) async fn verify_for(
        &self,
        attestor: &CompiledAttestor,
        attestor_etag: &str,
        image: &ImageRef,
    ) -> Result<Verified, ServiceError> {
        let digest = image.digest().unwrap_or_default();
        let name = attestor.name.to_string();
        let canonical = image.canonical();
        let mut reasons: Vec<String> = Vec::new();
        let max = crate::MAX_OCCURRENCES_PER_IMAGE;
        // One indexed query (note × digest); one row more than accepted tells "too many".
        let docs = self
            .store
            .attestations(
                &attestor.note.to_string(),
                digest,
                u32::try_from(max + 1).unwrap_or(u32::MAX),
            )
            .await?;
        let too_many = docs.len() > max;
        for doc in docs.into_iter().take(max) {
            let v = with_times(doc);
            let key = (
                name.clone(),
                attestor_etag.to_owned(),
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["updateTime"].as_str().unwrap_or_default().to_owned(),
                canonical.clone(),
            );
            let cached = if self.admission.enabled {
                lock(&self.admission.verified).get(&key).cloned()
            } else {
                None
            };
            self.metrics.cache("verification", cached.is_some());
            let result = match cached {
                Some(r) => r,
                None => {
                    let r = match serde_json::from_value::<admit_model::Occurrence>(v) {
                        Ok(o) => attestor.check(image, std::slice::from_ref(&o)),
                        Err(e) => Err(vec![format!("unreadable occurrence: {e}")]),
                    };
                    if self.admission.enabled {
                        let mut m = lock(&self.admission.verified);
                        if m.len() >= MAX_VERIFIED {
                            m.clear();
                        }
                        m.insert(key, r.clone());
                    }
                    r
                }
            };
            match result {
                Ok(s) => return Ok(Ok(s)),
                Err(r) => reasons.extend(
                    r.into_iter()
                        .filter(|x| !x.starts_with("no attestation by")),
                ),
            }
        }
        if too_many {
            // Every one would be verified on every review: fail closed instead.
            return Err(ServiceError::precondition(format!(
                "more than {max} attestations of {}@{digest} under {}; refusing to verify them all",
                image.repository(),
                attestor.note
            )));
        }
        reasons.sort();
        reasons.dedup();
        // A denial explains itself, but not with one line per bogus occurrence.
        const MAX_REASONS: usize = 10;
        if reasons.len() > MAX_REASONS {
            let more = reasons.len() - MAX_REASONS;
            reasons.truncate(MAX_REASONS);
            reasons.push(format!("and {more} more"));
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no attestation by {name} for {}@{digest}",
                image.repository()
            ));
        }
        Ok(Err(reasons))
    }

    /// Decides an admission. Any storage failure is an error: the caller must deny.
    #[tracing::instrument(level = "debug", skip_all, fields(project = %req.project, images = req.images.len()))]
    pub async fn evaluate_admission(
        &self,
        req: &AdmissionRequest,
        now: u64,
    ) -> Result<Decision, ServiceError> {
        let policy = self.compiled_policy(&req.project).await?;
        self.evaluate_with(&policy, req, now).await
    }

    /// Whether admitting `image` in `context` needs its digest under the project's policy:
    /// `Some(enforced)` when the rule that applies requires attestations and the image is not
    /// exempt, `None` otherwise (and for a reference that does not parse, which admission
    /// refuses on its own).
    pub async fn digest_need(
        &self,
        project: &str,
        image: &str,
        context: &admit_policy::Context,
    ) -> Result<Option<bool>, ServiceError> {
        let Ok(image) = admit_policy::ImageRef::parse(image) else {
            return Ok(None);
        };
        let policy = self.compiled_policy(project).await?;
        Ok(policy.digest_need(&image, context))
    }

    /// The project's compiled policy as admission uses it.
    pub(crate) async fn current_policy(
        &self,
        project: &str,
    ) -> Result<Arc<CompiledPolicy>, ServiceError> {
        self.compiled_policy(project).await
    }

    /// Decides an admission under `policy` (the project's, or one being simulated), with the
    /// evidence admission would gather.
    pub(crate) async fn evaluate_with(
        &self,
        policy: &CompiledPolicy,
        req: &AdmissionRequest,
        now: u64,
    ) -> Result<Decision, ServiceError> {
        let request = Request {
            images: req.images.clone(),
            context: req.context.clone(),
        };
        let mut evidence = Evidence::new();
        for name in policy.required_attestors(&request) {
            let Some((etag, compiled)) = self.compiled_attestor(&name).await? else {
                continue; // the engine reports "attestor not found"
            };
            let denial = match &compiled {
                Ok(a) => {
                    self.cross_project_denial(&req.project, &name, &a.note.to_string())
                        .await?
                }
                Err(e) => Some(e.clone()),
            };
            let attestor = match (&compiled, denial) {
                (Ok(a), None) => a,
                (_, d) => {
                    let e = d.unwrap_or_default();
                    for i in req.images.iter().filter_map(|i| ImageRef::parse(i).ok()) {
                        evidence.add_verified(&name, &i, Err(vec![e.clone()]));
                    }
                    continue;
                }
            };
            for raw in &req.images {
                let Ok(image) = ImageRef::parse(raw) else {
                    continue;
                };
                if image.digest().is_none() || policy.is_exempt(&image) {
                    continue;
                }
                let r = match self.verify_for(attestor, &etag, &image).await? {
                    Err(reasons) if attestor.has_cosign_keys() => {
                        self.with_cosign_evidence(attestor, &image, reasons).await
                    }
                    r => r,
                };
                evidence.add_verified(&name, &image, r);
            }
            evidence.add_compiled_attestor(Arc::clone(attestor));
        }
        Ok(policy.evaluate(&request, &evidence, now))
    }

    /// Seed 000's multi-project rule, enforced when access control is on: the deployer
    /// project's service agent must hold `attestorsVerifier` on an attestor in another project,
    /// and the attestor's project's agent must be able to read the note's occurrences
    /// (`notes.occurrences.viewer`). Within one project the agent's own role covers both.
    async fn cross_project_denial(
        &self,
        deployer: &str,
        attestor: &str,
        note: &str,
    ) -> Result<Option<String>, ServiceError> {
        if !self.access_enforced() {
            return Ok(None);
        }
        let agent = crate::service_agent(deployer);
        if !self
            .holds(
                &agent,
                "binaryauthorization.attestors.verifyImageAttested",
                attestor,
            )
            .await?
        {
            return Ok(Some(format!(
                "project {deployer}'s service agent ({}) may not use attestor {attestor}: grant it roles/binaryauthorization.attestorsVerifier there",
                agent.trim_start_matches("serviceAccount:")
            )));
        }
        let attestor_project = crate::project_of(attestor);
        let reader = crate::service_agent(attestor_project);
        if !self
            .holds(&reader, "containeranalysis.notes.listOccurrences", note)
            .await?
        {
            return Ok(Some(format!(
                "attestor {attestor} cannot read the occurrences of {note}: grant {} roles/containeranalysis.notes.occurrences.viewer on the note",
                reader.trim_start_matches("serviceAccount:")
            )));
        }
        Ok(None)
    }
}
