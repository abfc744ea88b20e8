//! The engine, in two pure phases: `required_attestors` says what evidence to fetch;
//! `evaluate` decides from the evidence. No I/O, no clock: `now` is passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use admit_model::{
    Attestor, EnforcementMode, EvaluationMode, GlobalPolicyEvaluationMode, Occurrence, Policy,
};

use crate::attest::{CompiledAttestor, Satisfied};
use crate::decision::{Basis, Decision, Failure, ImageDecision, Verdict};
use crate::image::ImageRef;
use crate::pattern::{ExemptPattern, MatchKeys};
use crate::rules::{Context, select_rule};
use crate::system_policy::system_patterns;
use crate::{PolicyError, validate};

/// What is being admitted.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub images: Vec<String>,
    pub context: Context,
}

/// The attestors and occurrences the caller fetched for `required_attestors`.
#[derive(Debug, Default)]
pub struct Evidence {
    attestors: BTreeMap<String, Result<Arc<CompiledAttestor>, String>>,
    occurrences: BTreeMap<String, Vec<Occurrence>>,
    /// Results the caller already verified (from its cache), by canonical image, then
    /// attestor (looked up by `&str`, without building a key per check).
    verified: BTreeMap<String, BTreeMap<String, Result<Satisfied, Vec<String>>>>,
}

impl Evidence {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an attestor; one whose keys do not parse is remembered as broken, so every image
    /// that requires it is denied with the reason.
    pub fn add_attestor(&mut self, attestor: &Attestor) {
        let compiled = CompiledAttestor::compile(attestor)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        self.attestors.insert(attestor.name.clone(), compiled);
    }

    /// Adds an attestor the caller compiled (and keeps, e.g. in a cache): no copy is made.
    pub fn add_compiled_attestor(&mut self, attestor: Arc<CompiledAttestor>) {
        self.attestors
            .insert(attestor.name_str().to_owned(), Ok(attestor));
    }

    /// Records the outcome of checking `attestor` for `image` (canonical form), verified by the
    /// caller with [`CompiledAttestor::check`]; the engine then does no crypto for that pair.
    pub fn add_verified(
        &mut self,
        attestor: &str,
        image: &ImageRef,
        result: Result<Satisfied, Vec<String>>,
    ) {
        self.add_verified_canonical(attestor, &image.canonical(), result);
    }

    /// [`Evidence::add_verified`] with the image's canonical form already at hand.
    pub fn add_verified_canonical(
        &mut self,
        attestor: &str,
        canonical: &str,
        result: Result<Satisfied, Vec<String>>,
    ) {
        let per_image = match self.verified.get_mut(canonical) {
            Some(m) => m,
            None => self.verified.entry(canonical.to_owned()).or_default(),
        };
        per_image.insert(attestor.to_owned(), result);
    }

    /// Adds an occurrence, indexed by its note.
    pub fn add_occurrence(&mut self, occurrence: Occurrence) {
        self.occurrences
            .entry(occurrence.note_name.clone())
            .or_default()
            .push(occurrence);
    }
}

/// A validated policy with its patterns compiled.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    policy: Policy,
    exempt: Vec<Exemption>,
    system: Vec<ExemptPattern>,
}

/// An exempt-image pattern and, when it expires (admit extension), when and why it existed.
#[derive(Debug, Clone)]
struct Exemption {
    pattern: ExemptPattern,
    /// Seconds since the epoch and the time as written.
    expires: Option<(u64, String)>,
    reason: Option<String>,
}

impl Exemption {
    fn live_at(&self, now: Option<u64>) -> bool {
        match (&self.expires, now) {
            (None, _) => true,
            (Some((at, _)), Some(now)) => now < *at,
            // Not knowing the time, an expiring exemption is not relied on.
            (Some(_), None) => false,
        }
    }
}

impl CompiledPolicy {
    /// Validates and compiles; every violation is reported.
    pub fn new(policy: Policy) -> Result<Self, PolicyError> {
        let violations = validate(&policy);
        if !violations.is_empty() {
            return Err(PolicyError::InvalidPolicy(violations));
        }
        let exempt = policy
            .admission_whitelist_patterns
            .iter()
            .map(|p| {
                Ok(Exemption {
                    pattern: ExemptPattern::parse(&p.name_pattern)?,
                    expires: p
                        .admit_expire_time
                        .as_ref()
                        .and_then(|t| admit_model::parse_rfc3339(t).map(|(s, _)| (s, t.clone()))),
                    reason: p.admit_reason.clone(),
                })
            })
            .collect::<Result<_, PolicyError>>()?;
        let system = if policy.global_policy_evaluation_mode == GlobalPolicyEvaluationMode::Enable {
            system_patterns()
                .iter()
                .map(|p| ExemptPattern::parse(p))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(CompiledPolicy {
            policy,
            exempt,
            system,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Phase one: the attestors whose attestations must be fetched for this request.
    pub fn required_attestors(&self, request: &Request) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some((_, rule)) = select_rule(&self.policy, &request.context)
            && rule.evaluation_mode == EvaluationMode::RequireAttestation
        {
            let any_unexempt = request
                .images
                .iter()
                .any(|i| ImageRef::parse(i).is_ok_and(|r| self.exemption(&r, None).is_none()));
            if any_unexempt {
                out.extend(rule.require_attestations_by.iter().cloned());
            }
        }
        out
    }

    /// Whether judging `image` in `context` needs its digest (so a tag must be resolved at a
    /// registry first): only when the rule that applies requires attestations and the image is
    /// not exempt. `Some(enforced)` when it does; `None` for ALWAYS_ALLOW, ALWAYS_DENY and
    /// exempt images, which never cost a registry call.
    pub fn digest_need(&self, image: &ImageRef, context: &Context) -> Option<bool> {
        let (_, rule) = select_rule(&self.policy, context)?;
        (rule.evaluation_mode == EvaluationMode::RequireAttestation
            && self.exemption(image, None).is_none())
        .then_some(rule.enforcement_mode != EnforcementMode::DryrunAuditLogOnly)
    }

    /// Whether `image` is exempt (system policy or exempt patterns): no attestation is needed.
    /// An exemption that expires is not counted here (its evidence is fetched anyway; the
    /// evaluation, which knows the time, decides).
    pub fn is_exempt(&self, image: &ImageRef) -> bool {
        self.exemption(image, None).is_some()
    }

    /// The exemption that applies to `image` at `now` (`None`: only those that never expire).
    fn exemption(&self, image: &ImageRef, now: Option<u64>) -> Option<Basis> {
        let keys = MatchKeys::of(image);
        if let Some(p) = self.system.iter().find(|p| p.matches_keys(&keys)) {
            return Some(Basis::SystemPolicy {
                pattern: p.to_string(),
            });
        }
        self.exempt
            .iter()
            .find(|e| e.live_at(now) && e.pattern.matches_keys(&keys))
            .map(|e| Basis::ExemptImage {
                pattern: e.pattern.to_string(),
            })
    }

    /// Why an image that an expired exemption matched is no longer exempt.
    fn expired_exemption(&self, image: &ImageRef, now: u64) -> Option<Failure> {
        let keys = MatchKeys::of(image);
        self.exempt
            .iter()
            .find(|e| !e.live_at(Some(now)) && e.pattern.matches_keys(&keys))
            .map(|e| Failure {
                attestor: None,
                message: format!(
                    "the exemption `{}` expired at {}{}",
                    e.pattern,
                    e.expires.as_ref().map_or("", |x| x.1.as_str()),
                    e.reason
                        .as_deref()
                        .map(|r| format!(" (it was for: {r})"))
                        .unwrap_or_default()
                ),
            })
    }

    /// Phase two: decide every image of the request.
    pub fn evaluate(&self, request: &Request, evidence: &Evidence, now: u64) -> Decision {
        let images: Vec<ImageDecision> = request
            .images
            .iter()
            .map(|i| self.evaluate_image(i, &request.context, evidence, now))
            .collect();
        Decision {
            allowed: images.iter().all(|i| i.verdict != Verdict::Denied),
            evaluated_at: now,
            images,
        }
    }

    fn evaluate_image(
        &self,
        raw: &str,
        ctx: &Context,
        evidence: &Evidence,
        now: u64,
    ) -> ImageDecision {
        let image = match ImageRef::parse(raw) {
            Ok(i) => i,
            Err(e) => {
                // Fail closed even under a dry-run rule: we cannot know what would run.
                return ImageDecision {
                    image: raw.to_owned(),
                    resolved: None,
                    verdict: Verdict::Denied,
                    basis: Basis::InvalidImage,
                    failures: vec![Failure {
                        attestor: None,
                        message: e.to_string(),
                    }],
                };
            }
        };
        let resolved = Some(image.to_string());
        if let Some(basis) = self.exemption(&image, Some(now)) {
            return ImageDecision {
                image: raw.to_owned(),
                resolved,
                verdict: Verdict::Allowed,
                basis,
                failures: vec![],
            };
        }
        let Some((scope, rule)) = select_rule(&self.policy, ctx) else {
            return ImageDecision {
                image: raw.to_owned(),
                resolved,
                verdict: Verdict::Denied,
                basis: Basis::NoRule,
                failures: vec![Failure {
                    attestor: None,
                    message: "policy has no defaultAdmissionRule".into(),
                }],
            };
        };
        let mut failures = Vec::new();
        let mut satisfied_by = Vec::new();
        match rule.evaluation_mode {
            EvaluationMode::AlwaysAllow => {}
            EvaluationMode::AlwaysDeny => failures.push(Failure {
                attestor: None,
                message: "the rule denies every image (ALWAYS_DENY)".into(),
            }),
            EvaluationMode::Unspecified => failures.push(Failure {
                attestor: None,
                message: "the rule has no evaluationMode".into(),
            }),
            EvaluationMode::RequireAttestation => {
                let verified = evidence.verified.get(image.canonical().as_str());
                for name in &rule.require_attestations_by {
                    let known = verified.and_then(|m| m.get(name.as_str())).cloned();
                    let result = match (known, evidence.attestors.get(name)) {
                        (Some(r), _) => r,
                        (None, a) => match a {
                            None => Err(vec![format!("attestor {name} not found")]),
                            Some(Err(e)) => Err(vec![e.clone()]),
                            Some(Ok(a)) => {
                                let occs = evidence
                                    .occurrences
                                    .get(a.note_str())
                                    .map(Vec::as_slice)
                                    .unwrap_or(&[]);
                                a.check(&image, occs)
                            }
                        },
                    };
                    match result {
                        Ok(s) => satisfied_by.push(s),
                        Err(reasons) => {
                            failures.extend(reasons.into_iter().map(|message| Failure {
                                attestor: Some(name.clone()),
                                message,
                            }));
                        }
                    }
                }
            }
        }
        if !failures.is_empty()
            && let Some(f) = self.expired_exemption(&image, now)
        {
            failures.insert(0, f);
        }
        let verdict = match (failures.is_empty(), rule.enforcement_mode) {
            (true, _) => Verdict::Allowed,
            (false, EnforcementMode::DryrunAuditLogOnly) => Verdict::DryRun,
            // Unspecified enforcement fails closed, as enforced.
            (false, _) => Verdict::Denied,
        };
        ImageDecision {
            image: raw.to_owned(),
            resolved,
            verdict,
            basis: Basis::Rule {
                scope,
                evaluation_mode: rule.evaluation_mode,
                enforcement_mode: rule.enforcement_mode,
                satisfied_by,
            },
            failures,
        }
    }
}
