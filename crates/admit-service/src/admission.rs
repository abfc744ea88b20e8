//! Admission: fetch what the policy needs, verify it, decide with the engine.
//!
//! What it fetches is kept in memory (`admission_state`): while the store's change feed is live
//! a warm review reads nothing from the database; otherwise each entry is checked against the
//! stored version first. Everything a review needs from the database on a miss is fetched
//! together: the attestations of all its (note, digest) pairs in one query.

use std::collections::HashMap;
use std::sync::Arc;

use admit_model::{Attestor, AttestorName, Policy};
use admit_policy::{
    CompiledAttestor, CompiledPolicy, Context, Decision, Evidence, ImageRef, Request,
};
use admit_store::{Doc, repo};

use crate::admission_state::{Attestation, Found, Verified};
use crate::grafeas_body::with_times;
use crate::{Code, Service, ServiceError};

/// An attestor compiled at one etag (or why it cannot be).
type CompiledAt = (String, Result<Arc<CompiledAttestor>, String>);

/// What the webhook asks.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    pub project: String,
    pub images: Vec<String>,
    pub context: Context,
}

impl Service {
    async fn compiled_policy(&self, project: &str) -> Result<Arc<CompiledPolicy>, ServiceError> {
        let state = &self.admission;
        if state.trusted() {
            // The feed tells of every change: a hit costs no database read at all.
            if let Some((_, c)) = state.policy(project) {
                self.metrics.cache("policy", true);
                return Ok(c);
            }
        }
        let name = crate::policy::parse_name(project)?;
        if !state.trusted() && state.enabled() {
            // A hit costs the policy's version alone: no body read, no parse.
            let etag = repo::<Policy>(self.store.as_ref())
                .version(&name)
                .await?
                .unwrap_or_else(|| "default".into());
            if let Some((e, c)) = state.policy(project)
                && e == etag
            {
                self.metrics.cache("policy", true);
                return Ok(c);
            }
        }
        let generation = state.generation();
        let policy = self.project_policy(&name).await?;
        let etag = policy.etag.clone().unwrap_or_else(|| "default".into());
        self.metrics.cache("policy", false);
        let compiled = Arc::new(CompiledPolicy::new(policy).map_err(|e| {
            ServiceError::new(Code::Internal, format!("the stored policy is invalid: {e}"))
        })?);
        state.keep_policy(generation, project, etag, compiled.clone());
        Ok(compiled)
    }

    pub(crate) async fn compiled_attestor(
        &self,
        name: &str,
    ) -> Result<Option<CompiledAt>, ServiceError> {
        let state = &self.admission;
        if state.trusted()
            && let Some((etag, _, states, compiled)) = state.attestor(name)
        {
            self.metrics.cache("attestor", true);
            return Ok(Some((format!("{etag}|{states}"), compiled)));
        }
        let Ok(parsed) = AttestorName::parse(name) else {
            return Ok(None); // no such attestor can exist
        };
        let attestors = repo::<Attestor>(self.store.as_ref());
        if !state.trusted() && state.enabled() {
            // Keys backed by this server's KMS vouch only while their version is ENABLED, so
            // the compiled attestor depends on those versions' states as well as on the
            // attestor. A cached entry at the same etag knows which versions to look at without
            // parsing, and checking it costs the attestor's etag alone.
            let Some(current) = attestors.version(&parsed).await? else {
                return Ok(None);
            };
            if let Some((etag, keys, states, compiled)) =
                state.attestor(name).filter(|c| c.0 == current)
            {
                let (_, now) = self.kms_unusable_keys(&keys).await?;
                if now == states {
                    self.metrics.cache("attestor", true);
                    return Ok(Some((format!("{etag}|{states}"), compiled)));
                }
            }
        }
        let generation = state.generation();
        let stored = match attestors.get(&parsed).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => return Ok(None),
            // Unreadable: admission denies with why, as for any attestor it cannot use. Kept
            // at no version, so no freshness check ever takes it for the stored one.
            Err(e @ admit_store::StoreError::Unreadable { .. }) => Err(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        self.metrics.cache("attestor", false);
        let (etag, parsed) = match stored {
            Ok(v) => (v.version, Ok(v.value)),
            Err(e) => (String::new(), Err(e)),
        };
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
        let entry = (format!("{etag}|{states}"), compiled.clone());
        state.keep_attestor(generation, name, (etag, keys, states, compiled));
        Ok(Some(entry))
    }

    /// The attestations of every `(note, digest)` pair, in order, from memory where the feed
    /// vouches for it, the rest in one query.
    async fn attestations_for(
        &self,
        pairs: Vec<(String, String)>,
    ) -> Result<Vec<Found>, ServiceError> {
        let state = &self.admission;
        let trusted = state.trusted();
        let cached = if trusted {
            state.attestations(&pairs)
        } else {
            vec![None; pairs.len()]
        };
        let mut misses: Vec<(String, String)> = pairs
            .iter()
            .zip(&cached)
            .filter(|(_, hit)| hit.is_none())
            .map(|(pair, _)| pair.clone())
            .collect();
        let hits = (pairs.len() - misses.len()) as u64;
        self.metrics
            .cache_counts("attestations", hits, misses.len() as u64);
        if misses.is_empty() {
            return Ok(cached.into_iter().map(Option::unwrap_or_default).collect());
        }
        misses.sort();
        misses.dedup();
        let generation = state.generation();
        // One row more than accepted tells "too many".
        let limit = u32::try_from(crate::MAX_OCCURRENCES_PER_IMAGE + 1).unwrap_or(u32::MAX);
        let docs = self.store.attestations_of(&misses, limit).await?;
        let fetched: Vec<((String, String), Found)> = misses
            .into_iter()
            .zip(docs)
            .map(|(pair, docs)| {
                (
                    pair,
                    Arc::new(docs.into_iter().map(parse_attestation).collect()),
                )
            })
            .collect();
        if trusted {
            state.keep_attestations(generation, &fetched);
        }
        let fetched: HashMap<(String, String), Found> = fetched.into_iter().collect();
        Ok(pairs
            .iter()
            .zip(cached)
            .map(|(pair, hit)| {
                hit.or_else(|| fetched.get(pair).cloned())
                    .unwrap_or_default()
            })
            .collect())
    }

    /// Every attestation of `image` under the attestor's note, verified (one image, one
    /// attestor: describe-image's question).
    pub(crate) async fn verify_for(
        &self,
        attestor: &Arc<CompiledAttestor>,
        attestor_etag: &str,
        image: &ImageRef,
    ) -> Result<Verified, ServiceError> {
        let pair = (
            attestor.note_str().to_owned(),
            image.digest().unwrap_or_default().to_owned(),
        );
        let found = self.attestations_for(vec![pair]).await?;
        let check = crate::verify::Check {
            attestor: attestor.clone(),
            etag: attestor_etag.into(),
            canonical: image.canonical().into(),
            image: Arc::new(image.clone()),
            found: found.into_iter().next().unwrap_or_default(),
        };
        let state = self.admission.clone();
        let metrics = self.metrics.clone();
        let r = crate::verify::off_runtime(move || check.run(&state, &metrics, true)).await?;
        Ok(r.unwrap_or_else(|| Err(vec!["not verified".into()])))
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
        let mut usable = Vec::new();
        for name in policy.required_attestors(&request) {
            let Some((etag, compiled)) = self.compiled_attestor(&name).await? else {
                continue; // the engine reports "attestor not found"
            };
            let denial = match &compiled {
                Ok(a) => {
                    self.cross_project_denial(&req.project, &name, a.note_str())
                        .await?
                }
                Err(e) => Some(e.clone()),
            };
            match (compiled, denial) {
                (Ok(a), None) => usable.push((name, etag, a)),
                (_, d) => {
                    let e = d.unwrap_or_default();
                    for i in req.images.iter().filter_map(|i| ImageRef::parse(i).ok()) {
                        evidence.add_verified(&name, &i, Err(vec![e.clone()]));
                    }
                }
            }
        }
        // The images that need attestations: pinned to a digest and not exempt; each with its
        // canonical form, written once for all its checks.
        let images: Vec<(Arc<ImageRef>, Arc<str>)> = req
            .images
            .iter()
            .filter_map(|raw| ImageRef::parse(raw).ok())
            .filter(|i| i.digest().is_some() && !policy.is_exempt(i))
            .map(|i| {
                let canonical = i.canonical().into();
                (Arc::new(i), canonical)
            })
            .collect();
        // Every (attestor, image) check, with the (note, digest) pair whose attestations it
        // reads: all fetched together, in the same order.
        let pairs: Vec<(String, String)> = usable
            .iter()
            .flat_map(|(_, _, a)| {
                images.iter().map(|(i, _)| {
                    (
                        a.note_str().to_owned(),
                        i.digest().unwrap_or_default().to_owned(),
                    )
                })
            })
            .collect();
        let mut found = self.attestations_for(pairs).await?.into_iter();
        let mut checks = Vec::with_capacity(usable.len() * images.len());
        for (name, etag, attestor) in &usable {
            let etag: Arc<str> = etag.as_str().into();
            for (image, canonical) in &images {
                let check = crate::verify::Check {
                    attestor: attestor.clone(),
                    etag: etag.clone(),
                    image: image.clone(),
                    canonical: canonical.clone(),
                    found: found.next().unwrap_or_default(),
                };
                checks.push((name.clone(), check));
            }
        }
        let results = crate::verify::run_all(&self.admission, &self.metrics, checks).await?;
        for (name, check, result) in results {
            let r = match result {
                Err(reasons) if check.attestor.has_cosign_keys() => {
                    self.with_cosign_evidence(&check.attestor, &check.image, reasons)
                        .await
                }
                r => r,
            };
            evidence.add_verified_canonical(&name, &check.canonical, r);
        }
        for (_, _, attestor) in usable {
            evidence.add_compiled_attestor(attestor);
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
        let key = (deployer.to_owned(), attestor.to_owned(), note.to_owned());
        if self.admission.trusted()
            && let Some(denial) = self.admission.access(&key)
        {
            return Ok(denial);
        }
        let generation = self.admission.generation();
        let denial = self.access_denial(deployer, attestor, note).await?;
        self.admission.keep_access(generation, key, denial.clone());
        Ok(denial)
    }

    async fn access_denial(
        &self,
        deployer: &str,
        attestor: &str,
        note: &str,
    ) -> Result<Option<String>, ServiceError> {
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

/// One stored attestation, parsed once for every review that finds it.
fn parse_attestation(doc: Doc) -> Attestation {
    let v = with_times(doc);
    Attestation {
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        update_time: v["updateTime"].as_str().unwrap_or_default().to_owned(),
        occurrence: serde_json::from_value(v).map_err(|e| format!("unreadable occurrence: {e}")),
    }
}
