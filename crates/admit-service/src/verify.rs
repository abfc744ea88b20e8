//! Verifying attestations for admission, off the async workers: a review's checks first run
//! from the verification cache alone; those that need signatures verified (a cold cache) go to
//! the blocking pool all together, so a burst of cold reviews never stalls the workers that
//! answer warm ones, unless they are only a few (the hand-over would cost more than the
//! crypto).

use std::sync::Arc;

use admit_policy::{CompiledAttestor, ImageRef};

use crate::ServiceError;
use crate::admission_state::{AdmissionState, Found, Verified};
use crate::metrics::Metrics;

/// Whether the attestations `found` of `image` (under the attestor's note) satisfy the attestor.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) attestor: Arc<CompiledAttestor>,
    /// The attestor's version (its etag and its keys' states).
    pub(crate) etag: Arc<str>,
    pub(crate) image: Arc<ImageRef>,
    /// `image.canonical()`, written once per review.
    pub(crate) canonical: Arc<str>,
    pub(crate) found: Found,
}

/// Signatures a review may verify on its async worker (P-256: ~50 µs each); past it, the
/// blocking pool.
const INLINE_SIGNATURES: usize = 4;

/// A verified check: the attestor's name, the check, its result.
type Done = (String, Check, Verified);

/// CPU-bound work at once: one task per core. More would only take turns on the cores (and
/// each blocking thread keeps its own allocator cache).
fn cpu_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
    })
}

/// Runs `f` on the blocking pool (the crypto of a cold cache, key generation), at most one
/// such task per core at a time.
pub(crate) async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    let _slot = cpu_slots()
        .acquire()
        .await
        .map_err(|e| ServiceError::new(crate::Code::Internal, format!("no CPU slot: {e}")))?;
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ServiceError::new(
            crate::Code::Internal,
            format!("a verification task failed: {e}"),
        )
    })?
}

/// Runs every check: from the cache on the worker, the rest (signatures to verify) on the
/// blocking pool in one task.
pub(crate) async fn run_all(
    state: &Arc<AdmissionState>,
    metrics: &Arc<Metrics>,
    checks: Vec<(String, Check)>,
) -> Result<Vec<Done>, ServiceError> {
    let mut done = Vec::with_capacity(checks.len());
    let mut cold = Vec::new();
    for (name, check) in checks {
        match check.run(state, metrics, false) {
            Ok(Some(r)) => done.push((name, check, r)),
            Ok(None) => cold.push((name, check)),
            Err(e) => return Err(e),
        }
    }
    if cold.is_empty() {
        return Ok(done);
    }
    // A few signatures (tens of microseconds each) cost less than the hand-over to another
    // thread and back: verified here. More go to the blocking pool.
    let signatures: usize = cold
        .iter()
        .map(|(_, c)| c.found.len().min(crate::MAX_OCCURRENCES_PER_IMAGE))
        .sum();
    if signatures <= INLINE_SIGNATURES {
        for (name, check) in cold {
            if let Some(r) = check.run(state, metrics, true)? {
                done.push((name, check, r));
            }
        }
        return Ok(done);
    }
    let (state, metrics) = (state.clone(), metrics.clone());
    let verified = off_runtime(move || {
        cold.into_iter()
            .map(|(name, check)| {
                let r = check.run(&state, &metrics, true)?;
                Ok(r.map(|r| (name, check, r)))
            })
            .collect::<Result<Vec<_>, ServiceError>>()
    })
    .await?;
    done.extend(verified.into_iter().flatten());
    Ok(done)
}

impl Check {
    /// The result, each attestation verified once per version; `None` when that needs a
    /// signature verified and `crypto` is false.
    #[tracing::instrument(level = "debug", skip_all, fields(attestor = %self.attestor.name, image = %self.image))]
    pub(crate) fn run(
        &self,
        state: &AdmissionState,
        metrics: &Metrics,
        crypto: bool,
    ) -> Result<Option<Verified>, ServiceError> {
        let (attestor, image) = (&self.attestor, &*self.image);
        let digest = image.digest().unwrap_or_default();
        let name = attestor.name_str();
        let canonical = &*self.canonical;
        let mut reasons: Vec<String> = Vec::new();
        let max = crate::MAX_OCCURRENCES_PER_IMAGE;
        // Counted once the check completes (a pass without crypto may give up half way).
        let mut lookups: Vec<bool> = Vec::new();
        let count = |lookups: &[bool]| {
            let hits = lookups.iter().filter(|h| **h).count() as u64;
            metrics.cache_counts("verification", hits, lookups.len() as u64 - hits);
        };
        for a in self.found.iter().take(max) {
            let key = crate::admission_state::verify_key([
                name,
                &self.etag,
                &a.name,
                &a.update_time,
                canonical,
            ]);
            let cached = state.verified(&key);
            if cached.is_none() && !crypto {
                return Ok(None);
            }
            lookups.push(cached.is_some());
            let result = match cached {
                Some(r) => r,
                None => {
                    let r = match &a.occurrence {
                        Ok(o) => attestor.check(image, std::slice::from_ref(o)),
                        Err(e) => Err(vec![e.clone()]),
                    };
                    state.keep_verified(key, r.clone());
                    r
                }
            };
            match result {
                Ok(s) => {
                    count(&lookups);
                    return Ok(Some(Ok(s)));
                }
                Err(r) => reasons.extend(
                    r.into_iter()
                        .filter(|x| !x.starts_with("no attestation by")),
                ),
            }
        }
        count(&lookups);
        if self.found.len() > max {
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
        Ok(Some(Err(reasons)))
    }
}
